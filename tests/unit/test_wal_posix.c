/*
 * test_wal_posix.c — the POSIX file interface and the WAL on a real file
 * system (a fresh directory under $TMPDIR or /tmp): error mapping,
 * preallocation, directory operations, a threaded round trip, a torn tail
 * and a corrupted byte in a segment.
 */
#define _GNU_SOURCE
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fs.h"
#include "storage/wal.h"
#include "storage/wal_format.h"
#include "util/err.h"

static char base[256];

static const char *tmp_root(void)
{
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

static void make_base(void)
{
	snprintf(base, sizeof(base), "%s/rasputin-test-XXXXXX", tmp_root());
	CHECK(mkdtemp(base) != NULL);
}

typedef struct {
	fs *v;
	const char *dir;
} rm_ctx;

static int rm_cb(void *ctx, const char *name)
{
	rm_ctx *c = ctx;
	char path[FS_PATH_MAX + 1];
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (fs_unlink(c->v, path) != 0) {
		/* a directory: one level deep is all the tests make */
		rm_ctx sub = {c->v, path};
		fs_list(c->v, path, rm_cb, &sub);
		rmdir(path);
	}
	return 0;
}

static void remove_base(fs *v)
{
	rm_ctx c = {v, base};
	fs_list(v, base, rm_cb, &c);
	rmdir(base);
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", base, name);
}

static int count_cb(void *ctx, const char *name)
{
	(void)name;
	(*(int *)ctx)++;
	return 0;
}

TEST(posix_files_and_errors)
{
	fs *v = fs_posix_create();
	CHECK(v != NULL);
	make_base();
	char a[512], b[512];
	path_in(a, sizeof(a), "a");
	path_in(b, sizeof(b), "b");
	fs_file *f;
	CHECK_EQ(fs_open(v, a, 0, &f), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_open(v, a, FS_OPEN_CREATE | FS_OPEN_EXCL, &f), 0);
	fs_file *g;
	CHECK_EQ(fs_open(v, a, FS_OPEN_CREATE | FS_OPEN_EXCL, &g), RP_ERR_EXISTS);
	const char msg[] = "hello, disk";
	CHECK_EQ(fs_pwrite(v, f, msg, sizeof(msg), 100), 0);
	uint64_t size;
	CHECK_EQ(fs_size(v, f, &size), 0);
	CHECK_EQ(size, 100 + sizeof(msg));
	char back[64];
	size_t got;
	CHECK_EQ(fs_pread(v, f, back, sizeof(back), 100, &got), 0);
	CHECK_EQ(got, sizeof(msg)); /* short at end of file */
	CHECK(memcmp(back, msg, sizeof(msg)) == 0);
	CHECK_EQ(fs_pread_full(v, f, back, sizeof(back), 100), RP_ERR_IO);
	CHECK_EQ(fs_fallocate(v, f, 1 << 20), 0);
	CHECK_EQ(fs_size(v, f, &size), 0);
	CHECK_EQ(size, 1 << 20);
	CHECK_EQ(fs_pread_full(v, f, back, 8, 500000), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(back[i], 0);
	CHECK_EQ(fs_fallocate(v, f, 4096), 0); /* never shrinks */
	CHECK_EQ(fs_size(v, f, &size), 0);
	CHECK_EQ(size, 1 << 20);
	CHECK_EQ(fs_truncate(v, f, 50), 0);
	CHECK_EQ(fs_size(v, f, &size), 0);
	CHECK_EQ(size, 50);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(fs_open(v, a, FS_OPEN_READ_ONLY, &f), 0);
	CHECK(fs_pwrite(v, f, msg, 1, 0) < 0); /* EBADF: not writable */
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(fs_rename(v, a, b), 0);
	CHECK_EQ(fs_open(v, a, 0, &f), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_fsync_dir(v, base), 0);
	int n = 0;
	CHECK_EQ(fs_list(v, base, count_cb, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(fs_mkdir(v, a), 0);
	CHECK_EQ(fs_mkdir(v, a), RP_ERR_EXISTS);
	CHECK_EQ(fs_unlink(v, b), 0);
	CHECK_EQ(fs_unlink(v, b), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_list(v, b, count_cb, &n), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_fsync_dir(v, b), RP_ERR_NOTFOUND);
	remove_base(v);
	fs_destroy(v);
}

/* Entries with data that depends on (group, index). */
static uint8_t payload[8][3000];
static hp_entry ents[8];

static const hp_entry *mk(uint64_t g, uint64_t first, size_t count, uint32_t size)
{
	CHECK(count <= 8 && size <= sizeof(payload[0]));
	for (size_t k = 0; k < count; k++) {
		for (uint32_t i = 0; i < size; i++)
			payload[k][i] = (uint8_t)(g * 31 + (first + k) * 7 + i + 1);
		ents[k].index = first + k;
		ents[k].term = 1 + (first + k) / 10;
		ents[k].type = HP_ENTRY_NORMAL;
		ents[k].size_bytes = size;
		ents[k].data = payload[k];
	}
	return ents;
}

/* Entries 1..split have size_a bytes, later ones size_b. */
static void check_group2(wal *w, uint64_t g, uint64_t last, uint64_t split, uint32_t size_a,
                         uint32_t size_b)
{
	wal_restore r;
	CHECK_EQ(wal_restore_load(w, g, &r), 0);
	CHECK_EQ(r.restore.entry_count, last);
	for (uint64_t i = 0; i < last; i++) {
		const hp_entry *e = &r.restore.entries[i];
		CHECK_EQ(e->index, i + 1);
		CHECK_EQ(e->term, 1 + (i + 1) / 10);
		uint32_t size = i + 1 <= split ? size_a : size_b;
		CHECK_EQ(e->size_bytes, size);
		for (uint32_t k = 0; k < size; k++)
			CHECK_EQ(e->data[k], (uint8_t)(g * 31 + (i + 1) * 7 + k + 1));
	}
	CHECK_EQ(r.restore.hard_state.term, 7);
	CHECK_EQ(r.restore.hard_state.commit, last);
	wal_restore_free(&r);
}

static void check_group(wal *w, uint64_t g, uint64_t last, uint32_t size)
{
	check_group2(w, g, last, last, size, size);
}

static void append_rounds(wal *w, uint64_t *last, int batches, uint32_t size)
{
	for (int k = 0; k < batches; k++) {
		uint64_t g = (uint64_t)(k % 3) + 1;
		wal_rec recs[2];
		memset(recs, 0, sizeof(recs));
		recs[0].type = WAL_REC_ENTRIES;
		recs[0].group = g;
		recs[0].entries = mk(g, last[g] + 1, 2, size);
		recs[0].entry_count = 2;
		recs[1].type = WAL_REC_HARD_STATE;
		recs[1].group = g;
		recs[1].hard_state.term = 7;
		recs[1].hard_state.commit = last[g] + 2;
		CHECK_EQ(wal_append(w, recs, 2, NULL), 0);
		last[g] += 2;
	}
}

static wal_config posix_cfg(fs *v, const char *dir, bool threaded)
{
	wal_config c;
	wal_config_default(&c);
	c.vfs = v;
	c.dir = dir;
	c.segment_bytes = 256 << 10;
	c.threaded = threaded;
	return c;
}

/* Reopens the log, checks it is whole with every group's entries, then
 * closes it and removes the test's directory. */
/* Opens a threaded log in dir (*c is its config, spare segments or not). */
static wal *open_threaded(fs *v, const char *dir, bool spare, wal_config *c)
{
	*c = posix_cfg(v, dir, true);
	c->spare_segments = spare;
	wal *w = NULL;
	wal_report rep;
	CHECK_EQ(wal_open(c, &w, &rep), 0);
	return w;
}

static void reopen_check_done(fs *v, const wal_config *c, const uint64_t *last,
			      uint32_t min_segments)
{
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(c, &w, &rep), 0);
	CHECK_EQ(rep.torn_bytes, 0);
	CHECK(rep.segments >= min_segments);
	for (uint64_t g = 1; g <= 3; g++)
		check_group(w, g, last[g], 900);
	wal_close(w);
	remove_base(v);
	fs_destroy(v);
}

TEST(wal_round_trip_on_disk_threaded)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512];
	path_in(dir, sizeof(dir), "wal"); /* created by wal_open */
	wal_config c;
	wal *w = open_threaded(v, dir, false, &c);
	uint64_t last[4] = {0};
	append_rounds(w, last, 600, 900); /* ~1.2 MB: several segments */
	CHECK_EQ(wal_sync(w), 0);
	wal_stats st;
	wal_get_stats(w, &st);
	CHECK(st.segments_created >= 4);
	wal_close(w);
	reopen_check_done(v, &c, last, 4);
}

/* Spare segments (cfg.spare_segments): every rollover, the first segment
 * of the fresh log included, takes the zero-filled spare; the log reads
 * back whole after a reopen; a ready spare of full size is left behind,
 * and nothing half-made. */
TEST(wal_spare_segments_are_used_and_read_back)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512];
	path_in(dir, sizeof(dir), "wal");
	wal_config c;
	wal *w = open_threaded(v, dir, true, &c);
	uint64_t last[4] = {0};
	wal_stats st;
	for (int round = 0; round < 6; round++) {
		append_rounds(w, last, 100, 900);
		CHECK_EQ(wal_sync(w), 0);
		/* the spare thread makes the next spare (a 256 KiB file) */
		for (int t = 0; t < 1000; t++) {
			wal_get_stats(w, &st);
			if (st.spares_made > st.spares_used)
				break;
			usleep(10 * 1000);
		}
	}
	wal_get_stats(w, &st);
	CHECK(st.segments_created >= 4);
	CHECK_EQ(st.spares_used, st.segments_created); /* never fell back */
	CHECK(st.spares_made >= st.spares_used);
	CHECK_EQ(st.spare_failures, 0);
	wal_close(w);
	char spare[600];
	snprintf(spare, sizeof(spare), "%s/spare.ready", dir);
	struct stat sb;
	CHECK_EQ(stat(spare, &sb), 0);
	CHECK_EQ((uint64_t)sb.st_size, c.segment_bytes);
	snprintf(spare, sizeof(spare), "%s/spare.making", dir);
	CHECK(stat(spare, &sb) != 0);
	reopen_check_done(v, &c, last, 4);
}

