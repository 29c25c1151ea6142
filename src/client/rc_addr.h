/*
 * rc_addr.h — "host:port" strings as librasputin and rasputin-cli take
 * them: a host name or IPv4 address, or an IPv6 literal in brackets
 * ("[::1]:7001"), a colon, and a decimal port 1..65535.
 */
#ifndef RASPUTIN_CLIENT_RC_ADDR_H
#define RASPUTIN_CLIENT_RC_ADDR_H

#include <stddef.h>

/* The parts of one address, NUL-terminated, brackets removed. */
struct rc_addr {
	char host[256];
	char port[6];
};

/* 0 and *out filled, or RP_ERR_INVALID if s is not host:port. */
int rc_addr_parse(const char *s, struct rc_addr *out);

#endif
