"""Every way an fd dies: closepaths.c answers each upload with an early 413
and ends the socket through one path (close, shutdown, syscall(SYS_close),
dup2/dup3 over it, a dup (dup, F_DUPFD, F_DUPFD_CLOEXEC) closed first,
fclose, close_range (libc's and the raw syscall), closefrom, a
close-every-fd loop from 3, close_range(CLOSE_RANGE_CLOEXEC) before a helper
runs, exit, _exit, a return from main, an inetd-style inherited socket).
Without the shim the upload resets; with it, the 413 arrives - and the app
gets the same fd numbers either way."""
import collections
import contextlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time

from lib import (BUILD, RESETTING_UPLOAD, SANITIZE, Skip, body_of, clean_env, count_status, descendants,
                 failures, fmt, need_shim, one_shot_uploads, recv_until_eof, start_server, stats_of, test,
                 spawn_inetd, upload_once, wait_for)

CLOSEPATHS = BUILD / "tests" / "closepaths"
LOOPING = ("close", "shutdown-wr", "shutdown-rdwr", "syscall", "dup2-over", "dup3-over",
           "dup-then-close", "fcntl-dupfd", "fcntl-dupfd-cloexec", "fclose", "close-range",
           "close-range-syscall", "closefrom", "close-all", "close-range-cloexec")
# paths that close every fd from 3 up: the server's listener sits on fd 0, so
# each accepted socket is fd 3; the shim's own fds must survive them
FROM_THREE_CLOSING = ("close-range", "close-range-syscall", "closefrom", "close-all")
ONE_SHOT = ("exit", "_exit", "return", "exec", "exec-syscall")
# run again under no_close_range: close_range fails with ENOSYS, as before Linux 5.9
NO_CLOSE_RANGE = BUILD / "tests" / "no_close_range"
WITHOUT_CLOSE_RANGE = ("closefrom", "close-range", "close-range-syscall")
UPLOADS = 5


def accepted_fds(srv):
    return [line for line in srv.proc.log.read_text().splitlines() if line.startswith("accepted fd")]


def compare(t, runs, n):
    """runs: {False: Counter, True: Counter}. Without: some failed; with: all 413."""
    without, with_ = runs[False], runs[True]
    t.note("without shim %s; with shim %s" % (fmt(without), fmt(with_)))
    if failures(without) == 0:
        raise AssertionError("did not reproduce without the shim: %s" % fmt(without))
    if count_status(with_, 413) != n:
        raise AssertionError("with the shim only %d/%d got 413: %s" % (
            count_status(with_, 413), n, fmt(with_)))
    return "without: %d/%d failed; with: %d/%d 413" % (failures(without), n, n, n)


def survivors_per_connection(lines):
    """--report-survivors output, one list of "survivor fd ..." lines per
    connection (each list ends where its "survivors K" line is)."""
    out, cur = [], []
    for line in lines:
        if line.startswith("survivor fd"):
            cur.append(line)
        elif line.startswith("survivors "):
            out.append(cur)
            cur = []
    return out


def check_survivors(logs):
    """logs: {shim: server output lines}. With the shim the shim's own fds
    survive each close of every fd from 3 (at high numbers), and the app's
    close() of each answers -1 EBADF and leaves it open; without it nothing
    survives. Returns a summary."""
    per = {shim: survivors_per_connection(lines) for shim, lines in logs.items()}
    for shim in (False, True):
        if len(per[shim]) != UPLOADS:
            raise AssertionError("%s the shim: %d survivor reports for %d connections" % (
                "with" if shim else "without", len(per[shim]), UPLOADS))
    if any(per[False]):
        raise AssertionError("without the shim fds survived: %s" % [x for x in per[False] if x][0])
    for report in per[True]:
        if not report:
            raise AssertionError("with the shim no fd survived the close of every fd from 3: %s" % per[True])
        bad = [x for x in report if ": close -1 errno EBADF, " not in x]
        if bad:
            raise AssertionError("fds survived whose close() did not answer EBADF (not linger's): %s" % bad)
        if not any(x.endswith("still open") for x in report):
            raise AssertionError("no shim fd still open after the app's close(): %s" % report)
    return "survivors with the shim %s (each close -1 EBADF), none without" % (
        [int(x.split()[2].rstrip(":")) for x in per[True][0]])


