/*
 * rc_reply.c — copying reply trees from the codec's form to the public
 * form.  The recursion is bounded by the reader's depth limit (32 by
 * default, RESP_DEPTH_LIMIT at most).
 */
#include "client/rc_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

void rc_reply_format_double(double d, char *buf, size_t buf_size)
{
	RP_CHECK(buf != NULL);
	RP_CHECK(buf_size >= 32);
	if (d != d) {
		snprintf(buf, buf_size, "nan");
		return;
	}
	if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
		snprintf(buf, buf_size, d > 0 ? "inf" : "-inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, buf_size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static enum rasputin_reply_type map_type(enum resp_type t)
{
	switch (t) {
	case RESP_T_SIMPLE:
		return RASPUTIN_REPLY_STATUS;
	case RESP_T_ERROR:
		return RASPUTIN_REPLY_ERROR;
	case RESP_T_INTEGER:
		return RASPUTIN_REPLY_INTEGER;
	case RESP_T_BULK:
		return RASPUTIN_REPLY_STRING;
	case RESP_T_NULL:
		return RASPUTIN_REPLY_NIL;
	case RESP_T_ARRAY:
		return RASPUTIN_REPLY_ARRAY;
	case RESP_T_MAP:
		return RASPUTIN_REPLY_MAP;
	case RESP_T_SET:
		return RASPUTIN_REPLY_SET;
	case RESP_T_PUSH:
		return RASPUTIN_REPLY_PUSH;
	case RESP_T_DOUBLE:
		return RASPUTIN_REPLY_DOUBLE;
	case RESP_T_BOOL:
		return RASPUTIN_REPLY_BOOL;
	case RESP_T_VERBATIM:
		return RASPUTIN_REPLY_VERBATIM;
	case RESP_T_BIGNUM:
		return RASPUTIN_REPLY_BIGNUM;
	}
	RP_CHECK(0);
	return RASPUTIN_REPLY_NIL;
}

static void reply_clear(struct rasputin_reply *r)
{
	for (size_t i = 0; i < r->count; i++)
		reply_clear(&r->elems[i]);
	free(r->elems);
	free(r->str);
	memset(r, 0, sizeof(*r));
}

static char *dup_bytes(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Fills *dst (cleared) from *v; on failure *dst holds what was copied. */
static int copy_value(struct rasputin_reply *dst, const struct resp_value *v)
{
	dst->type = map_type(v->type);
	dst->integer = v->integer;
	dst->dbl = v->dbl;
	memcpy(dst->format, v->format, sizeof(dst->format));
	if (v->type == RESP_T_DOUBLE) {
		char tmp[64];
		rc_reply_format_double(v->dbl, tmp, sizeof(tmp));
		dst->len = strlen(tmp);
		dst->str = dup_bytes(tmp, dst->len);
		if (dst->str == NULL)
			return RP_ERR_NOMEM;
	} else if (v->str != NULL) {
		dst->len = v->len;
		dst->str = dup_bytes(v->str, v->len);
		if (dst->str == NULL)
			return RP_ERR_NOMEM;
	}
	if (v->count > 0) {
		dst->elems = calloc(v->count, sizeof(*dst->elems));
		if (dst->elems == NULL)
			return RP_ERR_NOMEM;
		for (size_t i = 0; i < v->count; i++) {
			dst->count = i + 1;
			int rc = copy_value(&dst->elems[i], &v->elems[i]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int rc_reply_from_resp(const struct resp_value *v, struct rasputin_reply **out)
{
	RP_CHECK(v != NULL);
	RP_CHECK(out != NULL);
	*out = NULL;
	struct rasputin_reply *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return RP_ERR_NOMEM;
	int rc = copy_value(r, v);
	if (rc < 0) {
		reply_clear(r);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void rasputin_reply_free(struct rasputin_reply *reply)
{
	if (reply == NULL)
		return;
	reply_clear(reply);
	free(reply);
}
