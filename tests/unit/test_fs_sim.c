/*
 * test_fs_sim.c — the simulated disk keeps exactly what its fault model
 * says: synced data survives a crash, unsynced writes are kept, lost or
 * torn at a sector boundary, names are volatile until the directory is
 * synced, bits flip in durable data, and injected errors are returned.
 */
#include "test.h"

#include "storage/fs_sim.h"
#include "util/err.h"
#include "util/prng.h"

static fs_sim *disk_new(uint32_t keep_ppm, uint32_t torn_ppm, rp_prng *prng)
{
	fs_sim *d = fs_sim_create();
	CHECK(d != NULL);
	fs_sim_faults f;
	fs_sim_faults_default(&f);
	f.crash_keep_ppm = keep_ppm;
	f.crash_torn_ppm = torn_ppm;
	fs_sim_set_faults(d, &f, prng);
	CHECK_EQ(fs_mkdir(fs_sim_fs(d), "d"), 0);
	return d;
}

/* Creates d/<name> with `size` bytes of `byte`, file and name synced. */
static void make_synced(fs_sim *d, const char *path, uint8_t byte, size_t size)
{
	fs *v = fs_sim_fs(d);
	fs_file *f;
	uint8_t buf[8192];
	CHECK(size <= sizeof(buf));
	memset(buf, byte, size);
	CHECK_EQ(fs_open(v, path, FS_OPEN_CREATE | FS_OPEN_EXCL, &f), 0);
	CHECK_EQ(fs_pwrite(v, f, buf, size, 0), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(fs_fsync_dir(v, "d"), 0);
}

static uint64_t file_size(fs_sim *d, const char *path)
{
	fs_file *f;
	uint64_t size = 0;
	if (fs_open(fs_sim_fs(d), path, 0, &f) != 0)
		return UINT64_MAX; /* absent */
	CHECK_EQ(fs_size(fs_sim_fs(d), f, &size), 0);
	fs_close(fs_sim_fs(d), f);
	return size;
}

static uint8_t byte_at(fs_sim *d, const char *path, uint64_t off)
{
	fs_file *f;
	uint8_t b = 0xEE;
	size_t got;
	CHECK_EQ(fs_open(fs_sim_fs(d), path, FS_OPEN_READ_ONLY, &f), 0);
	CHECK_EQ(fs_pread(fs_sim_fs(d), f, &b, 1, off, &got), 0);
	CHECK_EQ(got, 1);
	fs_close(fs_sim_fs(d), f);
	return b;
}

TEST(synced_data_survives_unsynced_is_lost)
{
	rp_prng p;
	rp_prng_init(&p, 1);
	fs_sim *d = disk_new(0, 0, &p); /* a crash keeps nothing unsynced */
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0xAA, 1000);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
	uint8_t b[600];
	memset(b, 0xBB, sizeof(b));
	CHECK_EQ(fs_pwrite(v, f, b, sizeof(b), 800), 0); /* overwrite + extend */
	CHECK_EQ(file_size(d, "d/a"), 1400);
	CHECK_EQ(byte_at(d, "d/a", 900), 0xBB);
	CHECK(fs_sim_unsynced_ops(d) > 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(fs_sim_unsynced_ops(d), 0);
	/* The open file is dead after the crash. */
	size_t got;
	CHECK_EQ(fs_pread(v, f, b, 1, 0, &got), RP_ERR_IO);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(file_size(d, "d/a"), 1000);
	CHECK_EQ(byte_at(d, "d/a", 900), 0xAA);
	CHECK_EQ(byte_at(d, "d/a", 0), 0xAA);
	fs_sim_destroy(d);
}

TEST(fdatasync_makes_writes_durable)
{
	rp_prng p;
	rp_prng_init(&p, 2);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0xAA, 100);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
	uint8_t b = 0x11;
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 50), 0);
	CHECK_EQ(fs_fallocate(v, f, 4096), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(byte_at(d, "d/a", 50), 0x11);
	CHECK_EQ(file_size(d, "d/a"), 4096);
	CHECK_EQ(byte_at(d, "d/a", 4000), 0); /* preallocated bytes read as zeros */
	fs_sim_destroy(d);
}