def check_cloexec_helper(logs):
    """close-range-cloexec: the helper each connection ran got no fd >= 3,
    with and without the shim."""
    for shim, lines in logs.items():
        helper = [x for x in lines if x.startswith("exec'd fds >= 3:")]
        if len(helper) != UPLOADS or any(x != "exec'd fds >= 3: none" for x in helper):
            raise AssertionError("%s the shim the helpers got: %s" % ("with" if shim else "without", helper))
    return "helpers got no fd >= 3"


def check_close_range_failures(logs, path):
    """Without close_range: the lines closepaths prints when its
    close_range fails (one per connection for the close-range paths, none
    for closefrom, which falls back by itself) are the same with and without
    the shim - the same errno, and the socket still open after the failed
    call."""
    failed = {shim: [x for x in lines if x.startswith("close_range failed")] for shim, lines in logs.items()}
    want = 0 if path == "closefrom" else UPLOADS
    if failed[True] != failed[False] or len(failed[False]) != want:
        raise AssertionError("after the failed close_range: without the shim %s, with it %s" % (
            failed[False][:1] or "no line", failed[True][:1] or "no line"))
    return "close_range failed %d times alike (%s)" % (want, failed[True][0]) if want else \
        "closefrom fell back alike"


def looping_case(path, without_close_range=False):
    """without_close_range: under no_close_range (close_range fails with
    ENOSYS, as before Linux 5.9), with a /dev/null and a pipe open besides
    each socket (closepaths --open-extra), which the path must close too."""
    def fn(t):
        runs, fds, logs = {}, {}, {}
        extra = ["--report-survivors"] if path in FROM_THREE_CLOSING else []
        prefix = []
        if without_close_range:
            if not NO_CLOSE_RANGE.exists():
                raise AssertionError("%s is missing (run make servers)" % NO_CLOSE_RANGE)
            prefix, extra = [NO_CLOSE_RANGE], extra + ["--open-extra"]
        for shim in (False, True):
            if shim:
                need_shim(t)
            srv = start_server(t, prefix + [CLOSEPATHS, "--path", path] + extra, shim=shim,
                               label="%s-%s%s" % (path, shim, "-nocr" if without_close_range else ""))
            runs[shim] = collections.Counter(upload_once(srv, RESETTING_UPLOAD) for _ in range(UPLOADS))
            if extra:  # the last report follows the close the client saw
                wait_for(lambda: srv.proc.log.read_text().count("\nsurvivors ") >= UPLOADS, 10)
            srv.stop()
            fds[shim] = accepted_fds(srv)
            logs[shim] = srv.proc.log.read_text().splitlines()
        details = [compare(t, runs, UPLOADS)]
        if "thread" in SANITIZE:
            # TSAN's background thread opens files of its own now and then,
            # which can move the app's next fd number: nothing of linger's
            details.append("fd numbers not compared under TSAN")
        else:
            if fds[True] != fds[False]:
                raise AssertionError("fd numbers differ: without %s, with %s" % (fds[False], fds[True]))
            details.append("same fd numbers")
            if path in FROM_THREE_CLOSING or path == "close-range-cloexec":
                if fds[True] != ["accepted fd 3"] * UPLOADS:
                    raise AssertionError("the sockets were not fd 3, closing from 3 misses nothing: %s" % fds[True])
                details[-1] += " (3)"
        if path in FROM_THREE_CLOSING:
            details.append(check_survivors(logs))
        if without_close_range:
            details.append(check_close_range_failures(logs, path))
        if path == "close-range-cloexec":
            details.append(check_cloexec_helper(logs))
        return "; ".join(details)
    fn.__doc__ = "413 then %s: resets without the shim, 413 with it." % path
    if without_close_range:
        fn.__doc__ += (" Without close_range (ENOSYS): closefrom closes every fd from 3 all the same "
                       "(/dev/null and a pipe too; linger's own survive), and close_range fails as "
                       "it would without the shim, the socket still open, which the app then closes "
                       "one by one.")
    return fn


