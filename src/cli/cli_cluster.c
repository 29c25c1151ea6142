/* cli_cluster.c — `rasputin-cli cluster status` (see cli_cluster.h). */
#include "cli/cli_cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

/* Timeouts for asking each node: short, so that a dead node costs little. */
#define CLI_NODE_CONNECT_MS 500
#define CLI_NODE_OP_MS 1000

static bool is_text(const struct rasputin_reply *r)
{
	return r->type == RASPUTIN_REPLY_STRING || r->type == RASPUTIN_REPLY_STATUS ||
	       r->type == RASPUTIN_REPLY_VERBATIM;
}

/* Copies a text reply (or an integer's digits) into dst. */
static bool copy_text(char *dst, size_t size, const struct rasputin_reply *r)
{
	if (r->type == RASPUTIN_REPLY_INTEGER) {
		snprintf(dst, size, "%" PRId64, r->integer);
		return true;
	}
	if (!is_text(r))
		return false;
	size_t n = r->len < size - 1 ? r->len : size - 1;
	memcpy(dst, r->str, n);
	dst[n] = '\0';
	return true;
}

int cli_cluster_parse_nodes(const struct rasputin_reply *r, struct cli_node **nodes,
			    size_t *count, char *err, size_t err_size)
{
	RP_CHECK(r != NULL);
	*nodes = NULL;
	*count = 0;
	if (r->type != RASPUTIN_REPLY_ARRAY && r->type != RASPUTIN_REPLY_SET) {
		snprintf(err, err_size, "RASPUTIN NODES: expected an array");
		return RP_ERR_INVALID;
	}
	struct cli_node *ns = calloc(r->count ? r->count : 1, sizeof(*ns));
	if (ns == NULL) {
		snprintf(err, err_size, "out of memory");
		return RP_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->count; i++) {
		const struct rasputin_reply *e = &r->elems[i];
		if (e->type != RASPUTIN_REPLY_ARRAY || e->count < 4 ||
		    !copy_text(ns[i].id, sizeof(ns[i].id), &e->elems[0]) ||
		    !copy_text(ns[i].peer_addr, sizeof(ns[i].peer_addr), &e->elems[1]) ||
		    !copy_text(ns[i].client_addr, sizeof(ns[i].client_addr),
			       &e->elems[2]) ||
		    !copy_text(ns[i].membership, sizeof(ns[i].membership),
			       &e->elems[3])) {
			free(ns);
			snprintf(err, err_size,
				 "RASPUTIN NODES: entry %zu is not [id, peer-addr, "
				 "client-addr, "
				 "voter|learner]",
				 i + 1);
			return RP_ERR_INVALID;
		}
	}
	*nodes = ns;
	*count = r->count;
	return 0;
}

static void set_int(int64_t *dst, const struct rasputin_reply *v)
{
	if (v->type == RASPUTIN_REPLY_INTEGER)
		*dst = v->integer;
	else if (is_text(v))
		*dst = strtoll(v->str, NULL, 10);
}

int cli_cluster_parse_status(const struct rasputin_reply *r, struct cli_node *n,
			     char *err, size_t err_size)
{
	RP_CHECK(r != NULL);
	RP_CHECK(n != NULL);
	if ((r->type != RASPUTIN_REPLY_MAP && r->type != RASPUTIN_REPLY_ARRAY) ||
	    r->count % 2 != 0) {
		snprintf(err, err_size, "RASPUTIN STATUS: expected a map");
		return RP_ERR_INVALID;
	}
	char lease[16] = "";
	for (size_t i = 0; i + 1 < r->count; i += 2) {
		char name[32];
		const struct rasputin_reply *v = &r->elems[i + 1];
		if (!copy_text(name, sizeof(name), &r->elems[i]))
			continue;
		if (strcmp(name, "role") == 0)
			copy_text(n->role, sizeof(n->role), v);
		else if (strcmp(name, "term") == 0)
			set_int(&n->term, v);
		else if (strcmp(name, "leader_id") == 0)
			set_int(&n->leader_id, v);
		else if (strcmp(name, "commit_index") == 0)
			set_int(&n->commit_index, v);
		else if (strcmp(name, "applied_index") == 0)
			set_int(&n->applied_index, v);
		else if (strcmp(name, "lease") == 0)
			copy_text(lease, sizeof(lease), v);
		else if (strcmp(name, "lease_remaining_ms") == 0)
			set_int(&n->lease_remaining_ms, v);
	}
	n->lease_valid = strcmp(lease, "valid") == 0;
	n->reachable = true;
	n->error[0] = '\0';
	return 0;
}

enum {
	COL_ID,
	COL_ADDR,
	COL_MEMBER,
	COL_ROLE,
	COL_TERM,
	COL_COMMIT,
	COL_APPLIED,
	COL_LEASE,
	COL_COUNT
};

static const char *const col_names[COL_COUNT] = {
    "ID", "CLIENT ADDR", "MEMBERSHIP", "ROLE", "TERM", "COMMIT", "APPLIED", "LEASE"};

static void number(char *out, size_t size, bool up, int64_t v)
{
	if (up)
		snprintf(out, size, "%" PRId64, v);
	else
		snprintf(out, size, "-");
}

