/*
 * crc32c.c — CRC-32C through isa-l.  crc32_iscsi works on the raw register
 * (no final inversion, caller-chosen initial value), so the standard CRC is
 * ~crc32_iscsi(data, len, ~previous); its length argument is an int, hence
 * the bounded loop over chunks.
 */
#include "util/crc32c.h"

#include <isa-l/crc.h>

#include "util/check.h"

enum { CRC32C_CHUNK_BYTES = 1 << 30 };

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t size_bytes)
{
	RP_CHECK(data != NULL || size_bytes == 0);
	const unsigned char *p = data;
	unsigned int reg = ~crc;
	while (size_bytes > 0) { /* at most size_bytes / 1 GiB + 1 rounds */
		size_t n = size_bytes < CRC32C_CHUNK_BYTES ? size_bytes : CRC32C_CHUNK_BYTES;
		/* isa-l takes a non-const pointer but does not write through it. */
		reg = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, reg);
		p += n;
		size_bytes -= n;
	}
	return ~reg;
}

uint32_t crc32c(const void *data, size_t size_bytes)
{
	return crc32c_extend(0, data, size_bytes);
}