def one_shot_case(path, extra=()):
    def fn(t):
        return compare(t, one_shot_uploads(t, [CLOSEPATHS, "--path", path] + list(extra), path), 3)
    fn.__doc__ = ("413 then %s: the process's end (or its new image, after a lingering close) must "
                  "not reset." % path)
    return fn


for _p in LOOPING:
    test("closepath_%s" % _p, timeout=120)(looping_case(_p))
for _p in WITHOUT_CLOSE_RANGE:
    test("closepath_%s_without_close_range" % _p, timeout=120)(looping_case(_p, without_close_range=True))
for _p in ONE_SHOT:
    test("closepath_%s" % _p, timeout=120)(one_shot_case(_p))


SHUTDOWN_SEMANTICS = BUILD / "tests" / "shutdown_semantics"
# shutdown_semantics.c's cases, each on connections answered with a 413 and
# "Connection: close" (sockets whose shutdown linger rewrites)
SHUTDOWN_CASES = ("success", "invalid", "reset", "reset-unread")


DUP3_INVALID = BUILD / "tests" / "dup3_invalid"


@test("refused_dup3_and_dup2_change_nothing", timeout=60)
def test_refused_dups(t):
    """dup3 with flags the kernel refuses (EINVAL), and dup3/dup2 from a
    closed number (EBADF), onto an answered socket linger tracks: the calls
    fail as without the shim and the socket stays the app's (its next write
    reaches the client). A shim that took such a call for an implicit close
    of the target would linger it, and the next write would die of
    SIGPIPE."""
    out = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        r = subprocess.run([str(DUP3_INVALID)], capture_output=True, text=True, env=clean_env(shim), timeout=30)
        out[shim] = r.stdout.splitlines() + (["exit %d" % r.returncode] if r.returncode else [])
    t.note("without the shim: %s; with: %s" % (" / ".join(out[False]), " / ".join(out[True])))
    if out[False][-1] != "client read: one two":
        raise AssertionError("the program itself misbehaves: " + t.notes[-1])
    if out[True] != out[False]:
        raise AssertionError("the app saw something else with the shim: " + t.notes[-1])
    return t.notes[-1]


@test("shutdown_answers_as_without_the_shim", timeout=60)
def test_shutdown_semantics(t):
    """shutdown() on sockets linger tracks, through shutdown_semantics.c's
    cases (see there): the return value, errno, and what the socket tells
    the app afterwards are the same lines with and without the shim. The
    shim's stats show it tracked those sockets (it lingered some), so the
    comparison is of its rewriting shutdown, not of a socket it ignored."""
    if not SHUTDOWN_SEMANTICS.exists():
        raise AssertionError("%s is missing (run make servers)" % SHUTDOWN_SEMANTICS)
    out, stats = {}, t.path("stats.prom")
    for shim in (False, True):
        if shim:
            need_shim(t)
        r = subprocess.run([str(SHUTDOWN_SEMANTICS)] + list(SHUTDOWN_CASES), capture_output=True, text=True,
                           env=clean_env(shim, {"LINGER_STATS": stats} if shim else None), timeout=30)
        if r.returncode != 0:
            raise AssertionError("%s the shim it exited %d: %s" % (
                "with" if shim else "without", r.returncode, r.stderr.strip()[-500:]))
        out[shim] = r.stdout.splitlines()
    lingered = stats_of(stats).get("linger_lingered_total", 0)
    t.note("%d lines without the shim, %d with; the shim lingered %d socket(s)" % (
        len(out[False]), len(out[True]), lingered))
    diff = ["without: %s | with: %s" % (a, b) for a, b in zip(out[False], out[True]) if a != b]
    if len(out[False]) != len(out[True]) or diff:
        raise AssertionError("the app saw something else with the shim: %s (%s)" % (
            "; ".join(diff) or "%d lines against %d" % (len(out[True]), len(out[False])), t.notes[-1]))
    if not lingered:
        raise AssertionError("the shim lingered nothing: the sockets were not tracked (%s)" % t.notes[-1])
    return "; ".join(t.notes) + "; e.g. " + " / ".join(out[True][:2])


