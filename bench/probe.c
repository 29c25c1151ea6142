/*
 * probe — the two physical references of the single-client write latency
 * target in bench/run.py, measured on this machine in the same run:
 *
 *   probe fsync DIR COUNT   COUNT times: append 100 bytes to a new file in DIR
 *                           and fdatasync it (the file grows, as a log does);
 *                           then COUNT overwrites of 100 bytes + fdatasync in a
 *                           file of zeros written and synced beforehand; then
 *                           the same overwrites by three processes at once,
 *                           each on its own file (as three nodes' logs on one
 *                           disk: fsync_overwrite_x3, all their samples)
 *   probe rtt COUNT         COUNT ping-pongs of 100 bytes over loopback TCP
 *                           between two processes (TCP_NODELAY, blocking), as
 *                           between two nodes on one machine
 *   probe commit DIR COUNT  what a 3-node commit costs on this disk with no
 *                           server software in the way: COUNT rounds in which
 *                           a "leader" process sends 100 bytes over loopback
 *                           TCP to two "follower" processes, then overwrites
 *                           100 bytes + fdatasync in its own file; each
 *                           follower writes what has arrived to its own file
 *                           with one fdatasync (group commit) and acks each
 *                           round in it.  A round ends when the leader's sync
 *                           and the first ack are done (a majority is
 *                           durable); the next starts at once, so the slower
 *                           follower's sync overlaps it, as in a cluster
 *
 * Output, one line per measurement (nearest-rank percentiles):
 *   RESULT probe=fsync_append n=2000 p50_us=180.2 p99_us=900.1 avg_us=210.0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { REC = 100 };

static void die(const char *what)
{
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *ns, long n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += (double)ns[i];
	long i50 = (n + 1) / 2 - 1, i99 = (long)((double)n * 0.99 + 0.999999999) - 1;
	printf("RESULT probe=%s n=%ld p50_us=%.1f p99_us=%.1f avg_us=%.1f\n", name, n,
	       (double)ns[i50] / 1e3, (double)ns[i99] / 1e3, sum / (double)n / 1e3);
	fflush(stdout);
}

static void write_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("pwrite");
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
}

/* A file of `size` zeros, written and synced: what a log segment is. */
static int zeroed_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	char *zeros = calloc(1, size);
	if (!zeros)
		die("calloc");
	write_all(fd, zeros, size, 0);
	free(zeros);
	if (fsync(fd) < 0)
		die("fsync");
	return fd;
}

static void read_all(int fd, char *p, size_t n);
static void send_all(int fd, const char *p, size_t n);

/* count writes of 100 bytes at offsets 0, 100, ... each followed by an
 * fdatasync; ns[i] = how long write i and its fdatasync took. */
static void timed_syncs(int fd, uint64_t *ns, long count)
{
	char rec[REC];
	memset(rec, 'x', sizeof(rec));
	for (long i = 0; i < count; i++) {
		uint64_t t = now_ns();
		write_all(fd, rec, sizeof(rec), (off_t)(i * REC));
		if (fdatasync(fd) < 0)
			die("fdatasync");
		ns[i] = now_ns() - t;
	}
}

/* Three writers at once, started together through a pipe. */
static void probe_fsync_x3(const char *dir, long count)
{
	enum { WRITERS = 3 };
	int go[2];
	int back[WRITERS][2];
	pid_t kids[WRITERS];
	if (pipe(go) < 0)
		die("pipe");
	for (int k = 0; k < WRITERS; k++) {
		if (pipe(back[k]) < 0)
			die("pipe");
		kids[k] = fork();
		if (kids[k] < 0)
			die("fork");
		if (kids[k] == 0) {
			close(go[1]);
			char path[4096], c;
			snprintf(path, sizeof(path), "%s/probe-x3.%d.%d", dir, (int)getppid(), k);
			int fd = zeroed_file(path, (size_t)count * REC);
			uint64_t *ns = malloc(sizeof(uint64_t) * (size_t)count);
			if (!ns)
				die("malloc");
			read_all(go[0], &c, 1);
			timed_syncs(fd, ns, count);
			close(fd);
			unlink(path);
			send_all(back[k][1], (const char *)ns, sizeof(uint64_t) * (size_t)count);
			_exit(0);
		}
		close(back[k][1]);
	}
	close(go[0]);
	usleep(200 * 1000); /* every writer has its file */
	char start[WRITERS] = {0};
	if (write(go[1], start, sizeof(start)) != (ssize_t)sizeof(start))
		die("write");
	close(go[1]);
	uint64_t *all = malloc(sizeof(uint64_t) * (size_t)count * WRITERS);
	if (!all)
		die("malloc");
	for (int k = 0; k < WRITERS; k++) {
		read_all(back[k][0], (char *)(all + (size_t)k * (size_t)count),
			 sizeof(uint64_t) * (size_t)count);
		close(back[k][0]);
		waitpid(kids[k], NULL, 0);
	}
	report("fsync_overwrite_x3", all, count * WRITERS);
	free(all);
}

