/*
 * rpload — a small load generator for servers that speak RESP (rasputin,
 * Redis), used by bench/run.py where redis-benchmark cannot do the job: the
 * 90/10 read/write mix, and the pipelined loader of the memory test.
 *
 *   rpload [options] -t set|get|cas|evalcas|mix|load
 *
 *   -h HOST  -p PORT     the server (127.0.0.1:6379)
 *   -c N                 connections (1); each has one request outstanding,
 *                        except -t load, which keeps -P requests in flight
 *   -n N                 requests in total (load: keys to write) (10000)
 *   -r N                 key space: keys PREFIX000000000000 .. (10000)
 *   -d N                 value size in bytes (100)
 *   -x                   SET values are all 'x' (default: random printable
 *                        bytes, fresh for every request, as redis-benchmark
 *                        writes; they do not compress)
 *   -k PREFIX            key prefix ("key:")
 *   -R PCT               mix: percentage of GETs, the rest SETs (90)
 *   -P N                 load: pipeline depth per connection (32)
 *   -s SEED              random seed (1)
 *   -T SECONDS           give up when no reply arrives for this long (60)
 *   -D SECONDS           stop sending after this long even if -n is not reached
 *                        (the memory soak; n in the output is what was done)
 *
 * cas sends CAS key V V, V all 'x' (rasputin's command; V is the value every key holds
 * after the preload, so every swap succeeds); evalcas does the same
 * compare-and-set with a Lua script, for Redis.  load writes keys 0..n-1 in
 * order and resends a key whose SET got an error reply (-BUSY etc.).
 *
 * Output, one line on stdout (latencies from sending a request to its
 * complete reply; nearest-rank percentiles):
 *   RESULT op=mix clients=16 n=100000 errors=0 secs=2.1 ops_s=47000 p50_ms=0.3 p99_ms=1.2 avg_ms=0.33
 * An error reply is counted in errors (and not in n); the first one is
 * printed on stderr.  The exit status is 1 when the run could not finish.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { OP_SET, OP_GET, OP_CAS, OP_EVALCAS, OP_MIX, OP_LOAD };

static const char *const op_names[] = {"set", "get", "cas", "evalcas", "mix", "load"};

static const char CAS_SCRIPT[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then redis.call('set',KEYS[1],ARGV[2]) return 1 "
    "else return 0 end";

typedef struct {
	const char *host;
	const char *port;
	int conns;
	long n;
	long keys;
	int value_size;
	bool fixed_values;
	const char *prefix;
	int read_pct;
	int pipeline;
	uint64_t seed;
	int timeout_s;
	int duration_s;
	int op;
} options;

typedef struct {
	char *p;
	size_t len, cap;
} buf;

typedef struct {
	int fd;
	buf out;       /* bytes not yet written */
	size_t out_off;
	buf in;        /* bytes read, not yet parsed */
	long *fifo;    /* key index of each request in flight (load) */
	uint64_t *sent_ns;
	int head, count;
	bool want_out; /* registered for EPOLLOUT */
} conn;

static options opt;
static char *value;  /* all 'x': CAS, and SET with -x */
static char *rvalue; /* SET's value without -x, refilled per request */
static uint64_t rng_state;
static uint64_t *lat_ns;
static long lat_count, lat_cap, errors, issued, acked;
static long *retry;
static long retry_count;
static char first_error[256];

static void die(const char *what)
{
	fprintf(stderr, "rpload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "rpload: out of memory\n");
		exit(1);
	}
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void buf_reserve(buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		fprintf(stderr, "rpload: out of memory\n");
		exit(1);
	}
	b->p = p;
	b->cap = cap;
}

static void fill_random(char *p, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t r = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % 10 == 0)
			r = rnd();
		p[i] = alphabet[r & 63];
		r >>= 6;
	}
}

