/*
 * ident.c — the storage directory's own files:
 *
 *   LOCK      flock'd while a rasputind uses the directory (two processes
 *             on one log would corrupt it)
 *   node.id   the node's identity: its id, the cluster it belongs to, and
 *             whether it finished joining.  Written once at first start
 *             and when a join completes (write, fsync, rename, fsync dir),
 *             so a node restarted on the same directory comes back as the
 *             same member.
 *   wal/ sm/  the write-ahead log and the state machine (node.c)
 *
 * A node whose log recovery reports corruption must not vote or serve with
 * it (docs/storage.md): srv_ident_move_aside moves wal/ and sm/ into
 * corrupt-<time>/ and gives the node a NEW id, so it rejoins as a fresh
 * learner and its old identity (which may have acknowledged entries it no
 * longer has) is never reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "util/log.h"

enum { SRV_MIN_FREE_BYTES = 8 << 20 };

static uint64_t random_u64(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (v == 0)
		v = (uint64_t)time(NULL) * (uint64_t)6364136223846793005ULL ^ (uint64_t)getpid();
	return v;
}

/* Node ids are shown in decimal; keep them short enough to type. */
static uint64_t new_node_id(void)
{
	uint64_t v;
	do
		v = random_u64() % 1000000000000ULL;
	while (v == 0);
	return v;
}

static int mkdir_p(const char *dir)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int srv_ident_save(srv *s, char *why, size_t why_cap)
{
	char path[4200], tmp[4200];
	snprintf(path, sizeof(path), "%s/node.id", s->cfg.storage_dir);
	snprintf(tmp, sizeof(tmp), "%s/node.id.tmp", s->cfg.storage_dir);
	char text[256];
	int n = snprintf(text, sizeof(text),
	                 "# rasputind node identity; do not edit or copy to another node\n"
	                 "node_id %llu\ncluster_id %016llx\njoined %d\n",
	                 (unsigned long long)s->node_id, (unsigned long long)s->cluster_id,
	                 s->joined ? 1 : 0);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(why, why_cap, "%s: %s", tmp, strerror(errno));
		return RP_ERR_IO;
	}
	bool ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		snprintf(why, why_cap, "%s: %s", path, strerror(errno));
		return RP_ERR_IO;
	}
	int dfd = open(s->cfg.storage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

int srv_ident_load(srv *s, char *why, size_t why_cap)
{
	if (mkdir_p(s->cfg.storage_dir) != 0) {
		snprintf(why, why_cap, "--storage-dir %s: %s", s->cfg.storage_dir, strerror(errno));
		return RP_ERR_IO;
	}
	/* RocksDB cannot even open on a full disk (its own info log aborts the
	 * process): refuse to start with a clear message instead. */
	struct statvfs vs;
	if (statvfs(s->cfg.storage_dir, &vs) == 0) {
		uint64_t free_bytes = (uint64_t)vs.f_bavail * (uint64_t)vs.f_frsize;
		if (free_bytes < SRV_MIN_FREE_BYTES) {
			snprintf(why, why_cap,
			         "%s has only %llu KiB free; rasputind needs at least %llu MiB to "
			         "start (free some space)",
			         s->cfg.storage_dir, (unsigned long long)(free_bytes / 1024),
			         (unsigned long long)(SRV_MIN_FREE_BYTES >> 20));
			return RP_ERR_NOSPC;
		}
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/LOCK", s->cfg.storage_dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		snprintf(why, why_cap, "%s: %s", path, strerror(errno));
		return RP_ERR_IO;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(why, why_cap, "%s is in use by another rasputind (%s)", s->cfg.storage_dir,
		         strerror(errno));
		return RP_ERR_BUSY;
	}
	snprintf(path, sizeof(path), "%s/node.id", s->cfg.storage_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno != ENOENT) {
			snprintf(why, why_cap, "%s: %s", path, strerror(errno));
			return RP_ERR_IO;
		}
		s->node_id = s->cfg.node_id ? s->cfg.node_id : new_node_id();
		s->cluster_id = s->cfg.init ? random_u64() : 0;
		s->joined = false;
		if (!s->cfg.init && s->cfg.seed_count == 0) {
			snprintf(why, why_cap,
			         "%s holds no node: start the first node with --init, and the others "
			         "with --seed-peers HOST:PEERPORT",
			         s->cfg.storage_dir);
			return RP_ERR_INVALID;
		}
		return srv_ident_save(s, why, why_cap);
	}
	char line[256];
	unsigned long long id = 0, cluster = 0;
	int joined = 0, seen = 0, lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "node_id %llu", &id) == 1)
			seen |= 1;
		else if (sscanf(line, "cluster_id %llx", &cluster) == 1)
			seen |= 2;
		else if (sscanf(line, "joined %d", &joined) == 1)
			seen |= 4;
		else {
			fclose(f);
			snprintf(why, why_cap, "%s:%d: not a node identity line", path, lineno);
			return RP_ERR_CORRUPT;
		}
	}
	fclose(f);
	if (seen != 7 || id == 0) {
		snprintf(why, why_cap, "%s is incomplete (needs node_id, cluster_id, joined)", path);
		return RP_ERR_CORRUPT;
	}
	if (s->cfg.node_id && s->cfg.node_id != id) {
		snprintf(why, why_cap, "%s belongs to node %llu, but --node-id says %llu",
		         s->cfg.storage_dir, id, (unsigned long long)s->cfg.node_id);
		return RP_ERR_INVALID;
	}
	s->node_id = id;
	s->cluster_id = cluster;
	s->joined = joined != 0;
	return 0;
}

int srv_ident_move_aside(srv *s, char *why, size_t why_cap)
{
	char aside[4200], from[4300], to[4400];
	snprintf(aside, sizeof(aside), "%s/corrupt-%lld", s->cfg.storage_dir, (long long)time(NULL));
	if (mkdir(aside, 0755) != 0 && errno != EEXIST) {
		snprintf(why, why_cap, "%s: %s", aside, strerror(errno));
		return RP_ERR_IO;
	}
	const char *parts[] = {"wal", "sm"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", s->cfg.storage_dir, parts[i]);
		snprintf(to, sizeof(to), "%s/%s", aside, parts[i]);
		if (rename(from, to) != 0 && errno != ENOENT) {
			snprintf(why, why_cap, "moving %s aside: %s", from, strerror(errno));
			return RP_ERR_IO;
		}
	}
	uint64_t old = s->node_id;
	s->node_id = new_node_id();
	s->joined = false;
	RP_ERROR("the damaged log and state machine were moved to %s; this node rejoins as "
	         "n%llu (a fresh learner).  Remove its old identity with: RASPUTIN REMOVE %llu",
	         aside, (unsigned long long)s->node_id, (unsigned long long)old);
	return srv_ident_save(s, why, why_cap);
}
