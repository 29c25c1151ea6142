/*
 * lincheck_main.c — rasputin-lincheck: checks a history recorded against a
 * real cluster (the Python clients in tests/cluster, the fault harness) with the same
 * Wing–Gong checker the simulator uses (src/sim/lincheck.h).
 *
 * Input: one operation per line, whitespace separated, '#' comments:
 *
 *   client key kind status invoke_us complete_us value expect_present expect found out success
 *
 * kind: get set cas del incr;  status: ok fail info;  integers in decimal;
 * booleans 0/1.  For info ops complete_us is ignored.  Output: a verdict
 * line "linearizable: yes|NO|unknown (...)", and on NO the failing key's
 * history.  Exit 0 when linearizable (or the search ran out of budget,
 * which is reported), 1 when not, 2 on bad input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/lincheck.h"

static int parse_kind(const char *s, lc_kind *k)
{
	static const char *names[] = {"get", "set", "cas", "del", "incr"};
	for (int i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0) {
			*k = (lc_kind)i;
			return 0;
		}
	return -1;
}

static int parse_status(const char *s, lc_status *st)
{
	if (strcmp(s, "ok") == 0)
		*st = LC_STATUS_OK;
	else if (strcmp(s, "fail") == 0)
		*st = LC_STATUS_FAIL;
	else if (strcmp(s, "info") == 0)
		*st = LC_STATUS_INFO;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: rasputin-lincheck HISTORY-FILE   (format: see the source)\n");
		return 2;
	}
	FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
	if (f == NULL) {
		fprintf(stderr, "rasputin-lincheck: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	size_t cap = 1024, count = 0;
	lc_op *ops = malloc(cap * sizeof(*ops));
	char line[512];
	int lineno = 0;
	size_t counts[3] = {0, 0, 0};
	while (ops && fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char kind[16], status[16];
		unsigned long long client, key, inv, comp, value, expect, out;
		int ep, found, success;
		int n = sscanf(line, "%llu %llu %15s %15s %llu %llu %llu %d %llu %d %llu %d", &client,
		               &key, kind, status, &inv, &comp, &value, &ep, &expect, &found, &out,
		               &success);
		lc_op op;
		memset(&op, 0, sizeof(op));
		if (n != 12 || parse_kind(kind, &op.kind) || parse_status(status, &op.status)) {
			fprintf(stderr, "rasputin-lincheck: %s:%d: not an operation line\n", argv[1],
			        lineno);
			return 2;
		}
		op.client = (uint32_t)client;
		op.key = key;
		op.invoke_us = inv;
		op.complete_us = comp;
		op.value = value;
		op.expect_present = ep != 0;
		op.expect = expect;
		op.found = found != 0;
		op.out = out;
		op.success = success != 0;
		counts[op.status]++;
		if (count == cap) {
			cap *= 2;
			lc_op *grown = realloc(ops, cap * sizeof(*ops));
			if (grown == NULL) {
				free(ops);
				ops = NULL;
				break;
			}
			ops = grown;
		}
		ops[count++] = op;
	}
	if (f != stdin)
		fclose(f);
	if (ops == NULL) {
		fprintf(stderr, "rasputin-lincheck: out of memory\n");
		return 2;
	}
	lc_result res;
	int rc = lc_check(ops, count, 0, &res);
	if (rc != 0) {
		fprintf(stderr, "rasputin-lincheck: %s\n", lc_strerror(rc));
		free(ops);
		return 2;
	}
	printf("ops: %zu (ok %zu, fail %zu, info %zu), keys checked %zu, states %zu\n", count,
	       counts[LC_STATUS_OK], counts[LC_STATUS_FAIL], counts[LC_STATUS_INFO],
	       res.keys_checked, res.states_explored);
	if (!res.linearizable) {
		printf("linearizable: NO (key %llu)\n", (unsigned long long)res.bad_key);
		lc_print_key_history(stdout, ops, count, res.bad_key);
		free(ops);
		return 1;
	}
	if (res.exhausted)
		printf("linearizable: unknown for key %llu (search budget exhausted); no violation "
		       "found\n",
		       (unsigned long long)res.exhausted_key);
	else
		printf("linearizable: yes\n");
	free(ops);
	return 0;
}
