/*
 * sim_clock.c — drifting local clocks (see sim_clock.h).  Integer
 * arithmetic only, so that every platform computes the same readings.
 */
#include "sim/sim_clock.h"

#include "util/check.h"

void sim_clock_init(sim_clock *clock, uint64_t offset_us, int32_t rate_ppm)
{
	RP_CHECK(rate_ppm > -SIM_CLOCK_PPM / 2);
	RP_CHECK(rate_ppm < SIM_CLOCK_PPM / 2);
	clock->base_real_us = 0;
	clock->base_local_us = offset_us;
	clock->rate_ppm = rate_ppm;
	clock->generation = 0;
}

void sim_clock_set_rate(sim_clock *clock, uint64_t real_us, int32_t rate_ppm)
{
	RP_CHECK(rate_ppm > -SIM_CLOCK_PPM / 2);
	RP_CHECK(rate_ppm < SIM_CLOCK_PPM / 2);
	uint64_t local = sim_clock_local(clock, real_us);
	clock->base_real_us = real_us;
	clock->base_local_us = local;
	clock->rate_ppm = rate_ppm;
	clock->generation++;
}

uint64_t sim_clock_real_after(const sim_clock *clock, uint64_t real_us,
                              uint64_t local_delta_us)
{
	uint64_t scale = (uint64_t)((int64_t)SIM_CLOCK_PPM + clock->rate_ppm);
	uint64_t target = sim_clock_local(clock, real_us) + local_delta_us;
	/* ceil(local_delta * 1e6 / scale) real microseconds, then nudge for the
	 * floor in sim_clock_local. */
	uint64_t real = real_us + (local_delta_us * SIM_CLOCK_PPM + scale - 1) / scale;
	while (sim_clock_local(clock, real) < target)
		real++;
	return real;
}

uint64_t sim_clock_real_at(const sim_clock *clock, uint64_t real_us, uint64_t local_us)
{
	RP_CHECK(real_us >= clock->base_real_us);
	if (local_us <= clock->base_local_us)
		return real_us;
	/* local(t) >= L  <=>  floor((t - base_real) * scale / 1e6) >= L - base_local
	 *                <=>  (t - base_real) * scale >= (L - base_local) * 1e6. */
	uint64_t ahead = local_us - clock->base_local_us;
	if (ahead >= (uint64_t)1 << 43)
		return UINT64_MAX; /* past 2^42 us of elapsed time: beyond sim_clock_local */
	uint64_t scale = (uint64_t)((int64_t)SIM_CLOCK_PPM + clock->rate_ppm);
	uint64_t elapsed = (ahead * SIM_CLOCK_PPM + scale - 1) / scale;
	uint64_t at = clock->base_real_us + elapsed;
	if (at <= real_us)
		return real_us;
	if (elapsed < (uint64_t)1 << 42) {
		RP_CHECK(sim_clock_local(clock, at) >= local_us);
		RP_CHECK(sim_clock_local(clock, at - 1) < local_us);
	}
	return at;
}