static void probe_fsync(const char *dir, long count)
{
	char path[4096];
	uint64_t *ns = malloc(sizeof(uint64_t) * (size_t)count);
	if (!ns)
		die("malloc");

	snprintf(path, sizeof(path), "%s/probe-append.%d", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	timed_syncs(fd, ns, count);
	close(fd);
	unlink(path);
	report("fsync_append", ns, count);

	snprintf(path, sizeof(path), "%s/probe-overwrite.%d", dir, (int)getpid());
	fd = zeroed_file(path, (size_t)count * REC);
	timed_syncs(fd, ns, count);
	close(fd);
	unlink(path);
	report("fsync_overwrite", ns, count);
	free(ns);
	probe_fsync_x3(dir, count);
}

static void read_all(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read");
		p += r;
		n -= (size_t)r;
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static int listen_fd;
static long rtt_count;

static void echo_server(void)
{
	int fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		die("accept");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	char b[REC];
	for (long i = 0; i < rtt_count + 100; i++) {
		read_all(fd, b, sizeof(b));
		send_all(fd, b, sizeof(b));
	}
	close(fd);
}

static void probe_rtt(long count)
{
	rtt_count = count;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listen_fd, 1) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &al) < 0)
		die("bind");
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		echo_server();
		_exit(0);
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uint64_t *ns = malloc(sizeof(uint64_t) * (size_t)count);
	if (!ns)
		die("malloc");
	char b[REC];
	memset(b, 'x', sizeof(b));
	for (long i = 0; i < count + 100; i++) {
		uint64_t t = now_ns();
		send_all(fd, b, sizeof(b));
		read_all(fd, b, sizeof(b));
		if (i >= 100) /* the first 100 warm up */
			ns[i - 100] = now_ns() - t;
	}
	close(fd);
	waitpid(child, NULL, 0);
	close(listen_fd);
	report("rtt", ns, count);
	free(ns);
}

/* A loopback TCP connection pair: *a and *b, TCP_NODELAY both. */
static void tcp_pair(int *a, int *b)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
		die("bind");
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	*b = accept(l, NULL, NULL);
	if (*b < 0)
		die("accept");
	close(l);
	int one = 1;
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Group commit, as a node's log does: everything that has arrived goes to
 * the file with one write and one fdatasync, then one ack per round. */
static void commit_follower(int fd, const char *path, long count)
{
	enum { MAX_BATCH = 64 };
	int file = zeroed_file(path, (size_t)count * REC);
	static char buf[MAX_BATCH * REC];
	size_t have = 0;
	long done = 0;
	while (done < count) {
		ssize_t r = recv(fd, buf + have, sizeof(buf) - have, have < REC ? 0 : MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			r = 0;
		else if (r < 0 && errno == EINTR)
			continue;
		else if (r <= 0)
			die("recv");
		have += (size_t)r;
		if (have < REC)
			continue;
		size_t rounds = have / REC, bytes = rounds * REC;
		write_all(file, buf, bytes, (off_t)(done * REC));
		if (fdatasync(file) < 0)
			die("fdatasync");
		send_all(fd, buf, bytes); /* one ack per round */
		done += (long)rounds;
		memmove(buf, buf + bytes, have - bytes);
		have -= bytes;
	}
	close(file);
	unlink(path);
}

/* Reads acks from either follower until one for round `want` arrives;
 * acks of earlier rounds (the slower follower's) are passed over. */
static void await_ack(const int fds[2], long want, long next[2])
{
	for (;;) {
		for (int k = 0; k < 2; k++) {
			if (next[k] > want)
				return; /* already read */
		}
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(fds[0], &rs);
		FD_SET(fds[1], &rs);
		if (select((fds[0] > fds[1] ? fds[0] : fds[1]) + 1, &rs, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("select");
		}
		for (int k = 0; k < 2; k++) {
			if (FD_ISSET(fds[k], &rs)) {
				char rec[REC];
				read_all(fds[k], rec, sizeof(rec));
				next[k]++;
			}
		}
	}
}

static void probe_commit(const char *dir, long count)
{
	int lead[2], fol[2];
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		tcp_pair(&lead[k], &fol[k]);
		kids[k] = fork();
		if (kids[k] < 0)
			die("fork");
		if (kids[k] == 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/probe-commit.%d.%d", dir, (int)getppid(), k);
			commit_follower(fol[k], path, count);
			_exit(0);
		}
		close(fol[k]);
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/probe-commit.%d.leader", dir, (int)getpid());
	int file = zeroed_file(path, (size_t)count * REC);
	usleep(200 * 1000); /* every follower has its file */
	uint64_t *ns = malloc(sizeof(uint64_t) * (size_t)count);
	if (!ns)
		die("malloc");
	long next[2] = {0, 0};
	char rec[REC];
	memset(rec, 'x', sizeof(rec));
	for (long i = 0; i < count; i++) {
		uint64_t t = now_ns();
		send_all(lead[0], rec, sizeof(rec));
		send_all(lead[1], rec, sizeof(rec));
		write_all(file, rec, sizeof(rec), (off_t)(i * REC));
		if (fdatasync(file) < 0)
			die("fdatasync");
		await_ack(lead, i, next);
		ns[i] = now_ns() - t;
	}
	await_ack(lead, count - 1, next); /* the slower follower's last acks */
	for (int k = 0; k < 2; k++) {
		while (next[k] < count) {
			read_all(lead[k], rec, sizeof(rec));
			next[k]++;
		}
		close(lead[k]);
		waitpid(kids[k], NULL, 0);
	}
	close(file);
	unlink(path);
	report("commit_floor", ns, count);
	free(ns);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "commit") == 0) {
		probe_commit(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1000);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "fsync") == 0) {
		probe_fsync(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1000);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "rtt") == 0) {
		probe_rtt(atol(argv[2]) > 0 ? atol(argv[2]) : 10000);
		return 0;
	}
	fprintf(stderr, "usage: probe fsync DIR COUNT | probe rtt COUNT | probe commit DIR COUNT\n");
	return 2;
}
