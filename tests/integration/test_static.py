"""Static programs under linger-run: linger-supervise, the seccomp
user-notification supervisor (supervise/, docs/static.md).

Each server test runs the same static binary (tests/servers/legacy_server.c
built with gcc -static and musl-gcc -static) without linger-run and under it
in the same run. Also: a fork-per-connection server, exit status / signals /
PID passed through, the epoll decision, the refusals, and what happens when
the supervisor is killed."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import collections

from lib import (BUILD, REPO, RESETTING_UPLOAD, Proc, Skip, clean_env, connect, fmt, need_shim, parallel,
                 start_server, stats_of, test, uploads, wait_for)

WRAPPER = REPO / "scripts" / "linger-run"
STATIC = BUILD / "tests" / "static"
SUPERVISE = BUILD / "linger-supervise"
NO_NOTIFY = BUILD / "tests" / "no_user_notify"


# ---------------------------------------------------------------- helpers

def static_bin(name, libc):
    """build/tests/static/NAME-LIBC; skips when musl-gcc could not build it."""
    p = STATIC / ("%s-%s" % (name, libc))
    if not p.exists():
        if libc == "musl" and not shutil.which("musl-gcc"):
            raise Skip("musl-gcc is not installed")
        raise AssertionError("%s is missing (run make servers)" % p.relative_to(REPO))
    need_shim()
    if not SUPERVISE.exists():
        raise AssertionError("build/linger-supervise is missing (run make)")
    return p


def wrapped(argv):
    return ["dash", str(WRAPPER), "--"] + [str(a) for a in argv]


def static_server(t, libc, model, supervised, extra=(), env=None):
    argv = [static_bin("legacy_server", libc), "--model", model, "--port", 0] + list(extra)
    label = "%s-%s-%s" % (libc, model, "supervised" if supervised else "plain")
    return start_server(t, wrapped(argv) if supervised else argv, env=env, label=label)


def gets(server, n):
    """n GET / requests, each on its own connection; Counter of statuses."""
    out = collections.Counter()
    for _ in range(n):
        c = connect(server, 10)
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            out[r.status] += 1
        except Exception as e:  # noqa: BLE001
            out[type(e).__name__] += 1
        finally:
            c.close()
    return out


def processes():
    """{pid: (ppid, comm, cmdline)} of every process now."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        out[int(d)] = (ppid, comm, cmd)
    return out


def supervisors_of(marker):
    """(supervisor pid, [guardian pids]) of the linger-supervise started for
    a command line containing marker (a path unique to the test)."""
    procs = processes()
    mine = [p for p, (pp, comm, cmd) in procs.items()
            if comm.startswith("linger-supervis") and marker in cmd and procs.get(pp, (0, "", ""))[1] != comm]
    if len(mine) != 1:
        raise AssertionError("want one supervisor for %s, found %s" % (marker, mine))
    sup = mine[0]
    return sup, [p for p, (pp, comm, cmd) in procs.items() if pp == sup and comm.startswith("linger-supervis")]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def report(path):
    """static_probe's report: {"ok": N, "failed": N, "errno": E}."""
    text = path.read_text() if path.exists() else ""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def advanced(path, key, beyond, timeout=5):
    return wait_for(lambda: report(path).get(key, 0) > beyond, timeout)


# ---------------------------------------------------------------- tests

def early_413(t, libc):
    plain = static_server(t, libc, "threads", False)
    without = uploads(plain, 20, RESETTING_UPLOAD)
    plain.stop()
    stats = t.path("stats-%s" % libc)
    sup = static_server(t, libc, "threads", True, env={"LINGER_STATS": stats})
    got = uploads(sup, 20, RESETTING_UPLOAD)
    counted = wait_for(lambda: stats_of(stats).get("linger_lingered_total", 0) >= 20, 5)
    s = stats_of(stats)
    sup.stop()
    if got["status 413"] != 20:
        raise AssertionError("under linger-run: %s (want 20 x 413)" % fmt(got))
    if without["status 413"] != 0:
        raise AssertionError("without linger-run: %s (want no 413: the test cannot fail)" % fmt(without))
    if not counted or s.get("linger_resets_avoided_total", 0) < 1:
        raise AssertionError("LINGER_STATS does not count the lingering closes: %s" % s)
    return "without: %s; under linger-run: %s; stats lingered=%d resets_avoided=%d" % (
        fmt(without), fmt(got), s["linger_lingered_total"], s["linger_resets_avoided_total"])


