/*
 * main.c — rasputin-cli: a command-line client for rasputin in the manner
 * of redis-cli.  One-shot when a command is given on the command line,
 * otherwise a prompt with line editing and history (libedit), or one
 * command per line when stdin is a pipe.  The pieces that can be tested
 * without a terminal live beside this file: cli_opts (the command line),
 * cli_args (splitting a typed line), cli_format (printing replies) and
 * cli_cluster (`cluster status`).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli/cli_args.h"
#include "cli/cli_buf.h"
#include "cli/cli_cluster.h"
#include "cli/cli_format.h"
#include "cli/cli_opts.h"
#include "rasputin.h"

#define HISTORY_FILE ".rasputin_cli_history"
#define HISTORY_MAX 1000

struct cli {
	struct cli_opts opts;
	rasputin_options ropts;
	rasputin *c; /* NULL while no node could be reached */
	enum cli_format fmt;
};

static void write_out(FILE *f, const struct cli_buf *b)
{
	fwrite(cli_buf_str(b), 1, b->len, f);
	fflush(f);
}

/* Connects if not connected; prints why not on failure. */
static bool ensure_connected(struct cli *s)
{
	if (s->c != NULL)
		return true;
	int rc = rasputin_connect((const char *const *)s->opts.addrs, s->opts.addr_count,
				  &s->ropts, &s->c);
	if (rc != RASPUTIN_OK) {
		fprintf(stderr, "Could not connect: %s\n", rasputin_last_error(NULL));
		return false;
	}
	return true;
}

static bool is_cluster_status(size_t argc, char *const *argv)
{
	return argc == 2 && strcasecmp(argv[0], "cluster") == 0 &&
	       strcasecmp(argv[1], "status") == 0;
}

/*
 * Runs one command and prints its reply.  0 for a normal reply, 1 for an
 * error reply or a failure.  In one-shot mode error replies go to stderr.
 */
static int run(struct cli *s, size_t argc, char *const *argv, const size_t *lens,
	       bool oneshot)
{
	if (!ensure_connected(s))
		return 1;
	struct cli_buf b;
	cli_buf_init(&b);
	int status = 0;
	if (is_cluster_status(argc, argv)) {
		char err[512];
		int rc = cli_cluster_status(s->c, &s->ropts, &b, err, sizeof(err));
		if (rc != RASPUTIN_OK) {
			fprintf(stderr, "cluster status: %s\n", err);
			status = 1;
		} else {
			write_out(stdout, &b);
		}
		cli_buf_deinit(&b);
		return status;
	}
	struct rasputin_reply *r = NULL;
	int rc = rasputin_command(s->c, argc, (const char *const *)argv, lens, &r);
	if (rc != RASPUTIN_OK) {
		fprintf(stderr, "Error: %s\n", rasputin_last_error(s->c));
		cli_buf_deinit(&b);
		return 1;
	}
	cli_format_reply(&b, r, s->fmt);
	if (r->type == RASPUTIN_REPLY_ERROR) {
		status = 1;
		write_out(oneshot ? stderr : stdout, &b);
	} else {
		write_out(stdout, &b);
	}
	rasputin_reply_free(r);
	cli_buf_deinit(&b);
	return status;
}

static char *history_path(void)
{
	const char *home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		return NULL;
	size_t n = strlen(home) + sizeof(HISTORY_FILE) + 2;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", home, HISTORY_FILE);
	return p;
}

/* Handles one typed line: false when the user asked to leave. */
static bool handle_line(struct cli *s, const char *line)
{
	struct cli_args a;
	if (cli_args_split(line, &a) != 0) {
		printf("Invalid argument(s)\n");
		fflush(stdout);
		return true;
	}
	bool go_on = true;
	if (a.argc == 1 &&
	    (strcasecmp(a.argv[0], "quit") == 0 || strcasecmp(a.argv[0], "exit") == 0))
		go_on = false;
	else if (a.argc > 0)
		(void)run(s, a.argc, a.argv, a.lens, false);
	cli_args_free(&a);
	return go_on;
}

static void interactive(struct cli *s)
{
	if (!isatty(STDIN_FILENO)) {
		/* A pipe: one command per line, no prompt, no history. */
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (!handle_line(s, line))
				break;
		}
		free(line);
		return;
	}
	char *hist = history_path();
	using_history();
	stifle_history(HISTORY_MAX);
	if (hist != NULL)
		read_history(hist);
	(void)ensure_connected(s);
	for (;;) {
		char prompt[300];
		const char *addr = s->c != NULL ? rasputin_current_addr(s->c) : NULL;
		snprintf(prompt, sizeof(prompt), "%s> ",
			 addr != NULL ? addr : "not connected");
		char *line = readline(prompt);
		if (line == NULL) /* end of input (Ctrl-D) */
			break;
		if (line[strspn(line, " \t")] != '\0') {
			add_history(line);
			if (hist != NULL)
				write_history(hist);
		}
		bool go_on = handle_line(s, line);
		free(line);
		if (!go_on)
			break;
	}
	free(hist);
}

int main(int argc, char **argv)
{
	struct cli s;
	memset(&s, 0, sizeof(s));
	char err[256];
	if (cli_opts_parse(argc, argv, &s.opts, err, sizeof(err)) != 0) {
		fprintf(stderr, "rasputin-cli: %s\n", err);
		return 1;
	}
	if (s.opts.help) {
		fputs(cli_opts_usage(), stdout);
		cli_opts_free(&s.opts);
		return 0;
	}
	if (s.opts.version) {
		printf("rasputin-cli %s\n", RASPUTIN_VERSION);
		cli_opts_free(&s.opts);
		return 0;
	}
	rasputin_options_default(&s.ropts);
	s.ropts.password = s.opts.password;
	if (s.opts.timeout_ms > 0) {
		s.ropts.op_timeout_ms = s.opts.timeout_ms;
		s.ropts.attempt_timeout_ms = 0;
	}
	if (s.opts.raw)
		s.fmt = CLI_FORMAT_RAW;
	else if (s.opts.no_raw)
		s.fmt = CLI_FORMAT_TTY;
	else
		s.fmt = isatty(STDOUT_FILENO) ? CLI_FORMAT_TTY : CLI_FORMAT_RAW;

	int status = 0;
	if (s.opts.cmd_count > 0) {
		size_t n = (size_t)s.opts.cmd_count;
		char *const *cmd = argv + s.opts.cmd_index;
		status = run(&s, n, cmd, NULL, true);
	} else {
		interactive(&s);
	}
	rasputin_close(s.c);
	cli_opts_free(&s.opts);
	return status;
}
