/* test_decide.c - criterion tests of the close decision (shim/decide.c):
 * a truth table with one row (or more) for every rule below. The rules are
 * docs/design.md's ("When a close lingers: the rules"), one for one.
 *
 *   R1  LINGER_MODE=off: every close, shutdown and exit passes straight through.
 *   R2  A socket another thread is deciding (the exit path) or whose ring of
 *       numbers it holds: a plain close, the entry left to that thread.
 *   R3  Duplicated numbers: while another number of the socket is open (or may
 *       be), a close is plain; only the last one may linger.
 *   R4  A write still in flight: a close while a response head, or a body its
 *       own bytes delimit (Content-Length, chunked), is partly written is
 *       plain, unless the app shut the write side down itself; a body that
 *       only the close ends lingers.
 *   R5  Only the process that wrote: one that never wrote to the socket (a
 *       fork-per-connection parent's copy) closes it plainly.
 *   R6  A number closed behind linger's back and reused: a plain close.
 *   R7  A TCP socket whose read side the app shut (SHUT_RD reached the
 *       kernel): plain, since TCP resets what arrives after it (AF_UNIX may
 *       still linger).
 *   R8  The peer has closed with nothing unread, or the connection ended with
 *       an error: closed at once, in every mode.
 *   R9  An abortive close stays abortive: SO_LINGER on with 0 s is plain.
 *   R10 LINGER_MODE=on lingers when the last response had close semantics, or
 *       when request bytes are unread after an answer of this process's own:
 *       an HTTP response, or anything written since its last fork (a greeting
 *       written before a fork is not its answer).
 *   R11 LINGER_MODE=always lingers whatever this process wrote, HTTP or not,
 *       if it is its own answer (an HTTP response, or written since its last
 *       fork), with or without unread bytes.
 *   R12 An inherited socket lingers only when its parent is seen not to hold
 *       it; anything linger cannot tell counts as held.
 *   R13 LINGER_MODE=observe changes nothing: a close that would linger is a
 *       plain close, counted; the exit hands nothing over; shutdown passes.
 *   R14 At exit, with other threads of the app running, only a response known
 *       to be written in full lingers; alone, the exit's thread wrote last.
 *   R15 At exit, a socket the app never closed lingers only after a response
 *       with close semantics (or in mode always).
 *   R16 shutdown: only SHUT_RD and SHUT_RDWR are ever changed; any other how
 *       (SHUT_WR, an invalid one) goes to the kernel as it is.
 *   R17 shutdown changes nothing on an AF_UNIX socket, nor on one without a
 *       recognised HTTP response (unless in mode always): an app ending its
 *       own protocol's connection gets its reads ended at once.
 *   R18 shutdown of a socket that will linger: SHUT_RDWR goes to the kernel
 *       as SHUT_WR and SHUT_RD alone is skipped (the read side stays open).
 *   R19 shutdown(SHUT_RD) of a connection that has ended goes to the kernel
 *       (which answers ENOTCONN).
 *   R20 A close that no rule above makes plain lingers: half-closed now,
 *       drained by the drainer.
 *   R21 The request side decides a linger in mode on, whatever the response
 *       said or before any response, at an exit alone too (with other
 *       threads running, one may be reading: closing.c asks nothing then): a request body this process
 *       was sent (and read from, since its last fork) that is not fully
 *       consumed, or a connection of a protocol with one request per
 *       connection (SCGI, uwsgi) that carried one. The rules that make a
 *       close plain (R2-R9, R12, R22) still do.
 *   R22 A socket whose peer is the process itself (an AF_UNIX socketpair
 *       both of whose ends it holds) never lingers, in every mode, at exit
 *       too; the question is asked of AF_UNIX sockets only.
 *
 * Facts that cost a system call are asked for one at a time (ASK_*), in the
 * order the rules need them; the last tests check that order, so that the
 * close path pays for no probe the verdict does not need. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decide.h"
#include "fdtable.h"

/* Rows start from a close that lingers and override what they test (a later
 * designated initializer wins). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define LINGERS                                                                              \
    .event = CE_CLOSE, .mode = MODE_ON, .hold = HOLD_LAST, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE, \
    .written_here = 1, .written_since_fork = 1, .inherited = 0, .same_socket = FACT_YES,            \
    .peer = PEER_OPEN, .wants_reset = FACT_NO, .self_peer = FACT_NO

struct row {
    const char *rule;
    const char *what;
    struct close_facts f;
    enum close_verdict want;
};

#define ROW(rule, what, want, ...) { rule, what, { LINGERS, __VA_ARGS__ }, want }

/* A keep-alive response this process sent (no close semantics). */
#define KEEPALIVE .flags = FE_SAW_RESPONSE
/* Bytes that are not HTTP (a greeting, a TLS record). */
#define NOT_HTTP .flags = 0

