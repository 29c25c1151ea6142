/* rc_addr.c — parsing "host:port" (see rc_addr.h). */
#include "client/rc_addr.h"

#include <string.h>

#include "util/check.h"
#include "util/err.h"

int rc_addr_parse(const char *s, struct rc_addr *out)
{
	RP_CHECK(out != NULL);
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return RP_ERR_INVALID;
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return RP_ERR_INVALID;
	const char *host = s;
	size_t host_len = (size_t)(colon - s);
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	} else if (memchr(host, ':', host_len) != NULL) {
		return RP_ERR_INVALID; /* an IPv6 literal needs brackets */
	}
	if (host_len == 0 || host_len >= sizeof(out->host))
		return RP_ERR_INVALID;
	const char *port = colon + 1;
	size_t port_len = strlen(port);
	if (port_len == 0 || port_len >= sizeof(out->port))
		return RP_ERR_INVALID;
	unsigned long v = 0;
	for (size_t i = 0; i < port_len; i++) {
		if (port[i] < '0' || port[i] > '9')
			return RP_ERR_INVALID;
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v == 0 || v > 65535 || port[0] == '0')
		return RP_ERR_INVALID;
	memcpy(out->host, host, host_len);
	memcpy(out->port, port, port_len);
	return 0;
}
