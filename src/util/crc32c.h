/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of every WAL record and
 * segment header.  Backed by isa-l's crc32_iscsi, which picks the SSE4.2 /
 * PCLMUL code path at run time.  The value is the standard one (the check
 * value of "123456789" is 0xE3069283), so other tools can verify our files.
 */
#ifndef RASPUTIN_UTIL_CRC32C_H
#define RASPUTIN_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of size_bytes at data (data may be NULL when size_bytes is 0). */
uint32_t crc32c(const void *data, size_t size_bytes);

/* Continues a CRC: crc32c_extend(crc32c(a), b) == crc32c(a followed by b),
 * and crc32c_extend(0, x) == crc32c(x). */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t size_bytes);

#endif
