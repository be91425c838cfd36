/* decide.h - the close decision as one pure function: the facts about a
 * socket the app is closing (or shutting down, or leaving open at exit) in,
 * a verdict out. No system call: the facts that cost one (a probe of the
 * socket, /proc) start unknown, and decide_close asks for them one at a
 * time, in the order the rules need them (ASK_*), so that the caller
 * (closing.c) pays for no probe the verdict does not need.
 *
 * The rules are numbered in tests/unit/test_decide.c, one truth-table row
 * (or more) each, and HACKING.md lists them.
 */
#ifndef LINGER_DECIDE_H
#define LINGER_DECIDE_H

#include "config_parse.h" /* enum linger_mode */

/* What the app is doing to the socket. */
enum close_event {
    CE_CLOSE,    /* close() of its last number, or a close as a side effect (dup2, fclose) */
    CE_EXIT,     /* the process exits with the socket open (the exit handover) */
    CE_SHUTDOWN, /* shutdown(how) */
};

/* A yes/no fact, or not found out yet. */
enum fact { FACT_UNKNOWN = 0, FACT_NO, FACT_YES };

/* What the socket's receive side looks like right now (probe.c). */
enum peer_state {
    PEER_UNKNOWN = 0,
    PEER_OPEN,    /* the peer is open, nothing unread */
    PEER_PENDING, /* unread bytes queued */
    PEER_DONE,    /* the peer's EOF (or the app's SHUT_RD) with nothing unread */
    PEER_BROKEN,  /* the connection ended with an error */
};

/* Whether this call holds the socket's state: what the claim of its entry
 * and its ring of numbers (fdring.c) said. */
enum close_hold {
    HOLD_UNKNOWN = 0,
    HOLD_LAST,   /* this call holds it: the close ends the socket's last number, or the
                    exit or shutdown found the tracked socket and claimed it */
    HOLD_OTHERS, /* not this call's to decide: other numbers still hold the socket (or may),
                    or the entry is not a tracked socket any more */
    HOLD_BUSY,   /* another thread decides this socket (the exit) or holds its ring */
};

struct close_facts {
    enum close_event event;
    enum linger_mode mode;     /* LINGER_MODE */
    int how;                   /* CE_SHUTDOWN: the app's how (SHUT_*, or anything) */
    int alone;                 /* CE_EXIT: no other thread of the app runs */
    enum close_hold hold;      /* ASK_HOLD */
    /* from the entry, once held */
    unsigned flags;            /* FE_* (fdtable.h) */
    int written_here;          /* this process wrote to the socket (at any time) */
    int written_since_fork;    /* ... and since it last forked */
    int inherited;             /* the socket came with the exec (FO_INHERITED) */
    int request_lingers;       /* the request side asks for a linger (reqwatch.h): this
                                  process read the socket's requests since it last forked,
                                  and a request body is not fully consumed (or a head
                                  announced one and no response followed), or the protocol
                                  has one request per connection (SCGI, uwsgi) */
    /* found out on request */
    enum fact same_socket;     /* ASK_SAME_SOCKET: the number still holds that socket */
    enum peer_state peer;      /* ASK_PEER */
    enum fact wants_reset;     /* ASK_RESET: SO_LINGER on with 0 s (an abortive close) */
    enum fact parent_lets_go;  /* ASK_PARENT: no other process holds the inherited socket */
    enum fact connected;       /* ASK_CONNECTED: getpeername succeeds (the connection
                                  has not ended) */
    enum fact self_peer;       /* ASK_SELF_PEER: AF_UNIX, and the peer is this process
                                  (a socketpair both of whose ends it holds) */
};

enum close_verdict {
    CLOSE_PLAIN,         /* as the app asked: a plain close, shutdown(how) as it is */
    CLOSE_LINGER,        /* half-close now, hand the socket to the drainer */
    CLOSE_OBSERVE,       /* a plain close, counted as one that would linger (mode observe) */
    CLOSE_SHUTDOWN_ONLY, /* shutdown: the write side only (SHUT_RDWR becomes SHUT_WR,
                            SHUT_RD nothing): the read side stays open for the linger */
    CLOSE_BUSY,          /* a plain close; the entry is another thread's (leave it) */
    /* not a verdict yet: find this fact out, then ask again */
    ASK_HOLD,
    ASK_SAME_SOCKET,
    ASK_PEER,
    ASK_RESET,
    ASK_PARENT,
    ASK_CONNECTED,
    ASK_SELF_PEER,
};

/* True when v asks for a fact rather than giving a verdict. */
static inline int decide_asks(enum close_verdict v)
{
    return v >= ASK_HOLD;
}

/* The verdict for f, or the next fact it needs. Pure. */
enum close_verdict decide_close(const struct close_facts *f);

#endif
