/*
 * sim_main.c — the rasputin-sim command line: run one seed, run a swarm of
 * seeds (in parallel worker processes, results reported in seed order so
 * the output does not depend on the worker count), run named scenarios,
 * the demo, and a speed measurement.  `rasputin-sim --help` lists it all.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/sim_demo.h"
#include "sim/sim_scenario.h"
#include "util/check.h"

static const char *prog = "rasputin-sim";

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s COMMAND [options]\n"
	        "\n"
	        "Deterministic simulation of Harpoon clusters (the real consensus core on a\n"
	        "simulated network, disk and clocks). Every seed replays exactly.\n"
	        "\n"
	        "commands:\n"
	        "  run --seed S [--trace] [--trace-msgs] [--without KINDS]\n"
	        "        run one seed with the swarm's parameters drawn from S; print them,\n"
	        "        and with --trace a timeline of every protocol event (--trace-msgs:\n"
	        "        every message too). Exit 0 on pass, 1 on failure.\n"
	        "  swarm --seeds N [--first S] [--stop-on-fail] [--quiet] [--jobs J]\n"
	        "        [--without KINDS]\n"
	        "        run seeds S..S+N-1 (S defaults to 1) in J worker processes (default:\n"
	        "        the number of CPUs); print each failure with its replay command and\n"
	        "        a summary. Exit 1 if any seed failed.\n"
	        "  scenario NAME|all [--trace]\n"
	        "        run named scenarios; prints 'ok NAME' or 'FAIL NAME: reason'.\n"
	        "        Exit 1 if any failed. 'scenario list' lists the names.\n"
	        "  demo  a readable timeline of a 5-node cluster: election, writes, a leader\n"
	        "        partition, a new election, healing (what `make run` shows).\n"
	        "  speed [--seconds N]\n"
	        "        simulated seconds per wall second of a calm 5-node cluster under\n"
	        "        load (default 600 simulated s), and seeds/s of the swarm mix.\n"
	        "  --help  this text.\n"
	        "\n"
	        "--without KINDS switches fault classes off, to narrow a failure down:\n"
	        "a comma-separated list of partitions, crashes, clocks, members, lossy\n"
	        "(drops, duplicates, long delays), torn, slowdisk, diskerr, corrupt. Replays of a seed\n"
	        "must use the same list.\n",
	        prog);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see %s --help)\n", prog);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (s == NULL || *s == 0)
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || s[0] == '-')
		return false;
	*out = v;
	return true;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- run ---------------------------------------------------------------------- */

static const char *without_arg = "";

static int cmd_run(int argc, char **argv)
{
	uint64_t seed = 0;
	bool have_seed = false;
	int trace = 0;
	uint32_t without = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--without") == 0 && i + 1 < argc) {
			without_arg = argv[i + 1];
			if (!sim_params_parse_without(argv[++i], &without))
				return bad_usage("run: --without takes a list of partitions, crashes, clocks, "
				                 "members, lossy, torn, slowdisk, diskerr, corrupt; got '%s'",
				                 argv[i]);
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seed))
				return bad_usage("run: --seed needs a non-negative integer, got '%s'", argv[i]);
			have_seed = true;
		} else if (strcmp(argv[i], "--trace") == 0) {
			trace = trace > 1 ? trace : 1;
		} else if (strcmp(argv[i], "--trace-msgs") == 0) {
			trace = 2;
		} else {
			return bad_usage("run: unknown option '%s'", argv[i]);
		}
	}
	if (!have_seed)
		return bad_usage("run: --seed S is required%s", "");
	sim_stats st;
	uint64_t sim_us = 0;
	char reason[600];
	double t0 = wall_seconds();
	bool ok = sim_run_seed(seed, without, stdout, trace, true, &st, &sim_us, reason,
	                       sizeof(reason));
	double wall = wall_seconds() - t0;
	printf("  %.1f simulated s in %.3f wall s; %" PRIu64 " events, %" PRIu64
	       " messages (%" PRIu64 " dropped, %" PRIu64 " duplicated), %" PRIu64
	       " entries committed, %" PRIu64 " leader changes, %" PRIu64 " crashes, %" PRIu64
	       " partitions, %" PRIu64 " snapshots installed; ops %" PRIu64 " ok / %" PRIu64
	       " fail / %" PRIu64 " info%s\n",
	       (double)sim_us / 1e6, wall, st.events, st.msgs_sent, st.msgs_dropped,
	       st.msgs_duplicated, st.entries_committed, st.leader_changes, st.crashes,
	       st.partitions, st.snapshots_installed, st.ops_ok, st.ops_fail, st.ops_info,
	       st.lincheck_exhausted ? "; lincheck budget exhausted on a key" : "");
	printf("  disk: %" PRIu64 " WAL rounds, %" PRIu64 " segments created / %" PRIu64
	       " deleted, %" PRIu64 " write rounds caught unsynced by a crash, %" PRIu64
	       " torn tails cut (%" PRIu64 " bytes), %" PRIu64 " write/sync errors, %" PRIu64
	       " nodes with bit flips, %" PRIu64 " corruptions detected, %" PRIu64
	       " nodes replaced\n",
	       st.disk_rounds, st.segments_created, st.segments_deleted, st.inflight_writes,
	       st.torn_tails, st.torn_bytes, st.disk_errors, st.bit_flips, st.corrupt_detected,
	       st.nodes_replaced);
	if (ok) {
		printf("PASS seed %" PRIu64 "\n", seed);
		return 0;
	}
	printf("FAIL seed %" PRIu64 ": %s\n", seed, reason);
	printf("  replay: %s run --seed %" PRIu64 " --trace%s%s\n", prog, seed,
	       without ? " --without " : "", without ? without_arg : "");
	return 1;
}

