/*
 * cli_format.h — how rasputin-cli prints a reply, in redis-cli's two
 * styles:
 *
 *   CLI_FORMAT_TTY  for a terminal: strings quoted with escapes ("v1"),
 *                   (nil), (integer) 1, (error) ERR ..., (double) 1.5,
 *                   (true)/(false), (big number) 123, and aggregates as
 *                   numbered lines ("1) ", maps "1# key => value", sets
 *                   "1~ "), nested ones indented under their number, the
 *                   numbers right-aligned to the widest; empty ones as
 *                   (empty array), (empty hash), (empty set).
 *   CLI_FORMAT_RAW  for pipes and --raw: the bytes of each value on its
 *                   own line, aggregates flattened, nil as an empty line,
 *                   a map pair as "key value".
 *
 * Both end the output with a newline.
 */
#ifndef RASPUTIN_CLI_CLI_FORMAT_H
#define RASPUTIN_CLI_CLI_FORMAT_H

#include "cli/cli_buf.h"
#include "rasputin.h"

enum cli_format { CLI_FORMAT_TTY, CLI_FORMAT_RAW };

/* Appends the text of r to b. */
void cli_format_reply(struct cli_buf *b, const struct rasputin_reply *r,
		      enum cli_format fmt);

/* Appends s[0..n) quoted as the TTY style shows strings. */
void cli_format_quoted(struct cli_buf *b, const char *s, size_t n);

#endif
