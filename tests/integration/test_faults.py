"""Faults, hostile clients and the shim's own files: each test fails if the
behaviour it names regresses.

A lingering socket is watched through the server's count of open sockets
(files come and go: the stats file's temporary, a sanitizer's reads of
/proc): after a warm-up (which starts the drainer), the server holds
`baseline` sockets; while the shim holds a lingering socket it holds one more
(the shim's duplicate), and the count is back at `baseline` the moment the
drainer really closes it. The reason is read from the LINGER_STATS file
(linger_closed_total{reason=...}). Servers are stopped only once they hold
no connection any more (settle): a server thread still closing a connection
while the process exits is another test's business.
"""
import collections
import contextlib
import fcntl
import os
import re
import socket
import stat
import struct
import termios
import subprocess
import threading
import time
import uuid

from lib import (BUILD, LEGACY, PRELOAD_FIRST, PYTHON, RESETTING_UPLOAD, SANITIZE, SHIM, MiB, Proc, Server, Skip,
                 clean_env, count_status, fd_count, fmt, legacy, need_shim, recv_until, recv_until_eof,
                 shim_log_lines, start_server, stats_of, test, upload_once, uploads, wait_for)

LIBFAIL = BUILD / "tests" / "libfail_pthread.so"
LIBCOUNT = BUILD / "tests" / "libcount_alloc.so"
STORM = BUILD / "tests" / "signal_storm"
RESPONSE_413 = b"HTTP/1.1 413 "


# ---------------------------------------------------------------- helpers

def socket_count(pid):
    """Sockets among the process's open fds."""
    n = 0
    for name in os.listdir("/proc/%d/fd" % pid):
        with contextlib.suppress(OSError):
            if os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                n += 1
    return n


def settle(srv, keep=1, timeout=3):
    """Waits until the server holds at most `keep` sockets (its listener)."""
    wait_for(lambda: socket_count(srv.pid) <= keep, timeout)


def closed(st, reason):
    return st.get("linger_closed_total{%s}" % reason, 0)


def stats_path(t, label):
    return t.path("%s-%%p.prom" % label)


def pid_path(template, pid):
    return str(template).replace("%p", str(pid))


def stopped_stats(srv, template):
    """Stops the server (the shim writes its stats file at exit) and reads it."""
    settle(srv)
    srv.stop()
    return stats_of(pid_path(template, srv.pid))


def holding_client(port, announce=4 * MiB, send=64 * 1024, timeout=5):
    """A client that announces a big upload, sends `send` body bytes, reads
    the whole 413 up to the server's FIN, and keeps its socket open. Returns
    (socket, response bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % announce)
    if send:
        s.sendall(b"b" * send)
    return s, recv_until_eof(s, 4096)


def warm_up(srv):
    """One rejected upload from a client that then closes: starts the drainer.
    Returns the server's socket count once that socket is gone."""
    s, got = holding_client(srv.port)
    s.close()
    if not got.startswith(RESPONSE_413):
        raise AssertionError("warm-up upload got %r" % got[:60])
    settle(srv)
    time.sleep(0.1)
    return socket_count(srv.pid)