/* --- swarm -------------------------------------------------------------------- */

typedef struct {
	uint64_t seed;
	uint64_t sim_us;
	uint64_t events;
	uint8_t ok;
	uint8_t exhausted;
	uint64_t unsynced, torn, diskerr, flips, detected, replaced;
	char reason[480];
} swarm_record;

static bool write_all(int fd, const void *buf, size_t size)
{
	const char *p = buf;
	while (size) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		size -= (size_t)n;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t size)
{
	char *p = buf;
	while (size) {
		ssize_t n = read(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		size -= (size_t)n;
	}
	return true;
}

static void swarm_one(uint64_t seed, uint32_t without, swarm_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	sim_stats st;
	rec->seed = seed;
	rec->ok = sim_run_seed(seed, without, NULL, 0, false, &st, &rec->sim_us, rec->reason,
	                       sizeof(rec->reason))
	                  ? 1
	                  : 0;
	rec->events = st.events;
	rec->exhausted = st.lincheck_exhausted ? 1 : 0;
	rec->unsynced = st.inflight_writes;
	rec->torn = st.torn_tails;
	rec->diskerr = st.disk_errors;
	rec->flips = st.bit_flips;
	rec->detected = st.corrupt_detected;
	rec->replaced = st.nodes_replaced;
}

/* Runs one seed in a child process, so that a crash or a failed
 * assertion fails that seed only and the swarm goes on. */
static void swarm_isolated(uint64_t seed, uint32_t without, swarm_record *rec)
{
	int pipefd[2];
	if (pipe(pipefd) != 0) {
		swarm_one(seed, without, rec);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		swarm_one(seed, without, rec);
		return;
	}
	if (pid == 0) {
		close(pipefd[0]);
		swarm_record mine;
		swarm_one(seed, without, &mine);
		_exit(write_all(pipefd[1], &mine, sizeof(mine)) ? 0 : 1);
	}
	close(pipefd[1]);
	bool got = read_all(pipefd[0], rec, sizeof(*rec));
	close(pipefd[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (got && rec->seed == seed)
		return;
	memset(rec, 0, sizeof(*rec));
	rec->seed = seed;
	if (WIFSIGNALED(status))
		snprintf(rec->reason, sizeof(rec->reason),
		         "the run died of signal %d (an assertion failed or it crashed; see stderr)",
		         WTERMSIG(status));
	else
		snprintf(rec->reason, sizeof(rec->reason), "the run exited with status %d",
		         WEXITSTATUS(status));
}

static int cmd_swarm(int argc, char **argv)
{
	uint64_t seeds = 0, first = 1, jobs = 0;
	bool have_seeds = false, stop = false, quiet = false;
	uint32_t without = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--without") == 0 && i + 1 < argc) {
			without_arg = argv[i + 1];
			if (!sim_params_parse_without(argv[++i], &without))
				return bad_usage("swarm: --without takes a list of partitions, crashes, "
				                 "clocks, members, lossy, torn, slowdisk, diskerr, corrupt; got '%s'",
				                 argv[i]);
		} else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seeds) || seeds == 0)
				return bad_usage("swarm: --seeds needs a positive integer, got '%s'", argv[i]);
			have_seeds = true;
		} else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &first))
				return bad_usage("swarm: --first needs a non-negative integer, got '%s'",
				                 argv[i]);
		} else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &jobs) || jobs == 0 || jobs > 256)
				return bad_usage("swarm: --jobs needs an integer in 1..256, got '%s'", argv[i]);
		} else if (strcmp(argv[i], "--stop-on-fail") == 0) {
			stop = true;
		} else if (strcmp(argv[i], "--quiet") == 0) {
			quiet = true;
		} else {
			return bad_usage("swarm: unknown option '%s'", argv[i]);
		}
	}
	if (!have_seeds)
		return bad_usage("swarm: --seeds N is required%s", "");
	if (jobs == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cpus > 0 ? (uint64_t)cpus : 1;
	}
	if (jobs > seeds)
		jobs = seeds;

	pid_t pids[256];
	int fds[256];
	fflush(stdout);
	for (uint64_t k = 0; k < jobs; k++) {
		int pipefd[2];
		if (pipe(pipefd) != 0) {
			fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
			return 2;
		}
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
			return 2;
		}
		if (pid == 0) {
			close(pipefd[0]);
			for (uint64_t j = 0; j < k; j++)
				close(fds[j]);
			for (uint64_t s = first + k; s < first + seeds; s += jobs) {
				swarm_record rec;
				swarm_isolated(s, without, &rec);
				if (!write_all(pipefd[1], &rec, sizeof(rec)))
					_exit(0);
			}
			close(pipefd[1]);
			_exit(0);
		}
		close(pipefd[1]);
		pids[k] = pid;
		fds[k] = pipefd[0];
	}

	double t0 = wall_seconds();
	uint64_t done = 0, passed = 0, failed = 0, exhausted = 0, sim_us = 0;
	uint64_t unsynced = 0, torn = 0, diskerr = 0, flips = 0, detected = 0, replaced = 0;
	int rc = 0;
	for (uint64_t s = first; s < first + seeds; s++) {
		uint64_t k = (s - first) % jobs;
		swarm_record rec;
		if (!read_all(fds[k], &rec, sizeof(rec)) || rec.seed != s) {
			printf("FAIL seed %" PRIu64 ": the worker running it died (crash or assertion; "
			       "see stderr)\n",
			       s);
			printf("  replay: %s run --seed %" PRIu64 " --trace%s%s\n", prog, s,
			       without ? " --without " : "", without ? without_arg : "");
			failed++;
			done++;
			rc = 1;
			break;
		}
		done++;
		sim_us += rec.sim_us;
		exhausted += rec.exhausted;
		unsynced += rec.unsynced;
		torn += rec.torn;
		diskerr += rec.diskerr;
		flips += rec.flips;
		detected += rec.detected;
		replaced += rec.replaced;
		if (rec.ok) {
			passed++;
		} else {
			failed++;
			rc = 1;
			printf("FAIL seed %" PRIu64 ": %s\n", s, rec.reason);
			printf("  replay: %s run --seed %" PRIu64 " --trace%s%s\n", prog, s,
			       without ? " --without " : "", without ? without_arg : "");
			fflush(stdout);
			if (stop)
				break;
		}
		if (!quiet && done % 100 == 0) {
			printf("  ... %" PRIu64 " seeds, %" PRIu64 " failed\n", done, failed);
			fflush(stdout);
		}
	}
	for (uint64_t k = 0; k < jobs; k++) {
		close(fds[k]);
		if (done < seeds)
			kill(pids[k], SIGTERM);
		int status;
		waitpid(pids[k], &status, 0);
	}
	double wall = wall_seconds() - t0;
	if (wall <= 0)
		wall = 1e-9;
	double simulated = (double)sim_us / 1e6;
	printf("swarm: %" PRIu64 " seeds, %" PRIu64 " passed, %" PRIu64 " failed, %.0f simulated s "
	       "in %.1f wall s (%.0f\xc3\x97 real time, %.1f seeds/s)%s\n",
	       done, passed, failed, simulated, wall, simulated / wall, (double)done / wall,
	       exhausted ? "" : "");
	printf("swarm: disk faults: %" PRIu64 " write rounds caught unsynced by a crash, %" PRIu64
	       " torn tails cut, %" PRIu64 " write/sync errors, %" PRIu64 " nodes with bit flips, %" PRIu64
	       " corruptions detected, %" PRIu64 " nodes replaced\n",
	       unsynced, torn, diskerr, flips, detected, replaced);
	if (exhausted)
		printf("swarm: %" PRIu64 " seeds had a key whose linearizability search ran out of "
		       "budget (treated as a pass)\n",
		       exhausted);
	/* The tally line tests/run.sh sums. */
	printf("swarm: %" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
	return rc;
}