static const struct row table[] = {
    ROW("R1", "mode off: a close", CLOSE_PLAIN, .mode = MODE_OFF),
    ROW("R1", "mode off: before anything is held", CLOSE_PLAIN, .mode = MODE_OFF, .hold = HOLD_UNKNOWN),
    ROW("R1", "mode off: exit", CLOSE_PLAIN, .mode = MODE_OFF, .event = CE_EXIT, .alone = 1),
    ROW("R1", "mode off: shutdown(SHUT_RDWR)", CLOSE_PLAIN, .mode = MODE_OFF, .event = CE_SHUTDOWN,
        .how = SHUT_RDWR),

    ROW("R2", "another thread decides it", CLOSE_BUSY, .hold = HOLD_BUSY),

    ROW("R3", "another number still open", CLOSE_PLAIN, .hold = HOLD_OTHERS),
    ROW("R3", "the last number", CLOSE_LINGER, .hold = HOLD_LAST),

    ROW("R4", "a framed body partly written", CLOSE_PLAIN,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE | FE_MID_FRAMED),
    ROW("R4", "... the app shut the write side itself", CLOSE_LINGER,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE | FE_MID_FRAMED | FE_APP_SHUT_WR),
    ROW("R4", "a body only the close ends", CLOSE_LINGER, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE),

    ROW("R5", "never wrote here (a forking parent)", CLOSE_PLAIN, .written_here = 0, .written_since_fork = 0),

    ROW("R6", "the number was reused", CLOSE_PLAIN, .same_socket = FACT_NO),

    ROW("R7", "TCP, the app shut the read side", CLOSE_PLAIN, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_APP_SHUT_RD),
    ROW("R7", "AF_UNIX, the app shut the read side", CLOSE_LINGER,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_APP_SHUT_RD | FE_UNIX),

    ROW("R8", "the peer closed, nothing unread", CLOSE_PLAIN, .peer = PEER_DONE),
    ROW("R8", "the connection ended with an error", CLOSE_PLAIN, .peer = PEER_BROKEN),
    ROW("R8", "... in mode always", CLOSE_PLAIN, .mode = MODE_ALWAYS, .peer = PEER_DONE),
    ROW("R8", "... with bytes unread after a keep-alive", CLOSE_PLAIN, KEEPALIVE, .peer = PEER_DONE),

    ROW("R9", "SO_LINGER 0 s", CLOSE_PLAIN, .wants_reset = FACT_YES),
    ROW("R9", "... in mode always", CLOSE_PLAIN, .mode = MODE_ALWAYS, .wants_reset = FACT_YES),

    ROW("R10", "on: close semantics, nothing unread", CLOSE_LINGER),
    ROW("R10", "on: close semantics, bytes unread", CLOSE_LINGER, .peer = PEER_PENDING),
    ROW("R10", "on: keep-alive, nothing unread", CLOSE_PLAIN, KEEPALIVE),
    ROW("R10", "on: keep-alive, bytes unread", CLOSE_LINGER, KEEPALIVE, .peer = PEER_PENDING),
    ROW("R10", "on: keep-alive before a fork, bytes unread", CLOSE_LINGER, KEEPALIVE, .written_since_fork = 0,
        .peer = PEER_PENDING),
    ROW("R10", "on: not HTTP, bytes unread", CLOSE_LINGER, NOT_HTTP, .peer = PEER_PENDING),
    ROW("R10", "on: not HTTP, nothing unread", CLOSE_PLAIN, NOT_HTTP),
    ROW("R10", "on: not HTTP before a fork, bytes unread", CLOSE_PLAIN, NOT_HTTP, .written_since_fork = 0,
        .peer = PEER_PENDING),

    ROW("R11", "always: keep-alive, nothing unread", CLOSE_LINGER, .mode = MODE_ALWAYS, KEEPALIVE),
    ROW("R11", "always: not HTTP, nothing unread", CLOSE_LINGER, .mode = MODE_ALWAYS, NOT_HTTP),
    ROW("R11", "always: not HTTP before a fork", CLOSE_PLAIN, .mode = MODE_ALWAYS, NOT_HTTP,
        .written_since_fork = 0),
    ROW("R11", "always: HTTP before a fork", CLOSE_LINGER, .mode = MODE_ALWAYS, KEEPALIVE,
        .written_since_fork = 0),

    ROW("R12", "inherited, the parent lets go", CLOSE_LINGER, .inherited = 1, .parent_lets_go = FACT_YES),
    ROW("R12", "inherited, the parent holds it", CLOSE_PLAIN, .inherited = 1, .parent_lets_go = FACT_NO),

    ROW("R13", "observe: a close that would linger", CLOSE_OBSERVE, .mode = MODE_OBSERVE),
    ROW("R13", "observe: one that would not", CLOSE_PLAIN, .mode = MODE_OBSERVE, KEEPALIVE),
    ROW("R13", "observe: exit", CLOSE_PLAIN, .mode = MODE_OBSERVE, .event = CE_EXIT, .alone = 1),
    ROW("R13", "observe: shutdown(SHUT_RDWR)", CLOSE_PLAIN, .mode = MODE_OBSERVE, .event = CE_SHUTDOWN,
        .how = SHUT_RDWR),

    ROW("R14", "exit, threads run, written in full", CLOSE_LINGER, .event = CE_EXIT, .alone = 0),
    ROW("R14", "exit, threads run, mid-response", CLOSE_PLAIN, .event = CE_EXIT, .alone = 0,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE),
    ROW("R14", "exit, alone, mid-response", CLOSE_LINGER, .event = CE_EXIT, .alone = 1,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE),
    ROW("R14", "exit, alone, a framed body partly written", CLOSE_LINGER, .event = CE_EXIT, .alone = 1,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_MID_RESPONSE | FE_MID_FRAMED),

    ROW("R15", "exit after a keep-alive response", CLOSE_PLAIN, .event = CE_EXIT, .alone = 1, KEEPALIVE),
    ROW("R15", "... with bytes unread", CLOSE_PLAIN, .event = CE_EXIT, .alone = 1, KEEPALIVE,
        .peer = PEER_PENDING),
    ROW("R15", "... in mode always", CLOSE_LINGER, .event = CE_EXIT, .alone = 1, KEEPALIVE, .mode = MODE_ALWAYS),

    ROW("R16", "shutdown(SHUT_WR)", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = SHUT_WR),
    ROW("R16", "shutdown(-1)", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = -1),
    ROW("R16", "shutdown(7)", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = 7),

    ROW("R17", "shutdown of AF_UNIX", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = SHUT_RDWR,
        .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_UNIX),
    ROW("R17", "shutdown, not HTTP", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = SHUT_RDWR, NOT_HTTP,
        .peer = PEER_PENDING),
    ROW("R17", "shutdown, not HTTP, mode always", CLOSE_SHUTDOWN_ONLY, .event = CE_SHUTDOWN, .how = SHUT_RDWR,
        NOT_HTTP, .mode = MODE_ALWAYS),

    ROW("R18", "shutdown(SHUT_RDWR) that will linger", CLOSE_SHUTDOWN_ONLY, .event = CE_SHUTDOWN, .how = SHUT_RDWR),
    ROW("R18", "shutdown(SHUT_RD) that will linger", CLOSE_SHUTDOWN_ONLY, .event = CE_SHUTDOWN, .how = SHUT_RD,
        .connected = FACT_YES),
    ROW("R18", "shutdown(SHUT_RDWR) that will not (keep-alive)", CLOSE_PLAIN, .event = CE_SHUTDOWN,
        .how = SHUT_RDWR, KEEPALIVE),
    ROW("R18", "shutdown(SHUT_RDWR), the peer done", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = SHUT_RDWR,
        .peer = PEER_DONE),
    ROW("R18", "shutdown(SHUT_RDWR) again, after one made SHUT_WR", CLOSE_SHUTDOWN_ONLY, .event = CE_SHUTDOWN,
        .how = SHUT_RDWR, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_APP_SHUT_WR),

    ROW("R19", "shutdown(SHUT_RD) of an ended connection", CLOSE_PLAIN, .event = CE_SHUTDOWN, .how = SHUT_RD,
        .connected = FACT_NO),

    ROW("R20", "a response with close semantics, then close", CLOSE_LINGER),
    ROW("R20", "exit, alone, close semantics", CLOSE_LINGER, .event = CE_EXIT, .alone = 1),

    ROW("R21", "on: keep-alive, a request body unconsumed", CLOSE_LINGER, KEEPALIVE, .request_lingers = 1),
    ROW("R21", "on: not HTTP (a Status: line), body unconsumed", CLOSE_LINGER, NOT_HTTP, .request_lingers = 1),
    ROW("R21", "on: nothing written yet, body unconsumed", CLOSE_LINGER, NOT_HTTP, .written_here = 0,
        .written_since_fork = 0, .request_lingers = 1),
    ROW("R21", "on: keep-alive, every body consumed", CLOSE_PLAIN, KEEPALIVE, .request_lingers = 0),
    ROW("R21", "... body unconsumed, the peer done", CLOSE_PLAIN, KEEPALIVE, .request_lingers = 1,
        .peer = PEER_DONE),
    ROW("R21", "... body unconsumed, SO_LINGER 0 s", CLOSE_PLAIN, KEEPALIVE, .request_lingers = 1,
        .wants_reset = FACT_YES),
    ROW("R21", "... body unconsumed, a framed response partly written", CLOSE_PLAIN, .request_lingers = 1,
        .flags = FE_SAW_RESPONSE | FE_MID_RESPONSE | FE_MID_FRAMED),
    ROW("R21", "observe: body unconsumed", CLOSE_OBSERVE, .mode = MODE_OBSERVE, KEEPALIVE, .request_lingers = 1),
    ROW("R21", "exit after keep-alive, body unconsumed", CLOSE_LINGER, .event = CE_EXIT, .alone = 1, KEEPALIVE,
        .request_lingers = 1),
    ROW("R21", "shutdown(SHUT_RDWR), keep-alive, body unconsumed", CLOSE_SHUTDOWN_ONLY, .event = CE_SHUTDOWN,
        .how = SHUT_RDWR, KEEPALIVE, .request_lingers = 1),

    ROW("R22", "AF_UNIX, the peer is this process", CLOSE_PLAIN, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_UNIX,
        .self_peer = FACT_YES),
    ROW("R22", "... in mode always, at exit", CLOSE_PLAIN, .mode = MODE_ALWAYS, .event = CE_EXIT, .alone = 1,
        .flags = FE_UNIX, .written_since_fork = 1, .self_peer = FACT_YES),
    ROW("R22", "... a request body unconsumed", CLOSE_PLAIN, .flags = FE_UNIX, .request_lingers = 1,
        .self_peer = FACT_YES),
    ROW("R22", "AF_UNIX, the peer another process", CLOSE_LINGER, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_UNIX,
        .self_peer = FACT_NO),
    ROW("R22", "TCP: never asked", CLOSE_LINGER, .self_peer = FACT_UNKNOWN),
};

