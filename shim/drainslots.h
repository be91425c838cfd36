/* drainslots.h - the drainer's bookkeeping: one slot per lingering socket,
 * in an array of its own (so that an fd number reused behind the drainer's
 * back cannot corrupt it), on two intrusive lists, O(1) each: by handover
 * (the total-time cap, LINGER_TIME, and eviction of the oldest) and by last
 * activity (the idle limit, LINGER_TIMEOUT). Owned by the drainer thread;
 * no system call but the array's mmap. */
#ifndef LINGER_DRAINSLOTS_H
#define LINGER_DRAINSLOTS_H

#include <stdint.h>

#define SLOT_NIL (-1)

struct drain_slot {
    int32_t fd;                    /* SLOT_NIL when free */
    int32_t next, prev;            /* list ordered by handover (total cap); next: free list */
    int32_t idle_next, idle_prev;  /* list ordered by last activity (idle timeout) */
    uint32_t start_ms, last_ms;    /* monotonic milliseconds, truncated */
    uint8_t flags;                 /* FE_UNIX and FE_COUNT_FIRST_BYTES of the socket */
    uint8_t registered;            /* in the drainer's epoll set */
    uint64_t ino;                  /* the socket's inode */
    uint64_t drained;              /* bytes discarded so far */
};

struct drain_slots {
    struct drain_slot *slot;       /* capacity entries, NULL when none */
    int32_t capacity;
    int32_t free_head;             /* free slots, linked through next */
    int32_t never_used;            /* slots [never_used, capacity) were never taken */
    int32_t oldest, newest;        /* by handover: oldest first */
    int32_t idlest, busiest;       /* by last activity: least recently active first */
};

/* An empty set (no array); static initialiser. */
#define DRAIN_SLOTS_EMPTY \
    { NULL, 0, SLOT_NIL, 0, SLOT_NIL, SLOT_NIL, SLOT_NIL, SLOT_NIL }

/* A fresh, empty array of capacity slots (the old one unmapped). 0, or -1
 * (no array) when it cannot be mapped. */
int slots_init(struct drain_slots *d, int32_t capacity);

/* Unmaps the array: empty, with no array (a fork child's). */
void slots_drop(struct drain_slots *d);

/* True when every slot is taken. */
int slots_full(const struct drain_slots *d);

/* A free slot (not on the lists yet), or SLOT_NIL when every slot is taken. */
int32_t slots_take(struct drain_slots *d);

/* Slot i, taken, starts lingering at now: last on both lists. */
void slots_start(struct drain_slots *d, int32_t i, uint32_t now);

/* Slot i drained bytes at now: last on the idle list. */
void slots_active(struct drain_slots *d, int32_t i, uint32_t now);

/* Slot i is done: off both lists, free (fd SLOT_NIL). */
void slots_put(struct drain_slots *d, int32_t i);

/* Milliseconds from now until the next deadline (the oldest slot's total
 * time_ms, the idlest one's timeout_ms), for epoll_wait: 0 when one is
 * overdue; capped at 1000 when a stats file is to be rewritten (stats),
 * else at 60000; -1 (no timeout) when nothing lingers and no stats file is
 * kept. Pure. */
int slots_next_timeout(const struct drain_slots *d, uint32_t now, uint64_t time_ms, uint64_t timeout_ms,
                       int stats);

#endif