def until_fds(pid, target, timeout, t0=None):
    """Polls the socket count every 10 ms until it is <= target; returns the
    seconds since t0 (or None on timeout)."""
    t0 = t0 or time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if socket_count(pid) <= target:
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def unsent_bytes(s):
    """Bytes still in socket s's send queue, not yet acknowledged (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def small_requests(srv, n=3):
    return collections.Counter(upload_once(srv, 100, timeout=5) for _ in range(n))


def start_with_env(t, argv, env, label):
    """Like lib.start_server, with the environment exactly as given (for an
    LD_PRELOAD the test builds itself)."""
    port_file = t.path("%s.port" % label)
    proc = Proc(t, [str(a) for a in argv] + ["--port-file", str(port_file)], env, "%s.log" % label)
    if not wait_for(lambda: port_file.exists() or not proc.alive(), 10) or not port_file.exists():
        proc.stop()
        raise AssertionError("%s did not start: %s" % (label, proc.log_tail()))
    return Server(proc, port=int(port_file.read_text()))


def no_shim_lines(t, srv):
    said = shim_log_lines(srv)
    if said:
        raise AssertionError("the shim logged: %s | %s" % (" / ".join(said[-3:]), "; ".join(t.notes)))


# ---------------------------------------------------------------- lingering limits

def silent_client_closed(t, label, env, setting, window, reason):
    """A threads-model server under the shim with env (and a stats file),
    and a client that reads its 413 and then neither sends nor closes, until
    the shim really closes the socket (4 s at most). Fails unless the 413
    came, the socket lingered, the real close came window = (lo, hi)
    seconds after the app's (as setting says), and the stats count it as
    reason (time_cap or idle_timeout) and not as the other. Returns the
    details line.

    The window's two ends are measured so that a stalled test cannot fail
    them by chance: lo from before the client connects (the shim's clock
    starts later), hi from after it has read the 413 (the shim's clock
    started earlier)."""
    need_shim(t)
    st_file = stats_path(t, label)
    srv = legacy(t, "threads", shim=True, env=dict(env, LINGER_STATS=st_file))
    base = warm_up(srv)
    t_connect = time.monotonic()
    s, got = holding_client(srv.port)
    t0 = time.monotonic()
    try:
        # the FIN comes from the shim's shutdown, just before the app's number is closed
        wait_for(lambda: socket_count(srv.pid) <= base + 1, 0.5, 0.005)
        held = socket_count(srv.pid)
        dt = until_fds(srv.pid, base, 4, t0)
    finally:
        s.close()
    # held is base + 1 while it lingers; base if this test was slower to
    # look than the shim to close (the lower end of the window then shows
    # that it lingered)
    lingered_for = dt + (t0 - t_connect) if dt is not None else None
    st = stopped_stats(srv, st_file)
    t.note("413: %s; sockets %d while lingering, baseline %d; closed after %s s; stats time_cap=%d "
           "idle=%d eof=%d" % (got.startswith(RESPONSE_413), held, base,
                               "%.2f" % dt if dt is not None else "never", closed(st, "time_cap"),
                               closed(st, "idle_timeout"), closed(st, "eof")))
    if not got.startswith(RESPONSE_413) or held not in (base, base + 1):
        raise AssertionError("the socket did not linger: " + "; ".join(t.notes))
    if dt is None or dt > window[1] or lingered_for < window[0]:
        raise AssertionError("not closed at %s: %s" % (setting, "; ".join(t.notes)))
    other = "idle_timeout" if reason == "time_cap" else "time_cap"
    if closed(st, reason) != 1 or closed(st, other) != 0:
        raise AssertionError("wrong reason counted: " + "; ".join(t.notes))
    no_shim_lines(t, srv)
    return t.notes[-1]


@test("fault_client_never_closes_closed_at_linger_time", timeout=60)
def test_never_closes(t):
    """A client reads its 413 and then neither sends nor closes. With
    LINGER_TIME=1s and LINGER_TIMEOUT=10s the shim must really close the
    socket 1 s after the app's close (not before 0.8 s, not after 2 s), and
    count it as time_cap."""
    return silent_client_closed(t, "never", {"LINGER_TIME": "1s", "LINGER_TIMEOUT": "10s"},
                                "LINGER_TIME=1s", (0.8, 2.0), "time_cap")


@test("fault_drip_client_closed_at_linger_time", timeout=60)
def test_drip(t):
    """After its 413 a client sends one byte every 0.3 s and never closes.
    With LINGER_TIME=2s and LINGER_TIMEOUT=1s (longer than the drip
    interval) the drip keeps the idle timer from firing but must not keep the
    socket: it is closed 2 s after the app's close, as time_cap, and the
    client's drip then fails."""
    need_shim(t)
    st_file = stats_path(t, "drip")
    srv = legacy(t, "threads", shim=True, env={"LINGER_TIME": "2s", "LINGER_TIMEOUT": "1s",
                                                "LINGER_STATS": st_file})
    base = warm_up(srv)
    t_connect = time.monotonic()   # before the shim's clock starts: for the lower bound
    s, got = holding_client(srv.port)
    t0 = time.monotonic()          # after it: for the upper bound
    drip = {"sent": 0, "error": None, "at": None}
    stop = threading.Event()

    def dripper():
        while not stop.is_set() and time.monotonic() - t0 < 6:
            try:
                s.send(b"d")
                drip["sent"] += 1
            except OSError as e:
                drip["error"], drip["at"] = type(e).__name__, time.monotonic() - t0
                return
            stop.wait(0.3)
    th = threading.Thread(target=dripper, daemon=True)
    th.start()
    try:
        dt = until_fds(srv.pid, base, 5, t0)
        th.join(3)
    finally:
        stop.set()
        th.join(2)
        s.close()
    st = stopped_stats(srv, st_file)
    t.note("413: %s; closed after %s s; %d bytes dripped, then %s at %s s; stats time_cap=%d idle=%d "
           "drained=%d" % (got.startswith(RESPONSE_413), "%.2f" % dt if dt is not None else "never",
                           drip["sent"], drip["error"], "%.2f" % drip["at"] if drip["at"] else "-",
                           closed(st, "time_cap"), closed(st, "idle_timeout"),
                           st.get("linger_drained_bytes_total", 0)))
    if not got.startswith(RESPONSE_413):
        raise AssertionError("no 413: " + "; ".join(t.notes))
    if dt is None or dt > 3.0 or dt + (t0 - t_connect) < 1.8:
        raise AssertionError("not closed at LINGER_TIME=2s: " + "; ".join(t.notes))
    if closed(st, "time_cap") != 1 or closed(st, "idle_timeout") != 0:
        raise AssertionError("wrong reason counted: " + "; ".join(t.notes))
    if drip["sent"] < 5 or drip["error"] is None:
        raise AssertionError("the drip did not go on until the close: " + "; ".join(t.notes))
    no_shim_lines(t, srv)
    return t.notes[-1]


@test("fault_idle_client_closed_at_linger_timeout", timeout=60)
def test_idle(t):
    """A client reads its 413 and then neither sends nor closes. With
    LINGER_TIMEOUT=500ms and LINGER_TIME=10s the shim must really close the
    socket about 0.5 s after the app's close (not before 0.4 s, nor after
    3 s on a loaded machine), and count it as idle_timeout."""
    return silent_client_closed(t, "idle", {"LINGER_TIMEOUT": "500ms", "LINGER_TIME": "10s"},
                                "LINGER_TIMEOUT=500ms", (0.4, 3.0), "idle_timeout")


@test("fault_streaming_client_closed_at_max_bytes", timeout=60)
def test_max_bytes(t):
    """After its 413 a client keeps sending (up to 64 MiB) and never closes.
    With LINGER_MAX_BYTES=1m the drainer stops after about 1 MiB discarded
    and really closes the socket, counted as byte_cap; the client's sending
    then fails, long before its 64 MiB."""
    need_shim(t)
    st_file = stats_path(t, "bytecap")
    srv = legacy(t, "threads", shim=True, env={"LINGER_MAX_BYTES": "1m", "LINGER_STATS": st_file})
    base = warm_up(srv)
    s, got = holding_client(srv.port, announce=64 * MiB, send=0)
    chunk, sent, error = b"s" * 65536, 0, None
    s.settimeout(5)
    try:
        while sent < 64 * MiB:
            sent += s.send(chunk)
    except OSError as e:
        error = type(e).__name__
    finally:
        s.close()
    dt = until_fds(srv.pid, base, 4)
    st = stopped_stats(srv, st_file)
    drained = st.get("linger_drained_bytes_total", 0)
    t.note("413: %s; the client sent %.1f MiB, then %s; stats byte_cap=%d eof=%d, %d bytes drained "
           "(warm-up included)" % (got.startswith(RESPONSE_413), sent / MiB, error, closed(st, "byte_cap"),
                                  closed(st, "eof"), drained))
    if not got.startswith(RESPONSE_413) or dt is None:
        raise AssertionError("no 413, or the socket was never closed: " + "; ".join(t.notes))
    if closed(st, "byte_cap") != 1 or error is None or sent >= 64 * MiB:
        raise AssertionError("not closed at LINGER_MAX_BYTES=1m: " + "; ".join(t.notes))
    if not MiB <= drained <= 8 * MiB:
        raise AssertionError("drained bytes not near the 1 MiB cap: " + "; ".join(t.notes))
    no_shim_lines(t, srv)
    return t.notes[-1]