TEST(torn_write_keeps_a_prefix_of_sectors)
{
	int seen[8] = {0};
	for (uint64_t seed = 0; seed < 200; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = disk_new(0, 1000000, &p); /* every unsynced write is torn */
		fs *v = fs_sim_fs(d);
		make_synced(d, "d/a", 0, 0);
		fs_file *f;
		CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
		uint8_t buf[4096];
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i % 251 + 1); /* never zero */
		CHECK_EQ(fs_pwrite(v, f, buf, sizeof(buf), 0), 0);
		CHECK_EQ(fs_close(v, f), 0);
		fs_sim_crash(d, &p);
		uint64_t size = file_size(d, "d/a");
		/* A strict prefix of whole sectors: 1..7 of the 8. */
		CHECK(size % FS_SIM_SECTOR_BYTES == 0);
		CHECK(size >= 512 && size <= 7 * 512);
		uint8_t back[4096];
		size_t got;
		CHECK_EQ(fs_open(v, "d/a", FS_OPEN_READ_ONLY, &f), 0);
		CHECK_EQ(fs_pread(v, f, back, sizeof(back), 0, &got), 0);
		CHECK_EQ(got, size);
		CHECK(memcmp(back, buf, got) == 0);
		fs_close(v, f);
		seen[size / 512]++;
		fs_sim_destroy(d);
	}
	for (int k = 1; k <= 7; k++)
		CHECK(seen[k] > 0); /* every cut point happens */
}

TEST(torn_write_at_unaligned_offset_cuts_at_sector_boundary)
{
	for (uint64_t seed = 0; seed < 50; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = disk_new(0, 1000000, &p);
		fs *v = fs_sim_fs(d);
		make_synced(d, "d/a", 0x55, 100);
		fs_file *f;
		CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
		uint8_t buf[1500];
		memset(buf, 0x77, sizeof(buf));
		CHECK_EQ(fs_pwrite(v, f, buf, sizeof(buf), 100), 0); /* bytes 100..1599 */
		CHECK_EQ(fs_close(v, f), 0);
		fs_sim_crash(d, &p);
		uint64_t size = file_size(d, "d/a");
		CHECK(size == 512 || size == 1024 || size == 1536);
		CHECK_EQ(byte_at(d, "d/a", 99), 0x55);
		CHECK_EQ(byte_at(d, "d/a", size - 1), 0x77);
		fs_sim_destroy(d);
	}
}

TEST(a_crash_keeps_some_unsynced_writes_and_loses_others)
{
	rp_prng p;
	rp_prng_init(&p, 3);
	fs_sim *d = disk_new(500000, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0, 0);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
	CHECK_EQ(fs_fallocate(v, f, 1000), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		uint8_t b = 1;
		CHECK_EQ(fs_pwrite(v, f, &b, 1, i), 0);
	}
	CHECK_EQ(fs_close(v, f), 0);
	fs_sim_crash(d, &p);
	int kept = 0;
	for (uint64_t i = 0; i < 1000; i++)
		kept += byte_at(d, "d/a", i);
	CHECK(kept > 400 && kept < 600);
	fs_sim_destroy(d);
}

TEST(same_seed_same_crash)
{
	uint8_t result[2][2048];
	for (int run = 0; run < 2; run++) {
		rp_prng p;
		rp_prng_init(&p, 99);
		fs_sim *d = disk_new(300000, 500000, &p);
		fs *v = fs_sim_fs(d);
		make_synced(d, "d/a", 0, 0);
		fs_file *f;
		CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
		for (uint64_t i = 0; i < 40; i++) {
			uint8_t buf[700];
			memset(buf, (int)(i + 1), sizeof(buf));
			CHECK_EQ(fs_pwrite(v, f, buf, sizeof(buf), (i * 37) % 1300), 0);
		}
		CHECK_EQ(fs_close(v, f), 0);
		fs_sim_crash(d, &p);
		memset(result[run], 0, sizeof(result[run]));
		size_t got;
		CHECK_EQ(fs_open(v, "d/a", FS_OPEN_READ_ONLY, &f), 0);
		CHECK_EQ(fs_pread(v, f, result[run], sizeof(result[run]), 0, &got), 0);
		fs_close(v, f);
		fs_sim_destroy(d);
	}
	CHECK(memcmp(result[0], result[1], sizeof(result[0])) == 0);
}

TEST(create_is_not_durable_until_fsync_dir)
{
	rp_prng p;
	rp_prng_init(&p, 4);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/new", FS_OPEN_CREATE, &f), 0);
	uint8_t b = 7;
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 0), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0); /* data synced, name not */
	CHECK_EQ(fs_close(v, f), 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(file_size(d, "d/new"), UINT64_MAX);
	/* Same again with the directory synced. */
	CHECK_EQ(fs_open(v, "d/new", FS_OPEN_CREATE, &f), 0);
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 0), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	CHECK_EQ(fs_close(v, f), 0);
	CHECK_EQ(fs_fsync_dir(v, "d"), 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(file_size(d, "d/new"), 1);
	CHECK_EQ(byte_at(d, "d/new", 0), 7);
	fs_sim_destroy(d);
}