/* --- scenario, demo, speed ------------------------------------------------------ */

static int cmd_scenario(int argc, char **argv)
{
	const char *name = NULL;
	int trace = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--trace") == 0)
			trace = 1;
		else if (strcmp(argv[i], "--trace-msgs") == 0)
			trace = 2;
		else if (argv[i][0] == '-')
			return bad_usage("scenario: unknown option '%s'", argv[i]);
		else if (name == NULL)
			name = argv[i];
		else
			return bad_usage("scenario: unexpected argument '%s'", argv[i]);
	}
	if (name == NULL)
		return bad_usage("scenario: a NAME, 'all' or 'list' is required%s", "");
	if (strcmp(name, "list") == 0) {
		for (int i = 0; i < sim_scenario_count(); i++)
			printf("%s\n", sim_scenario_name(i));
		return 0;
	}
	int failed = 0;
	if (strcmp(name, "all") == 0) {
		for (int i = 0; i < sim_scenario_count(); i++)
			if (sim_scenario_run(sim_scenario_name(i), stdout, trace) != 1)
				failed++;
		printf("scenarios: %d passed, %d failed\n", sim_scenario_count() - failed, failed);
		return failed ? 1 : 0;
	}
	int r = sim_scenario_run(name, stdout, trace);
	if (r < 0)
		return bad_usage("scenario: no scenario named '%s' (try 'scenario list')", name);
	return r == 1 ? 0 : 1;
}