@test("fault_client_reset_mid_drain", timeout=60)
def test_rst_mid_drain(t):
    """While its socket lingers and is being drained, the client aborts
    (SO_LINGER 0, close: an RST). The shim must clean up at once (fds back to
    baseline within 0.5 s), count the close (reason error or eof), log
    nothing, and the app must go on answering."""
    need_shim(t)
    st_file = stats_path(t, "rst")
    srv = legacy(t, "threads", shim=True, env={"LINGER_STATS": st_file})
    base = warm_up(srv)
    s, got = holding_client(srv.port)
    s.sendall(b"m" * (256 * 1024))          # drained while lingering
    # all of it has reached the server (bytes still queued here would be
    # thrown away by the RST, not drained), and the drainer had time to read
    wait_for(lambda: unsent_bytes(s) == 0, 3, 0.005)
    time.sleep(0.2)
    wait_for(lambda: socket_count(srv.pid) <= base + 1, 0.5, 0.005)
    held = socket_count(srv.pid)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()                                # RST
    t0 = time.monotonic()
    dt = until_fds(srv.pid, base, 3, t0)
    small = small_requests(srv)
    st = stopped_stats(srv, st_file)
    t.note("413: %s; sockets %d lingering, baseline %d; gone %s s after the RST; stats lingered=%d "
           "error=%d eof=%d lingering_now=%d drained=%d; then small %s" % (
               got.startswith(RESPONSE_413), held, base, "%.3f" % dt if dt is not None else "never",
               st.get("linger_lingered_total", 0), closed(st, "error"), closed(st, "eof"),
               st.get("linger_lingering_sockets", -1), st.get("linger_drained_bytes_total", 0), fmt(small)))
    if not got.startswith(RESPONSE_413) or held != base + 1:
        raise AssertionError("the socket did not linger: " + "; ".join(t.notes))
    if dt is None or dt > 0.5:
        raise AssertionError("not cleaned up after the RST: " + "; ".join(t.notes))
    # warm-up (eof) + the reset one; lingered counts both
    if st.get("linger_lingered_total") != 2 or closed(st, "error") + closed(st, "eof") != 2 \
            or st.get("linger_lingering_sockets") != 0 or st.get("linger_drained_bytes_total", 0) < 256 * 1024:
        raise AssertionError("not counted: " + "; ".join(t.notes))
    if count_status(small, 200) != 3:
        raise AssertionError("the app stopped answering: " + "; ".join(t.notes))
    no_shim_lines(t, srv)
    if srv.proc.log_tail().strip():
        raise AssertionError("the app printed: %r" % srv.proc.log_tail())
    return t.notes[-1]


def reset_seen(s):
    """Sends one byte, then tells whether the peer's socket is gone (it
    answers with an RST: ECONNRESET or EPIPE on the next call)."""
    try:
        s.send(b"z")
        time.sleep(0.2)
        s.send(b"z")
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.recv(1)
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


@test("fault_more_lingering_than_max_sockets_oldest_first", timeout=60)
def test_socket_cap(t):
    """LINGER_MAX_SOCKETS=4 and six clients in turn that read their 413 and
    stay: the shim holds 4 sockets, closing the two oldest (reason
    socket_cap): the first two clients' sockets are gone (a byte sent gets
    an RST) while the last four still linger; the app keeps accepting."""
    need_shim(t)
    st_file = stats_path(t, "cap")
    srv = legacy(t, "threads", shim=True, env={"LINGER_MAX_SOCKETS": "4", "LINGER_TIME": "30s",
                                                "LINGER_TIMEOUT": "30s", "LINGER_STATS": st_file})
    base = warm_up(srv)
    clients = []
    try:
        for i in range(6):
            s, got = holding_client(srv.port)
            clients.append(s)
            if not got.startswith(RESPONSE_413):
                raise AssertionError("client %d got %r" % (i, got[:60]))
            # the client sees the FIN before the drainer adopts the socket;
            # the app's number closes after: wait for that, so that the
            # next client's socket is adopted after this one's
            wait_for(lambda: socket_count(srv.pid) <= base + min(i + 1, 4), 2, 0.005)
        wait_for(lambda: socket_count(srv.pid) <= base + 4, 1)
        held = socket_count(srv.pid)
        small = small_requests(srv)
        gone = [reset_seen(s) for s in clients]
    finally:
        for s in clients:
            s.close()
    st = stopped_stats(srv, st_file)
    t.note("sockets %d (baseline %d); sockets gone per client, oldest first: %s; small %s; stats "
           "socket_cap=%d" % (held, base, gone, fmt(small), closed(st, "socket_cap")))
    if held != base + 4:
        raise AssertionError("not 4 lingering sockets: " + "; ".join(t.notes))
    if gone != [True, True, False, False, False, False]:
        raise AssertionError("not the oldest first: " + "; ".join(t.notes))
    if closed(st, "socket_cap") != 2 or count_status(small, 200) != 3:
        raise AssertionError("; ".join(t.notes))
    no_shim_lines(t, srv)
    return t.notes[-1]


# ---------------------------------------------------------------- resources

