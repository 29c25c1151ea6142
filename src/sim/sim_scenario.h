/*
 * sim_scenario.h — named, deterministic fault scenarios, each with its own
 * assertions on top of every invariant the simulator checks.
 */
#ifndef RASPUTIN_SIM_SCENARIO_H
#define RASPUTIN_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdio.h>

/* Number of scenarios and the name of the i-th. */
int sim_scenario_count(void);
const char *sim_scenario_name(int i);
/* Runs the named scenario; prints "ok NAME" or "FAIL NAME: reason" to out.
 * Returns 1 on pass, 0 on failure, -1 if there is no such scenario. */
int sim_scenario_run(const char *name, FILE *out, int trace);

#endif