@test("exec_hands_over_once_and_leaves_no_child", timeout=120)
def test_exec_handover(t):
    """A lingering close, a failed exec, then an exec (closepaths --path exec
    and exec-syscall, LINGER_LOG=info): the sockets still lingering go to a
    drainer process once, not at each attempt, and the new image finds no
    child of its own (the drainer process is not one: init adopts it)."""
    need_shim(t)
    out = []
    for path in ("exec", "exec-syscall"):
        srv = start_server(t, [CLOSEPATHS, "--path", path], shim=True, env={"LINGER_LOG": "info"},
                           label="handover-%s" % path)
        got = upload_once(srv, RESETTING_UPLOAD)
        srv.proc.popen.wait(10)
        srv.stop()
        log = srv.proc.log.read_text()
        handed = log.count("lingering socket(s) handed to a drainer process")
        children = [x for x in log.splitlines() if x.startswith("exec'd children:")]
        t.note("%s: %s, %d hand-over(s), %s" % (path, got, handed, children))
        if got != "status 413" or handed != 1 or children != ["exec'd children: none"]:
            raise AssertionError("; ".join(t.notes))
    return "; ".join(t.notes)


@test("closepath_exit_with_exit_wait_0", timeout=120)
def test_exit_wait_0(t):
    """413 then exit() with LINGER_EXIT_WAIT=0: the socket goes to the
    drainer process at once, while it may still be on its way to the
    drainer thread (taken twice, it was closed with an RST)."""
    return compare(t, one_shot_uploads(t, [CLOSEPATHS, "--path", "exit"], "exit-wait-0", n=5,
                                       env={"LINGER_EXIT_WAIT": "0"}), 5)


def small_request_end(srv):
    """Sends a bodiless request and reads the answer: "eof" when the
    connection ended with a FIN after the 413, "reset" when with an RST."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = recv_until_eof(s)
        except ConnectionResetError:
            return "reset"
        return "eof" if got.startswith(b"HTTP/1.1 413") else "eof without the 413"


def inherited_listener(abort):
    """A listening socket as a supervisor passes it on, with SO_LINGER
    {on, 0 s} set before the server (and linger) ever saw it, if abort."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    if abort:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return lsock


def abort_case(where):
    def fn(t):
        need_shim(t)
        ends = {}
        for abort in (False, True):
            argv, fds, lsock = [CLOSEPATHS, "--path", "close"], (), None
            if where == "inherited-listener":
                lsock = inherited_listener(abort)
                argv += ["--listen-fd", str(lsock.fileno())]
                fds = (lsock.fileno(),)
            elif abort:
                argv += ["--abort", where]
            srv = start_server(t, argv, shim=True, env={"LINGER_LOG": "info"}, pass_fds=fds,
                               label="abort-%s-%s" % (where, abort))
            if lsock:
                lsock.close()
            ends[abort] = collections.Counter(small_request_end(srv) for _ in range(3))
            srv.stop()
        t.note("with the shim: plain close %s; SO_LINGER 0 s %s" % (fmt(ends[False]), fmt(ends[True])))
        if ends[False]["eof"] != 3:
            raise AssertionError("a plain close did not linger (FIN after the 413): " + t.notes[-1])
        if ends[True]["reset"] != 3:
            raise AssertionError("an abortive close lost its reset: " + t.notes[-1])
        return t.notes[-1]
    fn.__doc__ = ("SO_LINGER {on, 0 s} set on the %s: the app asked for a reset, and gets one "
                  "(a plain close of the same server lingers, ending with a FIN)." % where)
    return fn