@test("fault_drainer_thread_cannot_start", timeout=60)
def test_no_drainer(t):
    """pthread_create fails (EAGAIN) for the shim's drainer thread only
    (build/tests/libfail_pthread.so): closes stay plain closes, so uploads
    reset as without the shim; exactly one warning; the server's own threads
    and small requests work; every lingering close is counted as a fallback."""
    need_shim(t)
    if not LIBFAIL.exists():
        raise AssertionError("%s is missing (run make servers)" % LIBFAIL)
    st_file = stats_path(t, "nodrainer")
    env = clean_env(True, {"LINGER_STATS": st_file})
    env["LD_PRELOAD"] = " ".join(PRELOAD_FIRST + [str(SHIM), str(LIBFAIL)])
    srv = start_with_env(t, [LEGACY, "--model", "threads", "--port", 0], env, "nodrainer")
    got = uploads(srv, 10, RESETTING_UPLOAD)
    small = small_requests(srv)
    st = stopped_stats(srv, st_file)
    text = srv.proc.log.read_text(errors="replace")
    warnings = [x for x in text.splitlines() if re.match(r"linger\[\d+\]: ", x)]
    refused = re.findall(r"libfail_pthread: refused (\d+)", text)
    t.note("uploads %s; small %s; shim lines %r; drainer refused %d time(s); stats fallback=%d lingered=%d" % (
        fmt(got), fmt(small), warnings, len(refused), st.get("linger_fallback_closes_total", 0),
        st.get("linger_lingered_total", 0)))
    if len(warnings) != 1 or "cannot start the drainer thread" not in warnings[0]:
        raise AssertionError("not exactly one warning: " + "; ".join(t.notes))
    if len(refused) != 1:
        raise AssertionError("the drainer start was not refused exactly once: " + "; ".join(t.notes))
    if count_status(got, 413) == 10 or count_status(small, 200) != 3:
        raise AssertionError("; ".join(t.notes))
    if st.get("linger_lingered_total", 0) != 0 or st.get("linger_fallback_closes_total", 0) < 10 - count_status(got, 413):
        raise AssertionError("closes not counted as fallbacks: " + "; ".join(t.notes))
    return t.notes[-1]


LIBSIGNAL = BUILD / "tests" / "libsignal_in_pthread_create.so"
SIGNAL_FIRST_WRITE = BUILD / "tests" / "signal_first_write"


@test("fault_signal_handler_writes_while_the_drainer_starts", timeout=60)
def test_signal_during_drainer_start(t):
    """A signal handler writes an answer on the very thread that is starting
    the drainer (build/tests/libsignal_in_pthread_create.so raises the signal
    inside the shim's pthread_create): the handler's write must not wait for
    the shim's start lock, which its own thread holds. Both answers arrive
    whole; a shim that waits hangs for good (killed after 10 s). Without
    the shim nothing raises the signal: the run shows the program works."""
    runs = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        env = clean_env(shim)
        if shim:
            env["LD_PRELOAD"] = " ".join(PRELOAD_FIRST + [str(SHIM), str(LIBSIGNAL)])
        try:
            r = subprocess.run([str(SIGNAL_FIRST_WRITE)], capture_output=True, text=True, timeout=10, env=env)
            runs[shim] = r.stdout.strip() if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stderr[-200:])
        except subprocess.TimeoutExpired:
            runs[shim] = "hung (killed after 10 s)"
    t.note("without the shim: %s; with: %s" % (runs[False], runs[True]))
    # without the shim nothing raises the signal: only the first answer
    if runs[False] != "first: 59 bytes, second: 0 bytes, handler ran: no":
        raise AssertionError("the program itself misbehaves: " + t.notes[-1])
    if runs[True] != "first: 59 bytes, second: 59 bytes, handler ran: yes":
        raise AssertionError(t.notes[-1])
    return t.notes[-1]


