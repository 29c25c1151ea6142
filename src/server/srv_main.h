/*
 * srv_main.h — the one entry point main.c needs: run a node with a parsed
 * configuration until it is told to stop.
 */
#ifndef RASPUTIN_SERVER_SRV_MAIN_H
#define RASPUTIN_SERVER_SRV_MAIN_H

#include "server/config.h"

/* Runs the node: returns the process exit code (0 after a clean stop). */
int srv_main_run(const srv_config *cfg);

#endif
