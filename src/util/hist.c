/*
 * hist.c — log-bucketed latency histogram (hist.h).  Bucket b < 16 holds
 * exactly the value b; above that, the values with highest set bit k
 * (2^k .. 2^(k+1)-1) are split into 16 buckets of width 2^(k-4), whose
 * width is at most 1/16 of their lowest value.
 */
#include "util/hist.h"

#include <string.h>

#include "util/check.h"

void rp_hist_init(rp_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static uint32_t top_bit(uint64_t v)
{
	RP_CHECK(v != 0);
	return (uint32_t)(63 - __builtin_clzll(v));
}

uint32_t rp_hist_bucket(uint64_t v)
{
	if (v < RP_HIST_SUB)
		return (uint32_t)v;
	uint32_t k = top_bit(v);
	if (k >= RP_HIST_TOP_BIT)
		return RP_HIST_BUCKETS - 1;
	uint32_t sub = (uint32_t)(v >> (k - RP_HIST_SUB_BITS)) & (RP_HIST_SUB - 1);
	uint32_t b = RP_HIST_SUB + (k - RP_HIST_SUB_BITS) * RP_HIST_SUB + sub;
	RP_CHECK(b < RP_HIST_BUCKETS);
	return b;
}

uint64_t rp_hist_bucket_low(uint32_t b)
{
	RP_CHECK(b < RP_HIST_BUCKETS);
	if (b < RP_HIST_SUB)
		return b;
	uint32_t k = RP_HIST_SUB_BITS + (b - RP_HIST_SUB) / RP_HIST_SUB;
	uint64_t sub = (b - RP_HIST_SUB) % RP_HIST_SUB;
	return (RP_HIST_SUB + sub) << (k - RP_HIST_SUB_BITS);
}

uint64_t rp_hist_bucket_high(uint32_t b)
{
	RP_CHECK(b < RP_HIST_BUCKETS);
	if (b < RP_HIST_SUB)
		return b;
	if (b == RP_HIST_BUCKETS - 1)
		return UINT64_MAX; /* the last bucket also takes everything above */
	uint32_t k = RP_HIST_SUB_BITS + (b - RP_HIST_SUB) / RP_HIST_SUB;
	return rp_hist_bucket_low(b) + ((uint64_t)1 << (k - RP_HIST_SUB_BITS)) - 1;
}

void rp_hist_record(rp_hist *h, uint64_t v)
{
	h->buckets[rp_hist_bucket(v)]++;
	h->count++;
	h->sum = v > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + v;
	if (v > h->max)
		h->max = v;
}

uint64_t rp_hist_percentile(const rp_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (!(p > 0)) /* also NaN */
		p = 0;
	if (p > 100)
		p = 100;
	/* The rank of the value wanted, 1-based: the smallest r with
	 * r >= p% of count. */
	double want = p / 100.0 * (double)h->count;
	uint64_t rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < RP_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t high = rp_hist_bucket_high(b);
			return high < h->max ? high : h->max;
		}
	}
	RP_CHECK(0); /* the buckets add up to count */
	return h->max;
}

void rp_hist_merge(rp_hist *into, const rp_hist *from)
{
	for (uint32_t b = 0; b < RP_HIST_BUCKETS; b++)
		into->buckets[b] += from->buckets[b];
	into->count += from->count;
	into->sum =
	    from->sum > UINT64_MAX - into->sum ? UINT64_MAX : into->sum + from->sum;
	if (from->max > into->max)
		into->max = from->max;
}
