/* test_crc32c.c — CRC-32C gives the standard check value and extends incrementally. */
#include "test.h"
#include "util/crc32c.h"
#include "util/prng.h"

TEST(check_value)
{
	CHECK_EQ(crc32c("123456789", 9), 0xE3069283u);
}

TEST(empty_and_known_vectors)
{
	CHECK_EQ(crc32c(NULL, 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros, and of 0xff. */
	unsigned char zeros[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof(ones));
	CHECK_EQ(crc32c(zeros, sizeof(zeros)), 0x8A9136AAu);
	CHECK_EQ(crc32c(ones, sizeof(ones)), 0x62A8AB43u);
}

TEST(incremental_equals_whole)
{
	rp_prng p;
	rp_prng_init(&p, 3);
	unsigned char buf[4096];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rp_prng_next(&p);
	uint32_t whole = crc32c(buf, sizeof(buf));
	for (int round = 0; round < 200; round++) {
		size_t a = (size_t)rp_prng_below(&p, sizeof(buf) + 1);
		size_t b = a + (size_t)rp_prng_below(&p, sizeof(buf) - a + 1);
		uint32_t c = crc32c(buf, a);
		c = crc32c_extend(c, buf + a, b - a);
		c = crc32c_extend(c, buf + b, sizeof(buf) - b);
		CHECK_EQ(c, whole);
	}
	CHECK_EQ(crc32c_extend(0, buf, 100), crc32c(buf, 100));
}

TEST(detects_single_bit_flips)
{
	unsigned char buf[256];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	uint32_t good = crc32c(buf, sizeof(buf));
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		CHECK(crc32c(buf, sizeof(buf)) != good);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	CHECK_EQ(crc32c(buf, sizeof(buf)), good);
}

/* Short inputs take the SSE4.2 path, long ones isa-l: both must agree,
 * checked by computing the same bytes as one long run and as short pieces. */
TEST(short_and_long_paths_agree)
{
	uint8_t buf[2048];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t len = 257; len <= sizeof(buf); len += 97) {
		uint32_t whole = crc32c(buf, len);
		uint32_t pieces = 0;
		for (size_t off = 0; off < len; off += 100) {
			size_t n = len - off < 100 ? len - off : 100;
			pieces = crc32c_extend(pieces, buf + off, n);
		}
		CHECK_EQ(whole, pieces);
	}
}

TEST_MAIN()
