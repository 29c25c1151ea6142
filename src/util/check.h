/*
 * check.h — assertions that are always compiled in (never NDEBUG'd away).
 *
 * A failed assertion is a programmer error: it prints where, calls the
 * registered hook (the simulator prints its seed there) and aborts.
 */
#ifndef RASPUTIN_UTIL_CHECK_H
#define RASPUTIN_UTIL_CHECK_H

typedef void (*rp_check_hook_fn)(void);

/* Called once before aborting on a failed assertion; NULL to clear. */
void rp_check_set_hook(rp_check_hook_fn hook);

_Noreturn void rp_check_fail(const char *expr, const char *file, int line);

#define RP_CHECK(expr)                                                   \
	do {                                                             \
		if (!(expr))                                             \
			rp_check_fail(#expr, __FILE__, __LINE__);        \
	} while (0)

#endif
