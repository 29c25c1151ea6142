/*
 * idle_poll.h — how long the event loop keeps polling before it sleeps.
 *
 * A loop with nothing to do blocks in the kernel, and the CPU it ran on
 * may go idle; the next message then waits for that CPU to wake up.  On a
 * virtual machine whose idle vCPUs halt, or on a machine in a deep sleep
 * state, a wake-up costs tens of microseconds, and one replicated write
 * crosses several (the request, the log writer's answer, a follower's
 * acknowledgement, on every node it touches).  So for --idle-poll-us after
 * each loop turn that handled a message, the loop polls without blocking,
 * giving its CPU to any other runnable thread on every empty turn; once
 * the window passes with nothing new it blocks again.  An idle node sleeps:
 * the windows follow its own traffic only.
 *
 * This file is the decision alone (no libuv), so it can be tested on its
 * own; server.c runs it from a check hook after every poll.
 */
#ifndef RASPUTIN_SERVER_IDLE_POLL_H
#define RASPUTIN_SERVER_IDLE_POLL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint64_t window_ns; /* 0: never poll, always block */
	uint64_t seen;	    /* the activity count at the previous turn */
	uint64_t last_ns;   /* when the count last moved */
	bool polling;	    /* the next wait does not block */
	bool quiet;	    /* polling, and the last turn found nothing new */
	uint64_t windows;   /* times polling began (after a blocking wait) */
	uint64_t catches;   /* turns that found news after an empty one: a
			     * blocking wait would have slept through its arrival */
	uint64_t turns;	    /* waits that did not block because of the window
			     * (counted by the caller, which runs them) */
} idle_poll;

void idle_poll_init(idle_poll *p, uint32_t window_us);

/* After a loop turn's IO.  activity is a running count of the messages the
 * node handled (client reads, peer frames, log rounds made durable);
 * now_ns a monotonic clock.  Returns whether the next wait must not block
 * (p->polling); p->quiet says whether to yield the CPU before it. */
bool idle_poll_turn(idle_poll *p, uint64_t activity, uint64_t now_ns);

#endif