/* Waits until the spare thread has a spare ready (made or kept). */
static void wait_spare(wal *w, wal_stats *st)
{
	for (int t = 0; t < 1000; t++) {
		wal_get_stats(w, st);
		if (st->spares_made + st->spares_kept > st->spares_used)
			return;
		usleep(10 * 1000);
	}
	CHECK(st->spares_made + st->spares_kept > st->spares_used); /* none within 10 s */
}

typedef struct {
	const char *dir;
	ino_t ino;
	char found[256]; /* the name of the file with inode ino */
} ino_ctx;

static int ino_cb(void *ctx, const char *name)
{
	ino_ctx *c = ctx;
	char path[FS_PATH_MAX + 1];
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	struct stat sb;
	if (stat(path, &sb) == 0 && sb.st_ino == c->ino)
		snprintf(c->found, sizeof(c->found), "%s", name);
	return 0;
}

/* A whole spare left by a clean close is kept at the next open, not
 * written again, and the next rollover takes it: the same file. */
TEST(wal_whole_spare_is_kept_across_a_reopen)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512], spare[600];
	path_in(dir, sizeof(dir), "wal");
	snprintf(spare, sizeof(spare), "%s/spare.ready", dir);
	wal_config c;
	wal *w = open_threaded(v, dir, true, &c);
	uint64_t last[4] = {0};
	wal_stats st;
	append_rounds(w, last, 100, 900);
	CHECK_EQ(wal_sync(w), 0);
	wait_spare(w, &st);
	wal_close(w);
	struct stat before;
	CHECK_EQ(stat(spare, &before), 0);

	w = open_threaded(v, dir, true, &c);
	wait_spare(w, &st);
	CHECK_EQ(st.spares_kept, 1);
	CHECK_EQ(st.spares_made, 0);
	uint64_t segments = st.segments_created;
	/* past the next rollover, which takes the kept spare */
	while (st.segments_created == segments) {
		append_rounds(w, last, 20, 900);
		CHECK_EQ(wal_sync(w), 0);
		wal_get_stats(w, &st);
	}
	CHECK_EQ(st.spares_used, 1);
	CHECK_EQ(st.spare_failures, 0);
	wal_close(w);
	ino_ctx ic = {dir, before.st_ino, ""};
	CHECK_EQ(fs_list(v, dir, ino_cb, &ic), 0);
	/* the kept spare's file is a segment now */
	CHECK(ic.found[0] != '\0');
	CHECK(strncmp(ic.found, "spare", 5) != 0);
	reopen_check_done(v, &c, last, 2);
}

