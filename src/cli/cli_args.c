/* cli_args.c — the quoting rules of cli_args.h. */
#include "cli/cli_args.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_buf.h"
#include "util/check.h"
#include "util/err.h"

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte a backslash escape inside "..." stands for. */
static char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'a':
		return '\a';
	default:
		return c;
	}
}

void cli_args_free(struct cli_args *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	free(a->lens);
	memset(a, 0, sizeof(*a));
}

static int push(struct cli_args *a, size_t *cap, struct cli_buf *cur)
{
	if (a->argc == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **argv = realloc(a->argv, ncap * sizeof(*argv));
		if (argv == NULL)
			return RP_ERR_NOMEM;
		a->argv = argv;
		size_t *lens = realloc(a->lens, ncap * sizeof(*lens));
		if (lens == NULL)
			return RP_ERR_NOMEM;
		a->lens = lens;
		*cap = ncap;
	}
	char *s = malloc(cur->len + 1);
	if (s == NULL)
		return RP_ERR_NOMEM;
	if (cur->len > 0)
		memcpy(s, cur->data, cur->len);
	s[cur->len] = '\0';
	a->argv[a->argc] = s;
	a->lens[a->argc] = cur->len;
	a->argc++;
	return 0;
}

/* Reads one argument starting at *p (not a separator) into cur. */
static int scan_one(const char **pp, struct cli_buf *cur)
{
	const char *p = *pp;
	enum { PLAIN, DOUBLE, SINGLE } st = PLAIN;
	for (;;) {
		char c = *p;
		if (st == PLAIN) {
			if (c == '\0' || is_sep(c))
				break;
			if (c == '"')
				st = DOUBLE;
			else if (c == '\'')
				st = SINGLE;
			else
				cli_buf_put(cur, &c, 1);
			p++;
			continue;
		}
		if (c == '\0')
			return RP_ERR_INVALID; /* the quote never closes */
		if (st == DOUBLE && c == '\\' && p[1] == 'x' && hex_value(p[2]) >= 0 &&
		    hex_value(p[3]) >= 0) {
			char byte = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
			cli_buf_put(cur, &byte, 1);
			p += 4;
		} else if (st == DOUBLE && c == '\\' && p[1] != '\0') {
			char e = unescape(p[1]);
			cli_buf_put(cur, &e, 1);
			p += 2;
		} else if (st == SINGLE && c == '\\' && p[1] == '\'') {
			cli_buf_put(cur, "'", 1);
			p += 2;
		} else if ((st == DOUBLE && c == '"') || (st == SINGLE && c == '\'')) {
			/* A closing quote ends the argument. */
			if (p[1] != '\0' && !is_sep(p[1]))
				return RP_ERR_INVALID;
			p++;
			break;
		} else {
			cli_buf_put(cur, &c, 1);
			p++;
		}
	}
	*pp = p;
	return cur->oom ? RP_ERR_NOMEM : 0;
}

int cli_args_split(const char *line, struct cli_args *out)
{
	RP_CHECK(line != NULL);
	RP_CHECK(out != NULL);
	memset(out, 0, sizeof(*out));
	size_t cap = 0;
	struct cli_buf cur;
	cli_buf_init(&cur);
	const char *p = line;
	int rc = 0;
	for (;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		cli_buf_reset(&cur);
		rc = scan_one(&p, &cur);
		if (rc == 0)
			rc = push(out, &cap, &cur);
		if (rc < 0)
			break;
	}
	cli_buf_deinit(&cur);
	if (rc < 0)
		cli_args_free(out);
	return rc;
}