#define ROWS (sizeof table / sizeof table[0])

static const char *verdict_name(enum close_verdict v)
{
    static const char *const names[] = {
        [CLOSE_PLAIN] = "plain", [CLOSE_LINGER] = "linger", [CLOSE_OBSERVE] = "observe",
        [CLOSE_SHUTDOWN_ONLY] = "shutdown-only", [CLOSE_BUSY] = "busy", [ASK_HOLD] = "ask-hold",
        [ASK_SAME_SOCKET] = "ask-same-socket", [ASK_PEER] = "ask-peer", [ASK_RESET] = "ask-reset",
        [ASK_PARENT] = "ask-parent", [ASK_CONNECTED] = "ask-connected", [ASK_SELF_PEER] = "ask-self-peer",
    };
    return (unsigned)v < sizeof names / sizeof names[0] && names[v] ? names[v] : "?";
}

Test(decide, truth_table)
{
    for (size_t i = 0; i < ROWS; i++) {
        enum close_verdict got = decide_close(&table[i].f);
        cr_expect_eq(got, table[i].want, "%s (%s): %s, want %s", table[i].rule, table[i].what, verdict_name(got),
                     verdict_name(table[i].want));
    }
}

/* Every rule of the list above has a row, and every row names one of them. */
Test(decide, every_rule_has_a_row)
{
    for (int r = 1; r <= 22; r++) {
        char name[8];
        snprintf(name, sizeof name, "R%d", r);
        int rows = 0;
        for (size_t i = 0; i < ROWS; i++)
            rows += strcmp(table[i].rule, name) == 0;
        cr_expect(rows > 0, "rule %s has no row", name);
    }
    for (size_t i = 0; i < ROWS; i++) {
        int n = atoi(table[i].rule + 1);
        cr_expect(table[i].rule[0] == 'R' && n >= 1 && n <= 22, "row %zu names no rule: %s", i, table[i].rule);
    }
}