/* Leftovers that are not a whole spare are replaced, never renamed into
 * the log: a spare.ready of another size (junk, or a spare made for
 * another segment size), a spare.making (a crash while it was made) and a
 * spare.tmp (the name of any spare before spares were kept). */
TEST(wal_leftover_spare_is_replaced)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512];
	path_in(dir, sizeof(dir), "wal");
	CHECK_EQ(mkdir(dir, 0755), 0);
	static const char *const junk[] = {"spare.ready", "spare.making", "spare.tmp"};
	char spare[600];
	for (int j = 0; j < 3; j++) {
		snprintf(spare, sizeof(spare), "%s/%s", dir, junk[j]);
		FILE *f = fopen(spare, "w");
		CHECK(f != NULL);
		for (int i = 0; i < 5000; i++)
			fputc(0xff, f);
		fclose(f);
	}
	wal_config c;
	wal *w = open_threaded(v, dir, true, &c);
	uint64_t last[4] = {0};
	append_rounds(w, last, 300, 900); /* past the first rollover */
	CHECK_EQ(wal_sync(w), 0);
	wal_stats st;
	wal_get_stats(w, &st);
	CHECK(st.spares_used >= 1);
	CHECK_EQ(st.spares_kept, 0);
	wait_spare(w, &st);
	wal_close(w);
	struct stat sb;
	snprintf(spare, sizeof(spare), "%s/spare.ready", dir);
	CHECK_EQ(stat(spare, &sb), 0);
	CHECK_EQ((uint64_t)sb.st_size, c.segment_bytes);
	snprintf(spare, sizeof(spare), "%s/spare.making", dir);
	CHECK(stat(spare, &sb) != 0);
	snprintf(spare, sizeof(spare), "%s/spare.tmp", dir);
	CHECK(stat(spare, &sb) != 0);
	/* what is read back is the log, not the junk */
	c.spare_segments = false;
	c.threaded = false;
	reopen_check_done(v, &c, last, 1);
}