TEST(rename_is_not_durable_until_fsync_dir)
{
	rp_prng p;
	rp_prng_init(&p, 5);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0xA1, 10);
	make_synced(d, "d/b", 0xB1, 20);
	CHECK_EQ(fs_rename(v, "d/a", "d/b"), 0);
	CHECK_EQ(file_size(d, "d/a"), UINT64_MAX);
	CHECK_EQ(byte_at(d, "d/b", 0), 0xA1);
	fs_sim_crash(d, &p);
	CHECK_EQ(byte_at(d, "d/a", 0), 0xA1); /* the rename was lost */
	CHECK_EQ(byte_at(d, "d/b", 0), 0xB1);
	CHECK_EQ(fs_rename(v, "d/a", "d/b"), 0);
	CHECK_EQ(fs_fsync_dir(v, "d"), 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(file_size(d, "d/a"), UINT64_MAX);
	CHECK_EQ(byte_at(d, "d/b", 0), 0xA1);
	CHECK_EQ(file_size(d, "d/b"), 10);
	/* Renames across directories are refused. */
	CHECK_EQ(fs_mkdir(v, "e"), 0);
	CHECK_EQ(fs_rename(v, "d/b", "e/b"), RP_ERR_INVALID);
	fs_sim_destroy(d);
}

TEST(unlink_is_not_durable_until_fsync_dir)
{
	rp_prng p;
	rp_prng_init(&p, 6);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0xA1, 10);
	CHECK_EQ(fs_unlink(v, "d/a"), 0);
	CHECK_EQ(file_size(d, "d/a"), UINT64_MAX);
	CHECK_EQ(fs_unlink(v, "d/a"), RP_ERR_NOTFOUND);
	fs_sim_crash(d, &p);
	CHECK_EQ(file_size(d, "d/a"), 10);
	CHECK_EQ(fs_unlink(v, "d/a"), 0);
	CHECK_EQ(fs_fsync_dir(v, "d"), 0);
	fs_sim_crash(d, &p);
	CHECK_EQ(file_size(d, "d/a"), UINT64_MAX);
	fs_sim_destroy(d);
}

static int count_cb(void *ctx, const char *name)
{
	(void)name;
	(*(int *)ctx)++;
	return 0;
}

TEST(list_open_flags_and_directories)
{
	rp_prng p;
	rp_prng_init(&p, 7);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 1, 1);
	make_synced(d, "d/b", 1, 1);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", FS_OPEN_CREATE | FS_OPEN_EXCL, &f), RP_ERR_EXISTS);
	CHECK_EQ(fs_open(v, "d/zz", 0, &f), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_open(v, "nodir/x", FS_OPEN_CREATE, &f), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_mkdir(v, "d"), RP_ERR_EXISTS);
	int n = 0;
	CHECK_EQ(fs_list(v, "d", count_cb, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(fs_list(v, "nodir", count_cb, &n), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_open(v, "d/a", FS_OPEN_READ_ONLY, &f), 0);
	uint8_t b = 0;
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 0), RP_ERR_INVALID);
	fs_close(v, f);
	fs_sim_destroy(d);
}

TEST(bit_flips_change_durable_data)
{
	rp_prng p;
	rp_prng_init(&p, 8);
	fs_sim *d = disk_new(0, 0, &p);
	make_synced(d, "d/a", 0x00, 4096);
	CHECK_EQ(fs_sim_flip_bit_at(d, "d/a", 100, 3), 0);
	CHECK_EQ(byte_at(d, "d/a", 100), 0x08);
	CHECK_EQ(fs_sim_flip_bits(d, "d/a", 10, &p), 0);
	int ones = 0;
	for (uint64_t i = 0; i < 4096; i++) {
		uint8_t b = byte_at(d, "d/a", i);
		for (int k = 0; k < 8; k++)
			ones += (b >> k) & 1;
	}
	CHECK(ones >= 1 && ones <= 11 && ones % 2 == 1); /* 11 flips, odd parity */
	/* Flips survive a crash: they are in the durable content. */
	fs_sim_crash(d, &p);
	CHECK_EQ(byte_at(d, "d/a", 100) & 0x08, 0x08);
	CHECK_EQ(fs_sim_flip_bits(d, "d/none", 1, &p), RP_ERR_NOTFOUND);
	CHECK_EQ(fs_sim_flip_bit_at(d, "d/a", 5000, 0), RP_ERR_INVALID);
	fs_sim_destroy(d);
}

