/*
 * cli_buf.h — a growable text buffer for rasputin-cli's output, so the
 * formatting functions can be tested without a terminal.  Appends after an
 * allocation failure are dropped and remembered in oom.
 */
#ifndef RASPUTIN_CLI_CLI_BUF_H
#define RASPUTIN_CLI_CLI_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct cli_buf {
	char *data; /* data[0..len) plus a NUL; NULL until the first append */
	size_t len;
	size_t cap;
	bool oom;
};

void cli_buf_init(struct cli_buf *b);
void cli_buf_deinit(struct cli_buf *b);
/* Empties the buffer (keeps the allocation). */
void cli_buf_reset(struct cli_buf *b);
void cli_buf_put(struct cli_buf *b, const char *s, size_t n);
void cli_buf_puts(struct cli_buf *b, const char *s);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text so far, NUL-terminated ("" when empty). */
const char *cli_buf_str(const struct cli_buf *b);

#endif