static void buf_add(buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void add_bulk(buf *b, const char *s, size_t n)
{
	char hdr[32];
	int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
	buf_add(b, hdr, (size_t)h);
	buf_add(b, s, n);
	buf_add(b, "\r\n", 2);
}

static void add_count(buf *b, int n)
{
	char hdr[32];
	int h = snprintf(hdr, sizeof(hdr), "*%d\r\n", n);
	buf_add(b, hdr, (size_t)h);
}

/* Appends one request for key index k to b. */
static void encode(buf *b, int op, long k)
{
	char key[128];
	int kl = snprintf(key, sizeof(key), "%s%012ld", opt.prefix, k);
	size_t vl = (size_t)opt.value_size;
	switch (op) {
	case OP_GET:
		add_count(b, 2);
		add_bulk(b, "GET", 3);
		add_bulk(b, key, (size_t)kl);
		break;
	case OP_CAS:
		add_count(b, 4);
		add_bulk(b, "CAS", 3);
		add_bulk(b, key, (size_t)kl);
		add_bulk(b, value, vl);
		add_bulk(b, value, vl);
		break;
	case OP_EVALCAS:
		add_count(b, 6);
		add_bulk(b, "EVAL", 4);
		add_bulk(b, CAS_SCRIPT, sizeof(CAS_SCRIPT) - 1);
		add_bulk(b, "1", 1);
		add_bulk(b, key, (size_t)kl);
		add_bulk(b, value, vl);
		add_bulk(b, value, vl);
		break;
	default: /* SET, and the loader's SET */
		add_count(b, 3);
		add_bulk(b, "SET", 3);
		add_bulk(b, key, (size_t)kl);
		if (opt.fixed_values) {
			add_bulk(b, value, vl);
		} else {
			fill_random(rvalue, vl);
			add_bulk(b, rvalue, vl);
		}
		break;
	}
}

/*
 * Length of the complete reply at the start of p[0..len), 0 if more bytes
 * are needed, -1 if the bytes are not RESP.
 */
static long reply_len(const char *p, size_t len)
{
	if (len < 3)
		return 0;
	const char *nl = memchr(p, '\n', len);
	if (!nl)
		return 0;
	long line = (long)(nl - p) + 1;
	char *end;
	long v;
	switch (p[0]) {
	case '+':
	case '-':
	case ':':
	case '_':
	case ',':
	case '#':
	case '(':
		return line;
	case '$':
	case '=':
	case '!':
		v = strtol(p + 1, &end, 10);
		if (v < 0)
			return line;
		if ((size_t)line + (size_t)v + 2 > len)
			return 0;
		return line + v + 2;
	case '*':
	case '~':
	case '>':
	case '%': {
		v = strtol(p + 1, &end, 10);
		if (v < 0)
			return line;
		if (p[0] == '%')
			v *= 2;
		long off = line;
		for (long i = 0; i < v; i++) {
			long r = reply_len(p + off, len - (size_t)off);
			if (r <= 0)
				return r;
			off += r;
		}
		return off;
	}
	default:
		return -1;
	}
}

static int pick_op(void)
{
	if (opt.op != OP_MIX)
		return opt.op;
	return (int)(rnd() % 100) < opt.read_pct ? OP_GET : OP_SET;
}

static void watch_out(conn *c, int ep, bool on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl");
	c->want_out = on;
}

static void flush_out(conn *c, int ep)
{
	while (c->out_off < c->out.len) {
		ssize_t w = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				watch_out(c, ep, true);
				return;
			}
			die("write");
		}
		c->out_off += (size_t)w;
	}
	c->out.len = 0;
	c->out_off = 0;
	watch_out(c, ep, false);
}

/* Queues requests on c while it has room and there is work left. */
static void fill(conn *c, int ep)
{
	int depth = opt.op == OP_LOAD ? opt.pipeline : 1;
	bool added = false;
	while (c->count < depth) {
		long k;
		if (opt.op == OP_LOAD) {
			if (retry_count > 0)
				k = retry[--retry_count];
			else if (issued < opt.n)
				k = issued++;
			else
				break;
		} else {
			if (issued >= opt.n)
				break;
			issued++;
			k = (long)(rnd() % (uint64_t)opt.keys);
		}
		encode(&c->out, pick_op(), k);
		int slot = (c->head + c->count) % depth;
		c->fifo[slot] = k;
		c->sent_ns[slot] = now_ns();
		c->count++;
		added = true;
	}
	if (added)
		flush_out(c, ep);
}