/* The last sector of the last round reads back as zeros, as after a
 * power loss that kept the round's earlier sectors only. */
TEST(wal_torn_tail_on_disk)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512], seg[600];
	path_in(dir, sizeof(dir), "wal");
	wal_config c = posix_cfg(v, dir, false);
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), 0);
	uint64_t last[4] = {0};
	append_rounds(w, last, 9, 100);
	CHECK_EQ(wal_sync(w), 0);
	uint64_t acked[4];
	memcpy(acked, last, sizeof(last));
	append_rounds(w, last, 3, 2500); /* one round of ~15 KB */
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	/* The round ends somewhere in the file; zero its last sector. */
	snprintf(seg, sizeof(seg), "%s/%020d.wal", dir, 1);
	fs_file *f;
	CHECK_EQ(fs_open(v, seg, 0, &f), 0);
	static uint8_t content[256 << 10];
	CHECK_EQ(fs_pread_full(v, f, content, sizeof(content), 0), 0);
	uint64_t end = sizeof(content);
	while (end > 0 && content[end - 1] == 0)
		end--;
	uint8_t zeros[512] = {0};
	CHECK_EQ(fs_pwrite(v, f, zeros, sizeof(zeros), (end - 1) / 512 * 512), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(wal_open(&c, &w, &rep), 0);
	CHECK(rep.torn_bytes > 0);
	/* The round held batches for groups 1, 2, 3: the third is cut. */
	check_group2(w, 1, last[1], acked[1], 100, 2500);
	check_group2(w, 2, last[2], acked[2], 100, 2500);
	check_group(w, 3, acked[3], 100);
	/* and the log goes on */
	append_rounds(w, acked, 3, 100);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	CHECK_EQ(wal_open(&c, &w, &rep), 0);
	CHECK_EQ(rep.torn_bytes, 0);
	check_group(w, 3, acked[3], 100);
	wal_close(w);
	remove_base(v);
	fs_destroy(v);
}

TEST(wal_corruption_on_disk_is_detected)
{
	fs *v = fs_posix_create();
	make_base();
	char dir[512], seg[600];
	path_in(dir, sizeof(dir), "wal");
	wal_config c = posix_cfg(v, dir, false);
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), 0);
	uint64_t last[4] = {0};
	for (int k = 0; k < 10; k++) {
		append_rounds(w, last, 3, 200);
		CHECK_EQ(wal_sync(w), 0);
	}
	wal_close(w);
	/* One byte in the middle of the data changes. */
	snprintf(seg, sizeof(seg), "%s/%020d.wal", dir, 1);
	fs_file *f;
	CHECK_EQ(fs_open(v, seg, 0, &f), 0);
	uint8_t b;
	CHECK_EQ(fs_pread_full(v, f, &b, 1, 3000), 0);
	b ^= 0x40;
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 3000), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(strstr(rep.message, "00000000000000000001.wal") != NULL);
	remove_base(v);
	fs_destroy(v);
}

TEST_MAIN()
