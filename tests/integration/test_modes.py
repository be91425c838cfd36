"""LINGER_MODE beyond HTTP: `on` lingers a socket this process wrote to
whenever request bytes are unread at its close, even when what it wrote was
not an HTTP response; `always` lingers every accepted socket the process
wrote to, even with nothing unread. tests/servers/line_server.py is the
host: a line-based server that answers and closes at once."""
import collections
import socket

from lib import PYTHON, SERVERS, MiB, fmt, need_shim, start_server, test

LINE_SERVER = SERVERS / "line_server.py"
TRIES = 3
PAYLOAD = b"y" * (16 * MiB)  # made once: making it takes milliseconds


def outcome(fn, port):
    """fn(sock) on a new connection: "ok", or the name of the error."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            return fn(s)
    except OSError as e:
        return type(e).__name__


def recv_all(s):
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += b


def too_long_line(s):
    """Sends a line and 16 MiB after it, then reads the answer."""
    s.sendall(b"x" * 100 + b"\n")
    s.sendall(PAYLOAD)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    return "ok" if got == b"ERR line too long\n" else "answer %r" % got[:30]


def after_greeting(s):
    """Reads the greeting to the server's EOF, then sends 16 MiB (the server
    has closed by then: nothing was unread at its close) and waits for the end."""
    got = recv_all(s)
    if got != b"HELLO\n":
        return "greeting %r" % got[:30]
    s.sendall(PAYLOAD)
    s.shutdown(socket.SHUT_WR)
    recv_all(s)
    return "ok"


def runs(t, argv, client, modes):
    """{mode: Counter of outcomes}; mode None runs without the shim."""
    out = {}
    for mode in modes:
        if mode:
            need_shim(t)
        srv = start_server(t, argv, shim=bool(mode), env={"LINGER_MODE": mode} if mode else None,
                           label="line-%s" % mode)
        out[mode] = collections.Counter(outcome(client, srv.port) for _ in range(TRIES))
        srv.stop()
    t.note("; ".join("%s: %s" % (m or "without the shim", fmt(c)) for m, c in out.items()))
    return out


@test("mode_on_lingers_unread_bytes_after_any_answer", timeout=120)
def test_on_unread_bytes(t):
    """A server that is not HTTP answers a line and closes with the rest of
    the client's bytes unread: without the shim the client is reset; with
    LINGER_MODE=on every client gets the answer and sends all it had."""
    out = runs(t, [PYTHON, LINE_SERVER], too_long_line, (None, "on"))
    if out[None]["ok"] == TRIES:
        raise AssertionError("did not reproduce without the shim: " + t.notes[-1])
    if out["on"]["ok"] != TRIES:
        raise AssertionError("mode on did not linger: " + t.notes[-1])
    return t.notes[-1]


@test("mode_always_lingers_with_nothing_unread", timeout=120)
def test_always(t):
    """A server that is not HTTP greets and closes at once, before the client
    sends: nothing is unread at the close, so `on` (like no shim) closes
    plainly and the client's later bytes are reset; `always` lingers, and the
    client sends all it had."""
    out = runs(t, [PYTHON, LINE_SERVER, "--greet"], after_greeting, (None, "on", "always"))
    if out[None]["ok"] == TRIES or out["on"]["ok"] == TRIES:
        raise AssertionError("did not reproduce without the shim or in mode on: " + t.notes[-1])
    if out["always"]["ok"] != TRIES:
        raise AssertionError("mode always did not linger: " + t.notes[-1])
    return t.notes[-1]
