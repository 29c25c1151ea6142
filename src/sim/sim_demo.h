/*
 * sim_demo.h — the `make run` timeline: a 5-node cluster through an
 * election, writes, a leader partition, a new election and healing,
 * narrated concisely for a human reader.
 */
#ifndef RASPUTIN_SIM_DEMO_H
#define RASPUTIN_SIM_DEMO_H

#include <stdbool.h>
#include <stdio.h>

/* Prints the timeline to out; true when every check passed. */
bool sim_demo_run(FILE *out);

#endif