def keepalive_conn(port, timeout):
    """A connection that made one GET and stays open (the server's thread
    waits on it, holding an fd). Returns (socket, status line or error)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return None, type(e).__name__
    try:
        s.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        got = recv_until(s, b"\r\n\r\n")
        return s, got.split(b"\r\n", 1)[0].decode(errors="replace") or "EOF"
    except OSError as e:
        s.close()
        return None, type(e).__name__


@test("fault_fd_limit_accept_never_emfile", timeout=120, needs=("prlimit",))
def test_fd_limit(t):
    """The server runs with RLIMIT_NOFILE 64 and the default
    LINGER_MAX_SOCKETS (16). 30 clients read their 413 and stay (their
    sockets linger, holding fds), then 50 keep-alive clients each hold a
    connection: the app itself needs close to 60 fds, more than the limit
    leaves beside the lingering sockets. Every connection must be accepted
    and answered; then 10 more uploads get their 413. Without the shim the
    same load fits under the limit, so an accept failing here is the shim's
    doing."""
    res = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        env = {"LINGER_TIME": "60s", "LINGER_TIMEOUT": "60s"}
        argv = ["prlimit", "--nofile=64:64", "--", LEGACY, "--model", "threads", "--port", 0]
        srv = start_server(t, argv, shim=shim, env=env, label="nofile-%s" % side)
        held, answers = [], collections.Counter()
        try:
            for _ in range(30):
                s, got = holding_client(srv.port, send=0)
                held.append(s)
                answers["upload " + ("413" if got.startswith(RESPONSE_413) else repr(got[:20]))] += 1
            for _ in range(50):
                s, status = keepalive_conn(srv.port, timeout=3)
                if s:
                    held.append(s)
                answers["keep-alive " + status] += 1
            for _ in range(10):
                s, got = holding_client(srv.port, send=0, timeout=3)
                s.close()
                answers["late upload " + ("413" if got.startswith(RESPONSE_413) else repr(got[:20]))] += 1
        except OSError as e:
            answers["error " + type(e).__name__] += 1
        finally:
            fds = fd_count(srv.pid)
            for s in held:
                s.close()
        settle(srv)
        srv.stop()
        res[side] = answers
        t.note("%s shim: %s; server fds at the end %d" % (side, fmt(answers), fds))
    want = {"upload 413": 30, "keep-alive HTTP/1.1 200 OK": 50, "late upload 413": 10}
    for side in ("without", "with"):
        if dict(res[side]) != want:
            raise AssertionError("%s shim: not every connection accepted and answered | %s" % (
                side, "; ".join(t.notes)))
    return "; ".join(t.notes)


FD_PRESSURE = BUILD / "tests" / "fd_pressure"
# every call of build/tests/fd_pressure: those that make one fd, then pipe
# and socketpair (two); open_creat/openat_creat/open_tmpfile/creat pass a mode
FD_KINDS = ("open", "open_creat", "open_tmpfile", "open64", "openat", "openat_creat", "openat64",
            "__open_2", "__open64_2", "__openat_2", "__openat64_2", "creat", "creat64", "socket",
            "dup", "fcntl_dupfd", "fcntl_dupfd_cloexec", "epoll_create", "epoll_create1", "eventfd",
            "timerfd_create", "signalfd", "memfd_create", "socketpair", "pipe", "pipe2")
FD_LINGERING = 10
DRAINER_FDS = 2  # the drainer thread's epoll set and wake-up eventfd, kept while it runs
RELIEF_WAIT_US = 50000  # how long a call waits for the drainer's closes (policy_relieve_fd_pressure)


def fd_pressure_run(t, kind, shim, stats=False, again=False):
    """build/tests/fd_pressure KIND at RLIMIT_NOFILE 64 after FD_LINGERING
    closes with unread uploads: its report as a dict, with the closes for
    fd_pressure its debug log counts. With stats, LINGER_STATS is set and
    the program pauses 1.1 s before its calls, so that the drainer's next
    rewrite of the file (at most one a second) falls among them."""
    side = "with" if shim else "without"
    d = t.subdir("%s%s-%s%s" % (kind, "-stats" if stats else "", side, "-again" if again else ""))
    env = clean_env(shim, {"LINGER_TIME": "60s", "LINGER_TIMEOUT": "60s", "LINGER_LOG": "debug"})
    argv = ["prlimit", "--nofile=64:64", "--", str(FD_PRESSURE), kind, str(d), str(FD_LINGERING)]
    if stats:
        env["LINGER_STATS"] = str(d / "stats-%p.prom")
        argv.append("1100")
    p = subprocess.Popen(argv,
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()  # by pid: the process this test started
        p.communicate()
        raise AssertionError("fd_pressure %s %s the shim: timed out | %s" % (kind, side, "; ".join(t.notes)))
    m = re.search(r"^kind=.*$", out, re.M)
    if p.returncode != 0 or not m:
        raise AssertionError("fd_pressure %s %s the shim: exit %s, %r %r" % (kind, side, p.returncode,
                                                                           out[-300:], err[-300:]))
    rep = dict(kv.split("=", 1) for kv in m.group(0).split())
    for k in ("calls", "fds", "held_before", "held_after", "errno_changed", "mode_bad", "slowest_us", "last_us"):
        rep[k] = int(rep[k])
    rep["fd_pressure"] = len(re.findall(r"closed after lingering: closed_fd_pressure", err))
    return rep


@test("fault_fd_limit_every_call_relieved", timeout=240, needs=("prlimit",))
def test_fd_limit_calls(t):
    """Lingering sockets hold fds; when any call that makes an fd fails with
    EMFILE while some linger, linger gives them up and the call is made once
    more. build/tests/fd_pressure, at RLIMIT_NOFILE 64, closes 10 sockets
    with their uploads unread (with the shim they linger), then makes fds of
    one kind (open, openat, __open_2, creat, socket, socketpair, pipe, dup,
    fcntl F_DUPFD, epoll_create, eventfd, timerfd, signalfd, memfd_create...)
    until the call fails; open once more with LINGER_STATS set (the
    drainer's rewrite of that file must not take a number just given back).
    Without the shim it gets N fds; with it, every fd it lacks must be one
    the shim still holds, and that is at most the drainer's epoll set and
    eventfd: all 10 sockets given up (counted as fd_pressure), the last
    call's errno EMFILE, errno untouched by each call that succeeded (a
    retried one included), files created with the mode asked for."""
    if not FD_PRESSURE.exists():
        raise AssertionError("%s is missing (run make servers)" % FD_PRESSURE)
    need_shim(t)
    bad, figures, slowest = [], [], 0
    for kind, stats in [(k, False) for k in FD_KINDS] + [("open", True)]:
        wo = fd_pressure_run(t, kind, False, stats)
        wi = fd_pressure_run(t, kind, True, stats)
        short = wi["fds"] + wi["held_after"] - wo["held_after"] != wo["fds"] or wi["fd_pressure"] != FD_LINGERING
        if short and wi["last_us"] >= RELIEF_WAIT_US:
            # the failing call waited out the shim's bound: the drainer thread
            # got no CPU for that long (a busy machine); once more
            t.note("%s: the last call waited %.0f ms for the drainer, ran again" % (kind, wi["last_us"] / 1000))
            wi = fd_pressure_run(t, kind, True, stats, again=True)
        if stats:
            kind += "+LINGER_STATS"
        lingered = wi["held_before"] - wo["held_before"]
        kept = wi["held_after"] - wo["held_after"]
        figures.append("%s %d/%d+%d" % (kind, wo["fds"], wi["fds"], kept))
        slowest = max(slowest, wi["slowest_us"])
        why = []
        if wo["err"] != "EMFILE" or wi["err"] != "EMFILE":
            why.append("last errno %s without, %s with" % (wo["err"], wi["err"]))
        if lingered != FD_LINGERING + DRAINER_FDS:
            why.append("the shim held %d fds before (not %d lingering + %d)" % (lingered, FD_LINGERING, DRAINER_FDS))
        if wi["fds"] + kept != wo["fds"] or kept > DRAINER_FDS:
            why.append("%d fds without, %d with while the shim still held %d" % (wo["fds"], wi["fds"], kept))
        if wi["fd_pressure"] != FD_LINGERING:
            why.append("%d closed for fd_pressure" % wi["fd_pressure"])
        if wo["errno_changed"] or wi["errno_changed"] or wo["mode_bad"] or wi["mode_bad"]:
            why.append("errno changed after %d/%d successes, wrong mode on %d/%d files (without/with)" % (
                wo["errno_changed"], wi["errno_changed"], wo["mode_bad"], wi["mode_bad"]))
        if why:
            bad.append("%s: %s" % (kind, ", ".join(why)))
    t.note("fds made until EMFILE without/with the shim+still held by it: %s; slowest call with the shim "
           "(a retry after the drainer gave sockets up) %.1f ms" % (", ".join(figures), slowest / 1000))
    if bad:
        raise AssertionError("; ".join(bad) + " | " + "; ".join(t.notes))
    return "; ".join(t.notes)


def read_counts(path):
    with open(path, "rb") as f:
        return struct.unpack("5Q", f.read(40))


@test("fault_close_path_allocates_nothing", timeout=60)
def test_no_alloc(t):
    """After a warm-up, 50 lingering closes and their drains make no heap
    allocation and no mmap call in the server's process: counted by
    build/tests/libcount_alloc.so, which interposes malloc, calloc, realloc,
    the aligned allocators and mmap. (The single-process server allocates
    nothing per connection itself.) No allocation means none can fail midway
    through the close path and leave linger's table half-updated."""
    need_shim(t)
    if SANITIZE:
        raise Skip("the sanitizer's allocator comes first in LD_PRELOAD: nothing to count")
    counts = t.path("alloc-counts")
    env = clean_env(True, {"COUNT_ALLOC_FILE": counts})
    env["LD_PRELOAD"] = " ".join([str(SHIM), str(LIBCOUNT)])
    srv = start_with_env(t, [LEGACY, "--model", "single", "--port", 0], env, "alloc")
    startup = read_counts(counts)
    warm = uploads(srv, 3, 1 * MiB)
    settle(srv)
    time.sleep(0.2)
    base = socket_count(srv.pid)
    before = read_counts(counts)
    got = uploads(srv, 50, 1 * MiB)
    gone = until_fds(srv.pid, base, 3)
    after = read_counts(counts)
    settle(srv)
    srv.stop()
    names = ("malloc", "calloc", "realloc", "aligned", "mmap")
    delta = dict(zip(names, (a - b for a, b in zip(after, before))))
    t.note("at startup %s; warm-up %s; then 50 uploads %s, lingering sockets gone after %s s; "
           "allocations during them: %s" % (dict(zip(names, startup)), fmt(warm), fmt(got),
                                            "%.2f" % gone if gone is not None else "never", delta))
    if sum(startup) == 0:
        raise AssertionError("the counting library counted nothing at all: " + "; ".join(t.notes))
    if count_status(got, 413) != 50 or gone is None:
        raise AssertionError("the closes did not linger: " + "; ".join(t.notes))
    if any(delta.values()):
        raise AssertionError("allocations on the close path: " + "; ".join(t.notes))
    return t.notes[-1]


