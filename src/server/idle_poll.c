/*
 * idle_poll.c — the loop's polling window after each message
 * (idle_poll.h).
 */
#include "server/idle_poll.h"

#include <string.h>

void idle_poll_init(idle_poll *p, uint32_t window_us)
{
	memset(p, 0, sizeof(*p));
	p->window_ns = (uint64_t)window_us * 1000;
}

bool idle_poll_turn(idle_poll *p, uint64_t activity, uint64_t now_ns)
{
	if (p->window_ns == 0)
		return false;
	if (activity != p->seen) {
		p->seen = activity;
		p->last_ns = now_ns;
		if (!p->polling)
			p->windows++;
		else if (p->quiet)
			p->catches++;
		p->polling = true;
		p->quiet = false;
	} else if (p->polling) {
		p->quiet = true;
		if (now_ns - p->last_ns >= p->window_ns)
			p->polling = false;
	}
	return p->polling;
}