TEST(injected_eio_enospc_and_sync_failures)
{
	rp_prng p;
	rp_prng_init(&p, 9);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	make_synced(d, "d/a", 0x33, 10);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
	uint8_t b = 0x44;
	fs_sim_fail_nth(d, FS_SIM_OP_WRITE, 2, RP_ERR_IO);
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 0), 0);
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 1), RP_ERR_IO);
	CHECK_EQ(fs_pwrite(v, f, &b, 1, 2), 0);
	CHECK_EQ(byte_at(d, "d/a", 1), 0x33); /* the failed write changed nothing */
	fs_sim_fail_nth(d, FS_SIM_OP_WRITE, 1, RP_ERR_NOSPC);
	CHECK_EQ(fs_fallocate(v, f, 1 << 20), RP_ERR_NOSPC);
	CHECK_EQ(file_size(d, "d/a"), 10);
	fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	CHECK_EQ(fs_fdatasync(v, f), RP_ERR_FSYNC);
	fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	CHECK_EQ(fs_fsync_dir(v, "d"), RP_ERR_FSYNC);
	/* A failed sync made nothing durable. */
	fs_close(v, f);
	fs_sim_crash(d, &p);
	CHECK_EQ(byte_at(d, "d/a", 0), 0x33);
	fs_sim_stats st;
	fs_sim_get_stats(d, &st);
	CHECK_EQ(st.injected_errors, 4);
	fs_sim_destroy(d);
}

TEST(probabilistic_faults_are_deterministic)
{
	int errors[2] = {0, 0};
	int pattern[2][200];
	for (int run = 0; run < 2; run++) {
		rp_prng p;
		rp_prng_init(&p, 10);
		fs_sim *d = disk_new(0, 0, &p);
		fs *v = fs_sim_fs(d);
		make_synced(d, "d/a", 0, 1);
		fs_sim_faults faults;
		fs_sim_faults_default(&faults);
		faults.write_eio_ppm = 100000;
		faults.write_nospc_ppm = 100000;
		faults.sync_eio_ppm = 100000;
		fs_sim_set_faults(d, &faults, &p);
		fs_file *f;
		CHECK_EQ(fs_open(v, "d/a", 0, &f), 0);
		for (int i = 0; i < 200; i++) {
			uint8_t b = 1;
			int rc = i % 2 ? fs_pwrite(v, f, &b, 1, (uint64_t)i) : fs_fdatasync(v, f);
			CHECK(rc == 0 || rc == RP_ERR_IO || rc == RP_ERR_NOSPC || rc == RP_ERR_FSYNC);
			pattern[run][i] = rc;
			errors[run] += rc != 0;
		}
		fs_close(v, f);
		fs_sim_destroy(d);
	}
	CHECK(errors[0] > 5 && errors[0] < 60);
	CHECK(memcmp(pattern[0], pattern[1], sizeof(pattern[0])) == 0);
}

TEST(capacity_bound_gives_enospc)
{
	rp_prng p;
	rp_prng_init(&p, 11);
	fs_sim *d = disk_new(0, 0, &p);
	fs *v = fs_sim_fs(d);
	fs_sim_faults faults;
	fs_sim_faults_default(&faults);
	faults.capacity_bytes = 10000;
	fs_sim_set_faults(d, &faults, &p);
	fs_file *f;
	CHECK_EQ(fs_open(v, "d/a", FS_OPEN_CREATE, &f), 0);
	CHECK_EQ(fs_fallocate(v, f, 8000), 0);
	uint8_t buf[3000] = {0};
	CHECK_EQ(fs_pwrite(v, f, buf, sizeof(buf), 7500), RP_ERR_NOSPC); /* 10500 bytes */
	CHECK_EQ(fs_pwrite(v, f, buf, 2000, 7000), 0);
	fs_close(v, f);
	fs_sim_destroy(d);
}

/*
 * The undo log behind unsynced writes (fs_sim.c), against a model that
 * keeps the durable bytes and replays the unsynced operations: random
 * overwrites inside and past the written part, truncations and
 * preallocations, syncs, bit flips while writes are pending, and crashes
 * that keep every unsynced write or lose every one.  After each step the
 * file reads as the model's current content.
 */
enum { MODEL_CAP = 3000, MODEL_OPS = 64 };

typedef struct {
	uint8_t kind; /* 1 write, 2 truncate, 3 extend */
	uint64_t offset;
	uint64_t size;
	uint8_t data[600];
} model_op;

typedef struct {
	uint8_t durable[MODEL_CAP];
	uint64_t durable_size;
	model_op ops[MODEL_OPS];
	size_t op_count;
} model_file;