for _w in ("listener", "inherited-listener", "socket", "syscall"):
    test("abortive_close_kept_%s" % _w, timeout=60)(abort_case(_w))


def inetd_upload(end, shim):
    """A minimal inetd: accept one connection and run closepaths --inetd on
    it as fds 0 and 1 (the launcher closes its own copy at once)."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]

        class At:
            pass
        at = At()
        at.port, at.unix = port, None
        result = []
        client = threading.Thread(target=lambda: result.append(upload_once(at, RESETTING_UPLOAD)))
        client.start()
        conn, _ = lsock.accept()
        proc = spawn_inetd([CLOSEPATHS, "--inetd", "--path", end], conn, clean_env(shim))
        proc.wait(20)
        client.join(30)
        return result[0] if result else "no result"


EXIT_WAIT = 0.1      # LINGER_EXIT_WAIT's default (100 ms)
# scheduling on a loaded 2-core machine; a sanitizer's runtime makes the
# exit itself slow (TSAN's exit and its fork for the drainer take ~1 s).
# Measured: about 0.12 s plain, 1.2 s under TSAN. What this guards against,
# a process held until its client stops sending (or LINGER_TIME, 30 s), is
# far beyond either.
EXIT_MARGIN = 3.0 if SANITIZE else 1.0


def process_holding(inode, name):
    """The pids of processes called name (their comm) that hold the socket
    with this inode: found by what they hold, never by name alone."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() != name:
                    continue
            if any(os.readlink("/proc/%s/fd/%s" % (d, fd)) == "socket:[%d]" % inode
                   for fd in os.listdir("/proc/%s/fd" % d)):
                pids.append(int(d))
        except OSError:
            continue
    return pids


def keep_sending(sock, stop, errors):
    """Sends body bytes until stop is set; an error goes into errors."""
    chunk = b"x" * 16384
    while not stop.is_set():
        try:
            sock.sendall(chunk)
        except OSError as e:
            errors.append(e)
            return


def read_response(sock, deadline=10):
    """Reads until the whole 413 has arrived; returns (when it had, in
    time.monotonic(), or None, and how the read ended)."""
    got, end = b"", time.monotonic() + deadline
    sock.settimeout(deadline)
    try:
        while b"too large, sir" not in got and time.monotonic() < end:
            b = sock.recv(65536)
            if not b:
                return None, "eof before the whole 413"
            got += b
    except OSError as e:
        return None, type(e).__name__
    return (time.monotonic(), "413") if b"too large, sir" in got else (None, "timeout")


def fds_of(pid):
    """What each fd of process pid links to, by number ({} once it is gone)."""
    out = {}
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/%d/fd" % pid):
            with contextlib.suppress(OSError):
                out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
    return out


