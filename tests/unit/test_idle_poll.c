/*
 * test_idle_poll.c — the loop's polling window on its own: off means
 * always block; news opens a window and counts it; empty turns inside it
 * ask for a yield; news found after an empty turn counts as a catch; the
 * window closes once it passes with nothing new, and reopens (a new
 * window, not a catch) on the next news; and a node that hears nothing
 * never polls.
 */
#include "server/idle_poll.h"
#include "test.h"

#define US 1000u /* ns */

TEST(off_means_every_wait_blocks)
{
	idle_poll p;
	idle_poll_init(&p, 0);
	for (uint64_t i = 1; i <= 100; i++)
		CHECK(!idle_poll_turn(&p, i, i * US));
	CHECK_EQ(p.windows, 0);
	CHECK_EQ(p.catches, 0);
}

TEST(news_opens_a_window_that_closes_when_it_passes_empty)
{
	idle_poll p;
	idle_poll_init(&p, 200);
	CHECK(!idle_poll_turn(&p, 0, 1000 * US)); /* nothing yet: block */
	CHECK(idle_poll_turn(&p, 1, 1000 * US));  /* a message: poll */
	CHECK(!p.quiet);
	CHECK_EQ(p.windows, 1);
	CHECK(idle_poll_turn(&p, 1, 1001 * US)); /* empty: poll, yielding */
	CHECK(p.quiet);
	CHECK(idle_poll_turn(&p, 1, 1199 * US));
	CHECK(!idle_poll_turn(&p, 1, 1200 * US)); /* 200 us empty: block */
	CHECK_EQ(p.windows, 1);
	CHECK_EQ(p.catches, 0);
	/* Woken from a blocking wait: a new window, not a catch. */
	CHECK(idle_poll_turn(&p, 2, 5000 * US));
	CHECK_EQ(p.windows, 2);
	CHECK_EQ(p.catches, 0);
}

TEST(news_after_an_empty_turn_is_a_catch_and_restarts_the_window)
{
	idle_poll p;
	idle_poll_init(&p, 200);
	CHECK(idle_poll_turn(&p, 1, 0));
	CHECK(idle_poll_turn(&p, 1, 150 * US)); /* empty */
	CHECK(idle_poll_turn(&p, 4, 190 * US)); /* three messages at once */
	CHECK_EQ(p.catches, 1);
	CHECK(!p.quiet);
	/* The window runs from the newest message: still polling at 389. */
	CHECK(idle_poll_turn(&p, 4, 389 * US));
	CHECK(!idle_poll_turn(&p, 4, 390 * US));
	CHECK_EQ(p.windows, 1);
}

TEST(busy_turns_never_yield_and_never_count_catches)
{
	idle_poll p;
	idle_poll_init(&p, 50);
	/* Every turn has news, as under a heavy load. */
	for (uint64_t i = 1; i <= 1000; i++) {
		CHECK(idle_poll_turn(&p, i, i * 300 * US));
		CHECK(!p.quiet);
	}
	CHECK_EQ(p.windows, 1);
	CHECK_EQ(p.catches, 0);
}

TEST(a_node_that_hears_nothing_never_polls)
{
	idle_poll p;
	idle_poll_init(&p, 10000);
	for (uint64_t t = 0; t < 100000; t += 7)
		CHECK(!idle_poll_turn(&p, 0, t * US));
	CHECK_EQ(p.windows, 0);
}

TEST_MAIN()
