"""Fork children hand their lingering sockets over an inherited channel to
one drainer process (shim/forkchan.c): the child stays single-threaded and
exits at once; a grandchild does the same; with the drainer process gone
or its channel full, a child falls back to its own drainer (or its exit's
drainer process) and nothing is reset; hundreds of children at once; the
counters add up across the stats files; prefork workers keep their own
drainer. Each test shows the failure without the shim in the same run."""
import glob
import os
import signal
import socket
import threading
import time

from lib import BUILD, SANITIZE, Proc, Skip, clean_env, legacy, need_shim, parallel, stats_of, test, wait_for

FORK_HANDOFF = BUILD / "tests" / "fork_handoff"
HEAD = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n"
CHUNK = b"x" * 65536


def start(t, shim, label, extra_args=(), env=None):
    """fork_handoff under (or without) the shim; returns (proc, port, report path)."""
    if shim and SANITIZE == "thread":
        raise Skip("a TSAN build hands nothing over: the fork hook runs inside TSAN's fork interceptor")
    pf, report = t.path(label + ".port"), t.path(label + ".report")
    env = dict(env or {}, LINGER_IT_MARK=str(t.tmp))
    proc = Proc(t, [FORK_HANDOFF, "--port-file", pf, "--report", report] + list(extra_args),
                clean_env(shim, env), label + ".log")
    if not wait_for(lambda: pf.exists() and pf.read_text().strip(), 10):
        raise AssertionError("%s did not start: %s" % (label, proc.log_tail()))
    return proc, int(pf.read_text()), report


def report_lines(report):
    try:
        lines = report.read_text().splitlines()
    except OSError:
        return []
    return [dict(kv.split("=") for kv in line.split()) for line in lines if line.startswith("pid=")]


def exited(pid):
    """True once pid has exited (gone, or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def sched_policy(pid):
    """The scheduling policy of pid's main thread (0: SCHED_OTHER, 3: SCHED_BATCH)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[38])


