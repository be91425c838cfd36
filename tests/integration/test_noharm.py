"""The shim must do no harm: keep-alive and close-delimited traffic is as
fast as without it (fork-per-connection servers included), a socket the
client closed first is closed at once, lingering ends when the client goes
away, no lingering socket is ever lost (fd leak) or left hanging under
concurrency, and a process's files, pipes and non-HTTP sockets carry exactly
the same bytes."""
import collections
import contextlib
import hashlib
import os
import socket
import subprocess
import time

from lib import (SANITIZE, MiB, PYTHON, body_of, clean_env, close_run, count_status, fd_count, fmt,
                 keepalive_run, legacy, need_shim, parallel, recv_until, server_sockets, stats_of, test,
                 upload_once, wait_for)


@test("noharm_keepalive_no_delay", timeout=60)
def test_keepalive(t):
    """50 small POSTs on one persistent connection, and 50 GETs each with
    Connection: close read to EOF: all 200, one connection for the keep-alive
    run. With the shim, the keep-alive run lingers nothing (its stats file
    still says 0 lingered a second later) and is no slower than without
    (twice as long + 0.2 s at most, for a loaded machine), and the 50
    Connection: close answers do linger (50 counted at exit)."""
    res = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        st_file = t.path("keepalive-%p.prom")
        if shim:
            need_shim(t)
        srv = legacy(t, "threads", shim=shim, env={"LINGER_STATS": st_file} if shim else None)
        before = srv.stats()["accepted"]
        ka, ka_dt, _ = keepalive_run(srv, 50, size=100)
        conns = srv.stats()["accepted"] - before - 1   # minus the /stats connection
        if shim:
            time.sleep(1.2)  # a change is written within a second
        lingered_ka = stats_of(str(st_file).replace("%p", str(srv.pid))).get("linger_lingered_total")
        cl, cl_dt = close_run(srv, 50)
        srv.stop()
        lingered_all = stats_of(str(st_file).replace("%p", str(srv.pid))).get("linger_lingered_total")
        res[side] = (ka, ka_dt, conns, cl, cl_dt, lingered_ka, lingered_all)
        t.note("%s shim: keep-alive %s in %.3fs on %d connection(s); close %s in %.3fs%s"
               % (side, fmt(ka), ka_dt, conns, fmt(cl), cl_dt,
                  "; lingered %s after keep-alive, %s at exit" % (lingered_ka, lingered_all) if shim else ""))
    problems = []
    for side, (ka, ka_dt, conns, cl, cl_dt, _, _) in res.items():
        if count_status(ka, 200) != 50 or conns != 1:
            problems.append("%s shim keep-alive run: %s on %d connections" % (side, fmt(ka), conns))
        if count_status(cl, 200) != 50:
            problems.append("%s shim close run: %s" % (side, fmt(cl)))
    if res["with"][5] != 0:
        problems.append("the keep-alive run lingered %s sockets" % res["with"][5])
    if res["with"][6] != 50:
        problems.append("the close run lingered %s sockets, not 50" % res["with"][6])
    slack = 1.0 if SANITIZE else 0.2
    if res["with"][1] > 2 * res["without"][1] + slack:
        problems.append("keep-alive slower with shim: %.3fs vs %.3fs"
                        % (res["with"][1], res["without"][1]))
    if res["with"][4] > 2 * res["without"][4] + slack:
        problems.append("Connection: close run slower with shim: %.3fs vs %.3fs"
                        % (res["with"][4], res["without"][4]))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return ("keep-alive 50/50 200 in %.3fs without, %.3fs with, 0 lingered; close 50/50 in %.3fs vs "
            "%.3fs, 50 lingered" % (res["without"][1], res["with"][1], res["without"][4], res["with"][4]))


