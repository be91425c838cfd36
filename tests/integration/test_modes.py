"""LINGER_MODE beyond HTTP: `on` lingers a socket this process wrote to
whenever request bytes are unread at its close, even when what it wrote was
not an HTTP response; `always` lingers every accepted socket the process
wrote to, even with nothing unread. tests/servers/line_server.py is the
host: a line-based server that answers and closes at once."""
import collections
import socket

import time

from lib import BUILD, PYTHON, SANITIZE, SERVERS, MiB, Skip, fmt, need_shim, recv_until, start_server, stats_of, test

LINE_SERVER = SERVERS / "line_server.py"
GREET_SPAWN = BUILD / "tests" / "greet_spawn"
TRIES = 3
LINE = b"x" * 100 + b"\n"
PAYLOAD = b"y" * (16 * MiB)  # made once: making it takes milliseconds
LINE_AND_PAYLOAD = LINE + PAYLOAD


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
    """Sends a line and 16 MiB after it (in one go: the first segment holds
    more than the line), then reads the answer."""
    s.sendall(LINE_AND_PAYLOAD)
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


def read_greeting_then_close(s):
    """Reads the HTTP greeting (to its body, "ok") and closes before the server does."""
    got = recv_until(s, b"\r\n\r\nok")
    return "ok" if got.endswith(b"\r\n\r\nok") else "greeting %r" % got[:30]


def read_greeting_then_wait(s):
    """Reads the HTTP greeting to the server's EOF, then closes."""
    got = recv_all(s)
    return "ok" if got.endswith(b"\r\n\r\nok") else "greeting %r" % got[:30]


@test("peer_closed_first_closed_at_once_every_mode", timeout=120)
def test_peer_closed_first(t):
    """The server answers with Connection: close and closes 500 ms later. A
    client that has closed by then (nothing unread) is not lingered in modes
    on and always: the close is a plain one at once (linger_lingered_total
    stays 0). Control, same server: a client still open at the server's
    close is lingered (the counter moves)."""
    need_shim(t)
    out = {}
    for mode in ("on", "always"):
        for client in (read_greeting_then_close, read_greeting_then_wait):
            st_file = t.path("first-%s-%s-%%p.prom" % (mode, client.__name__))
            srv = start_server(t, [PYTHON, LINE_SERVER, "--http-greet", "--close-after-ms", "500"],
                               shim=True, env={"LINGER_MODE": mode, "LINGER_STATS": st_file},
                               label="first-%s-%s" % (mode, client.__name__))
            got = collections.Counter(outcome(client, srv.port) for _ in range(TRIES))
            time.sleep(0.8)   # the server's last close (500 ms after its answer)
            srv.stop()        # a clean exit: the stats file has its final counters
            st = stats_of(str(st_file).replace("%p", str(srv.pid)))
            out[mode, client] = (got, st.get("linger_lingered_total"))
            t.note("%s, client %s first: %s, lingered %s" % (
                mode, "closes" if client is read_greeting_then_close else "waits for the server's close",
                fmt(got), out[mode, client][1]))
    for (mode, client), (got, lingered) in out.items():
        if got["ok"] != TRIES:
            raise AssertionError("a client failed: " + "; ".join(t.notes))
        want = 0 if client is read_greeting_then_close else TRIES
        if lingered != want:
            raise AssertionError("%s: lingered %s, not %d: %s" % (mode, lingered, want, "; ".join(t.notes)))
    return "; ".join(t.notes)


def line_and_a_few_bytes(s):
    """Sends a line and 100 bytes after it (in one go: unread at the
    server's close, fewer than its SO_RCVLOWAT), then reads the answer to
    the server's EOF."""
    s.sendall(LINE + b"z" * 100)
    got = recv_all(s)
    return "ok" if got == b"ERR line too long\n" else "answer %r" % got[:30]


@test("mode_on_counts_unread_bytes_under_so_rcvlowat", timeout=120)
def test_rcvlowat(t):
    """SO_RCVLOWAT (64 KiB) on the server's sockets, set by the app on each
    accepted socket or, before the server started, on the listener it
    inherits (as from a supervisor): poll does not show fewer unread bytes
    than that, so linger must count them another way. The server answers a
    line and closes with 100 bytes unread: without the shim the client is
    reset; with LINGER_MODE=on each close lingers (the counter moves) and
    every client gets the answer and a clean end."""
    out = {}
    for where in ("socket", "listener"):
        for shim in (False, True):
            if shim:
                need_shim(t)
            argv, fds, lsock = [PYTHON, LINE_SERVER], (), None
            if where == "socket":
                argv.append("--rcvlowat")
            else:
                lsock = socket.socket()
                lsock.bind(("127.0.0.1", 0))
                lsock.listen(16)
                lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 65536)
                argv += ["--listen-fd", str(lsock.fileno())]
                fds = (lsock.fileno(),)
            st_file = t.path("lowat-%s-%s-%%p.prom" % (where, shim))
            srv = start_server(t, argv, shim=shim, env={"LINGER_STATS": st_file} if shim else None,
                               pass_fds=fds, label="lowat-%s-%s" % (where, shim))
            if lsock:
                lsock.close()  # the server's copy is the only one
            got = collections.Counter(outcome(line_and_a_few_bytes, srv.port) for _ in range(TRIES))
            srv.stop()
            lingered = stats_of(str(st_file).replace("%p", str(srv.pid))).get("linger_lingered_total")
            out[where, shim] = (got, lingered)
            t.note("SO_RCVLOWAT on the %s, %s the shim: %s%s" % (
                where, "with" if shim else "without", fmt(got), ", lingered %s" % lingered if shim else ""))
    for (where, shim), (got, lingered) in out.items():
        if not shim and got["ok"] == TRIES:
            raise AssertionError("did not reproduce without the shim: " + "; ".join(t.notes))
        if shim and (got["ok"] != TRIES or lingered != TRIES):
            raise AssertionError("the unread bytes were not counted: " + "; ".join(t.notes))
    return "; ".join(t.notes)


