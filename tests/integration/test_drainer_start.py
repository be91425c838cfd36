"""When the drainer thread starts (shim/drainer.c, shim/forkchan.c): not
for a process that only keeps connections alive, which stays
single-threaded; at once for a response with close semantics; and, for a
close that lingers before the thread runs, at the app's next accept, the
socket waiting half-closed on the handover stack till then. Each test
shows the failure without the shim in the same run."""
import re
import socket
import threading
import time

from lib import BUILD, SANITIZE, Skip, classify, need_shim, recv_until, recv_until_eof, start_server, test, wait_for

KEEPALIVE_CLOSE = BUILD / "tests" / "keepalive_close"
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
GET_CLOSE = b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n"
BODY = 2 * 1024 * 1024
POST = b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % BODY
OK_END = b"\r\n\r\nok"


def events(server):
    """The server's "accepted|closed threads=N" lines and the shim's
    "drainer thread started" and "closed after lingering" lines, in order."""
    out = []
    for line in server.proc.log.read_text(errors="replace").splitlines():
        m = re.match(r"(accepted|closed) threads=(\d+)$", line)
        if m:
            out.append("%s %s" % (m.group(1), m.group(2)))
        elif "drainer thread started" in line:
            out.append("drainer started")
        elif "closed after lingering" in line:
            out.append("lingered: " + line.split("closed after lingering: ", 1)[1].split(",")[0])
    return out


def keepalive_then_unread_close(server):
    """Connection 1: three keep-alive GETs, the client closes. Connection 2:
    a GET for /close and, on its heels, a 2 MiB upload the server never
    reads (its first 64 KiB sent with the GET, the rest from a thread); its
    answer read, the server closes with the
    upload unread. Connection 3: one GET (the next accept). Returns what
    the client of connection 2 saw in the end: "clean" (its upload sent and
    the server's EOF read) or the error."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as c:
        for _ in range(3):
            c.sendall(GET)
            if OK_END not in recv_until(c, OK_END):
                raise AssertionError("no answer on the keep-alive connection")
    wait_for(lambda: len(events(server)) >= 2, 5)
    c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    outcome = {}

    def upload():
        try:
            c.sendall(b"x" * (BODY - 65536))
            outcome["sent"] = True
        except OSError as e:
            outcome["sent"] = classify(e)
    c.sendall(GET_CLOSE + POST + b"x" * 65536)  # in the server's queue before it answers
    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    try:
        recv_until(c, OK_END)
        wait_for(lambda: any(e.startswith("closed") for e in events(server)[2:]), 5)
        time.sleep(0.3)  # the deferred socket waits: nothing starts the thread yet
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as d:
            d.sendall(GET)
            recv_until(d, OK_END)
            sender.join(10)
            recv_until_eof(c)
            outcome["end"] = "eof"
    except OSError as e:
        outcome["end"] = classify(e)
    finally:
        sender.join(10)
        c.close()
    return "clean" if outcome == {"sent": True, "end": "eof"} else "%s" % outcome


@test("keepalive_process_stays_single_threaded_and_a_deferred_close_lingers", timeout=90)
def test_keepalive_single_threaded(t):
    """A single-threaded keep-alive server (tests/servers/keepalive_close.c)
    without a stats file: serving keep-alive requests starts no drainer
    thread (its close finds one thread); a close that leaves the client's
    upload unread after a keep-alive answer lingers all the same - the
    thread does not start in that close (it may run in a signal handler)
    but at the next accept, which starts it and drains the socket to the
    client's EOF. Without the shim the same close resets the upload."""
    need_shim(t)
    if SANITIZE == "thread":
        raise Skip("TSAN's runtime starts a thread of its own")
    seen = {}
    for shim in (False, True):
        label = "shim" if shim else "plain"
        srv = start_server(t, [KEEPALIVE_CLOSE, "--count", 3], shim=shim, env={"LINGER_LOG": "debug"},
                           label="keepalive-close-" + label)
        try:
            seen[shim] = keepalive_then_unread_close(srv)
            # the drainer closes the deferred socket at the client's EOF, a
            # round (up to 32 ms) after it: wait for that too
            wait_for(lambda: len([e for e in events(srv) if e.startswith("closed")]) >= 3
                     and (not shim or any(e.startswith("lingered") for e in events(srv))), 10)
            ev = events(srv)
        finally:
            srv.stop()
        t.note("%s: connection 2 %s; events: %s" % (label, seen[shim], ", ".join(ev)))
        if shim:
            # the deferred socket ends when the client closes it, after
            # connection 3 or before its close
            want = ["accepted 1", "closed 1", "accepted 1", "closed 1", "drainer started", "accepted 2"]
            if ev[:6] != want or sorted(ev[6:]) != ["closed 2", "lingered: closed_eof"]:
                raise AssertionError("events %s, want %s then the linger's end and a close | %s"
                                     % (ev, want, "; ".join(t.notes)))
    if seen[False] == "clean":
        raise AssertionError("without the shim the unread upload was not reset: the test proves nothing | "
                             + "; ".join(t.notes))
    if seen[True] != "clean":
        raise AssertionError("with the shim the deferred close did not end cleanly | " + "; ".join(t.notes))
    return "; ".join(t.notes)
