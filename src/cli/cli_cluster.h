/*
 * cli_cluster.h — `rasputin-cli cluster status`: the membership from
 * RASPUTIN NODES on one node, then RASPUTIN STATUS from every member's
 * client address (each with a short timeout; a node that does not answer
 * is shown as unreachable), printed as one table.  The parsing and the
 * table are separate functions so that tests can feed them replies.
 */
#ifndef RASPUTIN_CLI_CLI_CLUSTER_H
#define RASPUTIN_CLI_CLI_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli_buf.h"
#include "rasputin.h"

struct cli_node {
	/* From RASPUTIN NODES. */
	char id[24];
	char peer_addr[128];
	char client_addr[128];
	char membership[16]; /* voter | learner */
	/* From RASPUTIN STATUS on the node itself; reachable false if that
	 * failed (error says why). */
	bool reachable;
	char error[128];
	char role[16];
	int64_t term, leader_id, commit_index, applied_index;
	bool lease_valid;
	int64_t lease_remaining_ms;
};

/* Fills *nodes (malloc'd, *count entries) from a RASPUTIN NODES reply.
 * RP_ERR_INVALID (with err) if the reply has another shape. */
int cli_cluster_parse_nodes(const struct rasputin_reply *r, struct cli_node **nodes,
			    size_t *count, char *err, size_t err_size);

/* Fills the STATUS fields of *n from a RASPUTIN STATUS reply (a RESP3 map
 * or a RESP2 flat array of name, value, ...) and sets reachable.  Unknown
 * fields are ignored; missing ones stay 0 / "".  RP_ERR_INVALID if the
 * reply is not a map. */
int cli_cluster_parse_status(const struct rasputin_reply *r, struct cli_node *n,
			     char *err, size_t err_size);

/* Appends the table of nodes[0..count) to b. */
void cli_cluster_table(struct cli_buf *b, const struct cli_node *nodes, size_t count);

/*
 * Runs the whole command on handle c (connected to any node): text to b,
 * the reason for a failure to err.  opt gives the password and the base
 * timeouts for the per-node connections.  0, or a RASPUTIN_ERR_* code.
 */
int cli_cluster_status(rasputin *c, const rasputin_options *opt, struct cli_buf *b,
		       char *err, size_t err_size);

#endif
