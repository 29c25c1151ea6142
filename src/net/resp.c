/*
 * resp.c — what the three parts of the RESP codec share: the default
 * limits and the descriptions of the error codes.  The messages are the
 * text of the RESP error reply the server sends before closing, so they
 * follow the "Protocol error: ..." wording Redis clients already expect.
 */
#include "net/resp.h"

#include "util/err.h"

void resp_limits_default(struct resp_limits *lim)
{
	lim->count_max = (size_t)1 << 20;
	lim->bulk_bytes_max = (size_t)512 << 20;
	lim->inline_bytes_max = (size_t)64 << 10;
	lim->total_bytes_max = ((size_t)1 << 30) + ((size_t)64 << 20);
	lim->depth_max = 32;
}

const char *resp_strerror(int rc)
{
	switch (rc) {
	case RESP_ERR_MULTIBULK_LEN:
		return "Protocol error: invalid multibulk length";
	case RESP_ERR_BULK_LEN:
		return "Protocol error: invalid bulk length";
	case RESP_ERR_EXPECTED_DOLLAR:
		return "Protocol error: expected '$'";
	case RESP_ERR_INLINE_TOO_BIG:
		return "Protocol error: too big inline request";
	case RESP_ERR_UNBALANCED_QUOTES:
		return "Protocol error: unbalanced quotes in request";
	case RESP_ERR_TOO_BIG:
		return "Protocol error: request or reply over the size limit";
	case RESP_ERR_EXPECTED_CRLF:
		return "Protocol error: expected CRLF";
	case RESP_ERR_BAD_TYPE:
		return "Protocol error: unknown type byte";
	case RESP_ERR_BAD_INTEGER:
		return "Protocol error: invalid integer";
	case RESP_ERR_BAD_DOUBLE:
		return "Protocol error: invalid double";
	case RESP_ERR_BAD_BOOL:
		return "Protocol error: invalid boolean";
	case RESP_ERR_BAD_VERBATIM:
		return "Protocol error: invalid verbatim string";
	case RESP_ERR_BAD_NULL:
		return "Protocol error: invalid null";
	case RESP_ERR_BAD_BIGNUM:
		return "Protocol error: invalid big number";
	case RESP_ERR_TOO_DEEP:
		return "Protocol error: reply nested too deeply";
	case RESP_ERR_LINE_TOO_LONG:
		return "Protocol error: reply line too long";
	default:
		return rp_strerror(rc);
	}
}
