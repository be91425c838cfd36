/* decide.c - the close decision (see decide.h). The rules' numbers are
 * those of tests/unit/test_decide.c. */
#include "decide.h"

#include <sys/socket.h> /* SHUT_* */

#include "fdtable.h" /* FE_* */
#include "pages.h"

/* True when a yes/no fact is known to be yes. */
static int yes(enum fact f)
{
    return f == FACT_YES;
}

/* The rules every event shares, once the entry is held: would the socket
 * linger? It does when this process wrote here and either its last
 * response had close semantics (or the mode is always) or request bytes
 * are unread (after a keep-alive response, or after bytes the scanner could
 * not read as a response: a reset would lose them just the same); what is
 * not an HTTP response counts only if written since the process last
 * forked. It does too, whatever the response said or whether there was
 * one, when a request body this process was sent is not fully consumed, or
 * the connection's protocol has one request per connection (SCGI, uwsgi).
 * Never when the peer has closed already with nothing unread: that socket
 * is closed at once, in every mode; nor when the peer is the process
 * itself. */
static enum close_verdict wants_linger(const struct close_facts *f)
{
    unsigned flags = f->flags;
    if (!f->written_here && !f->request_lingers)
        return CLOSE_PLAIN; /* R5: never wrote here (a forking parent's copy) nor read a request */
    if (f->same_socket == FACT_UNKNOWN)
        return ASK_SAME_SOCKET;
    if (!yes(f->same_socket))
        return CLOSE_PLAIN; /* R6: the number was closed unseen and reused */
    if ((flags & (FE_APP_SHUT_RD | FE_UNIX)) == FE_APP_SHUT_RD)
        return CLOSE_PLAIN; /* R7: TCP resets data arriving after a real SHUT_RD */
    /* what this process wrote is known to be its answer: an HTTP response,
     * or anything it wrote since its last fork - else a child it forked may
     * be the one serving the socket now (a greeting, then a fork) */
    int own_answer = (flags & FE_SAW_RESPONSE) || f->written_since_fork;
    /* R21: the request side decides it, whatever the response said (or
     * before any): a request body not fully consumed, or a protocol of one
     * request per connection (SCGI, uwsgi) */
    int decided = (flags & FE_SAW_CLOSE) || (f->mode == MODE_ALWAYS && own_answer) || f->request_lingers;
    if (f->peer == PEER_UNKNOWN)
        return ASK_PEER;
    if (f->peer == PEER_DONE || f->peer == PEER_BROKEN)
        return CLOSE_PLAIN; /* R8: the peer is done: nothing to wait for */
    if (f->wants_reset == FACT_UNKNOWN)
        return ASK_RESET;
    if (yes(f->wants_reset))
        return CLOSE_PLAIN; /* R9: the app asked for an abortive close */
    if (!decided && !(f->peer == PEER_PENDING && own_answer))
        return CLOSE_PLAIN; /* R10, R11: neither decided nor unread bytes of its own answer */
    /* R22: a socketpair both of whose ends this process holds: its peer
     * is the process itself, nobody to wait for (one getsockopt, AF_UNIX
     * only, asked only of a socket that would linger) */
    if ((flags & FE_UNIX) && f->self_peer == FACT_UNKNOWN)
        return ASK_SELF_PEER;
    if ((flags & FE_UNIX) && yes(f->self_peer))
        return CLOSE_PLAIN;
    /* last, being the dearest fact (it reads /proc): an inherited socket
     * the parent may still have - this close may end nothing */
    if (f->inherited && f->parent_lets_go == FACT_UNKNOWN)
        return ASK_PARENT;
    if (f->inherited && !yes(f->parent_lets_go))
        return CLOSE_PLAIN; /* R12 */
    return CLOSE_LINGER;
}

/* The rules of one event that come before the shared ones, once the entry
 * is held: CLOSE_LINGER to go on to them, else the verdict. */
static enum close_verdict event_rules(const struct close_facts *f)
{
    unsigned flags = f->flags;
    switch (f->event) {
    case CE_CLOSE:
        /* R4: a framed response partly written (its own bytes mark its end)
         * and the write side not shut by the app: another thread may be in
         * the write of the rest, which the lingering copy's shutdown would
         * cut short; without linger that write completes */
        if ((flags & (FE_MID_FRAMED | FE_APP_SHUT_WR)) == FE_MID_FRAMED)
            return CLOSE_PLAIN;
        break;
    case CE_EXIT:
        /* R14: other threads may still be writing: only a response known
         * to be written in full lingers (alone, the exit's thread wrote
         * last); R15: only a close response (or mode always, or R21 a
         * request body not fully consumed) */
        if (!f->alone && (flags & FE_MID_RESPONSE))
            return CLOSE_PLAIN;
        if (f->mode != MODE_ALWAYS && !(flags & FE_SAW_CLOSE) && !f->request_lingers)
            return CLOSE_PLAIN;
        break;
    case CE_SHUTDOWN:
        /* R17: only a recognised HTTP response (or mode always) on a TCP
         * socket changes the app's shutdown: an app that shuts a connection
         * it cannot be known to have answered expects its reads to end */
        if ((flags & FE_UNIX) || (f->mode != MODE_ALWAYS && !(flags & FE_SAW_RESPONSE)))
            return CLOSE_PLAIN;
        break;
    }
    return CLOSE_LINGER;
}

LINGER_HOT enum close_verdict decide_close(const struct close_facts *f)
{
    /* before the entry is claimed */
    if (f->mode == MODE_OFF)
        return CLOSE_PLAIN; /* R1 */
    if (f->event == CE_EXIT && f->mode == MODE_OBSERVE)
        return CLOSE_PLAIN; /* R13: observe changes nothing, at exit neither */
    if (f->event == CE_SHUTDOWN && (f->mode == MODE_OBSERVE || (f->how != SHUT_RD && f->how != SHUT_RDWR)))
        return CLOSE_PLAIN; /* R16: only SHUT_RD and SHUT_RDWR are rewritten, never in observe */
    if (f->hold == HOLD_UNKNOWN)
        return ASK_HOLD;
    if (f->hold == HOLD_BUSY)
        return CLOSE_BUSY; /* R2 */
    if (f->hold != HOLD_LAST)
        return CLOSE_PLAIN; /* R3: other numbers still hold the socket */
    enum close_verdict v = event_rules(f);
    if (v == CLOSE_LINGER)
        v = wants_linger(f);
    if (v != CLOSE_LINGER)
        return v;
    switch (f->event) {
    case CE_SHUTDOWN:
        /* R19: SHUT_RD is skipped (it answers 0) only while the connection
         * has not ended: once it has, the kernel's ENOTCONN stands */
        if (f->how == SHUT_RD && f->connected == FACT_UNKNOWN)
            return ASK_CONNECTED;
        if (f->how == SHUT_RD && !yes(f->connected))
            return CLOSE_PLAIN;
        return CLOSE_SHUTDOWN_ONLY; /* R18 */
    case CE_CLOSE:
        return f->mode == MODE_OBSERVE ? CLOSE_OBSERVE : CLOSE_LINGER; /* R13, R20 */
    default:
        return CLOSE_LINGER; /* R20 */
    }
}