static void on_reply(conn *c, const char *p, size_t len)
{
	int depth = opt.op == OP_LOAD ? opt.pipeline : 1;
	if (c->count == 0) {
		fprintf(stderr, "rpload: a reply nobody asked for\n");
		exit(1);
	}
	long k = c->fifo[c->head];
	uint64_t sent = c->sent_ns[c->head];
	c->head = (c->head + 1) % depth;
	c->count--;
	if (p[0] == '-' || p[0] == '!') {
		if (!first_error[0]) {
			size_t n = len < sizeof(first_error) - 1 ? len : sizeof(first_error) - 1;
			memcpy(first_error, p, n);
			while (n > 0 && (first_error[n - 1] == '\n' || first_error[n - 1] == '\r'))
				n--;
			first_error[n] = 0;
		}
		errors++;
		if (opt.op == OP_LOAD)
			retry[retry_count++] = k;
		return;
	}
	acked++;
	if (opt.op == OP_LOAD)
		return;
	if (lat_count == lat_cap) {
		lat_cap = lat_cap ? lat_cap * 2 : 65536;
		lat_ns = realloc(lat_ns, sizeof(uint64_t) * (size_t)lat_cap);
		if (!lat_ns) {
			fprintf(stderr, "rpload: out of memory\n");
			exit(1);
		}
	}
	lat_ns[lat_count++] = now_ns() - sent;
}

static int connect_to(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(opt.host, opt.port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "rpload: %s:%s: %s\n", opt.host, opt.port, gai_strerror(rc));
		exit(1);
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		fprintf(stderr, "rpload: connect %s:%s: %s\n", opt.host, opt.port, strerror(errno));
		exit(1);
	}
	freeaddrinfo(res);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
	if (lat_count == 0)
		return 0;
	long i = (long)((double)lat_count * p + 0.999999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= lat_count)
		i = lat_count - 1;
	return (double)lat_ns[i] / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: rpload [-h host] [-p port] [-c conns] [-n requests] [-r keys] "
	                "[-d value-bytes] [-x] [-k prefix] [-R read-pct] [-P pipeline] [-s seed] "
	                "[-T timeout-s] [-D duration-s] -t set|get|cas|evalcas|mix|load\n");
	exit(2);
}