def drain_processes(t):
    """The linger-drain processes this test's servers started (their
    environment is a copy of the server's, which names this test's dir)."""
    mark = ("LINGER_IT_MARK=%s" % t.tmp).encode()
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/comm") as f:
                if f.read().strip() != "linger-drain":
                    continue
            with open(d + "/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(d[6:]))
        except OSError:
            continue
    return found


def kill_drainers(t, sig=signal.SIGKILL):
    for pid in drain_processes(t):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def held_upload(port, report, n_before, hold=None):
    """One client: the head and a 64 KiB body chunk the server never reads;
    reads the answer up to the server's FIN; then, while still connected,
    waits for hold(pid of the answering process) (if given), sends more
    body, and closes. Returns (outcome, pid, line): outcome "413" when the
    answer came whole and nothing was reset, else what failed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    pid, line, outcome = None, None, "413"
    try:
        s.sendall(HEAD + CHUNK)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        if not got.startswith(b"HTTP/1.1 413"):
            outcome = "no answer (%r)" % got[:40]
        lines = wait_for(lambda: len(report_lines(report)) > n_before and report_lines(report), 10)
        if lines:
            line = lines[n_before]
            pid = int(line["pid"])
        if hold and pid:
            hold(pid)
        s.sendall(CHUNK)  # the peer lingers: it reads, nothing is reset
        time.sleep(0.05)
        s.sendall(CHUNK)
    except (ConnectionResetError, BrokenPipeError) as e:
        outcome = type(e).__name__
    except socket.timeout:
        outcome = "timeout"
    finally:
        s.close()
    return outcome, pid, line


def without_shim_resets(t, extra_args=()):
    """The same client against the server without the shim: it is reset."""
    proc, port, report = start(t, False, "plain", extra_args)
    outcome, _, _ = held_upload(port, report, 0)
    proc.stop()
    if outcome == "413":
        raise AssertionError("did not reproduce without the shim: no reset")
    return outcome


def single_threaded_case(t, grandchild):
    plain = without_shim_resets(t, ["--grandchild"] if grandchild else [])
    need_shim(t)
    # a child that waited for its drain at exit would wait this long
    proc, port, report = start(t, True, "shim", ["--grandchild"] if grandchild else [],
                               {"LINGER_EXIT_WAIT": "30s"})
    gone = {}

    def hold(pid):  # the client is still connected and sending: the drain has not ended
        gone["at_once"] = bool(wait_for(lambda: exited(pid), 10))
    outcome, pid, line = held_upload(port, report, 0, hold)
    drainers = drain_processes(t)
    policies = [sched_policy(proc.pid)] + [sched_policy(p) for p in drainers]
    t.note("without the shim: %s; with: %s, %s, exited while the client still sent: %s, drainer "
           "processes %s, scheduling policies (server, drainers) %s" % (
               plain, outcome, line, gone.get("at_once"), drainers, policies))
    if policies[0] != 0 or len(drainers) != 1 or policies[1] != 3:
        raise AssertionError("the server's policy changed, or the drainer process is not SCHED_BATCH: "
                             + t.notes[-1])
    if outcome != "413":
        raise AssertionError("with the shim: " + t.notes[-1])
    if not line or not gone.get("at_once"):
        raise AssertionError("the answering process did not exit at once: " + t.notes[-1])
    if (line["threads_before_close"], line["threads_after_close"]) != ("1", "1"):
        raise AssertionError("the answering process was not single-threaded around its close: " + t.notes[-1])
    return t.notes[-1]


@test("fork_child_lingers_single_threaded_and_exits_at_once", timeout=120)
def test_single_threaded(t):
    """A fork-per-connection child answers 413 early and closes: with the
    shim it has one thread before and after its close (no drainer thread of
    its own) and exits while the client is still sending (its exit waits
    for nothing, even with LINGER_EXIT_WAIT=30s), and the client is not
    reset; without the shim the client is reset."""
    return single_threaded_case(t, False)


@test("fork_grandchild_lingers_through_the_inherited_channel", timeout=120)
def test_grandchild(t):
    """The same when the child forks again and its child answers: the
    grandchild keeps the channel, one thread, exits at once."""
    return single_threaded_case(t, True)


def gone_case(t, step):
    plain = without_shim_resets(t)
    need_shim(t)
    go = t.path("go")
    stats = t.subdir("stats")
    proc, port, report = start(t, True, "shim", ["--pause", step, "--go", go],
                               {"LINGER_STATS": stats / "s-%p.prom"})
    result = {}

    def kill_then_go():
        # the fork started the drainer process; end it while the child waits
        pids = wait_for(lambda: drain_processes(t), 10) or []
        kill_drainers(t)
        result["killed"] = pids
        result["gone"] = bool(wait_for(lambda: all(exited(p) for p in pids), 10))
        go.write_text("go")
    th = threading.Thread(target=kill_then_go)
    th.start()
    outcome, pid, line = held_upload(port, report, 0)
    th.join()
    proc.stop()
    wait_for(lambda: not drain_processes(t), 30)  # the child's exit's drainer process, if any
    files = sorted(glob.glob(str(stats / "s-*.prom")))
    child_file = str(stats / ("s-%d.prom" % pid)) if pid else None
    child = stats_of(child_file) if child_file else {}
    lingered = summed(stats, "linger_lingered_total")
    t.note("without the shim: %s; with: %s, %s; drainer process killed: %s; the child's own count: "
           "lingered %s; summed over the files: %d" % (plain, outcome, line, result,
                                                        child.get("linger_lingered_total"), lingered))
    if not result.get("killed") or not result.get("gone"):
        raise AssertionError("no drainer process to end: " + t.notes[-1])
    if outcome != "413":
        raise AssertionError("with the drainer process gone, the client was reset: " + t.notes[-1])
    if child.get("linger_lingered_total") != 1:
        raise AssertionError("the child did not linger on its own: %s; files %s" % (t.notes[-1], files))
    # one socket lingered, counted once: by the child (the drainer process
    # that took nothing writes nothing; its exit's drainer process no file)
    if lingered != 1 or set(files) != {str(stats / ("s-%d.prom" % p)) for p in (proc.pid, pid)}:
        raise AssertionError("the socket is not counted once, by the child alone: %s; files %s" % (
            t.notes[-1], [os.path.basename(f) for f in files]))
    # before its first write the child sees the channel's end closed and
    # starts its own drainer thread (today's path); after it, only the
    # send fails, and the copy waits for its exit
    want = "2" if step == "write" else "1"
    if line["threads_before_close"] != want:
        raise AssertionError("the child's threads at its close are not %s: %s" % (want, t.notes[-1]))
    return t.notes[-1]


@test("fork_child_falls_back_when_drainer_process_gone_before_write", timeout=120)
def test_gone_before_write(t):
    """The drainer process is killed after the fork, before the child's
    first write: the child sees the channel's end closed (POLLHUP) and
    starts its own drainer thread, as without the channel; no reset, and
    the child counts the socket itself."""
    return gone_case(t, "write")


@test("fork_child_falls_back_when_drainer_process_gone_before_close", timeout=120)
def test_gone_before_close(t):
    """Killed after the child's first write, before its close: the send
    fails (EPIPE), the shut-down copy waits for the child's exit, whose
    drainer process drains it; no reset, counted by the child."""
    return gone_case(t, "close")


def one_upload(port):
    """Head and 32 KiB of body the server never reads, the answer read to
    the FIN, then close: "413", or how it failed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(HEAD + CHUNK[:32768])
            got = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                got += b
            return "413" if got.startswith(b"HTTP/1.1 413") else "no answer"
    except (ConnectionResetError, BrokenPipeError) as e:
        return type(e).__name__
    except socket.timeout:
        return "timeout"


def summed(stats_dir, name):
    return sum(stats_of(f).get(name, 0) for f in glob.glob(str(stats_dir / "s-*.prom")))


@test("fork_children_fall_back_when_the_channel_is_full", timeout=300)
def test_channel_full(t):
    """The drainer process stopped (SIGSTOP): its channel fills (about 270
    sockets), and the children after that fall back without blocking
    (MSG_DONTWAIT): all 330 uploads are answered while it is stopped, none
    reset. Continued, it drains what it held. The counters add up: lingered,
    summed over every stats file (the drainer process's and those of the
    children that fell back, one each), is 330, and the drainer process
    closed all it took."""
    plain = without_shim_resets(t)
    need_shim(t)
    stats = t.subdir("stats")
    proc, port, report = start(t, True, "shim", env={"LINGER_STATS": stats / "s-%p.prom"})
    n = 330
    try:
        first = one_upload(port)  # the first fork starts the drainer process
        pids = wait_for(lambda: drain_processes(t), 10) or []
        if len(pids) != 1:
            raise AssertionError("expected one drainer process, found %s" % pids)
        os.kill(pids[0], signal.SIGSTOP)
        outcomes = [first] + [one_upload(port) for _ in range(n - 1)]
        bad = [o for o in outcomes if o != "413"]
        os.kill(pids[0], signal.SIGCONT)
    finally:
        kill_drainers(t, signal.SIGCONT)
    # a child writes its report line after its close, which the client saw
    # end (the FIN of its shutdown) before that: wait for the last ones
    lines = wait_for(lambda: len(report_lines(report)) >= n and report_lines(report), 10) \
        or report_lines(report)
    proc.stop()  # its children gone, the drainer process ends (EOF) once it drained
    wait_for(lambda: not drain_processes(t), 30)
    lingered = summed(stats, "linger_lingered_total")
    drainer_file = stats_of(stats / ("s-%d.prom" % pids[0]))
    closed = sum(drainer_file.get("linger_closed_total{%s}" % r, 0)
                 for r in ("eof", "idle", "time", "bytes", "cap", "error", "fd_pressure"))
    fell_back = len(glob.glob(str(stats / "s-*.prom"))) - 2  # less the server's and the drainer's
    t.note("without the shim: %s; with: %d/%d answered 413 (%s), the drainer process lingered %s and "
           "closed %d, %d children fell back; lingered summed over the files: %d" % (
               plain, n - len(bad), n, bad[:3], drainer_file.get("linger_lingered_total"), closed,
               fell_back, lingered))
    if bad or len(lines) != n:
        raise AssertionError("with the channel full: " + t.notes[-1])
    if fell_back < 1 or not drainer_file.get("linger_lingered_total"):
        raise AssertionError("the channel never filled, or the drainer took nothing: " + t.notes[-1])
    # each child that fell back counts its socket itself (its exit's drainer
    # process closes it and writes no file of its own)
    if lingered != n or closed != drainer_file.get("linger_lingered_total") or fell_back + closed != n:
        raise AssertionError("the counters do not add up: " + t.notes[-1])
    return t.notes[-1]


@test("fork_children_hundreds_at_once", timeout=300)
def test_hundreds(t):
    """300 clients at once, each child answering and closing together: all
    answered, none reset; one drainer process took them (those beyond a
    full channel fall back, each counted by its child): lingered summed
    over the stats files is 300."""
    procs0 = start(t, False, "plain-many")
    plain = parallel(lambda i: one_upload(procs0[1]), [(i,) for i in range(50)])
    procs0[0].stop()
    need_shim(t)
    stats = t.subdir("stats")
    proc, port, report = start(t, True, "shim", env={"LINGER_STATS": stats / "s-%p.prom"})
    n = 300
    outcomes = parallel(lambda i: one_upload(port), [(i,) for i in range(n)])
    pids = drain_processes(t)
    proc.stop()
    wait_for(lambda: not drain_processes(t), 30)
    bad = [o for o in outcomes if o != "413"]
    plain_bad = [o for o in plain if o != "413"]
    lingered = summed(stats, "linger_lingered_total")
    taken = sum(stats_of(stats / ("s-%d.prom" % p)).get("linger_lingered_total", 0) for p in pids)
    fell_back = lingered - taken
    t.note("without the shim: %d/50 failed; with: %d/%d answered, lingered summed %d: %d by the "
           "drainer process %s, %d by children that fell back" % (
               len(plain_bad), n - len(bad), n, lingered, taken, pids, fell_back))
    if not plain_bad:
        raise AssertionError("did not reproduce without the shim: " + t.notes[-1])
    if bad or lingered != n or len(pids) != 1 or taken == 0:
        raise AssertionError("with the shim: %s (%s)" % (t.notes[-1], bad[:3]))
    return t.notes[-1]


def worker_threads(pid, parent):
    """How many threads process pid has when parent is its parent; 0 when
    it is not, or it is gone (any process may exit while /proc is read:
    its files then fail with ENOENT or ESRCH)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            if int(f.read().rsplit(")", 1)[1].split()[1]) != parent:
                return 0
        return len(os.listdir("/proc/%s/task" % pid))
    except (OSError, ValueError, IndexError):
        return 0


@test("prefork_workers_keep_their_own_drainer", timeout=120)
def test_prefork(t):
    """A prefork server whose workers accept: no drainer process is made
    (the master forks holding no socket), each worker lingers with its own
    drainer thread, and uploads are answered."""
    need_shim(t)
    srv = legacy(t, "prefork", shim=True, env={"LINGER_IT_MARK": str(t.tmp)})
    outcomes = [one_upload(srv.port) for _ in range(6)]
    threads = sorted(n for n in (worker_threads(p, srv.proc.pid) for p in os.listdir("/proc") if p.isdigit())
                     if n)
    t.note("answers %s; workers' threads %s; drainer processes %s" % (outcomes, threads, drain_processes(t)))
    if any(o != "413" for o in outcomes) or drain_processes(t) or not threads or max(threads) < 2:
        raise AssertionError(t.notes[-1])
    return t.notes[-1]



def fd_table_size(pid):
    """The size of pid's fd table (FDSize in /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("FDSize:"):
                return int(line.split()[1])
    raise AssertionError("no FDSize for %d" % pid)


def live_children_of(pid):
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(d[6:]))
        except (OSError, ValueError):
            continue
    return found


