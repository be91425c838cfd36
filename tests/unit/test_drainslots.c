/* test_drainslots.c - criterion tests of the drainer's slots
 * (shim/drainslots.c): its two lists, eviction order, and the timeout the
 * drainer passes to epoll_wait (slots_next_timeout, pure). */
#include <criterion/criterion.h>

#include "drainslots.h"

#define TIME_MS 30000    /* LINGER_TIME's default */
#define TIMEOUT_MS 5000  /* LINGER_TIMEOUT's default */

static struct drain_slots fresh(int32_t capacity)
{
    struct drain_slots d = DRAIN_SLOTS_EMPTY;
    cr_assert_eq(slots_init(&d, capacity), 0, "slots_init(%d)", capacity);
    return d;
}

/* Takes a slot for fd at now. */
static int32_t start(struct drain_slots *d, int32_t fd, uint32_t now)
{
    int32_t i = slots_take(d);
    cr_assert_neq(i, SLOT_NIL, "no free slot for fd %d", fd);
    d->slot[i].fd = fd;
    slots_start(d, i, now);
    return i;
}

Test(drainslots, nothing_lingers_no_timeout)
{
    struct drain_slots d = fresh(4);
    cr_expect_eq(slots_next_timeout(&d, 1000, TIME_MS, TIMEOUT_MS, 0), -1, "no socket, no stats file: wait forever");
    cr_expect_eq(slots_next_timeout(&d, 1000, TIME_MS, TIMEOUT_MS, 1), 1000, "no socket, a stats file: 1 s");
    slots_drop(&d);
}

Test(drainslots, idle_deadline_first)
{
    struct drain_slots d = fresh(4);
    start(&d, 10, 1000);
    cr_expect_eq(slots_next_timeout(&d, 1000, TIME_MS, TIMEOUT_MS, 0), TIMEOUT_MS);
    cr_expect_eq(slots_next_timeout(&d, 3500, TIME_MS, TIMEOUT_MS, 0), 2500);
    cr_expect_eq(slots_next_timeout(&d, 3500, TIME_MS, TIMEOUT_MS, 1), 1000, "capped at 1 s with a stats file");
    slots_drop(&d);
}

Test(drainslots, total_deadline_when_active)
{
    struct drain_slots d = fresh(4);
    int32_t i = start(&d, 10, 0);
    slots_active(&d, i, 28000); /* drained bytes late: the idle deadline moves, the total one does not */
    cr_expect_eq(slots_next_timeout(&d, 28000, TIME_MS, TIMEOUT_MS, 0), 2000);
    slots_drop(&d);
}

/* The benchmark's bug: an overdue deadline is 0 (wake now), never -1
 * (wait forever) nor the 60 s cap. */
Test(drainslots, overdue_is_zero)
{
    struct drain_slots d = fresh(4);
    start(&d, 10, 1000);
    cr_expect_eq(slots_next_timeout(&d, 1000 + TIMEOUT_MS, TIME_MS, TIMEOUT_MS, 0), 0, "due now");
    cr_expect_eq(slots_next_timeout(&d, 1000 + TIMEOUT_MS + 1, TIME_MS, TIMEOUT_MS, 0), 0, "1 ms overdue");
    cr_expect_eq(slots_next_timeout(&d, 1000 + TIMEOUT_MS + 5000, TIME_MS, TIMEOUT_MS, 0), 0, "5 s overdue");
    cr_expect_eq(slots_next_timeout(&d, 1000 + TIME_MS + 1, TIME_MS, TIMEOUT_MS, 1), 0, "overdue, stats file");
    slots_drop(&d);
}

Test(drainslots, long_limits_capped)
{
    struct drain_slots d = fresh(4);
    start(&d, 10, 0);
    cr_expect_eq(slots_next_timeout(&d, 0, 3600000, 3600000, 0), 60000, "at most a minute without a deadline");
    slots_drop(&d);
}

/* The monotonic milliseconds are truncated to 32 bits: a deadline across
 * the wrap is still measured right. */
Test(drainslots, clock_wraps)
{
    struct drain_slots d = fresh(4);
    start(&d, 10, UINT32_MAX - 999);
    cr_expect_eq(slots_next_timeout(&d, 1000, TIME_MS, TIMEOUT_MS, 0), TIMEOUT_MS - 2000);
    slots_drop(&d);
}

Test(drainslots, lists_keep_their_order)
{
    struct drain_slots d = fresh(4);
    int32_t a = start(&d, 10, 100), b = start(&d, 11, 200), c = start(&d, 12, 300);
    cr_expect_eq(d.oldest, a);
    cr_expect_eq(d.idlest, a);
    slots_active(&d, a, 400);
    cr_expect_eq(d.oldest, a, "activity does not change the handover order");
    cr_expect_eq(d.idlest, b, "the least recently active is b now");
    cr_expect_eq(d.busiest, a);
    slots_put(&d, b);
    cr_expect_eq(d.idlest, c);
    cr_expect_eq(d.slot[b].fd, SLOT_NIL, "a put slot is free");
    slots_put(&d, a);
    cr_expect_eq(d.oldest, c);
    cr_expect_eq(d.newest, c);
    slots_put(&d, c);
    cr_expect_eq(d.oldest, SLOT_NIL);
    cr_expect_eq(d.idlest, SLOT_NIL);
    slots_drop(&d);
}

Test(drainslots, full_then_reused)
{
    struct drain_slots d = fresh(2);
    int32_t a = start(&d, 10, 0);
    start(&d, 11, 0);
    cr_expect(slots_full(&d));
    cr_expect_eq(slots_take(&d), SLOT_NIL, "no third slot");
    slots_put(&d, a);
    cr_expect(!slots_full(&d));
    cr_expect_eq(slots_take(&d), a, "the freed slot is taken again");
    slots_drop(&d);
    cr_expect_eq(d.slot, NULL);
    cr_expect_eq(slots_next_timeout(&d, 0, TIME_MS, TIMEOUT_MS, 0), -1, "dropped: nothing lingers");
}