static long num(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "rpload: '%s' is not a number in %ld..%ld\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	opt = (options){.host = "127.0.0.1", .port = "6379", .conns = 1, .n = 10000,
	                .keys = 10000, .value_size = 100, .prefix = "key:", .read_pct = 90,
	                .pipeline = 32, .seed = 1, .timeout_s = 60, .duration_s = 0, .op = -1};
	int ch;
	while ((ch = getopt(argc, argv, "h:p:c:n:r:d:xk:R:P:s:T:D:t:")) != -1) {
		switch (ch) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'c': opt.conns = (int)num(optarg, 1, 10000); break;
		case 'n': opt.n = num(optarg, 1, 1000000000); break;
		case 'r': opt.keys = num(optarg, 1, 1000000000); break;
		case 'd': opt.value_size = (int)num(optarg, 0, 1 << 20); break;
		case 'x': opt.fixed_values = true; break;
		case 'k': opt.prefix = optarg; break;
		case 'R': opt.read_pct = (int)num(optarg, 0, 100); break;
		case 'P': opt.pipeline = (int)num(optarg, 1, 1000); break;
		case 's': opt.seed = (uint64_t)num(optarg, 0, 1L << 62); break;
		case 'T': opt.timeout_s = (int)num(optarg, 1, 86400); break;
		case 'D': opt.duration_s = (int)num(optarg, 1, 86400 * 30); break;
		case 't':
			for (int i = 0; i < (int)(sizeof(op_names) / sizeof(op_names[0])); i++)
				if (strcmp(optarg, op_names[i]) == 0)
					opt.op = i;
			if (opt.op < 0)
				usage();
			break;
		default: usage();
		}
	}
	if (opt.op < 0 || optind != argc || strlen(opt.prefix) > 64)
		usage();
	rng_state = opt.seed * 0x9E3779B97F4A7C15ull + 1;
	value = xmalloc((size_t)opt.value_size + 1);
	memset(value, 'x', (size_t)opt.value_size);
	value[opt.value_size] = 0;
	rvalue = xmalloc((size_t)opt.value_size + 1);
	if (opt.op == OP_LOAD)
		retry = xmalloc(sizeof(long) * (size_t)opt.conns * (size_t)opt.pipeline);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	int depth = opt.op == OP_LOAD ? opt.pipeline : 1;
	conn *cs = calloc((size_t)opt.conns, sizeof(conn));
	if (!cs)
		die("calloc");
	for (int i = 0; i < opt.conns; i++) {
		cs[i].fd = connect_to();
		cs[i].fifo = xmalloc(sizeof(long) * (size_t)depth);
		cs[i].sent_ns = xmalloc(sizeof(uint64_t) * (size_t)depth);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			die("epoll_ctl");
	}

	uint64_t start = now_ns(), last_progress = start;
	for (int i = 0; i < opt.conns; i++)
		fill(&cs[i], ep);
	struct epoll_event evs[256];
	while (acked < opt.n && (opt.op == OP_LOAD || acked + errors < opt.n)) {
		int ne = epoll_wait(ep, evs, 256, 1000);
		if (ne < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		uint64_t t = now_ns();
		if (opt.duration_s && t - start > (uint64_t)opt.duration_s * 1000000000u && issued < opt.n)
			opt.n = opt.op == OP_LOAD ? acked : issued; /* finish what is in flight */
		if (ne == 0 && t - last_progress > (uint64_t)opt.timeout_s * 1000000000u) {
			fprintf(stderr, "rpload: no reply for %d s (%ld of %ld done)\n", opt.timeout_s,
			        acked, opt.n);
			return 1;
		}
		for (int e = 0; e < ne; e++) {
			conn *c = evs[e].data.ptr;
			if (evs[e].events & EPOLLOUT)
				flush_out(c, ep);
			if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			for (;;) {
				buf_reserve(&c->in, 65536);
				ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && errno == EAGAIN)
					break;
				if (r <= 0) {
					fprintf(stderr, "rpload: the server closed a connection (%s; %ld of %ld done)\n",
					        r < 0 ? strerror(errno) : "EOF", acked, opt.n);
					if (first_error[0])
						fprintf(stderr, "rpload: first error reply: %s\n", first_error);
					return 1;
				}
				c->in.len += (size_t)r;
				if (c->in.len < c->in.cap)
					break;
			}
			size_t off = 0;
			for (;;) {
				long l = reply_len(c->in.p + off, c->in.len - off);
				if (l < 0) {
					fprintf(stderr, "rpload: not a RESP reply\n");
					return 1;
				}
				if (l == 0)
					break;
				on_reply(c, c->in.p + off, (size_t)l);
				off += (size_t)l;
				last_progress = t;
			}
			memmove(c->in.p, c->in.p + off, c->in.len - off);
			c->in.len -= off;
			fill(c, ep);
		}
	}
	double secs = (double)(now_ns() - start) / 1e9;
	if (opt.op == OP_LOAD) {
		printf("RESULT op=load clients=%d n=%ld errors=%ld secs=%.3f ops_s=%.0f\n", opt.conns,
		       acked, errors, secs, (double)acked / secs);
	} else {
		qsort(lat_ns, (size_t)lat_count, sizeof(uint64_t), cmp_u64);
		double sum = 0;
		for (long i = 0; i < lat_count; i++)
			sum += (double)lat_ns[i];
		printf("RESULT op=%s clients=%d n=%ld errors=%ld secs=%.3f ops_s=%.0f p50_ms=%.3f "
		       "p99_ms=%.3f avg_ms=%.3f\n",
		       op_names[opt.op], opt.conns, lat_count, errors, secs, (double)lat_count / secs,
		       pct_ms(0.50), pct_ms(0.99), lat_count ? sum / (double)lat_count / 1e6 : 0.0);
	}
	if (first_error[0])
		fprintf(stderr, "rpload: %ld error replies, first: %s\n", errors, first_error);
	return 0;
}
