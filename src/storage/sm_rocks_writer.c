/*
 * sm_rocks_writer.c — see sm_rocks_writer.h.
 *
 * A mutex and a condition variable: submit sets the batch and wakes the
 * thread; the thread writes it, clears it and wakes a waiter.  The batch
 * and the target are read by the thread only between those two points,
 * which is all the caller promises to leave them alone for.
 */
#define _POSIX_C_SOURCE 200809L

#include "storage/sm_rocks_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/check.h"
#include "util/err.h"

struct sm_rocks_writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the batch came, or went */
	rocksdb_writebatch_t *wb;
	/* under mu */
	const sm_overlay *batch; /* NULL when idle */
	sm_rocks_target target;
	char *err; /* the last write's failure, until polled */
	bool failed; /* a write failed, ever */
	bool stop;
	uint64_t submitted, written;
};

typedef struct {
	rocksdb_writebatch_t *wb;
	const sm_rocks_target *t;
} write_ctx;

static int add_fn(void *ctx, uint8_t cf, const uint8_t *key, size_t key_size,
		  const uint8_t *value, size_t value_size, bool del)
{
	write_ctx *c = ctx;
	RP_CHECK(cf < 2);
	if (del)
		rocksdb_writebatch_delete_cf(c->wb, c->t->cf[cf], (const char *)key, key_size);
	else
		rocksdb_writebatch_put_cf(c->wb, c->t->cf[cf], (const char *)key, key_size,
					  (const char *)value, value_size);
	return 0;
}

char *sm_rocks_write_overlay(const sm_rocks_target *t, rocksdb_writebatch_t *wb,
			     const sm_overlay *ov)
{
	if (sm_overlay_keys(ov) == 0)
		return NULL;
	write_ctx c = {wb, t};
	(void)sm_overlay_each(ov, add_fn, &c);
	char *err = NULL;
	rocksdb_write(t->db, t->wopts, wb, &err);
	rocksdb_writebatch_clear(wb);
	return err;
}

static void *writer_main(void *arg)
{
	sm_rocks_writer *w = arg;
	/* The library's per-thread perf counters off here too
	 * (sm_rocks.c, rocks_prepare). */
	rocksdb_set_perf_level(rocksdb_disable);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->batch == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->batch == NULL)
			break; /* stopped, nothing in hand */
		const sm_overlay *ov = w->batch;
		sm_rocks_target t = w->target;
		pthread_mutex_unlock(&w->mu);
		char *err = sm_rocks_write_overlay(&t, w->wb, ov);
		pthread_mutex_lock(&w->mu);
		if (err != NULL && w->err == NULL)
			w->err = err;
		else if (err != NULL)
			rocksdb_free(err); /* the first failure is the one to tell */
		w->failed |= err != NULL;
		w->batch = NULL;
		w->written++;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int sm_rocks_writer_start(sm_rocks_writer **out)
{
	*out = NULL;
	sm_rocks_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return RP_ERR_NOMEM;
	w->wb = rocksdb_writebatch_create();
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		rocksdb_writebatch_destroy(w->wb);
		free(w);
		return RP_ERR_NOMEM;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		rocksdb_writebatch_destroy(w->wb);
		free(w);
		return RP_ERR_NOMEM;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		rocksdb_writebatch_destroy(w->wb);
		free(w);
		return RP_ERR_IO;
	}
	*out = w;
	return RP_OK;
}

void sm_rocks_writer_submit(sm_rocks_writer *w, const sm_rocks_target *t,
			    const sm_overlay *ov)
{
	pthread_mutex_lock(&w->mu);
	RP_CHECK(w->batch == NULL);
	w->target = *t;
	w->batch = ov;
	w->submitted++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Under mu, idle: hands the failure over. */
static void take_err(sm_rocks_writer *w, char **err)
{
	*err = w->err;
	w->err = NULL;
}

bool sm_rocks_writer_poll(sm_rocks_writer *w, char **err)
{
	*err = NULL;
	pthread_mutex_lock(&w->mu);
	bool idle = w->batch == NULL;
	if (idle)
		take_err(w, err);
	pthread_mutex_unlock(&w->mu);
	return idle;
}

void sm_rocks_writer_wait(sm_rocks_writer *w, char **err)
{
	pthread_mutex_lock(&w->mu);
	while (w->batch != NULL)
		pthread_cond_wait(&w->cv, &w->mu);
	take_err(w, err);
	pthread_mutex_unlock(&w->mu);
}

uint64_t sm_rocks_writer_submitted(sm_rocks_writer *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t n = w->submitted;
	pthread_mutex_unlock(&w->mu);
	return n;
}

int sm_rocks_writer_wait_written(sm_rocks_writer *w, uint64_t n, const atomic_bool *cancel)
{
	int rc = RP_OK;
	pthread_mutex_lock(&w->mu);
	while (w->written < n && !w->failed) {
		if (atomic_load(cancel)) {
			rc = RP_ERR_CANCELED;
			break;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 10 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&w->cv, &w->mu, &until);
	}
	if (rc == RP_OK && w->written < n)
		rc = RP_ERR_IO; /* failed: the message waits for poll or wait */
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void sm_rocks_writer_stop(sm_rocks_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	if (w->err != NULL)
		rocksdb_free(w->err);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	rocksdb_writebatch_destroy(w->wb);
	free(w);
}