@test("static_early_413_glibc", timeout=240)
def test_413_glibc(t):
    """gcc -static early-413 server (threads): 20/20 413s to http.client
    under linger-run, 0/20 without; the stats file counts them."""
    return early_413(t, "glibc")


@test("static_early_413_musl", timeout=240)
def test_413_musl(t):
    """The same with musl-gcc -static."""
    return early_413(t, "musl")


@test("static_fork_per_connection", timeout=240)
def test_fork(t):
    """A static fork-per-connection server (glibc and musl) answers 200/200
    GETs under linger-run, and its early 413s (the child answers and
    closes; the parent closes its copy after the fork, in either order)
    reach the client 10/10."""
    notes = []
    for libc in ("glibc", "musl"):
        try:
            s = static_server(t, libc, "fork", True)
        except Skip:
            continue
        got = gets(s, 200)
        up = uploads(s, 10, RESETTING_UPLOAD)
        s.stop()
        if got[200] != 200:
            raise AssertionError("%s: GETs %s (want 200 x 200)" % (libc, dict(got)))
        if up["status 413"] != 10:
            raise AssertionError("%s: uploads %s (want 10 x 413)" % (libc, fmt(up)))
        notes.append("%s: 200/200 GETs, 10/10 413s" % libc)
    return "; ".join(notes)


@test("static_concurrent_closes", timeout=240)
def test_concurrent(t):
    """Closes from many threads at once (threads model: a thread per
    connection) and from several processes at once (prefork: workers
    forked before accepting, each under the inherited filter, one
    listener for all): 8 clients x 4 uploads each get 32/32 413s, and GETs
    mixed in are all answered."""
    notes = []
    for model in ("threads", "prefork"):
        extra = ["--workers", 4] if model == "prefork" else []
        s = static_server(t, "glibc", model, True, extra=extra)
        jobs = [(s, 4, RESETTING_UPLOAD)] * 8
        got = collections.Counter()
        for c in parallel(uploads, jobs):
            got.update(c)
        g = collections.Counter()
        for c in parallel(gets, [(s, 25)] * 4):
            g.update(c)
        s.stop()
        if got["status 413"] != 32 or g[200] != 100:
            raise AssertionError("%s: uploads %s, GETs %s (want 32 x 413, 100 x 200)" % (model, fmt(got), dict(g)))
        notes.append("%s: 32/32 413s, 100/100 GETs" % model)
    return "; ".join(notes)


@test("static_exit_without_close", timeout=120)
def test_exit(t):
    """An inetd-style static program writes its 413 and exits without
    closing (the kernel closes at exit_group): under linger-run the exit's
    close lingers and 3/3 413s arrive; without, 0/3."""
    probe = static_bin("static_probe", "glibc")
    res = {}
    for sup in (False, True):
        got = collections.Counter()
        for i in range(3):
            argv = [probe, "exit413"]
            s = start_server(t, wrapped(argv) if sup else argv, label="exit413-%d-%d" % (sup, i))
            got.update(uploads(s, 1, RESETTING_UPLOAD))
            s.stop()
        res[sup] = got
    if res[True]["status 413"] != 3 or res[False]["status 413"] != 0:
        raise AssertionError("without: %s, under linger-run: %s (want 0 and 3 x 413)" % (fmt(res[False]), fmt(res[True])))
    return "without: %s; under linger-run: %s" % (fmt(res[False]), fmt(res[True]))