def inetd_while_client_sends(end, shim, wrap=(), extra=()):
    """closepaths --inetd answers a client that keeps sending, then ends
    through end. Returns a dict: how the response read ended, the server's
    exit status, seconds from the whole 413 to the server's exit, whether
    the client's sending failed while it kept on for 0.5 s after the exit,
    the linger-drain processes holding the connection after the exit and
    the fds each holds then, and those still there 5 s after the client
    closed (killed by pid then). wrap: argv before closepaths' (a wrapper
    that execs it); extra: its further arguments."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = socket.create_connection(lsock.getsockname(), timeout=20)
        conn, _ = lsock.accept()
    inode = os.fstat(conn.fileno()).st_ino
    client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n")
    stop, errors, exited = threading.Event(), [], []
    sender = threading.Thread(target=keep_sending, args=(client, stop, errors))
    sender.start()
    proc = spawn_inetd(list(wrap) + [CLOSEPATHS, "--inetd", "--path", end] + list(extra), conn, clean_env(shim))
    waiter = threading.Thread(target=lambda: exited.append((proc.wait(20), time.monotonic())))
    waiter.start()
    answered, how = read_response(client)
    waiter.join(25)
    if proc.poll() is None:  # hung: stop it and what it made, by pid
        for pid in descendants(proc.pid) + [proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(5)
    out = {"read": how, "status": exited[0][0] if exited else "no exit"}
    out["exit_after"] = exited[0][1] - answered if exited and answered else None
    time.sleep(0.5)
    out["drainers"] = process_holding(inode, "linger-drain")
    out["drainer_fds"] = {pid: fds_of(pid) for pid in out["drainers"]}
    out["inode"] = inode
    out["send_failed"] = bool(errors)
    stop.set()
    sender.join(10)
    client.close()
    wait_for(lambda: not process_holding(inode, "linger-drain"), 5)
    out["left"] = process_holding(inode, "linger-drain")
    for pid in out["left"]:  # only what holds this test's connection, by pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return out


def check_handoff(t, end, res):
    """res: {shim: inetd_while_client_sends()}. Same exit status; with the
    shim the server exits within LINGER_EXIT_WAIT (+ margin) of its answer,
    a linger-drain process holds the connection after the exit and drains
    it (the client's sending never fails), and is gone once the client
    closes; without it the client's sending fails and no drainer exists."""
    for shim in (False, True):
        r = res[shim]
        t.note("%s shim: read %s, status %s, exit %s after the 413, client's sending %s, drainers %s" % (
            "with" if shim else "without", r["read"], r["status"],
            "%.0f ms" % (r["exit_after"] * 1000) if r["exit_after"] is not None else "-",
            "failed" if r["send_failed"] else "ok", r["drainers"]))
    with_, without = res[True], res[False]
    if with_["status"] != without["status"]:
        raise AssertionError("exit status changed: " + "; ".join(t.notes[-2:]))
    if without["drainers"] or not without["send_failed"]:
        raise AssertionError("did not reproduce without the shim: " + t.notes[-2])
    if with_["read"] != "413" or with_["exit_after"] is None:
        raise AssertionError("with the shim the 413 did not arrive whole: " + t.notes[-1])
    if with_["exit_after"] > EXIT_WAIT + EXIT_MARGIN:
        raise AssertionError("the server took %.0f ms to exit after its answer (LINGER_EXIT_WAIT %d ms + %d ms)" % (
            with_["exit_after"] * 1000, EXIT_WAIT * 1000, EXIT_MARGIN * 1000))
    if with_["send_failed"] or len(with_["drainers"]) != 1:
        raise AssertionError("no linger-drain process took the connection over: " + t.notes[-1])
    if with_["left"]:
        raise AssertionError("linger-drain %s outlived the client's close by 5 s" % with_["left"])
    return "; ".join(t.notes[-2:]) + "; the drainer left after the client closed"


def inetd_case(end):
    def fn(t):
        runs = {}
        for shim in (False, True):
            if shim:
                need_shim(t)
            runs[shim] = collections.Counter(inetd_upload(end, shim) for _ in range(3))
        details = compare(t, runs, 3)
        return details + "; " + check_handoff(t, end, {shim: inetd_while_client_sends(end, shim)
                                                      for shim in (False, True)})
    fn.__doc__ = ("inetd style: the response goes to an inherited socket, then %s. With a client that "
                  "keeps sending, the process still exits within LINGER_EXIT_WAIT and a linger-drain "
                  "process drains the connection until the client closes." % end)
    return fn


for _e in ("exit", "return", "_exit"):
    test("inetd_%s" % _e, timeout=120)(inetd_case(_e))


@test("drainer_process_keeps_only_lingering_sockets_without_close_range", timeout=120)
def test_drainer_without_close_range(t):
    """closepaths --inetd --open-extra answers a client that keeps sending
    and exits, holding a /dev/null and a pipe besides the connection (fds
    0 and 1) and stderr; under no_close_range (close_range fails with
    ENOSYS, as before Linux 5.9) and, for comparison, without it. The
    linger-drain process that takes the connection over must hold that one
    socket and nothing else of the app's (not its files, pipes, or the
    connection's own numbers) - else it keeps them open for as long as it
    drains - only the connection, and the epoll set it makes itself.
    Without the shim there is no drainer, and the upload fails."""
    if not NO_CLOSE_RANGE.exists():
        raise AssertionError("%s is missing (run make servers)" % NO_CLOSE_RANGE)
    for wrap in ((), (NO_CLOSE_RANGE,)):
        label = "without close_range" if wrap else "with close_range"
        res = {}
        for shim in (False, True):
            if shim:
                need_shim(t)
            res[shim] = inetd_while_client_sends("exit", shim, wrap, ["--open-extra"])
        for shim in (False, True):
            r = res[shim]
            t.note("%s, %s the shim: read %s, status %s, client's sending %s, drainers %s holding %s" % (
                label, "with" if shim else "without", r["read"], r["status"],
                "failed" if r["send_failed"] else "ok", r["drainers"],
                [sorted(f.values()) for f in r["drainer_fds"].values()]))
        without, with_ = res[False], res[True]
        if without["drainers"] or not without["send_failed"]:
            raise AssertionError("did not reproduce without the shim: " + t.notes[-2])
        if with_["read"] != "413" or with_["send_failed"] or len(with_["drainers"]) != 1:
            raise AssertionError("no linger-drain process took the connection over: " + t.notes[-1])
        # the connection, and the epoll set the drainer process makes itself
        fds = list(with_["drainer_fds"].values())[0]
        if sorted(fds.values()) != ["anon_inode:[eventpoll]", "socket:[%d]" % with_["inode"]]:
            raise AssertionError("%s the drainer process holds %d fds, not just the connection and its "
                                 "epoll set: %s" % (label, len(fds), t.notes[-1]))
    return "; ".join(t.notes)


# An inetd-style shell script: the shell and every command it runs hold the
# connection as their stdout. The 413 has no length: its body, the output of
# three commands, ends with the close.
SCRIPT = ('printf "HTTP/1.0 413 Payload Too Large\\r\\nConnection: close\\r\\n\\r\\n"; '
          'date; /bin/echo second; cat /etc/hostname; echo last')


def send_noting_failure(sock, data, failures):
    """sendall; an error (the server never reads) goes into failures."""
    try:
        sock.sendall(data)
    except OSError as e:
        failures.append(e)


def script_upload(shim):
    """Runs SCRIPT inetd-style on a connection whose client uploads
    RESETTING_UPLOAD bytes the script never reads. Returns (how the
    client's reading ended, what it read, the script's exit status)."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = socket.create_connection(lsock.getsockname(), timeout=20)
        conn, _ = lsock.accept()
    upload = b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % RESETTING_UPLOAD + body_of(RESETTING_UPLOAD)
    client.sendall(upload[:65536])  # unread at the server before the script runs: its last close resets
    conn.recv(1, socket.MSG_PEEK)
    send_failures = []
    sender = threading.Thread(target=send_noting_failure, args=(client, upload[65536:], send_failures))
    sender.start()
    proc = spawn_inetd(["/bin/sh", "-c", SCRIPT], conn, clean_env(shim))  # the script's processes hold it now
    got, end = b"", "eof"
    try:
        got = recv_until_eof(client)
    except ConnectionResetError:
        end = "reset"
    status = proc.wait(20)
    sender.join(30)
    client.close()
    # the reset's error goes to whichever thread asks first: the reader may
    # then see a plain end (recv returns 0 on a reset socket whose error the
    # sender took)
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in send_failures):
        end = "reset"
    return end, got.decode(errors="replace"), status


@test("inetd_shell_script_commands_share_the_socket", timeout=120)
def test_inetd_script(t):
    """A shell script answers inetd-style: its commands (date, echo, cat)
    each hold the connection and exit while the shell still writes. A
    command's exit must not linger (shut down) a socket its parent still
    holds - the next command would die of SIGPIPE; the shell's own exit,
    the last holder's, must. Without the shim the client's upload meets a
    reset; with it, the whole answer and a clean end."""
    if "thread" in SANITIZE:
        raise Skip("TSAN runs a thread of its own in the shell: a body the close ends lingers at exit "
                   "only in a process with no other thread (exit_body_ended_by_close)")
    res = {shim: script_upload(shim) for shim in (False, True)}
    for shim in (False, True):
        end, got, status = res[shim]
        t.note("%s shim: %s, status %s, %d lines" % ("with" if shim else "without", end, status, got.count("\n")))
    end, got, status = res[True]
    if status != 0 or not got.startswith("HTTP/1.0 413") or not got.rstrip().endswith("last"):
        raise AssertionError("with the shim the script's answer was cut short: %r (status %s)" % (got[-200:], status))
    if end != "eof":
        raise AssertionError("with the shim the connection ended with a reset: " + "; ".join(t.notes))
    if res[False][0] != "reset":
        raise AssertionError("did not reproduce without the shim: " + "; ".join(t.notes))
    return "; ".join(t.notes)


def parent_keeps_socket(shim, how):
    """A parent holds a connection and runs closepaths --inetd on it (the
    child answers with a 413 and exits), then writes a line of its own and
    closes. how: "same-user", "other-user" (the child runs as nobody: the
    parent's /proc/PID/fd is closed to it), "pid-namespace" (the child is PID
    1 of a new PID namespace, /proc still the host's). Returns (whether the
    parent's write went through, what the client read)."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = socket.create_connection(lsock.getsockname(), timeout=20)
        conn, _ = lsock.accept()
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    argv, kw = [str(CLOSEPATHS), "--inetd", "--path", "exit"], {}
    if how == "other-user":
        kw["user"] = 65534
    elif how == "pid-namespace":
        argv = ["unshare", "--pid", "--fork"] + argv
    subprocess.run(argv, stdin=conn, stdout=conn, stderr=subprocess.DEVNULL, env=clean_env(shim), timeout=20, **kw)
    try:
        conn.sendall(b"parent-was-here\n")
        parent_ok = True
    except OSError:
        parent_ok = False
    conn.close()
    try:
        got = recv_until_eof(client)
    except ConnectionResetError:
        got = b"(reset)"
    client.close()
    return parent_ok, got


@test("inherited_socket_the_parent_keeps_is_left_alone", timeout=120)
def test_parent_keeps(t):
    """An inherited socket lingers only when linger can see the parent does
    not hold it: when the parent keeps the connection and writes after the
    child's answer, the child's exit must not shut it down - also when the
    child cannot read the parent's /proc/PID/fd (another user) or /proc is
    another PID namespace's. The client gets the 413 and the parent's line,
    with and without the shim."""
    hows = ["same-user"]
    if os.geteuid() == 0:
        hows += ["other-user", "pid-namespace"]
    for shim in (False, True):
        if shim:
            need_shim(t)
        for how in hows:
            parent_ok, got = parent_keeps_socket(shim, how)
            t.note("%s shim, %s: parent's write %s, client got %d bytes" % (
                "with" if shim else "without", how, "ok" if parent_ok else "failed", len(got)))
            if not parent_ok or not got.startswith(b"HTTP/1.1 413") or not got.endswith(b"parent-was-here\n"):
                raise AssertionError("%s shim, %s: parent's write %s, client got %r" % (
                    "with" if shim else "without", how, parent_ok, got[-120:]))
    return "; ".join(t.notes)


@test("exit_body_ended_by_close", timeout=120)
def test_exit_no_length(t):
    """A 413 without Content-Length (its body ends with the close) on an
    accepted socket, then exit(): the process has no other thread, so the
    exit path lingers it although the scanner cannot know the body is
    complete (with other threads running it would not: exit_midflight)."""
    if "thread" in SANITIZE:
        raise Skip("TSAN runs a thread of its own in the server: it is never alone")
    return one_shot_case("exit", ["--no-length"])(t)