/* The verdict does not depend on a fact that is not asked for: each row
 * gives the same answer whatever the facts its verdict came before (the
 * unknown ones stay unknown). Checked by asking from scratch, answering
 * each question from the row. */
static enum close_verdict ask_through(const struct close_facts *row, enum close_verdict *asked, int *n)
{
    struct close_facts f = { .event = row->event, .mode = row->mode, .how = row->how, .alone = row->alone };
    enum close_verdict v;
    *n = 0;
    while (decide_asks(v = decide_close(&f)) && *n < 8) {
        asked[(*n)++] = v;
        switch (v) {
        case ASK_HOLD:
            f.hold = row->hold;
            f.flags = row->flags;
            f.written_here = row->written_here;
            f.written_since_fork = row->written_since_fork;
            f.inherited = row->inherited;
            f.request_lingers = row->request_lingers;
            break;
        case ASK_SAME_SOCKET: f.same_socket = row->same_socket; break;
        case ASK_PEER: f.peer = row->peer; break;
        case ASK_RESET: f.wants_reset = row->wants_reset; break;
        case ASK_PARENT: f.parent_lets_go = row->parent_lets_go; break;
        case ASK_CONNECTED: f.connected = row->connected; break;
        case ASK_SELF_PEER: f.self_peer = row->self_peer; break;
        default: break;
        }
    }
    return v;
}

