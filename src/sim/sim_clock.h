/*
 * sim_clock.h — a node's local clock in the simulator: a piecewise-linear
 * function of simulated real time, local = base_local + (real - base_real)
 * * (1e6 + rate_ppm) / 1e6.  The rate may change (the caller keeps it
 * within the configured drift bound); the clock never runs backwards.
 */
#ifndef RASPUTIN_SIM_CLOCK_H
#define RASPUTIN_SIM_CLOCK_H

#include <stdint.h>

#include "util/check.h"

enum { SIM_CLOCK_PPM = 1000000 };

typedef struct {
	uint64_t base_real_us;  /* real time of the last rate change */
	uint64_t base_local_us; /* local time at base_real_us */
	int32_t rate_ppm;       /* local runs at (1e6 + rate_ppm) / 1e6 of real */
	uint64_t generation;    /* +1 at every rate change: real-time deadlines
	                           derived from the clock are stale after it */
} sim_clock;

/* A clock that reads offset_us at real time 0. */
void sim_clock_init(sim_clock *clock, uint64_t offset_us, int32_t rate_ppm);
/* Local time at real_us; real_us must not precede the last rate change.
 * (Inline: every call into a node's core reads its clock.) */
static inline uint64_t sim_clock_local(const sim_clock *clock, uint64_t real_us)
{
	RP_CHECK(real_us >= clock->base_real_us);
	uint64_t elapsed = real_us - clock->base_real_us;
	uint64_t scale = (uint64_t)((int64_t)SIM_CLOCK_PPM + clock->rate_ppm);
	RP_CHECK(elapsed < (uint64_t)1 << 42); /* ~50 days: no overflow below */
	return clock->base_local_us + elapsed * scale / SIM_CLOCK_PPM;
}
/* From real_us on, the clock runs at rate_ppm (continuous: no jump). */
void sim_clock_set_rate(sim_clock *clock, uint64_t real_us, int32_t rate_ppm);
/* The earliest real time, at or after real_us, at which the clock has
 * advanced by at least local_delta_us from its reading at real_us. */
uint64_t sim_clock_real_after(const sim_clock *clock, uint64_t real_us,
                              uint64_t local_delta_us);
/* The earliest real time, at or after real_us, at which the clock reads
 * local_us or more (real_us itself if it already does).  So for any real
 * t >= real_us before the next rate change: sim_clock_local(t) < local_us
 * exactly when t < the result. */
uint64_t sim_clock_real_at(const sim_clock *clock, uint64_t real_us, uint64_t local_us);

#endif