static int cmd_speed(int argc, char **argv)
{
	uint64_t seconds = 600;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seconds) || seconds == 0)
				return bad_usage("speed: --seconds needs a positive integer, got '%s'", argv[i]);
		} else {
			return bad_usage("speed: unknown option '%s'", argv[i]);
		}
	}
	sim_params p;
	sim_params_default(&p);
	sim_set_replay("speed run (no seed): ./build/release/rasputin-sim speed");
	double t0 = wall_seconds();
	sim_world *w = sim_world_create(&p, 1, NULL, 0);
	sim_world_start(w, true, false);
	bool ok = sim_run_until(w, seconds * 1000000);
	double run_wall = wall_seconds() - t0;
	if (ok)
		ok = sim_finish(w);
	double wall = wall_seconds() - t0;
	double simulated = (double)w->now_us / 1e6;
	printf("speed: 5 nodes, 5 clients, no faults: %.0f simulated s in %.2f wall s = "
	       "%.0f\xc3\x97 real time (%" PRIu64 " events, %.2f M events/s; %" PRIu64
	       " entries committed, %" PRIu64 " ops; final checks incl. lincheck %.2f s)%s%s\n",
	       simulated, run_wall, simulated / run_wall, w->stats.events,
	       (double)w->stats.events / run_wall / 1e6, w->stats.entries_committed,
	       w->stats.ops_ok, wall - run_wall, ok ? "" : " FAILED: ", ok ? "" : w->reason);
	sim_world_destroy(w);
	sim_set_replay(NULL);

	enum { SPEED_SEEDS = 20 };
	double s0 = wall_seconds();
	uint64_t sim_us = 0;
	for (uint64_t s = 1; s <= SPEED_SEEDS; s++) {
		swarm_record rec;
		swarm_one(s, 0, &rec);
		sim_us += rec.sim_us;
	}
	double swall = wall_seconds() - s0;
	printf("speed: swarm mix, one core: %d seeds in %.2f s = %.1f seeds/s, %.0f\xc3\x97 real "
	       "time\n",
	       SPEED_SEEDS, swall, SPEED_SEEDS / swall, (double)sim_us / 1e6 / swall);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 0 && argv[0] && argv[0][0])
		prog = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "swarm") == 0) {
		/* The assertion hook's replay line names this binary and the
		 * fault classes switched off. */
		static char extra[160];
		for (int i = 2; i + 1 < argc; i++)
			if (strcmp(argv[i], "--without") == 0)
				snprintf(extra, sizeof(extra), "--without %s", argv[i + 1]);
		sim_set_replay_command(prog, extra);
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "swarm") == 0)
		return cmd_swarm(argc - 2, argv + 2);
	if (strcmp(cmd, "scenario") == 0)
		return cmd_scenario(argc - 2, argv + 2);
	if (strcmp(cmd, "demo") == 0) {
		if (argc > 2)
			return bad_usage("demo: unexpected argument '%s'", argv[2]);
		return sim_demo_run(stdout) ? 0 : 1;
	}
	if (strcmp(cmd, "speed") == 0)
		return cmd_speed(argc - 2, argv + 2);
	return bad_usage("unknown command '%s'", cmd);
}