Test(decide, asked_one_fact_at_a_time_gives_the_same_verdicts)
{
    for (size_t i = 0; i < ROWS; i++) {
        enum close_verdict asked[8];
        int n;
        enum close_verdict got = ask_through(&table[i].f, asked, &n);
        cr_expect_eq(got, table[i].want, "%s (%s) asked in turn: %s, want %s", table[i].rule, table[i].what,
                     verdict_name(got), verdict_name(table[i].want));
        for (int k = 0; k < n; k++)
            for (int j = k + 1; j < n; j++)
                cr_expect_neq(asked[k], asked[j], "%s (%s): %s asked twice", table[i].rule, table[i].what,
                              verdict_name(asked[k]));
    }
}

/* The order of the questions: nothing is claimed in mode off; the probes
 * come in the order of their cost, and none after a rule has decided. */
Test(decide, questions_in_order_and_only_when_needed)
{
    enum close_verdict asked[8];
    int n;
    struct close_facts lingers = { LINGERS, .inherited = 1, .parent_lets_go = FACT_YES };
    ask_through(&lingers, asked, &n);
    enum close_verdict order[] = { ASK_HOLD, ASK_SAME_SOCKET, ASK_PEER, ASK_RESET, ASK_PARENT };
    cr_assert_eq(n, 5, "a lingering close of an inherited socket asks 5 questions, not %d", n);
    for (int k = 0; k < 5; k++)
        cr_expect_eq(asked[k], order[k], "question %d: %s, want %s", k, verdict_name(asked[k]),
                     verdict_name(order[k]));

    struct close_facts unix_lingers = { LINGERS, .flags = FE_SAW_RESPONSE | FE_SAW_CLOSE | FE_UNIX, .inherited = 1,
                                        .parent_lets_go = FACT_YES };
    ask_through(&unix_lingers, asked, &n);
    enum close_verdict unix_order[] = { ASK_HOLD, ASK_SAME_SOCKET, ASK_PEER, ASK_RESET, ASK_SELF_PEER, ASK_PARENT };
    cr_assert_eq(n, 6, "a lingering close of an inherited AF_UNIX socket asks 6 questions, not %d", n);
    for (int k = 0; k < 6; k++)
        cr_expect_eq(asked[k], unix_order[k], "AF_UNIX question %d: %s, want %s", k, verdict_name(asked[k]),
                     verdict_name(unix_order[k]));
    struct close_facts unix_keepalive = { LINGERS, .flags = FE_SAW_RESPONSE | FE_UNIX };
    ask_through(&unix_keepalive, asked, &n);
    for (int k = 0; k < n; k++)
        cr_expect_neq(asked[k], ASK_SELF_PEER, "a close that would not linger never asks for the peer's pid");

    struct close_facts off = { LINGERS, .mode = MODE_OFF };
    ask_through(&off, asked, &n);
    cr_expect_eq(n, 0, "mode off asks nothing (claims nothing)");

    struct close_facts parent_copy = { LINGERS, .written_here = 0 };
    ask_through(&parent_copy, asked, &n);
    cr_expect_eq(n, 1, "a copy this process never wrote to: only the hold, no probe (%d questions)", n);

    struct close_facts peer_done = { LINGERS, .peer = PEER_DONE, .inherited = 1 };
    ask_through(&peer_done, asked, &n);
    cr_expect_eq(n, 3, "the peer done: no SO_LINGER question, no /proc (%d questions)", n);

    struct close_facts keepalive = { LINGERS, KEEPALIVE, .inherited = 1 };
    ask_through(&keepalive, asked, &n);
    cr_expect_eq(asked[n - 1], ASK_RESET, "a keep-alive close ends at the SO_LINGER question, before /proc");

    struct close_facts shut = { LINGERS, .event = CE_SHUTDOWN, .how = SHUT_RD, .connected = FACT_YES };
    ask_through(&shut, asked, &n);
    cr_expect_eq(asked[n - 1], ASK_CONNECTED, "shutdown(SHUT_RD) asks getpeername last");
    struct close_facts shut_rdwr = { LINGERS, .event = CE_SHUTDOWN, .how = SHUT_RDWR };
    ask_through(&shut_rdwr, asked, &n);
    for (int k = 0; k < n; k++)
        cr_expect_neq(asked[k], ASK_CONNECTED, "shutdown(SHUT_RDWR) never asks getpeername");
}
