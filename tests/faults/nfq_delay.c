/* nfq_delay — hold every packet of one NFQUEUE queue for a fixed time (plus
 * optional uniform jitter), then let it go.  It stands in for `tc netem
 * delay`, which this kernel does not have.
 *
 *   nfq_delay --queue N --delay-ms D [--jitter-ms J] [--seed S] [--max-held M]
 *
 * The fault harness (tests/faults/netns.py) delays node i's peer packets by
 * running one of these in every other node's network namespace (NFQUEUE
 * queues belong to a namespace), on queue i, fed by a rule on the receiving
 * side:
 *
 *   iptables -A RPF-DELAY -s <node i> -p tcp -m multiport --ports 7101 \
 *            -j NFQUEUE --queue-num i --queue-bypass
 *
 * (On the receiving side because a packet held in the sender's OUTPUT still
 * counts against its socket, and TCP small queues and autocorking then hold
 * back the sender's next segments: the delay grows beyond what was asked.)
 *
 * How it works: the kernel keeps each queued packet and tells us its id
 * (metadata only, NFQNL_COPY_META: the payload is never copied).  We note
 * when it is due and give the ACCEPT verdict at that time; until then the
 * packet waits in the kernel's queue.  Due times never decrease, so packets
 * leave in the order they came (jitter spreads the gaps but does not
 * reorder, unlike netem's default).
 *
 * When the queue is full (--max-held, default 65536) the kernel drops new
 * packets, as netem does past its limit; TCP retransmits them.
 *
 * On SIGTERM or SIGINT every held packet is accepted at once and the program
 * exits 0, so healing a delay loses nothing.  If the program dies some other
 * way the kernel drops what it was holding and, thanks to --queue-bypass,
 * lets later packets through undelayed.
 *
 * Prints "ready queue=N" on stdout (flushed) once the queue is bound, and
 * one line of counters on stderr at exit.  Exit status: 0 after a signal,
 * 1 on a netlink failure, 2 on bad arguments. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

struct held {
	uint32_t id;
	int64_t due_ns;
};

/* A FIFO of held packets: due times are non-decreasing along it. */
static struct held *ring;
static size_t ring_cap, ring_head, ring_len;

static int64_t delay_ns, jitter_ns, last_due_ns;
static uint64_t prng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t n_held, n_max_held, n_enobufs, n_verdict_err;
static volatile sig_atomic_t stop_flag;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

/* xorshift64*: a small PRNG, good enough to spread jitter. */
static uint64_t prng_next(void)
{
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return prng_state * 2685821657736338717ULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int ring_push(uint32_t id, int64_t due)
{
	if (ring_len == ring_cap) {
		size_t ncap = ring_cap ? ring_cap * 2 : 1024;
		struct held *n = malloc(ncap * sizeof *n);
		if (n == NULL)
			return -1;
		for (size_t k = 0; k < ring_len; k++)
			n[k] = ring[(ring_head + k) % ring_cap];
		free(ring);
		ring = n;
		ring_cap = ncap;
		ring_head = 0;
	}
	ring[(ring_head + ring_len) % ring_cap] = (struct held){id, due};
	ring_len++;
	return 0;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	(void)msg;
	(void)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (ph == NULL)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	int64_t due = now_ns() + delay_ns;
	if (jitter_ns > 0) {
		uint64_t span = (uint64_t)(2 * jitter_ns + 1);
		due += (int64_t)(prng_next() % span) - jitter_ns;
	}
	if (due < last_due_ns)
		due = last_due_ns; /* never reorder */
	last_due_ns = due;
	if (ring_push(id, due) != 0) {
		/* Out of memory: let it go now rather than lose track of it. */
		nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
		return 0;
	}
	n_held++;
	if (ring_len > n_max_held)
		n_max_held = ring_len;
	return 0;
}

/* Accepts every held packet due by `now` (all of them if now < 0). */
static void release(struct nfq_q_handle *qh, int64_t now)
{
	while (ring_len > 0) {
		struct held *h = &ring[ring_head];
		if (now >= 0 && h->due_ns > now)
			break;
		if (nfq_set_verdict(qh, h->id, NF_ACCEPT, 0, NULL) < 0)
			n_verdict_err++;
		ring_head = (ring_head + 1) % ring_cap;
		ring_len--;
	}
}

static int parse_num(const char *flag, const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "nfq_delay: %s: '%s' is not a number in %ld..%ld\n", flag, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nfq_delay --queue N --delay-ms D [--jitter-ms J] [--seed S] [--max-held M]\n"
	           "Holds each packet of NFQUEUE queue N for D ms (+/- J ms, uniform, never\n"
	           "reordering), then accepts it.  SIGTERM/SIGINT accept everything held and exit.\n");
}

