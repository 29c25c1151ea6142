/*
 * cli_args.h — splits a line typed at rasputin-cli's prompt into
 * arguments, with redis-cli's quoting rules:
 *
 *   - arguments are separated by runs of spaces, tabs, CR and LF;
 *   - "..." may hold any byte: \" \\ \n \r \t \b \a, and \xHH (two hex
 *     digits) for any byte; a backslash before any other character keeps
 *     that character;
 *   - '...' is literal except \' for a quote;
 *   - a quote may start in the middle of a word (a"b c" is "ab c"), but a
 *     closing quote must be followed by a separator or the end of the line;
 *   - an unclosed quote, or a closing quote followed by something else, is
 *     an error (redis-cli says "Invalid argument(s)").
 */
#ifndef RASPUTIN_CLI_CLI_ARGS_H
#define RASPUTIN_CLI_CLI_ARGS_H

#include <stddef.h>

struct cli_args {
	size_t argc;
	char **argv;  /* argc strings, each lens[i] bytes plus a NUL */
	size_t *lens; /* binary safe: argv[i] may contain NULs */
};

/*
 * Splits line (NUL-terminated).  0 with *out filled (argc may be 0 for a
 * blank line); RP_ERR_INVALID for bad quoting; RP_ERR_NOMEM.  On success
 * free *out with cli_args_free; on failure *out is empty.
 */
int cli_args_split(const char *line, struct cli_args *out);

void cli_args_free(struct cli_args *a);

#endif