@test("static_close_family", timeout=240)
def test_close_family(t):
    """Each trapped way of ending a connection lingers: close, dup2 and
    dup3 over it (the implicit close of the target), close_range, and
    shutdown(SHUT_RDWR) then close (Linux resets a connection whose read
    side is shut as soon as data arrives: the supervisor keeps the read
    side open, as the library does). 4/4 413s each under linger-run, 0/4
    without."""
    probe = static_bin("static_probe", "glibc")
    notes = []
    for how in ("close", "dup2", "dup3", "close_range", "shutdown"):
        res = {}
        for sup in (False, True):
            argv = [probe, "closepath", how]
            s = start_server(t, wrapped(argv) if sup else argv, label="%s-%d" % (how, sup))
            res[sup] = uploads(s, 4, RESETTING_UPLOAD)
            s.stop()
        if res[True]["status 413"] != 4 or res[False]["status 413"] != 0:
            raise AssertionError("%s: without %s, under linger-run %s (want 0 and 4 x 413)"
                                 % (how, fmt(res[False]), fmt(res[True])))
        notes.append("%s 4/4 (without 0/4)" % how)
    return "; ".join(notes)


@test("static_exec_status_signals", timeout=60)
def test_exec(t):
    """As for dynamic programs (wrapper_exec_status_signals): the exit status
    is the program's; death by its own signal shows as that signal; the
    program keeps the wrapper's PID, is under the filter (Seccomp: 2), has
    no child of ours (the supervisor is not its child), and SIGTERM sent to
    that PID reaches it."""
    probe = static_bin("static_probe", "glibc")
    env = clean_env()
    for code in (0, 7, 255):
        r = subprocess.run(wrapped([probe, "exit", code]), env=env, capture_output=True, timeout=30)
        if r.returncode != code:
            raise AssertionError("exit %d came out as %s (%r)" % (code, r.returncode, r.stderr))
    r = subprocess.run(wrapped([probe, "signal", int(signal.SIGTERM)]), env=env, capture_output=True, timeout=30)
    if r.returncode != -signal.SIGTERM:
        raise AssertionError("death by SIGTERM came out as %s (%r)" % (r.returncode, r.stderr))
    pidfile, rep = t.path("pid"), t.path("report")
    p = Proc(t, wrapped([probe, "closes", pidfile, rep]), env, "closes.log")
    if not wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10):
        raise AssertionError("the program never wrote its PID: %s" % p.log_tail())
    pid = int(pidfile.read_text())
    if pid != p.pid:
        raise AssertionError("program PID %d, wrapper PID %d: no exec" % (pid, p.pid))
    with open("/proc/%d/status" % pid) as f:
        seccomp = re.search(r"^Seccomp:\s+(\d+)", f.read(), re.M)
    if not seccomp or seccomp.group(1) != "2":
        raise AssertionError("the program is not under a seccomp filter: %s" % (seccomp and seccomp.group(0)))
    kids = [q for q, (pp, _, _) in processes().items() if pp == pid]
    if kids:
        raise AssertionError("the program has children %s" % kids)
    if not advanced(rep, "ok", 20) or report(rep).get("failed"):
        raise AssertionError("the program's closes: %s" % report(rep))
    os.kill(pid, signal.SIGTERM)
    rc = p.popen.wait(10)
    if rc != -signal.SIGTERM:
        raise AssertionError("SIGTERM to the PID gave %s" % rc)
    return "exit 0/7/255 kept, own SIGTERM -> -15, PID %d kept, Seccomp: 2, no children, closes work" % pid


