/*
 * cli_format.c — the reply styles of cli_format.h.  The recursion is bounded
 * by the reply reader's depth limit.
 */
#include "cli/cli_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/check.h"

void cli_format_quoted(struct cli_buf *b, const char *s, size_t n)
{
	RP_CHECK(s != NULL || n == 0);
	cli_buf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\\':
			cli_buf_puts(b, "\\\\");
			break;
		case '"':
			cli_buf_puts(b, "\\\"");
			break;
		case '\n':
			cli_buf_puts(b, "\\n");
			break;
		case '\r':
			cli_buf_puts(b, "\\r");
			break;
		case '\t':
			cli_buf_puts(b, "\\t");
			break;
		case '\a':
			cli_buf_puts(b, "\\a");
			break;
		case '\b':
			cli_buf_puts(b, "\\b");
			break;
		default:
			if (c >= 0x20 && c < 0x7f)
				cli_buf_put(b, (const char *)&c, 1);
			else
				cli_buf_printf(b, "\\x%02x", c);
		}
	}
	cli_buf_put(b, "\"", 1);
}

static bool is_aggregate(enum rasputin_reply_type t)
{
	return t == RASPUTIN_REPLY_ARRAY || t == RASPUTIN_REPLY_MAP ||
	       t == RASPUTIN_REPLY_SET || t == RASPUTIN_REPLY_PUSH;
}

static const char *str_of(const struct rasputin_reply *r)
{
	return r->str != NULL ? r->str : "";
}

/*
 * One value in the TTY style.  indent is the column the value starts at
 * (its number is already printed to the left); lines after the first of
 * an aggregate start with indent spaces.
 */
static void tty_value(struct cli_buf *b, const struct rasputin_reply *r, size_t indent)
{
	switch (r->type) {
	case RASPUTIN_REPLY_STATUS:
		cli_buf_put(b, str_of(r), r->len);
		cli_buf_puts(b, "\n");
		return;
	case RASPUTIN_REPLY_ERROR:
		cli_buf_puts(b, "(error) ");
		cli_buf_put(b, str_of(r), r->len);
		cli_buf_puts(b, "\n");
		return;
	case RASPUTIN_REPLY_INTEGER:
		cli_buf_printf(b, "(integer) %" PRId64 "\n", r->integer);
		return;
	case RASPUTIN_REPLY_STRING:
		cli_format_quoted(b, str_of(r), r->len);
		cli_buf_puts(b, "\n");
		return;
	case RASPUTIN_REPLY_VERBATIM:
		cli_buf_put(b, str_of(r), r->len);
		cli_buf_puts(b, "\n");
		return;
	case RASPUTIN_REPLY_NIL:
		cli_buf_puts(b, "(nil)\n");
		return;
	case RASPUTIN_REPLY_DOUBLE:
		cli_buf_printf(b, "(double) %s\n", str_of(r));
		return;
	case RASPUTIN_REPLY_BOOL:
		cli_buf_puts(b, r->integer ? "(true)\n" : "(false)\n");
		return;
	case RASPUTIN_REPLY_BIGNUM:
		cli_buf_printf(b, "(big number) %s\n", str_of(r));
		return;
	case RASPUTIN_REPLY_ARRAY:
	case RASPUTIN_REPLY_MAP:
	case RASPUTIN_REPLY_SET:
	case RASPUTIN_REPLY_PUSH:
		break;
	}
	RP_CHECK(is_aggregate(r->type));
	bool is_map = r->type == RASPUTIN_REPLY_MAP;
	size_t items = is_map ? r->count / 2 : r->count;
	if (items == 0) {
		cli_buf_puts(b, is_map				 ? "(empty hash)\n"
				: r->type == RASPUTIN_REPLY_SET	 ? "(empty set)\n"
				: r->type == RASPUTIN_REPLY_PUSH ? "(empty push)\n"
								 : "(empty array)\n");
		return;
	}
	int width = snprintf(NULL, 0, "%zu", items);
	char mark = is_map ? '#' : r->type == RASPUTIN_REPLY_SET ? '~' : ')';
	/* Children start after "<number><mark> ". */
	size_t child = indent + (size_t)width + 2;
	for (size_t i = 0; i < items; i++) {
		if (i > 0)
			cli_buf_printf(b, "%*s", (int)indent, "");
		cli_buf_printf(b, "%*zu%c ", width, i + 1, mark);
		if (!is_map) {
			tty_value(b, &r->elems[i], child);
			continue;
		}
		tty_value(b, &r->elems[2 * i], child);
		/* "key => value": the key's newline gives way to the arrow. */
		if (b->len > 0 && !b->oom && b->data[b->len - 1] == '\n')
			b->len--;
		cli_buf_puts(b, " => ");
		tty_value(b, &r->elems[2 * i + 1], child);
	}
}

/* One value in the raw style, without the final newline. */
static void raw_value(struct cli_buf *b, const struct rasputin_reply *r)
{
	switch (r->type) {
	case RASPUTIN_REPLY_STATUS:
	case RASPUTIN_REPLY_ERROR:
	case RASPUTIN_REPLY_STRING:
	case RASPUTIN_REPLY_VERBATIM:
	case RASPUTIN_REPLY_DOUBLE:
	case RASPUTIN_REPLY_BIGNUM:
		cli_buf_put(b, str_of(r), r->len);
		return;
	case RASPUTIN_REPLY_INTEGER:
		cli_buf_printf(b, "%" PRId64, r->integer);
		return;
	case RASPUTIN_REPLY_NIL:
		return;
	case RASPUTIN_REPLY_BOOL:
		cli_buf_puts(b, r->integer ? "(true)" : "(false)");
		return;
	case RASPUTIN_REPLY_MAP:
		for (size_t i = 0; i + 1 < r->count; i += 2) {
			if (i > 0)
				cli_buf_puts(b, "\n");
			raw_value(b, &r->elems[i]);
			cli_buf_puts(b, " ");
			raw_value(b, &r->elems[i + 1]);
		}
		return;
	case RASPUTIN_REPLY_ARRAY:
	case RASPUTIN_REPLY_SET:
	case RASPUTIN_REPLY_PUSH:
		for (size_t i = 0; i < r->count; i++) {
			if (i > 0)
				cli_buf_puts(b, "\n");
			raw_value(b, &r->elems[i]);
		}
		return;
	}
	RP_CHECK(0);
}

void cli_format_reply(struct cli_buf *b, const struct rasputin_reply *r,
		      enum cli_format fmt)
{
	RP_CHECK(b != NULL);
	RP_CHECK(r != NULL);
	if (fmt == CLI_FORMAT_TTY) {
		tty_value(b, r, 0);
	} else {
		raw_value(b, r);
		cli_buf_puts(b, "\n");
	}
}
