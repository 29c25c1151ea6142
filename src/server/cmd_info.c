/*
 * cmd_info.c — INFO and HELLO: the server's numbers in the shapes clients
 * parse.  INFO is Redis's text format, "# Section" then "key:value" lines,
 * CR LF everywhere and a blank line between sections; tools read fields
 * such as redis_version, connected_clients and loading from it, so those
 * keep Redis's names, and rasputin's own fields are added beside them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"

/* Redis version reported for compatibility: clients and tools gate
 * features on redis_version, and rasputin answers as Redis 7 does. */
#define INFO_REDIS_VERSION "7.2.0"

enum {
	SEC_SERVER = 1 << 0,
	SEC_CLIENTS = 1 << 1,
	SEC_CONSENSUS = 1 << 2,
	SEC_STATS = 1 << 3,
	SEC_LATENCY = 1 << 4,
	SEC_MEMORY = 1 << 5,
	SEC_PERSISTENCE = 1 << 6,
	SEC_KEYSPACE = 1 << 7,
	SEC_ALL = (1 << 8) - 1,
};

static const struct {
	const char *name;
	unsigned bit;
} sections[] = {
    {"SERVER", SEC_SERVER},
    {"CLIENTS", SEC_CLIENTS},
    {"CONSENSUS", SEC_CONSENSUS},
    {"STATS", SEC_STATS},
    {"LATENCY", SEC_LATENCY},
    {"MEMORY", SEC_MEMORY},
    {"PERSISTENCE", SEC_PERSISTENCE},
    {"KEYSPACE", SEC_KEYSPACE},
    {"ALL", SEC_ALL},
    {"DEFAULT", SEC_ALL},
    {"EVERYTHING", SEC_ALL},
};

/* The text being built; errors are sticky in rc. */
typedef struct {
	sm_buf b;
	int rc;
	unsigned done; /* sections written so far */
} info_text;

static void put(info_text *t, const char *s, size_t n)
{
	if (t->rc == 0)
		t->rc = sm_buf_append(&t->b, s, n);
}