def stale_registrations(pid):
    """The (tfd, inode) registrations in pid's epoll sets whose number is
    not open in pid as that very socket: what a copy kept alive elsewhere
    would leave behind after the program's close."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[eventpoll]":
                continue
            info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
        except OSError:
            continue
        for m in re.finditer(r"^tfd:\s*(\d+) .* ino:([0-9a-f]+) ", info, re.M):
            tfd, ino = int(m.group(1)), int(m.group(2), 16)
            try:
                target = os.readlink("/proc/%d/fd/%d" % (pid, tfd))
            except OSError:
                target = None
            if target != "socket:[%d]" % ino:
                out.append((tfd, ino))
    return out


def held_upload(server):
    """An upload whose client reads the 413 to the server's FIN and keeps
    its socket open (so a lingering copy lives on): returns the stale
    registrations of the server seen then, and the status line."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n" + b"x" * 65536)
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        time.sleep(0.1)  # the program's close goes on after the FIN
        return stale_registrations(server.pid), got.split(b"\r\n", 1)[0].decode(errors="replace")
    finally:
        s.close()


@test("static_epoll_registrations", timeout=240)
def test_epoll(t):
    """A static epoll server that closes without EPOLL_CTL_DEL (relying on
    close to end the registration, as most C event loops do): the
    supervisor's copy would keep the socket in the program's epoll set
    under a number the program has closed and may reuse. It takes the
    registration out before the close goes on (as the close itself would
    have), so no stale registration is left while the copy lingers, the
    server keeps answering, and the 413s arrive (10/10; 0/10 without
    linger-run). With --epoll-del (what Go and tokio do) the same."""
    notes = []
    plain = static_server(t, "glibc", "epoll", False)
    without = uploads(plain, 10, RESETTING_UPLOAD)
    plain.stop()
    if without["status 413"] != 0:
        raise AssertionError("without linger-run: %s (want no 413: the test cannot fail)" % fmt(without))
    for extra in ([], ["--epoll-del"]):
        s = static_server(t, "glibc", "epoll", True, extra=extra)
        stale = []
        lines = collections.Counter()
        for _ in range(5):
            found, line = held_upload(s)
            stale += found
            lines[line] += 1
        up = uploads(s, 10, RESETTING_UPLOAD)
        after = gets(s, 20)
        s.stop()
        what = "with --epoll-del" if extra else "close without EPOLL_CTL_DEL"
        if stale:
            raise AssertionError("%s: stale registrations (tfd, inode) left in the program's epoll set: %s"
                                 % (what, stale))
        if up["status 413"] != 10 or after[200] != 20 or lines.get("HTTP/1.1 413 Payload Too Large") != 5:
            raise AssertionError("%s: uploads %s, held uploads %s, GETs %s (want 10 x 413, 5 x 413, 20 x 200)"
                                 % (what, fmt(up), dict(lines), dict(after)))
        notes.append("%s: %s, no stale registration, GETs 20/20" % (what, fmt(up)))
    return "without linger-run: %s; %s" % (fmt(without), "; ".join(notes))


