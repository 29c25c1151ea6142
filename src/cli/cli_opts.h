/*
 * cli_opts.h — rasputin-cli's command line:
 *
 *   rasputin-cli [-h host] [-p port] [-a password] [--seeds h:p,h:p]
 *                [--raw | --no-raw] [-t timeout_ms] [command args...]
 *   rasputin-cli [options] cluster status
 *   rasputin-cli --help | --version
 *
 * Options end at the first argument that is not one (or after "--"); the
 * rest is the command.  The addresses to try are host:port (if -h or -p was
 * given, or no --seeds), then the seeds in their order.
 */
#ifndef RASPUTIN_CLI_CLI_OPTS_H
#define RASPUTIN_CLI_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_DEFAULT_HOST "127.0.0.1"
#define CLI_DEFAULT_PORT 7001

struct cli_opts {
	const char *host; /* borrowed from argv, or CLI_DEFAULT_HOST */
	int port;
	bool host_set, port_set;
	const char *password; /* borrowed; NULL for none */
	bool raw, no_raw;     /* --raw / --no-raw; neither: raw iff stdout not a tty */
	int timeout_ms;	      /* -t: op timeout; 0 = the library's default */
	bool help, version;
	/* The addresses to try, "host:port" each, owned. */
	char **addrs;
	size_t addr_count;
	/* The command: argv[cmd_index..argc); cmd_count may be 0. */
	int cmd_index;
	int cmd_count;
};

/*
 * Parses argv.  0 on success (free with cli_opts_free), RP_ERR_INVALID with
 * a message in err for bad usage, RP_ERR_NOMEM.
 */
int cli_opts_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t err_size);

void cli_opts_free(struct cli_opts *o);

/* The usage text for --help. */
const char *cli_opts_usage(void);

#endif