static void put_str(info_text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void header(info_text *t, const char *name)
{
	if (t->done++ > 0)
		put(t, "\r\n", 2);
	put(t, "# ", 2);
	put_str(t, name);
	put(t, "\r\n", 2);
}

/* key:value, with CR, LF and nothing else of the value changed (a value
 * with a line break would break the format). */
static void kv_str(info_text *t, const char *key, const char *value)
{
	put_str(t, key);
	put(t, ":", 1);
	if (value != NULL) {
		for (size_t i = 0; value[i] != '\0'; i++) {
			char c = value[i] == '\r' || value[i] == '\n' ? ' ' : value[i];
			put(t, &c, 1);
		}
	}
	put(t, "\r\n", 2);
}

static void kv_u64(info_text *t, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	kv_str(t, key, buf);
}

/* used_memory_rss_human as Redis prints it: 1.50M, 2.00G... */
static void kv_human(info_text *t, const char *key, uint64_t bytes)
{
	static const char units[] = "BKMGTP";
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	char buf[32];
	if (u == 0)
		snprintf(buf, sizeof(buf), "%" PRIu64 "B", bytes);
	else
		snprintf(buf, sizeof(buf), "%.2f%c", v, units[u]);
	kv_str(t, key, buf);
}

static void latency(info_text *t, const char *what, const rp_hist *h)
{
	rp_hist empty;
	if (h == NULL) {
		rp_hist_init(&empty);
		h = &empty;
	}
	char key[64];
	snprintf(key, sizeof(key), "%s_count", what);
	kv_u64(t, key, h->count);
	snprintf(key, sizeof(key), "%s_p50_us", what);
	kv_u64(t, key, rp_hist_percentile(h, 50));
	snprintf(key, sizeof(key), "%s_p99_us", what);
	kv_u64(t, key, rp_hist_percentile(h, 99));
	snprintf(key, sizeof(key), "%s_p99_9_us", what);
	kv_u64(t, key, rp_hist_percentile(h, 99.9));
	snprintf(key, sizeof(key), "%s_max_us", what);
	kv_u64(t, key, h->max);
}

static void build(info_text *t, const cmd_info *in, unsigned want)
{
	if (want & SEC_SERVER) {
		header(t, "Server");
		kv_str(t, "redis_version", INFO_REDIS_VERSION);
		kv_str(t, "rasputin_version", in->version);
		/* standalone: clients must not go looking for hash slots */
		kv_str(t, "redis_mode", "standalone");
		kv_str(t, "arch_bits", sizeof(void *) == 8 ? "64" : "32");
		kv_u64(t, "process_id", (uint64_t)in->pid);
		kv_u64(t, "tcp_port", in->cli_port);
		kv_u64(t, "peer_port", in->peer_port);
		kv_u64(t, "uptime_in_seconds", in->uptime_s);
		kv_u64(t, "uptime_in_days", in->uptime_s / 86400);
		kv_u64(t, "node_id", in->node_id);
		kv_u64(t, "cluster_id", in->cluster_id);
		kv_str(t, "storage_dir", in->storage_dir);
	}
	if (want & SEC_CLIENTS) {
		header(t, "Clients");
		kv_u64(t, "connected_clients", in->connected_clients);
		kv_u64(t, "maxclients", in->max_clients);
	}
	if (want & SEC_CONSENSUS) {
		header(t, "Consensus");
		kv_str(t, "role", in->role);
		kv_u64(t, "term", in->term);
		kv_u64(t, "leader_id", in->leader_id);
		kv_str(t, "leader_client_addr", in->leader_client_addr);
		kv_u64(t, "commit_index", in->commit_index);
		kv_u64(t, "applied_index", in->applied_index);
		kv_u64(t, "applied_unflushed", in->applied_unflushed);
		kv_u64(t, "last_index", in->last_index);
		kv_u64(t, "snapshot_index", in->snapshot_index);
		kv_u64(t, "lease_valid", in->lease_valid ? 1 : 0);
		kv_u64(t, "lease_remaining_ms", in->lease_remaining_ms);
		kv_u64(t, "voters", in->voters);
		kv_u64(t, "learners", in->learners);
	}
	if (want & SEC_STATS) {
		header(t, "Stats");
		kv_u64(t, "total_connections_received", in->total_connections);
		kv_u64(t, "rejected_connections", in->rejected_connections);
		kv_u64(t, "total_commands_processed", in->total_commands);
		kv_u64(t, "total_writes", in->writes);
		kv_u64(t, "total_reads", in->reads);
		kv_u64(t, "forwarded_commands", in->forwarded);
		kv_u64(t, "uncertain_writes", in->uncertain);
		kv_u64(t, "total_error_replies", in->errors);
		/* The loop's polling before it sleeps (--idle-poll-us): windows
		 * opened after a blocking wait, waits that did not block, and
		 * turns that found a message after an empty one (a blocking wait
		 * would have slept through its arrival). */
		kv_u64(t, "idle_poll_us", in->idle_poll_us);
		kv_u64(t, "idle_poll_windows", in->idle_poll_windows);
		kv_u64(t, "idle_poll_turns", in->idle_poll_turns);
		kv_u64(t, "idle_poll_catches", in->idle_poll_catches);
	}
	if (want & SEC_LATENCY) {
		header(t, "Latency");
		latency(t, "write_latency", in->write_latency);
		latency(t, "read_latency", in->read_latency);
	}
	if (want & SEC_MEMORY) {
		header(t, "Memory");
		/* used_memory: what the allocator handed out (the store's
		 * memory included, as it allocates through the same malloc). */
		kv_u64(t, "used_memory", in->allocator_allocated_bytes);
		kv_human(t, "used_memory_human", in->allocator_allocated_bytes);
		kv_u64(t, "used_memory_rss", in->used_memory_rss_bytes);
		kv_human(t, "used_memory_rss_human", in->used_memory_rss_bytes);
		/* Freed memory the allocator keeps for reuse (part of rss). */
		kv_u64(t, "allocator_free", in->allocator_free_bytes);
		/* Parts of used_memory: the consensus log's entries kept in
		 * memory until the next snapshot, and RocksDB's memtables,
		 * open tables' index and filter blocks, and block cache. */
		kv_u64(t, "log_memory", in->log_memory_bytes);
		kv_u64(t, "store_memtables", in->store.memtable_bytes);
		kv_u64(t, "store_table_readers", in->store.table_readers_bytes);
		kv_u64(t, "store_block_cache", in->store.block_cache_bytes);
		kv_u64(t, "store_block_cache_max", in->store.block_cache_capacity_bytes);
		/* The value cache (--value-cache-bytes): part of the above. */
		kv_u64(t, "value_cache_max_bytes", in->value_cache.budget_bytes);
		kv_u64(t, "value_cache_bytes", in->value_cache.used_bytes);
		kv_u64(t, "value_cache_keys", in->value_cache.entries);
		kv_u64(t, "value_cache_hits", in->value_cache.hits);
		kv_u64(t, "value_cache_misses", in->value_cache.misses);
		kv_u64(t, "value_cache_evictions", in->value_cache.evictions);
	}
	if (want & SEC_PERSISTENCE) {
		header(t, "Persistence");
		kv_u64(t, "loading", 0);
		kv_u64(t, "aof_enabled", 0);
		kv_u64(t, "wal_fsyncs", in->wal_fsyncs);
		kv_u64(t, "wal_bytes", in->wal_bytes);
	}
	if (want & SEC_KEYSPACE)
		header(t, "Keyspace");
}

int cmd_info_reply(const cmd_info *info, size_t argc, const struct resp_arg *argv,
		   int proto, struct resp_out *out)
{
	RP_CHECK(info != NULL);
	unsigned want = argc <= 1 ? SEC_ALL : 0;
	for (size_t i = 1; i < argc; i++)
		for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
			if (cmd_arg_is(&argv[i], sections[k].name))
				want |= sections[k].bit;
	info_text t;
	memset(&t, 0, sizeof(t));
	sm_buf_init(&t.b);
	build(&t, info, want);
	int rc = t.rc;
	if (rc == 0)
		rc = resp_add_verbatim(out, proto, "txt", (const char *)t.b.data,
				       t.b.size);
	else
		rc = cmd_err(out, "ERR out of memory") == RP_ERR_INVALID ? 0 : out->err;
	sm_buf_deinit(&t.b);
	return rc;
}

int cmd_hello_reply(int proto, uint64_t node_id, const char *version, const char *role,
		    struct resp_out *out)
{
	int rc = resp_add_map(out, proto, 7);
	if (rc == 0)
		rc = resp_add_bulk(out, "server", 6);
	if (rc == 0)
		rc = resp_add_bulk(out, "rasputin", 8);
	if (rc == 0)
		rc = resp_add_bulk(out, "version", 7);
	if (rc == 0)
		rc = resp_add_bulk(out, version ? version : "",
				   version ? strlen(version) : 0);
	if (rc == 0)
		rc = resp_add_bulk(out, "proto", 5);
	if (rc == 0)
		rc = resp_add_int(out, proto);
	if (rc == 0)
		rc = resp_add_bulk(out, "id", 2);
	if (rc == 0)
		rc = resp_add_int(out, (int64_t)node_id);
	if (rc == 0)
		rc = resp_add_bulk(out, "mode", 4);
	if (rc == 0)
		rc = resp_add_bulk(out, "standalone", 10);
	if (rc == 0)
		rc = resp_add_bulk(out, "role", 4);
	if (rc == 0)
		rc = resp_add_bulk(out, role ? role : "", role ? strlen(role) : 0);
	if (rc == 0)
		rc = resp_add_bulk(out, "modules", 7);
	if (rc == 0)
		rc = resp_add_array(out, 0);
	return rc;
}
