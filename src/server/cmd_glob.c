/*
 * cmd_glob.c — glob matching for SCAN's MATCH, KEYS and CONFIG GET: the
 * patterns Redis understands (* ? [set] [^set] [a-z] and \ escapes).
 *
 * Every element but * matches exactly one byte, so the classic greedy walk
 * that remembers only the last * is exact: on a mismatch it lets that *
 * swallow one more byte and retries.  That bounds the work by
 * O(pattern * string) for any pattern (a recursive matcher can take
 * exponential time on "a*a*a*a*...b").
 */
#include "server/cmd.h"
#include "util/check.h"

static unsigned char fold(unsigned char c, bool nocase)
{
	if (nocase && c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

/* Matches byte c against the element at pat[*pi] (not a '*'), moving *pi
 * past the element. */
static bool element(const char *pat, size_t n, size_t *pi, unsigned char c, bool nocase)
{
	size_t p = *pi;
	RP_CHECK(p < n && pat[p] != '*');
	unsigned char fc = fold(c, nocase);
	switch (pat[p]) {
	case '?':
		*pi = p + 1;
		return true;
	case '\\':
		if (p + 1 < n) {
			*pi = p + 2;
			return fold((unsigned char)pat[p + 1], nocase) == fc;
		}
		*pi = p + 1;
		return c == '\\';
	case '[': {
		size_t j = p + 1;
		bool negate = j < n && pat[j] == '^';
		if (negate)
			j++;
		bool hit = false;
		while (j < n && pat[j] != ']') {
			unsigned char lo, hi;
			if (pat[j] == '\\' && j + 1 < n) {
				lo = hi = (unsigned char)pat[j + 1];
				j += 2;
			} else if (j + 2 < n && pat[j + 1] == '-' && pat[j + 2] != ']') {
				lo = (unsigned char)pat[j];
				hi = (unsigned char)pat[j + 2];
				j += 3;
			} else {
				lo = hi = (unsigned char)pat[j];
				j++;
			}
			lo = fold(lo, nocase);
			hi = fold(hi, nocase);
			if (lo > hi) {
				unsigned char t = lo;
				lo = hi;
				hi = t;
			}
			if (fc >= lo && fc <= hi)
				hit = true;
		}
		if (j == n) { /* never closed: the [ is an ordinary byte */
			*pi = p + 1;
			return c == '[';
		}
		*pi = j + 1;
		return hit != negate;
	}
	default:
		*pi = p + 1;
		return fold((unsigned char)pat[p], nocase) == fc;
	}
}

bool cmd_glob_match(const char *pat, size_t pat_len, const char *s, size_t len,
		    bool nocase)
{
	RP_CHECK(pat != NULL || pat_len == 0);
	RP_CHECK(s != NULL || len == 0);
	const size_t none = (size_t)-1;
	size_t p = 0, i = 0;
	size_t star_p = none, star_i = 0; /* after the last *, and where it began */
	while (i < len) {
		if (p < pat_len && pat[p] == '*') {
			while (p < pat_len && pat[p] == '*')
				p++;
			if (p == pat_len)
				return true; /* a trailing * takes the rest */
			star_p = p;
			star_i = i;
			continue;
		}
		if (p < pat_len) {
			size_t next = p;
			if (element(pat, pat_len, &next, (unsigned char)s[i], nocase)) {
				p = next;
				i++;
				continue;
			}
		}
		if (star_p == none)
			return false;
		/* The last * takes one more byte; retry what follows it. */
		p = star_p;
		i = ++star_i;
	}
	while (p < pat_len && pat[p] == '*')
		p++;
	return p == pat_len;
}
