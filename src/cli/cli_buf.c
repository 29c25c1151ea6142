/* cli_buf.c — the growable text buffer of cli_buf.h. */
#include "cli/cli_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"

void cli_buf_init(struct cli_buf *b)
{
	RP_CHECK(b != NULL);
	memset(b, 0, sizeof(*b));
}

void cli_buf_deinit(struct cli_buf *b)
{
	RP_CHECK(b != NULL);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void cli_buf_reset(struct cli_buf *b)
{
	RP_CHECK(b != NULL);
	b->len = 0;
	b->oom = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static bool reserve(struct cli_buf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void cli_buf_put(struct cli_buf *b, const char *s, size_t n)
{
	RP_CHECK(b != NULL);
	RP_CHECK(s != NULL || n == 0);
	if (!reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cli_buf_puts(struct cli_buf *b, const char *s)
{
	cli_buf_put(b, s, strlen(s));
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
	RP_CHECK(b != NULL);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *cli_buf_str(const struct cli_buf *b)
{
	RP_CHECK(b != NULL);
	return b->data != NULL ? b->data : "";
}