def child_fd_table(t, shim, label):
    """A fork_handoff child forked after the server's first fork holding a
    socket (which makes the channel), seen while it waits before its write:
    (its fd table size, its fds, its answer, the drainer processes)."""
    go = t.path(label + ".go")
    go.write_text("go")
    proc, port, report = start(t, shim, label, ["--pause", "write", "--go", go])
    first = one_upload(port)
    go.unlink()
    wait_for(lambda: not live_children_of(proc.pid), 10)
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(HEAD + CHUNK[:1024])
        kids = wait_for(lambda: live_children_of(proc.pid), 10) or []
        size = fd_table_size(kids[0]) if kids else None
        fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % kids[0])) if kids else None
        drainers = drain_processes(t)
        go.write_text("go")
        got = s.recv(64)
    finally:
        s.close()
    proc.stop()
    return size, fds, (first, got[:12]), drainers


@test("fork_channel_keeps_the_childs_fd_table_small", timeout=120)
def test_fd_table(t):
    """The channel's sending end, which the server holds and every child
    inherits, sits low (63): the table a fork copies (up to the highest
    open number, and freed at the child's exit) stays the 64 numbers it is
    without the shim - not one reaching the top of the shim's range
    (RLIMIT_NOFILE less the socket cap: 16384 numbers under a limit of
    20000, a million in a container)."""
    plain = child_fd_table(t, False, "plain")
    need_shim(t)
    shim = child_fd_table(t, True, "shim")
    t.note("the child's fd table size, its fds, its answer: without the shim %s; with %s" % (plain[:3], shim))
    # the channel: a drainer process, and the child holds a number above all of the plain child's
    if shim[2][0] != "413" or len(shim[3]) != 1 or not shim[1] or not plain[1] or max(shim[1]) <= max(plain[1]):
        raise AssertionError("no channel, or no linger: " + t.notes[-1])
    if shim[0] != plain[0]:
        raise AssertionError("the channel made the child's fd table bigger: " + t.notes[-1])
    return t.notes[-1]
