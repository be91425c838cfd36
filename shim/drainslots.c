/* drainslots.c - the drainer's slots and their two lists (see drainslots.h). */
#include "drainslots.h"

#include <stddef.h>
#include <sys/mman.h>

#include "pages.h"

int slots_init(struct drain_slots *d, int32_t capacity)
{
    slots_drop(d);
    void *p = mmap(NULL, (size_t)capacity * sizeof *d->slot, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    d->slot = p;
    d->capacity = capacity; /* slots are set up as they are first taken */
    return 0;
}

LINGER_HOT void slots_drop(struct drain_slots *d)
{
    if (d->slot)
        munmap(d->slot, (size_t)d->capacity * sizeof *d->slot);
    *d = (struct drain_slots)DRAIN_SLOTS_EMPTY;
}

int slots_full(const struct drain_slots *d)
{
    return d->free_head == SLOT_NIL && d->never_used == d->capacity;
}

int32_t slots_take(struct drain_slots *d)
{
    int32_t i = d->free_head;
    if (i != SLOT_NIL)
        d->free_head = d->slot[i].next;
    else if (d->never_used < d->capacity)
        i = d->never_used++;
    return i;
}

static void start_list_append(struct drain_slots *d, int32_t i)
{
    struct drain_slot *s = &d->slot[i];
    s->next = SLOT_NIL;
    s->prev = d->newest;
    if (d->newest != SLOT_NIL) d->slot[d->newest].next = i; else d->oldest = i;
    d->newest = i;
}

static void start_list_remove(struct drain_slots *d, int32_t i)
{
    struct drain_slot *s = &d->slot[i];
    if (s->prev != SLOT_NIL) d->slot[s->prev].next = s->next; else d->oldest = s->next;
    if (s->next != SLOT_NIL) d->slot[s->next].prev = s->prev; else d->newest = s->prev;
}

static void idle_list_append(struct drain_slots *d, int32_t i)
{
    struct drain_slot *s = &d->slot[i];
    s->idle_next = SLOT_NIL;
    s->idle_prev = d->busiest;
    if (d->busiest != SLOT_NIL) d->slot[d->busiest].idle_next = i; else d->idlest = i;
    d->busiest = i;
}

static void idle_list_remove(struct drain_slots *d, int32_t i)
{
    struct drain_slot *s = &d->slot[i];
    if (s->idle_prev != SLOT_NIL) d->slot[s->idle_prev].idle_next = s->idle_next; else d->idlest = s->idle_next;
    if (s->idle_next != SLOT_NIL) d->slot[s->idle_next].idle_prev = s->idle_prev; else d->busiest = s->idle_prev;
}

void slots_start(struct drain_slots *d, int32_t i, uint32_t now)
{
    d->slot[i].start_ms = d->slot[i].last_ms = now;
    start_list_append(d, i);
    idle_list_append(d, i);
}

void slots_active(struct drain_slots *d, int32_t i, uint32_t now)
{
    d->slot[i].last_ms = now;
    idle_list_remove(d, i);
    idle_list_append(d, i);
}

void slots_put(struct drain_slots *d, int32_t i)
{
    start_list_remove(d, i);
    idle_list_remove(d, i);
    d->slot[i].fd = SLOT_NIL;
    d->slot[i].next = d->free_head;
    d->free_head = i;
}

int slots_next_timeout(const struct drain_slots *d, uint32_t now, uint64_t time_ms, uint64_t timeout_ms,
                       int stats)
{
    int64_t best = -1;
    if (d->oldest != SLOT_NIL)
        best = (int64_t)time_ms - (int64_t)(uint32_t)(now - d->slot[d->oldest].start_ms);
    if (d->idlest != SLOT_NIL) {
        int64_t idle = (int64_t)timeout_ms - (int64_t)(uint32_t)(now - d->slot[d->idlest].last_ms);
        if (d->oldest == SLOT_NIL || idle < best) best = idle; /* -1 can be a real (overdue) value */
    }
    if (best < 0 && d->oldest != SLOT_NIL)
        best = 0;
    int cap = stats ? 1000 : 60000;
    return (best < 0 || best > cap) ? (best < 0 && !stats ? -1 : cap) : (int)best;
}
