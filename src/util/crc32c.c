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

#if defined(__x86_64__)
#include <nmmintrin.h>
#include <string.h>

/* Short inputs (WAL record headers: tens of bytes) go through the SSE4.2
 * CRC32C instruction directly: isa-l's routine is built for long buffers
 * and costs more than the work for a few bytes.  Same register convention
 * as crc32_iscsi (reflected, no final inversion). */
__attribute__((target("sse4.2"))) static unsigned int crc_short(unsigned int reg,
                                                               const unsigned char *p,
                                                               size_t n)
{
	uint64_t r = reg;
	while (n >= 8) { /* at most SHORT_BYTES / 8 rounds */
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		r = _mm_crc32_u64(r, v);
		p += 8;
		n -= 8;
	}
	unsigned int r32 = (unsigned int)r;
	while (n > 0) {
		r32 = _mm_crc32_u8(r32, *p++);
		n--;
	}
	return r32;
}

enum { SHORT_BYTES = 256 };

static int have_sse42(void)
{
	static int known = -1;
	if (known < 0)
		known = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return known;
}
#endif

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t size_bytes)
{
	RP_CHECK(data != NULL || size_bytes == 0);
	const unsigned char *p = data;
	unsigned int reg = ~crc;
#if defined(__x86_64__)
	if (size_bytes <= SHORT_BYTES && have_sse42())
		return ~crc_short(reg, p, size_bytes);
#endif
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
