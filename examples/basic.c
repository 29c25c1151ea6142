/*
 * basic.c — the original rasputin README's client example, in C with
 * librasputin: set, get, three compare-and-swaps, delete, and a get of the
 * deleted key.  Prints every step and exits 1 at the first result that is
 * not what the README promises.
 *
 *   build/release/examples/basic [host:port ...]
 *
 * The addresses are client ports of any nodes (default: the local 3-node
 * cluster on 127.0.0.1:7001-7003); the library moves to another one if a
 * node is down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasputin.h"

static rasputin *db;

/* Exits with the library's explanation when a call fails. */
static void ok(int rc, const char *what)
{
	if (rc == RASPUTIN_OK)
		return;
	fprintf(stderr, "%s: %s: %s\n", what, rasputin_strerror(rc),
		rasputin_last_error(db));
	exit(1);
}

/* Exits when a result is not the expected one. */
static void expect(bool cond, const char *what)
{
	if (cond)
		return;
	fprintf(stderr, "MISMATCH: %s\n", what);
	exit(1);
}

static bool value_is(const rasputin_result *r, const char *s)
{
	return r->present && r->value_len == strlen(s) &&
	       memcmp(r->value, s, r->value_len) == 0;
}

/* Shows a result as the README talks about it: success flag and value. */
static void show(const char *call, const rasputin_result *r)
{
	printf("%-34s -> success=%s value=%s%s%s\n", call, r->success ? "true" : "false",
	       r->present ? "\"" : "", r->present ? (const char *)r->value : "(absent)",
	       r->present ? "\"" : "");
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = {"127.0.0.1:7001", "127.0.0.1:7002",
					       "127.0.0.1:7003"};
	const char *const *addrs = defaults;
	size_t count = 3;
	if (argc > 1) {
		addrs = (const char *const *)(argv + 1);
		count = (size_t)(argc - 1);
	}

	rasputin_options opt;
	rasputin_options_default(&opt);
	int rc = rasputin_connect(addrs, count, &opt, &db);
	if (rc != RASPUTIN_OK) {
		fprintf(stderr, "connect: %s: %s\n", rasputin_strerror(rc),
			rasputin_last_error(NULL));
		return 1;
	}
	printf("connected to %s (client id %llu)\n", rasputin_current_addr(db),
	       (unsigned long long)rasputin_client_id(db));

	rasputin_result r;
	ok(rasputin_set(db, "k1", 2, "v1", 2, &r), "set");
	show("set(k1, v1)", &r);
	rasputin_result_free(&r);

	ok(rasputin_get(db, "k1", 2, &r), "get");
	show("get(k1)", &r);
	expect(r.success && value_is(&r, "v1"), "get(k1) == v1");
	rasputin_result_free(&r);

	/* CAS returns the current value, and sets the success flag. */
	ok(rasputin_cas(db, "k1", 2, "v1", 2, "v12", 3, &r), "cas");
	show("cas(k1, v1, v12)", &r);
	expect(r.success && value_is(&r, "v12"), "cas(k1, v1, v12) swaps, value v12");
	rasputin_result_free(&r);

	ok(rasputin_cas(db, "k1", 2, "vNever", 6, "vNever2", 7, &r), "cas");
	show("cas(k1, vNever, vNever2)", &r);
	expect(!r.success, "cas(k1, vNever, vNever2) fails");
	expect(value_is(&r, "v12"),
	       "cas(k1, vNever, vNever2) returns the current value v12");
	rasputin_result_free(&r);

	ok(rasputin_cas(db, "k1", 2, "v12", 3, "v13", 3, &r), "cas");
	show("cas(k1, v12, v13)", &r);
	expect(r.success && value_is(&r, "v13"), "cas(k1, v12, v13) swaps, value v13");
	rasputin_result_free(&r);

	/* Deletes return the last value. */
	ok(rasputin_del(db, "k1", 2, &r), "del");
	show("del(k1)", &r);
	expect(r.success && value_is(&r, "v13"), "del(k1) returns the last value v13");
	rasputin_result_free(&r);

	ok(rasputin_get(db, "k1", 2, &r), "get");
	show("get(k1)", &r);
	expect(!r.success && !r.present, "get(k1) after del: absent");
	rasputin_result_free(&r);

	rasputin_close(db);
	printf("all results as the README says\n");
	return 0;
}