def _get_then_close(port, extra_body=0):
    """GET (or a POST announcing 4 MiB but sending only extra_body bytes),
    read one response, then close from the client side. Returns the status
    line or the error name."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if extra_body:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (4 * MiB))
            try:
                s.sendall(b"x" * extra_body)
            except OSError as e:
                return type(e).__name__
        else:
            s.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = recv_until(s, b"\r\n\r\n")
        except OSError as e:
            return type(e).__name__
        return data.split(b"\r\n", 1)[0].decode(errors="replace") or "EOF"


# A loaded machine can take a while to run ss a few times; a socket that
# waits for a missed EOF instead would stay until LINGER_TIMEOUT (5 s).
RELEASE_WITHIN = 3.0


def _released(srv, baseline, port, timeout=RELEASE_WITHIN):
    """Waits up to timeout for the server's fd count to return to baseline and
    for none of its sockets on port to be open or half-closed. Returns
    (ok, seconds, leftover description)."""
    t0 = time.monotonic()

    def done():
        return fd_count(srv.pid) <= baseline and not server_sockets(
            port, ("close-wait", "established", "fin-wait-1", "last-ack", "closing"))
    ok = wait_for(done, timeout, 0.01)
    dt = time.monotonic() - t0
    left = "" if ok else "fds %d (baseline %d), sockets %s" % (
        fd_count(srv.pid), baseline, server_sockets(port))
    return bool(ok), dt, left


@test("noharm_client_closes_first", timeout=60, needs=("ss",))
def test_client_closes_first(t):
    """20 keep-alive GETs whose client closes first, against the threads and
    the epoll model: within 3 s (well under LINGER_TIMEOUT's 5 s) the server
    holds no fd or socket for them."""
    out = []
    for model in ("threads", "epoll"):
        for shim in (False, True):
            side = "with" if shim else "without"
            if shim:
                need_shim(t)
            srv = legacy(t, model, shim=shim)
            _get_then_close(srv.port)          # warm-up
            wait_for(lambda: not server_sockets(srv.port, ("close-wait", "established")), 1)
            baseline = fd_count(srv.pid)
            got = collections.Counter(_get_then_close(srv.port) for _ in range(20))
            ok, dt, left = _released(srv, baseline, srv.port)
            srv.stop()
            t.note("%s %s shim: %s, released in %.3fs %s" % (model, side, fmt(got), dt, left))
            if got.get("HTTP/1.1 200 OK", 0) != 20 or not ok:
                raise AssertionError("%s %s shim: %s; not released within %gs: %s | %s" % (
                    model, side, fmt(got), RELEASE_WITHIN, left, "; ".join(t.notes)))
            out.append("%s/%s %.2fs" % (model, side, dt))
    return "released: " + ", ".join(out)


@test("noharm_linger_ends_when_client_closes", timeout=60, needs=("ss",))
def test_linger_ends(t):
    """20 clients announce 4 MiB, send 64 KiB, read the 413 and close. With
    the shim the lingering sockets must be gone within 3 s of that (well
    under LINGER_TIMEOUT's 5 s, what a missed EOF would take)."""
    out = []
    for model in ("threads", "epoll"):
        for shim in (False, True):
            side = "with" if shim else "without"
            if shim:
                need_shim(t)
            srv = legacy(t, model, shim=shim)
            _get_then_close(srv.port, extra_body=65536)   # warm-up (starts any drainer)
            wait_for(lambda: not server_sockets(srv.port, ("close-wait", "established")), 1)
            baseline = fd_count(srv.pid)
            got = collections.Counter(_get_then_close(srv.port, extra_body=65536)
                                      for _ in range(20))
            ok, dt, left = _released(srv, baseline, srv.port)
            srv.stop()
            t.note("%s %s shim: %s, released in %.3fs %s" % (model, side, fmt(got), dt, left))
            if not ok:
                raise AssertionError("%s %s shim: sockets not released within %gs: %s | %s" % (
                    model, side, RELEASE_WITHIN, left, "; ".join(t.notes)))
            if shim and got.get("HTTP/1.1 413 Payload Too Large", 0) != 20:
                raise AssertionError("%s with shim: %s | %s" % (model, fmt(got), "; ".join(t.notes)))
            out.append("%s/%s %s %.2fs" % (model, side, fmt(got), dt))
    return "; ".join(out)


# A non-HTTP TCP transfer: the sender writes 1 MiB and closes at once; the
# receiver must get every byte, then EOF.
TCP_SCRIPT = r'''
import hashlib, socket, threading, sys
data = bytes(range(256)) * 4096
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
def send():
    c, _ = ls.accept(); c.sendall(data); c.close()
th = threading.Thread(target=send); th.start()
s = socket.create_connection(ls.getsockname()); got = b""
while True:
    b = s.recv(65536)
    if not b: break
    got += b
th.join()
sys.stdout.write("%d %s\n" % (len(got), hashlib.sha256(got).hexdigest()))
'''

PIPE_SCRIPT = ("import sys\n"
               "for i in range(2000):\n"
               "    sys.stdout.buffer.write(b'%06d ' % i + bytes(range(32, 127)) * 5 + b'\\n')\n"
               "sys.stdout.close()\n")


@test("noharm_files_pipes_sockets", timeout=60)
def test_files_pipes(t):
    """Files, pipes and a plain TCP transfer written under the shim carry the
    same bytes (and the same stderr and exit status) as without it."""
    cases = {
        "yes|head>file": ["sh", "-c", "yes | head -c 1000000 > out.bin; cat out.bin"],
        "python->pipe": [PYTHON, "-c", PIPE_SCRIPT],
        "sh pipeline": ["sh", "-c", "seq 1 200000 | sort -r | uniq | wc -c"],
        "tcp 1MiB then close": [PYTHON, "-c", TCP_SCRIPT],
    }
    out = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        d = t.subdir(side)
        for name, argv in cases.items():
            r = subprocess.run(argv, cwd=d, capture_output=True, timeout=30,
                               env=clean_env(shim))
            out[side, name] = (r.returncode, hashlib.sha256(r.stdout).hexdigest(),
                               len(r.stdout), r.stderr)
        t.note("%s shim: ran %d cases" % (side, len(cases)))
    problems = []
    for name in cases:
        a, b = out["without", name], out["with", name]
        if a[0] != 0:
            problems.append("%s failed without the shim: %r" % (name, a[3][-300:]))
        elif a != b:
            problems.append("%s differs: without rc=%d %d bytes stderr=%r; with rc=%d %d bytes "
                            "stderr=%r" % (name, a[0], a[2], a[3][-200:], b[0], b[2], b[3][-200:]))
    if (open(t.path("without/out.bin"), "rb").read()
            != open(t.path("with/out.bin"), "rb").read()):
        problems.append("out.bin written under the shim differs")
    if problems:
        raise AssertionError("; ".join(problems))
    return "%d cases identical (%s)" % (len(cases), ", ".join(
        "%s: %d B" % (n, out["with", n][2]) for n in cases))


def _upload_raw(port, size, timeout=5):
    """Head and whole body in one go, read the status line, close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
                  + body_of(size))
        return s.recv(200).split(b"\r\n", 1)[0].decode(errors="replace") or "EOF"
    except Exception as e:  # noqa: BLE001
        return type(e).__name__
    finally:
        s.close()


CLIENTS, ROUNDS = 16, 250


@test("noharm_lingering_churn_no_fd_leak", timeout=90)
def test_churn(t):
    """16 clients x 250 rejected uploads of 200 KB (unread at close) as fast as
    they can, against the threads and the epoll model. Every client closes
    after the 413, so every lingering socket sees EOF: within 2 s the server
    must be back to its baseline fd count. A socket the drainer lost (an fd
    number recycled between its close and the next hand-over) shows up here
    as a leaked fd."""
    out = []
    for model in ("threads", "epoll"):
        for shim in (False, True):
            side = "with" if shim else "without"
            if shim:
                need_shim(t)
            srv = legacy(t, model, shim=shim)
            _upload_raw(srv.port, 200000)      # warm-up: starts any drainer
            wait_for(lambda: not server_sockets(srv.port, ("close-wait", "established")), 1)
            time.sleep(0.1)
            baseline = fd_count(srv.pid)
            before = set(os.listdir("/proc/%d/fd" % srv.pid))
            t0 = time.monotonic()
            got = sum(parallel(lambda: collections.Counter(
                _upload_raw(srv.port, 200000) for _ in range(ROUNDS)), [()] * CLIENTS),
                collections.Counter())
            dt = time.monotonic() - t0
            wait_for(lambda: fd_count(srv.pid) <= baseline, 2.0)
            fds = fd_count(srv.pid)
            leaked = []
            if fds > baseline:
                for name in set(os.listdir("/proc/%d/fd" % srv.pid)) - before:
                    with contextlib.suppress(OSError):
                        if os.readlink("/proc/%d/fd/%s" % (srv.pid, name)).startswith("socket:"):
                            leaked.append(name)
            srv.stop()
            t.note("%s %s shim: %s in %.2fs; fds %d vs baseline %d%s" % (
                model, side, fmt(got), dt, fds, baseline,
                " (sockets left at fds %s)" % ",".join(sorted(leaked, key=int)) if leaked else ""))
            if got.get("HTTP/1.1 413 Payload Too Large", 0) != ROUNDS * CLIENTS or fds > baseline:
                raise AssertionError("fds not back to baseline within 2 s: " + "; ".join(t.notes))
            out.append("%s/%s %.2fs" % (model, side, dt))
    return "%d/%d 413 and no fd leaked: %s" % (ROUNDS * CLIENTS, ROUNDS * CLIENTS, ", ".join(out))


@test("concurrent_big_uploads", timeout=90)
def test_concurrent_big(t):
    """64 concurrent 4 MiB uploads, 3 rounds, to the threads model. Without
    the shim most reset; with it every one gets 413 and none hangs (a client
    stuck on a full window means the drainer lost a socket)."""
    res = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        srv = legacy(t, "threads", shim=shim)
        got = collections.Counter()
        t0 = time.monotonic()
        for _ in range(3):
            got += collections.Counter(parallel(lambda: upload_once(srv, 4 * MiB, timeout=5),
                                                [()] * 64))
        dt = time.monotonic() - t0
        srv.stop()
        res[side] = got
        t.note("%s shim: %s in %.1fs" % (side, fmt(got), dt))
    if count_status(res["without"], 413) == 192:
        raise AssertionError("did not reproduce: " + "; ".join(t.notes))
    if count_status(res["with"], 413) != 192:
        raise AssertionError("; ".join(t.notes))
    return "without: %d/192 413; with: 192/192 413" % count_status(res["without"], 413)
