/*
 * main.c — rasputind: parse the flags and the config file (config.c),
 * open the log file, run the node (server.c).  Exit codes: 0 after a clean
 * stop, 1 when the node cannot start or fails, 2 for a bad flag or
 * config value (one line on stderr says which).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>

#include "server/config.h"
#include "server/srv_main.h"
#include "util/log.h"

/* Blocks of MMAP_THRESHOLD bytes and more are mapped on their own and
 * unmapped when freed.  glibc's default starts at 128 KiB but raises the
 * threshold to the size of each such block freed, after which RocksDB's
 * 1 MiB memtable blocks and the log's slabs (hp_log.h) come from the
 * heap, where the holes they leave stay resident (docs/performance.md,
 * "Session 12: where the resident memory went").  Setting it fixes it. */
enum { MMAP_THRESHOLD = 256 * 1024 };

int main(int argc, char **argv)
{
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
	static srv_config cfg;
	char err[1024] = "";
	int rc = srv_config_parse(argc, argv, &cfg, stdout, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "rasputind: %s\n", err);
		return 2;
	}
	rp_log_level level = RP_LOG_INFO;
	(void)rp_log_parse_level(cfg.log_level, &level);
	if (rp_log_open(cfg.logfile, level, err, sizeof(err)) != 0) {
		fprintf(stderr, "rasputind: --logfile: %s\n", err);
		return 2;
	}
	rc = srv_main_run(&cfg);
	rp_log_close();
	return rc;
}
