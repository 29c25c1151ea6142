/*
 * err.h — the project's one table of error codes.  Functions outside the
 * consensus core return 0 on success or one of these negative codes; errno
 * is translated at the module that called the system and never crosses a
 * module boundary.  rp_strerror gives a short, stable description.
 *
 * RP_ERR_FSYNC is special: it means an fdatasync/fsync failed, after which
 * the kernel may already have dropped the dirty pages it could not write.
 * Retrying would report success for data that is gone, so the caller never
 * retries: it stops the node, which restarts from what recovery finds.
 */
#ifndef RASPUTIN_UTIL_ERR_H
#define RASPUTIN_UTIL_ERR_H

enum {
	RP_OK = 0,
	RP_ERR_IO = -1,       /* a read or write failed (EIO and the like) */
	RP_ERR_NOSPC = -2,    /* no space left (disk, quota, or a configured bound) */
	RP_ERR_CORRUPT = -3,  /* stored data fails a checksum or a format check */
	RP_ERR_NOMEM = -4,    /* allocation failed */
	RP_ERR_INVALID = -5,  /* bad argument or bad name */
	RP_ERR_NOTFOUND = -6, /* no such file, group or record */
	RP_ERR_EXISTS = -7,   /* exclusive create of a file that exists */
	RP_ERR_BUSY = -8,     /* a bounded queue is full: retry after progress */
	RP_ERR_FSYNC = -9,    /* fatal: a sync failed; stop, never retry it */
	RP_ERR_CLOSED = -10,  /* the object failed earlier or is shutting down */
	RP_ERR_CANCELED = -11, /* stopped on request before it finished */
};

/* Never NULL; "unknown error" for codes outside the table. */
const char *rp_strerror(int rc);

#endif
