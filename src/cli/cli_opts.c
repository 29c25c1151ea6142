/* cli_opts.c — rasputin-cli's command line (see cli_opts.h). */
#include "cli/cli_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/rc_addr.h"
#include "util/check.h"
#include "util/err.h"

const char *cli_opts_usage(void)
{
	return "usage: rasputin-cli [options] [command [arg ...]]\n"
	       "       rasputin-cli [options] cluster status\n"
	       "\n"
	       "With a command, runs it once, prints the reply and exits (1 on an error\n"
	       "reply or when no node answers).  Without one, reads commands at a "
	       "prompt\n"
	       "(history in ~/.rasputin_cli_history), or one per line from a pipe.\n"
	       "\n"
	       "  -h <host>          node to connect to (default " CLI_DEFAULT_HOST ")\n"
	       "  -p <port>          its client port (default 7001)\n"
	       "  -a <password>      AUTH with this password\n"
	       "  --seeds <h:p,...>  more nodes to try, in order, if one is down\n"
	       "  -t <ms>            time limit for each command (default 10000)\n"
	       "  --raw              print raw values (the default when stdout is not\n"
	       "                     a terminal)\n"
	       "  --no-raw           print formatted replies even to a pipe\n"
	       "  --help             this text\n"
	       "  --version          the version\n"
	       "\n"
	       "  cluster status     every node's role, term, commit and applied index "
	       "and\n"
	       "                     lease, from RASPUTIN NODES and RASPUTIN STATUS\n";
}

void cli_opts_free(struct cli_opts *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->addr_count; i++)
		free(o->addrs[i]);
	free(o->addrs);
	o->addrs = NULL;
	o->addr_count = 0;
}

static int add_addr(struct cli_opts *o, const char *s, size_t n)
{
	char **a = realloc(o->addrs, (o->addr_count + 1) * sizeof(*a));
	if (a == NULL)
		return RP_ERR_NOMEM;
	o->addrs = a;
	char *copy = malloc(n + 1);
	if (copy == NULL)
		return RP_ERR_NOMEM;
	memcpy(copy, s, n);
	copy[n] = '\0';
	o->addrs[o->addr_count++] = copy;
	return 0;
}

/* A decimal int in [lo, hi], or -1. */
static long parse_int(const char *s, long lo, long hi)
{
	if (s == NULL || *s == '\0')
		return -1;
	long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > hi)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v >= lo && v <= hi ? v : -1;
}

int cli_opts_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t err_size)
{
	RP_CHECK(o != NULL);
	RP_CHECK(argc >= 1);
	memset(o, 0, sizeof(*o));
	o->host = CLI_DEFAULT_HOST;
	o->port = CLI_DEFAULT_PORT;
	const char *seeds = NULL;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(a, "-h") == 0 || strcmp(a, "-p") == 0 ||
			     strcmp(a, "-a") == 0 || strcmp(a, "-t") == 0 ||
			     strcmp(a, "--seeds") == 0;
		if (takes && val == NULL) {
			snprintf(err, err_size, "%s needs a value", a);
			return RP_ERR_INVALID;
		}
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-h") == 0) {
			o->host = val;
			o->host_set = true;
			i++;
		} else if (strcmp(a, "-p") == 0) {
			long p = parse_int(val, 1, 65535);
			if (p < 0) {
				snprintf(err, err_size, "bad port '%s'", val);
				return RP_ERR_INVALID;
			}
			o->port = (int)p;
			o->port_set = true;
			i++;
		} else if (strcmp(a, "-a") == 0) {
			o->password = val;
			i++;
		} else if (strcmp(a, "-t") == 0) {
			long t = parse_int(val, 1, 86400000);
			if (t < 0) {
				snprintf(err, err_size, "bad timeout '%s' (milliseconds)",
					 val);
				return RP_ERR_INVALID;
			}
			o->timeout_ms = (int)t;
			i++;
		} else if (strcmp(a, "--seeds") == 0) {
			seeds = val;
			i++;
		} else if (strcmp(a, "--raw") == 0) {
			o->raw = true;
			o->no_raw = false;
		} else if (strcmp(a, "--no-raw") == 0) {
			o->no_raw = true;
			o->raw = false;
		} else if (strcmp(a, "--help") == 0) {
			o->help = true;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
			o->version = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			snprintf(err, err_size, "unknown option '%s' (see --help)", a);
			return RP_ERR_INVALID;
		} else {
			break;
		}
	}
	o->cmd_index = i;
	o->cmd_count = argc - i;

	int rc = 0;
	if (o->host_set || o->port_set || seeds == NULL) {
		char tmp[300];
		bool v6 = strchr(o->host, ':') != NULL;
		int n = snprintf(tmp, sizeof(tmp), v6 ? "[%s]:%d" : "%s:%d", o->host,
				 o->port);
		struct rc_addr parsed;
		if (n < 0 || (size_t)n >= sizeof(tmp) ||
		    rc_addr_parse(tmp, &parsed) != 0) {
			snprintf(err, err_size, "bad host '%s'", o->host);
			return RP_ERR_INVALID;
		}
		rc = add_addr(o, tmp, (size_t)n);
	}
	for (const char *p = seeds; rc == 0 && p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0) {
			char tmp[300];
			struct rc_addr parsed;
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 299 ? n : 299), p);
			if (n >= sizeof(tmp) || rc_addr_parse(tmp, &parsed) != 0) {
				snprintf(err, err_size, "bad seed '%s' (want host:port)",
					 tmp);
				cli_opts_free(o);
				return RP_ERR_INVALID;
			}
			rc = add_addr(o, p, n);
		}
		p = end ? end + 1 : NULL;
	}
	if (rc == 0 && o->addr_count == 0) {
		snprintf(err, err_size, "--seeds names no address");
		rc = RP_ERR_INVALID;
	}
	if (rc < 0) {
		if (rc == RP_ERR_NOMEM)
			snprintf(err, err_size, "out of memory");
		cli_opts_free(o);
	}
	return rc;
}
