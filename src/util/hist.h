/*
 * hist.h — a latency histogram of fixed size: log buckets, 16 per power of
 * two, so a reported percentile is at most 1/16 (6.25%) above the true
 * value.  Values are microseconds; everything from 0 to 2^32 - 1 us (about
 * 71 minutes) has its own bucket, and larger values land in the last one
 * (max still records them exactly).  No allocation: a histogram is a plain
 * struct the caller owns, cheap to copy and to merge.
 */
#ifndef RASPUTIN_UTIL_HIST_H
#define RASPUTIN_UTIL_HIST_H

#include <stdint.h>

enum {
	RP_HIST_SUB_BITS = 4, /* 2^4 = 16 buckets per power of two */
	RP_HIST_SUB = 1 << RP_HIST_SUB_BITS,
	RP_HIST_TOP_BIT = 32, /* values < 2^32 are bucketed exactly */
	RP_HIST_BUCKETS =
	    RP_HIST_SUB + (RP_HIST_TOP_BIT - RP_HIST_SUB_BITS) * RP_HIST_SUB,
};

typedef struct {
	uint64_t count; /* values recorded */
	uint64_t sum;	/* their total (saturates at UINT64_MAX) */
	uint64_t max;	/* the largest; 0 when empty */
	uint64_t buckets[RP_HIST_BUCKETS];
} rp_hist;

/* Empties *h. */
void rp_hist_init(rp_hist *h);
void rp_hist_record(rp_hist *h, uint64_t value_us);
/* The value at percentile p (0..100; outside is clamped): the inclusive
 * upper bound of the bucket that holds it, never above max, so the true
 * value v satisfies v <= result <= v + v/16.  0 when empty. */
uint64_t rp_hist_percentile(const rp_hist *h, double p);
/* Adds everything recorded in *from to *into. */
void rp_hist_merge(rp_hist *into, const rp_hist *from);

/* Bucket of a value, and the inclusive bounds of a bucket (for tests and
 * for printing distributions). */
uint32_t rp_hist_bucket(uint64_t value_us);
uint64_t rp_hist_bucket_low(uint32_t bucket);
uint64_t rp_hist_bucket_high(uint32_t bucket);

#endif
