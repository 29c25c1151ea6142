/* check.c — the failure path of RP_CHECK. */
#include "util/check.h"

#include <stdio.h>
#include <stdlib.h>

static rp_check_hook_fn check_hook;

void rp_check_set_hook(rp_check_hook_fn hook) { check_hook = hook; }

_Noreturn void rp_check_fail(const char *expr, const char *file, int line)
{
	fflush(stdout);
	fprintf(stderr, "assertion failed: %s (%s:%d)\n", expr, file, line);
	if (check_hook) {
		rp_check_hook_fn hook = check_hook;
		check_hook = NULL; /* a failing hook must not recurse */
		hook();
	}
	fflush(stderr);
	abort();
}