@test("fault_signal_storm_while_closing", timeout=120)
def test_signal_storm(t):
    """build/tests/signal_storm: 8 server threads close lingering sockets
    while a thread sends them SIGUSR1 as fast as it can (the handler writes
    to a pipe through the shim); 8 clients x 150 uploads of 256 KiB. With
    the shim: every client gets its 413, nothing deadlocks (60 s cap), no
    socket is lost (fds back to the baseline, the stats balance). Without
    it, some clients are reset."""
    need_shim(t)
    out = {}
    for shim in (False, True):
        st_file = stats_path(t, "storm")
        env = clean_env(shim, {"LINGER_STATS": st_file} if shim else None)
        p = subprocess.Popen([str(STORM), "--threads", "8", "--clients", "8", "--rounds", "150"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            so, se = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise AssertionError("signal_storm %s the shim did not finish in 60 s (deadlock?)"
                                 % ("with" if shim else "without"))
        m = re.search(r"ok=(\d+) failed=(\d+) signals=(\d+) sent=(\d+) seconds=([\d.]+) "
                      r"fds_before=(\d+) fds_after=(\d+)", so)
        if p.returncode != 0 or not m:
            raise AssertionError("signal_storm exited %d: %s %s" % (p.returncode, so, se[-500:]))
        r = dict(zip(("ok", "failed", "signals", "sent", "seconds", "before", "after"),
                     (float(x) if "." in x else int(x) for x in m.groups())))
        r["stderr"] = se.strip()
        if shim:
            r["stats"] = stats_of(pid_path(st_file, p.pid))
        out[shim] = r
        t.note("%s shim: %d ok, %d failed, %d signals handled (%d sent) in %.2fs, fds %d -> %d" % (
            "with" if shim else "without", r["ok"], r["failed"], r["signals"], r["sent"], r["seconds"],
            r["before"], r["after"]))
    w = out[True]
    st = w["stats"]
    reasons = sum(v for k, v in st.items() if k.startswith("linger_closed_total"))
    t.note("stats lingered=%d closed=%d lingering_now=%d" % (
        st.get("linger_lingered_total", 0), reasons, st.get("linger_lingering_sockets", -1)))
    if out[False]["failed"] == 0:
        raise AssertionError("did not reproduce without the shim: " + "; ".join(t.notes))
    if w["failed"] or w["ok"] != 1200 or w["after"] > w["before"]:
        raise AssertionError("; ".join(t.notes))
    if w["signals"] < 100:
        raise AssertionError("no storm: " + "; ".join(t.notes))
    if st.get("linger_lingered_total", 0) < 1200 or reasons != st.get("linger_lingered_total") \
            or st.get("linger_lingering_sockets") != 0:
        raise AssertionError("a lingering socket was lost: " + "; ".join(t.notes))
    if w["stderr"]:
        raise AssertionError("stderr: %r" % w["stderr"][-300:])
    return "; ".join(t.notes)


# ---------------------------------------------------------------- config and files

def shim_lines_of(text):
    return [x for x in text.splitlines() if re.match(r"linger\[\d+\]: ", x)]


@test("config_unwritable_stats_and_log_one_line_each", timeout=60)
def test_unwritable(t):
    """LINGER_STATS and LINGER_LOG_FILE naming a place that cannot be
    written: one line each on stderr over the process's whole life (the
    stats file is tried again a second later and at exit, without repeating
    the line), and the host works and gets its 413s."""
    need_shim(t)
    srv = legacy(t, "threads", shim=True, env={"LINGER_STATS": "/nonexistent-dir/linger.prom",
                                                "LINGER_LOG_FILE": "/nonexistent-dir/linger.log"})
    got = uploads(srv, 3, 1 * MiB)
    time.sleep(1.1)                           # the next stats rewrite is due
    got += uploads(srv, 2, 1 * MiB)
    time.sleep(0.1)
    settle(srv)
    srv.stop()                                # and the last one at exit
    lines = shim_lines_of(srv.proc.log.read_text(errors="replace"))
    t.note("%s; lines %r" % (fmt(got), lines))
    if count_status(got, 413) != 5 or len(lines) != 2 or not any("LINGER_STATS" in x for x in lines) \
            or not any("LINGER_LOG_FILE" in x for x in lines):
        raise AssertionError("; ".join(t.notes))
    return t.notes[-1]


@test("security_no_write_through_symlinks", timeout=60)
def test_symlinks(t):
    """A symlink planted at LINGER_LOG_FILE and at LINGER_STATS: the shim
    never writes through it. The log file is refused (one line on stderr,
    logging goes to stderr); the stats file is written to a temporary name
    (opened without following symlinks) and renamed over the link, so the
    link is replaced and its target untouched."""
    need_shim(t)
    victim_log, victim_stats = t.path("victim-log"), t.path("victim-stats")
    for v in (victim_log, victim_stats):
        v.write_text("precious\n")
    log_link, stats_link = t.path("linger.log"), t.path("linger.prom")
    os.symlink(victim_log, log_link)
    os.symlink(victim_stats, stats_link)
    srv = legacy(t, "threads", shim=True, env={"LINGER_LOG": "debug", "LINGER_LOG_FILE": log_link,
                                                "LINGER_STATS": stats_link})
    got = uploads(srv, 3, 1 * MiB)
    settle(srv)
    srv.stop()
    lines = shim_lines_of(srv.proc.log.read_text(errors="replace"))
    refusals = [x for x in lines if "LINGER_LOG_FILE" in x]
    stats_now = ("symlink" if os.path.islink(stats_link) else
                 "regular file" if os.path.isfile(stats_link) else "missing")
    t.note("%s; victims %r %r; log link still a link: %s; stats path now a %s; LINGER_LOG_FILE "
           "lines %r" % (fmt(got), victim_log.read_text(), victim_stats.read_text(),
                         os.path.islink(log_link), stats_now, refusals))
    if victim_log.read_text() != "precious\n" or victim_stats.read_text() != "precious\n":
        raise AssertionError("written through a symlink: " + "; ".join(t.notes))
    if not os.path.islink(log_link) or len(refusals) != 1:
        raise AssertionError("the log symlink was not refused with one line: " + "; ".join(t.notes))
    if stats_now == "regular file" and "linger_lingered_total" not in stats_link.read_text():
        raise AssertionError("the stats path holds something else: " + "; ".join(t.notes))
    if count_status(got, 413) != 3 or not any("closed after lingering" in x for x in lines):
        raise AssertionError("; ".join(t.notes))
    return t.notes[-1]


@test("security_stats_temp_name_planted", timeout=60)
def test_stats_temp_planted(t):
    """Someone plants a hard link to a file of theirs at the stats file's
    temporary name (PATH.tmp.PID) before the server starts: the shim never
    truncates or writes an existing file there; it removes the name and
    creates its own, so the linked file keeps its content and the stats
    file is written."""
    need_shim(t)
    victim = t.path("victim")
    victim.write_text("precious\n")
    stats = t.path("linger.prom")
    # sh plants the link under its own pid, then execs the server under the
    # shim with that same pid
    script = 'ln "$1" "$2.tmp.$$" && shift 2 && export LD_PRELOAD="$PRELOAD_LATER" && exec "$@"'
    env = clean_env(False, {"PRELOAD_LATER": " ".join(PRELOAD_FIRST + [str(SHIM)]),
                            "LINGER_STATS": stats})
    if SANITIZE:
        env.update({k: v for k, v in clean_env(True).items() if k.endswith("SAN_OPTIONS")})
    srv = start_with_env(t, ["sh", "-c", script, "sh", victim, stats, LEGACY, "--model", "threads",
                             "--port", 0], env, "planted")
    got = uploads(srv, 2, 1 * MiB)
    st = stopped_stats(srv, stats)
    t.note("%s; victim %r; stats lingered=%s; leftover temp names %s" % (
        fmt(got), victim.read_text(), st.get("linger_lingered_total"),
        sorted(x.name for x in t.tmp.glob("linger.prom.tmp.*"))))
    if victim.read_text() != "precious\n":
        raise AssertionError("the planted file was written: " + "; ".join(t.notes))
    if st.get("linger_lingered_total") != 2 or count_status(got, 413) != 2:
        raise AssertionError("; ".join(t.notes))
    return t.notes[-1]


@test("security_file_modes", timeout=60)
def test_modes(t):
    """The log and stats files are created 0644 even under umask 000, and
    stricter under a stricter umask (077: 0600); never group- or
    world-writable."""
    need_shim(t)
    out = []
    for umask in (0o000, 0o077):
        d = t.subdir("umask%03o" % umask)
        log, st = d / "linger.log", d / "linger-%p.prom"
        env = clean_env(True, {"LINGER_LOG": "info", "LINGER_LOG_FILE": log, "LINGER_STATS": st})
        # The umask is set by a python3 without the shim, which then execs the
        # server with LD_PRELOAD (else the python3 itself would create the log).
        env["PRELOAD_LATER"] = env.pop("LD_PRELOAD")
        script = ("import os,sys; os.umask(%d); os.environ['LD_PRELOAD'] = os.environ.pop('PRELOAD_LATER'); "
                  "os.execv(sys.argv[1], sys.argv[1:])" % umask)
        srv = start_with_env(t, [PYTHON, "-c", script, LEGACY, "--model", "threads", "--port", 0], env,
                             "modes-%03o" % umask)
        got = uploads(srv, 2, 1 * MiB)
        settle(srv)
        srv.stop()
        stats_file = pid_path(st, srv.pid)
        modes = {}
        for name, path in (("log", log), ("stats", stats_file)):
            try:
                modes[name] = stat.S_IMODE(os.lstat(path).st_mode)
            except OSError:
                modes[name] = None
        t.note("umask %03o: %s, log %s, stats %s" % (umask, fmt(got), *(
            "%04o" % m if m is not None else "missing" for m in (modes["log"], modes["stats"]))))
        want = 0o644 & ~umask
        if any(m is None or m != want or m & 0o022 for m in modes.values()) or count_status(got, 413) != 2:
            raise AssertionError("; ".join(t.notes))
        out.append(t.notes[-1])
    return "; ".join(out)


@test("security_drained_bytes_never_logged", timeout=60)
def test_never_logged(t):
    """Uploads whose bodies repeat a unique marker, with LINGER_LOG=debug
    into a log file and LINGER_STATS: the marker appears in no file the shim
    writes and not on the server's stderr, while the debug log does record
    each lingering close."""
    need_shim(t)
    marker = ("LINGERMARKER%s" % uuid.uuid4().hex).encode()
    log, st = t.path("debug.log"), stats_path(t, "marker")
    srv = legacy(t, "threads", shim=True, env={"LINGER_LOG": "debug", "LINGER_LOG_FILE": log,
                                                "LINGER_STATS": st})
    results = collections.Counter()
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (4 * MiB))
            body = marker * (MiB // len(marker))
            with contextlib.suppress(OSError):
                s.sendall(body)
            got = b""
            with contextlib.suppress(OSError):  # keeps what came before a reset
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            results["413" if got.startswith(RESPONSE_413) else "other"] += 1
        finally:
            s.close()
    time.sleep(0.3)
    settle(srv)
    srv.stop()
    files = [log, srv.proc.log, pid_path(st, srv.pid)]
    found = []
    for f in files:
        with contextlib.suppress(OSError):
            if marker in open(f, "rb").read() or marker[:16] in open(f, "rb").read():
                found.append(str(f))
    debug_lines = [x for x in open(log, errors="replace").read().splitlines() if "closed after lingering" in x]
    t.note("%s; %d debug lines about lingering closes; marker found in %s" % (
        fmt(results), len(debug_lines), found or "no file"))
    if found or results["413"] != 3 or len(debug_lines) < 3:
        raise AssertionError("; ".join(t.notes))
    return t.notes[-1]


AT_SECURE_PROBE = r'''
#include <stdio.h>
#include <sys/auxv.h>
int main(void) { printf("AT_SECURE=%lu\n", getauxval(AT_SECURE)); return 0; }
'''


@test("security_at_secure_ignores_environment", timeout=60, needs=("gcc",))
def test_at_secure(t):
    """A program that runs in secure-execution mode (setgid to another group:
    AT_SECURE=1) with linger linked in (the loader drops LD_PRELOAD there):
    linger ignores every LINGER_* variable - a bad value says nothing, and
    the log and stats files it names are not created - while the same
    program without the setgid bit obeys them."""
    need_shim(t)
    if SANITIZE:
        raise Skip("a sanitized library needs its runtime preloaded, which secure mode forbids")
    src = t.path("probe.c")
    src.write_text(AT_SECURE_PROBE)
    plain, secure = t.path("probe"), t.path("probe-setgid")
    r = subprocess.run(["gcc", "-o", str(plain), str(src), "-Wl,--no-as-needed", "-L%s" % SHIM.parent,
                        "-l:%s" % SHIM.name, "-Wl,-rpath,%s" % SHIM.parent], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("cannot build the probe: %s" % r.stderr[-500:])
    secure.write_bytes(plain.read_bytes())
    os.chown(secure, 0, 65534)                 # group nogroup, setgid: egid != rgid
    os.chmod(secure, 0o2755)
    out = {}
    for name, prog in (("plain", plain), ("setgid", secure)):
        d = t.subdir(name)
        env = clean_env(False, {"LINGER_LOG": "info", "LINGER_TIME": "not-a-duration",
                                "LINGER_LOG_FILE": d / "linger.log", "LINGER_STATS": d / "linger.prom"})
        r = subprocess.run([str(prog)], capture_output=True, text=True, timeout=10, env=env)
        made = sorted(p.name for p in d.iterdir())
        out[name] = (r.stdout.strip(), shim_lines_of(r.stderr), made)
        t.note("%s: %s, stderr %r, files %s" % (name, r.stdout.strip(), shim_lines_of(r.stderr), made))
    if out["plain"][0] != "AT_SECURE=0" or out["setgid"][0] != "AT_SECURE=1":
        raise AssertionError("the probe did not run as expected: " + "; ".join(t.notes))
    if "linger.log" not in out["plain"][2] or "linger.prom" not in out["plain"][2]:
        raise AssertionError("without secure mode the variables were not obeyed: " + "; ".join(t.notes))
    if out["setgid"][1] or out["setgid"][2]:
        raise AssertionError("in secure mode linger read its environment: " + "; ".join(t.notes))
    return "; ".join(t.notes)