static uint64_t model_apply(const model_file *m, uint8_t out[MODEL_CAP])
{
	uint64_t size = m->durable_size;
	memcpy(out, m->durable, MODEL_CAP);
	for (size_t i = 0; i < m->op_count; i++) {
		const model_op *op = &m->ops[i];
		if (op->kind == 1) {
			memcpy(out + op->offset, op->data, (size_t)op->size);
			if (op->offset + op->size > size)
				size = op->offset + op->size;
		} else if (op->kind == 2) {
			memset(out + op->size, 0, (size_t)(MODEL_CAP - op->size));
			size = op->size;
		} else if (op->size > size) {
			size = op->size;
		}
	}
	return size;
}

static void model_check(fs_sim *d, const model_file *m)
{
	uint8_t want[MODEL_CAP];
	uint64_t size = model_apply(m, want);
	CHECK_EQ(file_size(d, "d/m"), size);
	fs_file *f;
	uint8_t got[MODEL_CAP];
	size_t n = 0;
	CHECK_EQ(fs_open(fs_sim_fs(d), "d/m", FS_OPEN_READ_ONLY, &f), 0);
	CHECK_EQ(fs_pread(fs_sim_fs(d), f, got, sizeof(got), 0, &n), 0);
	CHECK_EQ(n, size);
	CHECK(memcmp(got, want, (size_t)size) == 0);
	fs_close(fs_sim_fs(d), f);
}

TEST(unsynced_writes_truncations_and_flips_match_a_model)
{
	for (uint64_t seed = 0; seed < 60; seed++) {
		rp_prng p;
		rp_prng_init(&p, 1000 + seed);
		bool keep_all = seed % 2 == 0;
		fs_sim *d = disk_new(keep_all ? 1000000 : 0, 0, &p);
		fs *v = fs_sim_fs(d);
		make_synced(d, "d/m", 0, 0);
		static model_file m;
		memset(&m, 0, sizeof(m));
		fs_file *f;
		CHECK_EQ(fs_open(v, "d/m", 0, &f), 0);
		for (int step = 0; step < 300; step++) {
			uint64_t what = rp_prng_below(&p, 100);
			uint8_t cur[MODEL_CAP];
			uint64_t cur_size = model_apply(&m, cur);
			if (what < 50 && m.op_count < MODEL_OPS) {
				model_op *op = &m.ops[m.op_count];
				op->kind = 1;
				op->size = 1 + rp_prng_below(&p, sizeof(op->data));
				op->offset = rp_prng_below(&p, MODEL_CAP - op->size + 1);
				for (size_t i = 0; i < op->size; i++)
					op->data[i] = (uint8_t)(1 + rp_prng_below(&p, 255));
				CHECK_EQ(fs_pwrite(v, f, op->data, (size_t)op->size, op->offset), 0);
				m.op_count++;
			} else if (what < 58 && m.op_count < MODEL_OPS) {
				model_op *op = &m.ops[m.op_count++];
				op->kind = 2;
				op->size = rp_prng_below(&p, cur_size + 1);
				CHECK_EQ(fs_truncate(v, f, op->size), 0);
			} else if (what < 64 && m.op_count < MODEL_OPS) {
				uint64_t size = rp_prng_below(&p, MODEL_CAP + 1);
				CHECK_EQ(fs_fallocate(v, f, size), 0);
				if (size > cur_size) { /* a smaller one changes nothing */
					model_op *op = &m.ops[m.op_count++];
					op->kind = 3;
					op->size = size;
				}
			} else if (what < 76) {
				CHECK_EQ(fs_fdatasync(v, f), 0);
				m.durable_size = model_apply(&m, m.durable);
				m.op_count = 0;
			} else if (what < 88) {
				if (m.durable_size == 0) {
					CHECK_EQ(fs_sim_flip_bit_at(d, "d/m", 0, 1), RP_ERR_INVALID);
					continue;
				}
				uint64_t at = rp_prng_below(&p, m.durable_size);
				unsigned bit = (unsigned)rp_prng_below(&p, 8);
				CHECK_EQ(fs_sim_flip_bit_at(d, "d/m", at, bit), 0);
				m.durable[at] ^= (uint8_t)(1u << bit);
			} else if (what < 94) {
				CHECK_EQ(fs_close(v, f), 0);
				fs_sim_crash(d, &p);
				if (keep_all)
					m.durable_size = model_apply(&m, m.durable);
				m.op_count = 0;
				CHECK_EQ(fs_sim_unsynced_ops(d), 0);
				CHECK_EQ(fs_open(v, "d/m", 0, &f), 0);
			}
			model_check(d, &m);
		}
		CHECK_EQ(fs_close(v, f), 0);
		fs_sim_destroy(d);
	}
}

TEST_MAIN()