int main(int argc, char **argv)
{
	long queue = -1, delay_ms = -1, jitter_ms = 0, seed = 1, max_held = 65536;
	for (int a = 1; a < argc; a++) {
		const char *f = argv[a];
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (a + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		const char *v = argv[++a];
		int rc;
		if (strcmp(f, "--queue") == 0)
			rc = parse_num(f, v, 0, 65535, &queue);
		else if (strcmp(f, "--delay-ms") == 0)
			rc = parse_num(f, v, 0, 600000, &delay_ms);
		else if (strcmp(f, "--jitter-ms") == 0)
			rc = parse_num(f, v, 0, 600000, &jitter_ms);
		else if (strcmp(f, "--seed") == 0)
			rc = parse_num(f, v, 0, LONG_MAX, &seed);
		else if (strcmp(f, "--max-held") == 0)
			rc = parse_num(f, v, 1, 1000000, &max_held);
		else {
			fprintf(stderr, "nfq_delay: unknown option '%s'\n", f);
			usage(stderr);
			return 2;
		}
		if (rc != 0)
			return 2;
	}
	if (queue < 0 || delay_ms < 0) {
		usage(stderr);
		return 2;
	}
	if (jitter_ms > delay_ms)
		jitter_ms = delay_ms; /* a packet is never due before it arrived */
	delay_ns = delay_ms * 1000000LL;
	jitter_ns = jitter_ms * 1000000LL;
	prng_state ^= (uint64_t)seed * 0x2545f4914f6cdd1dULL;
	if (prng_state == 0)
		prng_state = 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct nfq_handle *h = nfq_open();
	if (h == NULL) {
		fprintf(stderr, "nfq_delay: nfq_open: %s\n", strerror(errno));
		return 1;
	}
	struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
	if (qh == NULL) {
		fprintf(stderr, "nfq_delay: cannot bind queue %ld: %s\n", queue, strerror(errno));
		nfq_close(h);
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
		fprintf(stderr, "nfq_delay: nfq_set_mode: %s\n", strerror(errno));
		nfq_destroy_queue(qh);
		nfq_close(h);
		return 1;
	}
	nfq_set_queue_maxlen(qh, (uint32_t)max_held);
	int fd = nfq_fd(h);
	/* Room for bursts of queue notifications; running out costs ENOBUFS
	 * (those packets stay queued in the kernel but we never learn their id,
	 * so they are dropped when the queue is destroyed). */
	int rcvbuf = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	printf("ready queue=%ld delay_ms=%ld jitter_ms=%ld\n", queue, delay_ms, jitter_ms);
	fflush(stdout);

	static char buf[65536] __attribute__((aligned(8)));
	int status = 0;
	while (!stop_flag) {
		int timeout = 200; /* wake now and then to notice a signal */
		if (ring_len > 0) {
			int64_t wait_ns = ring[ring_head].due_ns - now_ns();
			if (wait_ns <= 0)
				timeout = 0;
			else if (wait_ns / 1000000 + 1 < timeout)
				timeout = (int)(wait_ns / 1000000 + 1);
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, timeout);
		if (pr < 0 && errno != EINTR) {
			fprintf(stderr, "nfq_delay: poll: %s\n", strerror(errno));
			status = 1;
			break;
		}
		if (pr > 0) {
			for (;;) {
				ssize_t n = recv(fd, buf, sizeof buf, 0);
				if (n < 0) {
					if (errno == ENOBUFS) {
						n_enobufs++;
						continue;
					}
					if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
						break;
					fprintf(stderr, "nfq_delay: recv: %s\n", strerror(errno));
					status = 1;
					break;
				}
				if (n == 0)
					break;
				nfq_handle_packet(h, buf, (int)n);
			}
			if (status != 0)
				break;
		}
		release(qh, now_ns());
	}
	release(qh, -1);
	fprintf(stderr, "nfq_delay: queue=%ld held=%llu max_held=%llu enobufs=%llu verdict_errors=%llu\n", queue,
	        (unsigned long long)n_held, (unsigned long long)n_max_held, (unsigned long long)n_enobufs,
	        (unsigned long long)n_verdict_err);
	nfq_destroy_queue(qh);
	nfq_close(h);
	free(ring);
	return status;
}