def command_after_greeting(s):
    """Reads the greeting, sends a command, reads the reply (the handler's)."""
    got = recv_until(s, b"\r\n")
    if got != b"220 ready\r\n":
        return "greeting %r" % got[:30]
    s.sendall(b"HELO x\r\n")
    reply = s.recv(64)
    return "ok" if reply == b"250 hello\r\n" else "reply %r" % reply[:30]


@test("greeting_then_fork_child_keeps_the_socket", timeout=120)
def test_greet_fork(t):
    """A server that is not HTTP greets, forks a handler once the client's
    command has arrived (unread), and closes its own copy at once: its
    close must not shut the socket down under the handler, in modes on and
    always (what it wrote before the fork may not be its last word), so the
    client gets the handler's reply exactly as without the shim."""
    if "thread" in SANITIZE:
        raise Skip("ThreadSanitizer cannot start threads after a multi-threaded fork (the handler's drainer)")
    out = runs(t, [PYTHON, LINE_SERVER, "--greet-then-fork"], command_after_greeting, (None, "on", "always"))
    bad = {m: c for m, c in out.items() if c["ok"] != TRIES}
    if bad:
        raise AssertionError("the handler's reply was lost: " + t.notes[-1])
    return t.notes[-1]


def spawn_case(argv, how):
    def fn(t):
        out = runs(t, argv, command_after_greeting, (None, "on", "always"))
        if out[None]["ok"] != TRIES:
            raise AssertionError("the handler did not answer without the shim: " + t.notes[-1])
        bad = {m: c for m, c in out.items() if c["ok"] != TRIES}
        if bad:
            raise AssertionError("the handler's reply was lost: " + t.notes[-1])
        return t.notes[-1]
    fn.__doc__ = ("greeting_then_fork_child_keeps_the_socket with the handler a program started "
                  "through %s, which makes a child that shares the server's memory until it execs "
                  "(no fork handler runs): that is a fork too, and the server's close must not shut "
                  "the socket down under the handler." % how)
    return fn


test("greeting_then_subprocess_handler_keeps_the_socket", timeout=150)(
    spawn_case([PYTHON, LINE_SERVER, "--greet-then-spawn", "subprocess"], "Python's subprocess (vfork)"))
test("greeting_then_posix_spawn_handler_keeps_the_socket", timeout=150)(
    spawn_case([PYTHON, LINE_SERVER, "--greet-then-spawn", "posix_spawn"], "os.posix_spawn"))
for _how, _what in (("posix_spawn", "posix_spawn"), ("posix_spawnp", "posix_spawnp"),
                    ("clone", "clone(CLONE_VM | CLONE_VFORK) without CLONE_FILES"), ("vfork", "vfork")):
    test("greeting_then_c_%s_handler_keeps_the_socket" % _how, timeout=150)(
        spawn_case([GREET_SPAWN, "--how", _how], "C's " + _what))


def bytes_after_greeting(s):
    """Reads the greeting, sends a few bytes, and keeps the connection open
    1.5 s (longer than the server's 1 s read timeout)."""
    got = s.recv(64)
    s.sendall(b"PING\r\n")
    time.sleep(1.5)
    return "ok" if got == b"+OK\r\n" else "greeting %r" % got[:30]


@test("shutdown_rdwr_of_a_non_http_socket_ends_reads", timeout=120)
def test_shutdown_rdwr(t):
    """A server that is not HTTP greets and, with the client's bytes unread,
    calls shutdown(SHUT_RDWR) to end the connection, then reads: its reads
    must end at once with EOF, as without the shim (linger passes SHUT_RDWR
    on as SHUT_WR only after a recognised HTTP response)."""
    need_shim(t)
    ends = {}
    for mode in (None, "on"):
        srv = start_server(t, [PYTHON, LINE_SERVER, "--shutdown-rdwr"], shim=bool(mode),
                           env={"LINGER_MODE": mode} if mode else None, label="shut-%s" % mode)
        outcome(bytes_after_greeting, srv.port)
        deadline = time.monotonic() + 5
        while "after SHUT_RDWR" not in srv.proc.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        srv.stop()
        lines = [x for x in srv.proc.log.read_text().splitlines() if x.startswith("after SHUT_RDWR")]
        ends[mode] = lines[0] if lines else "no line"
    t.note("without the shim: %s; on: %s" % (ends[None], ends["on"]))
    if ends[None] != "after SHUT_RDWR: EOF" or ends["on"] != ends[None]:
        raise AssertionError("the app's reads did not end as without the shim: " + t.notes[-1])
    return t.notes[-1]
