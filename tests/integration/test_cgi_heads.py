"""CGI-style response heads (SCGI, uwsgi): a head whose first line is
"Status: NNN reason" is a response with close semantics, so LINGER_MODE=on
lingers its close even when nothing is unread (the scanner, shim/scan_*.c).
tests/servers/cgi_status_server.py is the host: it answers a 413 that way
at once and closes, before the client's body has arrived."""
import collections
import socket

from lib import PYTHON, SERVERS, MiB, fmt, need_shim, start_server, test

SERVER = SERVERS / "cgi_status_server.py"
TRIES = 3
BODY = b"y" * (16 * MiB)


def answer_then_body(port):
    """Reads the answer to the server's EOF, then sends 16 MiB (the server
    has closed by then, with nothing unread) and reads to the end: "ok", or
    what went wrong."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            if not got.startswith(b"Status: 413 "):
                return "answer %r" % got[:30]
            s.sendall(BODY)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            return "ok"
    except OSError as e:
        return type(e).__name__


@test("cgi_status_head_lingers_in_mode_on", timeout=120)
def test_cgi_status_on(t):
    """The app answers "Status: 413 ..." and closes before the body comes:
    without the shim the body draws a reset; with LINGER_MODE=on the head
    reads as a response with close semantics and the close lingers, so
    every client sends its whole body and reaches the end."""
    need_shim(t)
    out = {}
    for mode in (None, "on"):
        srv = start_server(t, [PYTHON, SERVER], shim=bool(mode), env={"LINGER_MODE": mode} if mode else None,
                           label="cgi-%s" % mode)
        out[mode] = collections.Counter(answer_then_body(srv.port) for _ in range(TRIES))
        srv.stop()
    t.note("; ".join("%s: %s" % (m or "without the shim", fmt(c)) for m, c in out.items()))
    if out[None]["ok"] == TRIES:
        raise AssertionError("no reset without the shim: the test shows nothing: " + t.notes[-1])
    if out["on"]["ok"] != TRIES:
        raise AssertionError("the close did not linger: " + t.notes[-1])
    return t.notes[-1]