static void cell(const struct cli_node *n, int col, char *out, size_t size)
{
	bool up = n->reachable;
	switch (col) {
	case COL_ID:
		snprintf(out, size, "%s", n->id);
		return;
	case COL_ADDR:
		snprintf(out, size, "%s", n->client_addr);
		return;
	case COL_MEMBER:
		snprintf(out, size, "%s", n->membership);
		return;
	case COL_ROLE:
		snprintf(out, size, "%s", up ? n->role : "unreachable");
		return;
	case COL_TERM:
		number(out, size, up, n->term);
		return;
	case COL_COMMIT:
		number(out, size, up, n->commit_index);
		return;
	case COL_APPLIED:
		number(out, size, up, n->applied_index);
		return;
	case COL_LEASE:
		if (!up)
			snprintf(out, size, "-");
		else if (n->lease_valid)
			snprintf(out, size, "valid %" PRId64 "ms", n->lease_remaining_ms);
		else
			snprintf(out, size, "none");
		return;
	}
	RP_CHECK(0);
}

void cli_cluster_table(struct cli_buf *b, const struct cli_node *nodes, size_t count)
{
	RP_CHECK(b != NULL);
	size_t width[COL_COUNT];
	char text[160];
	for (int col = 0; col < COL_COUNT; col++)
		width[col] = strlen(col_names[col]);
	for (size_t i = 0; i < count; i++) {
		for (int col = 0; col < COL_COUNT; col++) {
			cell(&nodes[i], col, text, sizeof(text));
			if (strlen(text) > width[col])
				width[col] = strlen(text);
		}
	}
	for (int col = 0; col < COL_COUNT; col++) {
		if (col + 1 < COL_COUNT)
			cli_buf_printf(b, "%-*s  ", (int)width[col], col_names[col]);
		else
			cli_buf_printf(b, "%s\n", col_names[col]);
	}
	for (size_t i = 0; i < count; i++) {
		for (int col = 0; col < COL_COUNT; col++) {
			cell(&nodes[i], col, text, sizeof(text));
			if (col + 1 < COL_COUNT)
				cli_buf_printf(b, "%-*s  ", (int)width[col], text);
			else
				cli_buf_printf(b, "%s\n", text);
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (!nodes[i].reachable && nodes[i].error[0] != '\0')
			cli_buf_printf(b, "node %s: %s\n", nodes[i].id, nodes[i].error);
	}
}

/* Asks one node for its status over its own short-lived connection. */
static void ask_status(struct cli_node *n, const rasputin_options *base)
{
	rasputin_options o = *base;
	o.connect_timeout_ms = CLI_NODE_CONNECT_MS;
	o.op_timeout_ms = CLI_NODE_OP_MS;
	o.attempt_timeout_ms = 0;
	n->reachable = false;
	const char *addr = n->client_addr;
	rasputin *c = NULL;
	int rc = rasputin_connect(&addr, 1, &o, &c);
	if (rc != RASPUTIN_OK) {
		snprintf(n->error, sizeof(n->error), "%s", rasputin_last_error(NULL));
		return;
	}
	const char *argv[2] = {"RASPUTIN", "STATUS"};
	struct rasputin_reply *r = NULL;
	rc = rasputin_command(c, 2, argv, NULL, &r);
	if (rc != RASPUTIN_OK) {
		snprintf(n->error, sizeof(n->error), "%s", rasputin_last_error(c));
	} else if (r->type == RASPUTIN_REPLY_ERROR) {
		snprintf(n->error, sizeof(n->error), "%s", r->str);
	} else if (cli_cluster_parse_status(r, n, n->error, sizeof(n->error)) != 0) {
		n->reachable = false;
	}
	rasputin_reply_free(r);
	rasputin_close(c);
}

int cli_cluster_status(rasputin *c, const rasputin_options *opt, struct cli_buf *b,
		       char *err, size_t err_size)
{
	RP_CHECK(c != NULL);
	RP_CHECK(opt != NULL);
	const char *argv[2] = {"RASPUTIN", "NODES"};
	struct rasputin_reply *r = NULL;
	int rc = rasputin_command(c, 2, argv, NULL, &r);
	if (rc != RASPUTIN_OK) {
		snprintf(err, err_size, "%s", rasputin_last_error(c));
		return rc;
	}
	if (r->type == RASPUTIN_REPLY_ERROR) {
		snprintf(err, err_size, "%s", r->str);
		rasputin_reply_free(r);
		return RASPUTIN_ERR_SERVER;
	}
	struct cli_node *nodes = NULL;
	size_t count = 0;
	int prc = cli_cluster_parse_nodes(r, &nodes, &count, err, err_size);
	rasputin_reply_free(r);
	if (prc != 0)
		return prc == RP_ERR_NOMEM ? RASPUTIN_ERR_NOMEM : RASPUTIN_ERR_PROTOCOL;
	for (size_t i = 0; i < count; i++)
		ask_status(&nodes[i], opt);
	cli_cluster_table(b, nodes, count);
	free(nodes);
	return RASPUTIN_OK;
}