@test("static_check_and_refusals", timeout=120)
def test_refusals(t):
    """--check: supervised for a static program, preload for a dynamic one.
    Refused in one line: a setuid static program (4), a static program of
    another architecture (5), and any static program on a kernel without
    seccomp user notification (3, simulated by no_user_notify), where
    --force runs it unsupervised."""
    probe = static_bin("static_probe", "glibc")
    env = clean_env()

    def run(argv, pre=()):
        return subprocess.run(list(pre) + wrapped(argv)[:2] + [str(a) for a in argv], env=env,
                              capture_output=True, text=True, timeout=30)
    r = run(["--check", probe])
    if r.returncode != 0 or "ok: supervised:" not in r.stdout:
        raise AssertionError("--check static: %s %r" % (r.returncode, r.stdout))
    r = run(["--check", shutil.which("printenv")])
    if r.returncode != 0 or "ok: preload:" not in r.stdout:
        raise AssertionError("--check dynamic: %s %r" % (r.returncode, r.stdout))
    notes = ["--check: supervised / preload"]
    r = run([probe, "exit", 5], pre=[NO_NOTIFY])
    lines = r.stderr.splitlines()
    if r.returncode != 3 or len(lines) != 1 or "no seccomp user notification" not in lines[0]:
        raise AssertionError("no user notification: %s %r" % (r.returncode, r.stderr))
    r = run(["--force", probe, "exit", 5], pre=[NO_NOTIFY])
    if r.returncode != 5 or "warning" not in r.stderr:
        raise AssertionError("--force without user notification: %s %r" % (r.returncode, r.stderr))
    notes.append("no user notification: 3 (%s); --force runs it" % lines[0])
    # a static program of another architecture (the ELF machine field set
    # to aarch64): the filter would let its calls through, so no claim
    arm = t.path("static-aarch64")
    data = bytearray(probe.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")
    arm.write_bytes(bytes(data))
    os.chmod(arm, 0o755)
    r = run(["--check", arm])
    if r.returncode != 5 or "aarch64 program and linger-supervise is built for" not in r.stdout:
        raise AssertionError("static aarch64 --check: %s %r" % (r.returncode, r.stdout))
    notes.append("static aarch64: 5")
    if os.geteuid() == 0:
        suid = t.path("suid-static")
        shutil.copy(probe, suid)
        os.chown(suid, 65534, 65534)
        os.chmod(suid, 0o4755)
        r = run([suid, "exit", 0], pre=["setpriv", "--reuid=1", "--regid=1", "--clear-groups"])
        lines = r.stderr.splitlines()
        if r.returncode != 4 or len(lines) != 1 or "setuid" not in lines[0]:
            raise AssertionError("setuid static: %s %r" % (r.returncode, r.stderr))
        notes.append("setuid static: 4 (%s)" % lines[0])
    return "; ".join(notes)


@test("static_supervisor_killed", timeout=60)
def test_killed(t):
    """The supervisor ignores SIGTERM, SIGINT and SIGHUP. Killed with
    SIGKILL, its guardian answers for it: the program's closes keep
    working (plain closes). Only when supervisor and guardian are killed
    together does the kernel fail the trapped calls with ENOSYS (38): the
    documented residual risk (docs/static.md)."""
    probe = static_bin("static_probe", "glibc")
    pidfile, rep = t.path("pid"), t.path("report")
    p = Proc(t, wrapped([probe, "closes", pidfile, rep]), clean_env(), "closes.log")
    if not advanced(rep, "ok", 20, 10):
        raise AssertionError("the program does not run: %s" % p.log_tail())
    sup, guards = supervisors_of(str(pidfile))
    if len(guards) != 1:
        raise AssertionError("want one guardian, found %s" % guards)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        os.kill(sup, sig)
    time.sleep(0.2)
    if not alive(sup):
        raise AssertionError("the supervisor died of SIGTERM/SIGINT/SIGHUP")
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not alive(sup), 5)
    n = report(rep)["ok"]
    if not advanced(rep, "ok", n + 50) or report(rep)["failed"]:
        raise AssertionError("after SIGKILL of the supervisor: %s" % report(rep))
    ok_after = report(rep)["ok"] - n
    # the second run: both killed at once
    pidfile2, rep2 = t.path("pid2"), t.path("report2")
    p2 = Proc(t, wrapped([probe, "closes", pidfile2, rep2]), clean_env(), "closes2.log")
    if not advanced(rep2, "ok", 20, 10):
        raise AssertionError("the second program does not run: %s" % p2.log_tail())
    sup2, guards2 = supervisors_of(str(pidfile2))
    for q in [sup2] + guards2:
        os.kill(q, signal.SIGKILL)
    if not advanced(rep2, "failed", 10):
        raise AssertionError("with supervisor and guardian killed the closes still work: %s" % report(rep2))
    r2 = report(rep2)
    p.stop()
    p2.stop()
    if r2["errno"] != 38:
        raise AssertionError("closes failed with errno %d, want ENOSYS (38)" % r2["errno"])
    return ("SIGTERM/INT/HUP ignored; supervisor SIGKILLed: %d more closes, 0 failed; both killed: "
            "closes fail with ENOSYS (documented)" % ok_after)
