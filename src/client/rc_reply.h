/*
 * rc_reply.h — turns the codec's reply tree (struct resp_value, internal)
 * into the public one (struct rasputin_reply), so include/rasputin.h does
 * not expose net/ types.
 */
#ifndef RASPUTIN_CLIENT_RC_REPLY_H
#define RASPUTIN_CLIENT_RC_REPLY_H

#include <stddef.h>

#include "net/resp.h"
#include "rasputin.h"

/* A deep copy of v in *out (free with rasputin_reply_free), or
 * RP_ERR_NOMEM with *out NULL.  v stays the caller's. */
int rc_reply_from_resp(const struct resp_value *v, struct rasputin_reply **out);

/* The shortest text that reads back as d ("inf", "-inf", "nan" spelled
 * so), in buf.  buf_size >= 32. */
void rc_reply_format_double(double d, char *buf, size_t buf_size);

#endif
