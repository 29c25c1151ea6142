/* err.c — descriptions of the error codes in err.h. */
#include "util/err.h"

const char *rp_strerror(int rc)
{
	switch (rc) {
	case RP_OK: return "ok";
	case RP_ERR_IO: return "input/output error";
	case RP_ERR_NOSPC: return "no space left";
	case RP_ERR_CORRUPT: return "data is corrupt";
	case RP_ERR_NOMEM: return "out of memory";
	case RP_ERR_INVALID: return "invalid argument";
	case RP_ERR_NOTFOUND: return "not found";
	case RP_ERR_EXISTS: return "already exists";
	case RP_ERR_BUSY: return "queue full, retry later";
	case RP_ERR_FSYNC: return "sync failed (fatal: stop the node)";
	case RP_ERR_CLOSED: return "failed earlier or closed";
	case RP_ERR_CANCELED: return "canceled";
	default: return "unknown error";
	}
}
