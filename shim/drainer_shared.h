/* drainer_shared.h - what the drainer's two halves share, and nothing else:
 * its loop (drainer_loop.c, the thread's and the drainer processes') and
 * its app-facing side (drainer.c: handing over, starting, fork). Not for
 * any other file: they use drainer.h.
 *
 * Everything here is defined in drainer_loop.c. Hidden: nothing of it is
 * exported, and the close path reaches it directly, not through the GOT. */
#ifndef LINGER_DRAINER_SHARED_H
#define LINGER_DRAINER_SHARED_H

#include <stdatomic.h>
#include <stdint.h>

#include "drainslots.h"

#pragma GCC visibility push(hidden)

#define HANDOVER_END (-1)   /* the handover stack's end */
#define WAKE_TOKEN UINT32_MAX /* the epoll token of wake_fd */

/* Shared with the close path. */
extern _Atomic int32_t handover_head;  /* lock-free stack of handed-over fds */
extern _Atomic int waiting;            /* in epoll_wait: a handover must wake it */
extern _Atomic unsigned release_requests; /* oldest sockets the app wants closed now */
extern _Atomic uint64_t released;      /* closed at the app's request, each once closed */
extern _Atomic int epoll_fd, wake_fd;  /* the drainer's epoll set and its wake-up eventfd */

/* Owned by the drainer thread; set up by its start, dropped in a fork child. */
extern struct drain_slots ds;          /* the lingering sockets */
/* The one extra fd a drainer process watches (forkchan.c's channel), and
 * what runs when it is readable; cleared in a fork child. */
extern void (*_Atomic watch_ready)(void);

/* The drainer thread's body: the drain loop, never returning. */
void *drainer_thread_main(void *arg);

#pragma GCC visibility pop

#endif
