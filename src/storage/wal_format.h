/*
 * wal_format.h — the byte layout of WAL segment headers and records, and
 * the codecs for record payloads (docs/storage.md, "WAL format").  Pure:
 * no IO, no allocation.  Decoders check every length against the bytes
 * they were given and refuse anything a correct writer never produces, so
 * they are safe on damaged input (a fuzz target).
 *
 * All integers are little-endian.
 *
 * Segment header (WAL_SEGMENT_HEADER_BYTES, records start after it):
 *     0  u64 magic "RPWALSEG"     16 u64 first_seq (= the file name)
 *     8  u32 version (1)          24 u64 wal_id (same in every segment)
 *    12  u32 header bytes (512)   32 u32 CRC32C of bytes 0..31
 *    36.. zeros
 *
 * Record (8-byte aligned; header then payload, zero padded to 8):
 *     0  u16 magic   0x5752 ("RW"): a record never starts with a zero byte
 *                    pair, so zeros after a record are padding (or the end)
 *     2  u8  type    wal_rec_type
 *     3  u8  flags   WAL_FLAG_BATCH_END on the last record of a batch
 *     4  u32 size    payload bytes
 *     8  u32 hcrc    CRC32C of bytes 0..7 then 16..39: the header alone, so
 *                    a damaged length is never trusted
 *    12  u32 crc     CRC32C of the whole record but this field: bytes 0..11
 *                    then 16 .. 40 + size
 *    16  u64 seq        1, 2, 3, ... across the whole log, no gaps
 *    24  u64 round_seq  seq of the first record of the write round it was
 *                       written in (round_seq <= seq)
 *    32  u64 group
 */
#ifndef RASPUTIN_STORAGE_WAL_FORMAT_H
#define RASPUTIN_STORAGE_WAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

enum {
	WAL_VERSION = 1,
	WAL_ALIGN_BYTES = 512, /* rounds start here; the torn-write sector */
	WAL_SEGMENT_HEADER_BYTES = 512,
	WAL_REC_HEADER_BYTES = 40,
	WAL_REC_MAGIC = 0x5752,
	WAL_FLAG_BATCH_END = 1,
	/* A record never exceeds this payload: one maximal entry plus room. */
	WAL_REC_MAX_PAYLOAD = HP_MAX_ENTRY_BYTES + (1 << 20),
	/* Entries records are cut at this payload size (one entry at least). */
	WAL_ENTRIES_REC_TARGET = 1 << 20,
	WAL_ENTRIES_HEADER_BYTES = 16, /* first index, count, zero */
	WAL_ENTRY_HEADER_BYTES = 16,   /* term, size, type, 3 zeros */
	WAL_HARD_STATE_BYTES = 32,
	WAL_SNAPSHOT_MIN_BYTES = 24, /* index, term, flags, counts */
	WAL_SNAPSHOT_MAX_BYTES = 24 + 8 * (HP_MAX_VOTERS + HP_MAX_MEMBERS),
	WAL_SNAPSHOT_INSTALL = 1,
};

#define WAL_SEGMENT_MAGIC 0x4745534c41575052ULL /* "RPWALSEG" as little-endian bytes */

typedef struct {
	uint32_t crc;
	uint32_t size_bytes;
	uint8_t type;
	uint8_t flags;
	uint64_t seq;
	uint64_t round_seq;
	uint64_t group;
} wal_rec_header;

typedef struct {
	uint64_t first_seq;
	uint64_t wal_id;
} wal_seg_header;

static inline uint64_t wal_align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }
static inline uint64_t wal_align_up(uint64_t n)
{
	return (n + WAL_ALIGN_BYTES - 1) / WAL_ALIGN_BYTES * WAL_ALIGN_BYTES;
}
/* Bytes a record with this payload occupies, padding included. */
static inline uint64_t wal_rec_bytes(uint64_t payload_bytes)
{
	return wal_align8(WAL_REC_HEADER_BYTES + payload_bytes);
}

void wal_put_u16(uint8_t *p, uint16_t v);
void wal_put_u32(uint8_t *p, uint32_t v);
void wal_put_u64(uint8_t *p, uint64_t v);
uint16_t wal_get_u16(const uint8_t *p);
uint32_t wal_get_u32(const uint8_t *p);
uint64_t wal_get_u64(const uint8_t *p);

void wal_seg_header_encode(const wal_seg_header *h, uint8_t out[WAL_SEGMENT_HEADER_BYTES]);
/* RP_ERR_CORRUPT unless magic, version, size and checksum are right. */
int wal_seg_header_decode(const uint8_t in[WAL_SEGMENT_HEADER_BYTES], wal_seg_header *h);

/* Writes the header (crc left 0, hcrc set); wal_rec_seal fills the crc
 * once the payload follows it. */
void wal_rec_header_encode(const wal_rec_header *h, uint8_t out[WAL_REC_HEADER_BYTES]);
/* rec points at the header, the payload follows; zeroes the padding too. */
void wal_rec_seal(uint8_t *rec, uint32_t payload_bytes);
/* Parses a header and checks what can be checked without the payload:
 * magic, header checksum, known type, size <= WAL_REC_MAX_PAYLOAD,
 * round_seq <= seq.  RP_ERR_CORRUPT otherwise. */
int wal_rec_header_decode(const uint8_t in[WAL_REC_HEADER_BYTES], wal_rec_header *h);
/* True when the checksum over header and payload matches. */
bool wal_rec_crc_ok(const uint8_t *rec, const wal_rec_header *h);

/* ---- payloads.  Encoders write exactly the size their *_size says. ---- */

/* How many of entries[0..count) go into one record (>= 1), and the
 * payload bytes they take. */
size_t wal_entries_fit(const hp_entry *entries, size_t count, size_t *payload_bytes);
void wal_entries_encode(uint8_t *out, const hp_entry *entries, size_t count);
/* Parses an entries payload: first index and count, and checks that the
 * per-entry sizes add up exactly.  Then wal_entries_next walks it. */
int wal_entries_decode(const uint8_t *p, size_t size, uint64_t *first_index,
                       uint32_t *count);
typedef struct {
	const uint8_t *p;
	size_t size;
	size_t pos;
	uint64_t index;
} wal_entries_iter;
void wal_entries_iter_init(wal_entries_iter *it, const uint8_t *p, size_t size);
/* Fills *e (data points into the payload); false at the end.  Only on a
 * payload that wal_entries_decode accepted. */
bool wal_entries_next(wal_entries_iter *it, hp_entry *e);

void wal_hard_state_encode(uint8_t out[WAL_HARD_STATE_BYTES], const hp_hard_state *hs);
void wal_hard_state_decode(const uint8_t in[WAL_HARD_STATE_BYTES], hp_hard_state *hs);

size_t wal_snapshot_size(const hp_snapshot_meta *m);
void wal_snapshot_encode(uint8_t *out, const hp_snapshot_meta *m, bool install);
/* RP_ERR_CORRUPT on a size mismatch or membership counts out of range. */
int wal_snapshot_decode(const uint8_t *in, size_t size, hp_snapshot_meta *m, bool *install);

#endif
