/*
 * sm_archive.h — the byte stream a state-machine snapshot travels as: a
 * header (group, index, term, membership, file count) followed by named
 * files, each with its size and a CRC32C (docs/storage.md, "Snapshot
 * archive").  The RocksDB store sends its checkpoint directory this way,
 * the in-memory store one serialized file.
 *
 * Two halves:
 *  - sm_archive_layout: the sender's view.  Built from the header and a
 *    table of files whose CRCs are already known, it serves any byte range
 *    of the stream without holding the stream, reading file contents
 *    through a callback (what hp_snapshot_read_cb needs).
 *  - sm_archive_reader: the receiver's view.  Fed the stream in pieces of
 *    any size, it validates every field and CRC as it goes and hands file
 *    contents to a sink, holding at most a few hundred bytes itself.  It
 *    never trusts a length it has not bounded: it is a fuzz target.
 */
#ifndef RASPUTIN_STORAGE_SM_ARCHIVE_H
#define RASPUTIN_STORAGE_SM_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

enum {
	SM_ARCHIVE_VERSION = 1,
	SM_ARCHIVE_KIND_ROCKS = 1, /* files of a RocksDB checkpoint */
	SM_ARCHIVE_KIND_MEM = 2,   /* one file: the in-memory store serialized */
	SM_ARCHIVE_NAME_MAX = 64,
	SM_ARCHIVE_MAX_FILES = 100000,
	/* magic 8, version 4, kind 4, group 8, index 8, term 8, files 4, conf size 4 */
	SM_ARCHIVE_FIXED_BYTES = 48,
	SM_ARCHIVE_HEADER_MAX = SM_ARCHIVE_FIXED_BYTES + HP_CONF_MAX_BYTES + 4,
	SM_ARCHIVE_RECORD_OVERHEAD = 2 + 8 + 4, /* name length, size, crc */
};

typedef struct {
	uint32_t kind;
	uint64_t group;
	uint64_t index; /* the applied index the snapshot holds */
	uint64_t term;	/* term of that entry */
	hp_conf conf;	/* membership as of index */
	uint32_t file_count;
} sm_archive_header;

/* A membership as bytes, exactly as the state machine holds it (which may
 * be partial: a log replayed from a change, not from the first entry):
 * nothing when empty, else voter count, learner count (u8 each) and the ids
 * (u64).  decode: 0 or RP_ERR_CORRUPT. */
size_t sm_conf_encode(const hp_conf *conf, uint8_t out[HP_CONF_MAX_BYTES]);
int sm_conf_decode(const uint8_t *data, size_t size, hp_conf *conf);

/* Encodes a header into out (>= SM_ARCHIVE_HEADER_MAX); returns its size. */
size_t sm_archive_header_encode(const sm_archive_header *h, uint8_t *out);
/* Decodes a whole encoded header; 0 or RP_ERR_CORRUPT. */
int sm_archive_header_decode(const uint8_t *data, size_t size, sm_archive_header *h);
/* A file name the archive accepts: 1..SM_ARCHIVE_NAME_MAX of [A-Za-z0-9._-],
 * not starting with '.'. */
bool sm_archive_name_ok(const char *name, size_t len);

typedef struct {
	char name[SM_ARCHIVE_NAME_MAX + 1];
	uint64_t size;
	uint32_t crc;	 /* of the record: name length, name, size, contents */
	uint64_t offset; /* of the record in the stream */
} sm_archive_file;

/* Reads size bytes at offset of file `index` into buf; 0 or an error. */
typedef int (*sm_archive_read_fn)(void *ctx, uint32_t index, uint64_t offset,
				  uint8_t *buf, size_t size);

typedef struct {
	sm_archive_header header;
	uint8_t header_bytes[SM_ARCHIVE_HEADER_MAX];
	size_t header_size;
	sm_archive_file *files; /* owned; file_count of them */
	uint64_t total_size;
} sm_archive_layout;

/* Starts a layout for header h with room for h->file_count files.  Each file
 * is then added with sm_archive_layout_add, in stream order, with a CRC
 * from sm_archive_record_crc.  Free with sm_archive_layout_deinit. */
int sm_archive_layout_init(sm_archive_layout *l, const sm_archive_header *h);
void sm_archive_layout_deinit(sm_archive_layout *l);
int sm_archive_layout_add(sm_archive_layout *l, uint32_t i, const char *name,
			  uint64_t size, uint32_t crc);
/* The CRC of a file record, computed by reading the file through read_fn. */
int sm_archive_record_crc(const char *name, uint64_t size, uint32_t index,
			  sm_archive_read_fn read_fn, void *ctx, uint32_t *crc);
/* Copies up to cap bytes of the stream at offset into buf, reading file
 * contents through read_fn.  *last is true when the copy reaches the end.
 * RP_ERR_INVALID if offset is beyond the end. */
int sm_archive_layout_read(const sm_archive_layout *l, uint64_t offset, uint8_t *buf,
			   size_t cap, size_t *size, bool *last,
			   sm_archive_read_fn read_fn, void *ctx);

/* Where the receiver puts the files.  Each returns 0 or an error that
 * aborts the stream. */
typedef struct {
	int (*file_begin)(void *ctx, const char *name, uint64_t size);
	int (*file_data)(void *ctx, const uint8_t *data, size_t size);
	/* The record's CRC has been checked: it is crc (the value
	 * sm_archive_record_crc gives for the file). */
	int (*file_end)(void *ctx, uint32_t crc);
} sm_archive_sink;

typedef struct {
	uint64_t max_total_bytes; /* the whole stream; larger is RP_ERR_NOSPC */
	uint64_t consumed;
	int state; /* internal */
	int error; /* sticky: once set every feed returns it */
	uint32_t files_done;
	bool have_header;
	sm_archive_header header;
	uint8_t acc[SM_ARCHIVE_HEADER_MAX + SM_ARCHIVE_NAME_MAX];
	size_t acc_size;
	size_t need; /* bytes the current state wants in acc */
	uint16_t name_len;
	char name[SM_ARCHIVE_NAME_MAX + 1];
	uint64_t data_left;
	uint32_t crc; /* running raw CRC of the current record */
	const sm_archive_sink *sink;
	void *sink_ctx;
} sm_archive_reader;

void sm_archive_reader_init(sm_archive_reader *r, uint64_t max_total_bytes,
			    const sm_archive_sink *sink, void *sink_ctx);
/* Consumes data[0..size).  0, or RP_ERR_CORRUPT / RP_ERR_NOSPC / the
 * sink's error (all sticky). */
int sm_archive_reader_feed(sm_archive_reader *r, const uint8_t *data, size_t size);
/* True once the header and every file record have been read and checked. */
bool sm_archive_reader_done(const sm_archive_reader *r);

#endif
