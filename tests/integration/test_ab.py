"""scripts/linger-ab (the A/B instrument), scripts/linger-stat, LINGER_STATS,
LINGER_MODE=observe and `make demo`.

linger-ab runs as a separate program, as a user runs it. As root it puts each
run in its own network namespace; the tests check that the namespaces and
every process it started are gone afterwards, also after a SIGINT mid-run.
Those checks look only at what the linger-ab a test started could have left:
namespaces named with its pid, processes carrying its run's TAG variable
(every process it starts inherits it), sleeps with this test run's own
arguments. Other linger-ab runs on the machine do not disturb them."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from lib import (LEGACY, MiB, PYTHON, REPO, Skip, clean_env, count_status, fmt, legacy, need_shim, recv_until, test,
                 uploads, wait_for)

AB = REPO / "scripts" / "linger-ab"
STAT = REPO / "scripts" / "linger-stat"
CLIENT = REPO / "build" / "linger-ab-client"
ROOT = os.geteuid() == 0
LEGACY_CMD = [str(LEGACY), "--model", "threads", "--port", "{port}"]
TAG = "AB_TEST_RUN_TAG"     # not LINGER_*: linger-ab strips those from the run without linger
# sleep durations no other process on the machine has in its argv
SLEEP_NEVER_OPENS = "29.1%07d" % os.getpid()
SLEEP_PORT_BUSY = "29.2%07d" % os.getpid()
_runs = [0]


# ---------------------------------------------------------------- helpers

def env_for(extra=None):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("LINGER_")}
    env.update(extra or {})
    return env


def run(prog, args, env=None, timeout=60, pre=(), cwd=None):
    """Runs prog to its end. The result also has .pid (prog's: pre must exec
    it) and .tag, the TAG value every process it started inherits."""
    argv = list(pre) + [PYTHON, str(prog)] + [str(a) for a in args]
    _runs[0] += 1
    tag = "%d-%d" % (os.getpid(), _runs[0])
    env = dict(env or env_for())
    env[TAG] = tag
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, cwd=str(cwd or REPO)) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
    r = subprocess.CompletedProcess(argv, p.returncode, out, err)
    r.pid, r.tag = p.pid, tag
    return r


def need_built():
    need_shim()
    if not LEGACY.exists():
        raise AssertionError("%s is missing (run make servers)" % LEGACY)


def our_netns(pid):
    """The namespaces of the linger-ab that ran as pid (linger-ab-PID-...)."""
    if not shutil.which("ip"):
        return []
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    prefix = "linger-ab-%d-" % pid
    return [ln.split()[0] for ln in r.stdout.splitlines() if ln.startswith(prefix)]


def procs_with(*words):
    """Pids of live processes whose argv contains every one of words."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and all(w in argv for w in words):
            out.append(int(d))
    return out


def kill_pids(pids):
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def leftovers(tag):
    """Pids of live processes started by the linger-ab that ran with TAG=tag
    (servers, nginx, the client): they inherited the variable."""
    want = ("%s=%s" % (TAG, tag)).encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env and _state(int(d)) not in ("Z", "X"):
            out.append(int(d))
    return out


def check_clean(r, what):
    """Raises when the linger-ab of run() result r left processes or
    namespaces behind (killing the processes first)."""
    left, spaces = leftovers(r.tag), our_netns(r.pid)
    kill_pids(left)
    if left or spaces:
        raise AssertionError("%s: linger-ab left processes %s, namespaces %s" % (what, left, spaces))


def one_line(r, what):
    lines = r.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("linger-ab: ") or r.stdout:
        raise AssertionError("%s: want one 'linger-ab: ...' line on stderr and nothing on stdout, "
                             "got status %d, stderr %r, stdout %r" % (what, r.returncode, r.stderr,
                                                                     r.stdout[:300]))
    return lines[0]


def ab_json(t, args, label):
    """Runs linger-ab with --out; returns (results.json as a dict, stdout)."""
    out = t.subdir(label)
    r = run(AB, ["--out", out, "-q"] + list(args), timeout=80)
    if r.returncode != 0:
        raise AssertionError("linger-ab %s: status %d: %s" % (label, r.returncode, r.stderr.strip()[-800:]))
    data = json.loads((out / "results.json").read_text())
    check_clean(r, "linger-ab %s" % label)
    return data, r.stdout, out


def variant(data, key):
    return next(v for v in data["variants"] if v["key"] == key)


def kernel_resets(v):
    k = v["kernel"] or {}
    return k.get("TcpExtTCPAbortOnClose", 0) + k.get("TcpExtTCPAbortOnData", 0)


def outcomes(v):
    return "{%s}" % ", ".join("%s: %d" % kv for kv in sorted(v["outcomes"].items()))


# ---------------------------------------------------------------- linger-ab runs

@test("ab_resetting_server", timeout=90)
def test_resetting(t):
    """A server that answers an early 413 and closes: without linger some
    requests fail and the kernel counts resets; with linger every request
    gets its 413 (and, in a namespace, the kernel counts none). The CSV, JSON
    and SVG outputs are well formed."""
    need_built()
    data, stdout, out = ab_json(t, ["--requests", 20, "--concurrency", 2, "--body-size", "4m",
                                    "--path", "/upload", "--"] + LEGACY_CMD, "resetting")
    a, b = variant(data, "without"), variant(data, "with")
    t.note("without: %s, kernel %s; with: %s, kernel %s" % (outcomes(a), a["kernel"], outcomes(b),
                                                             b["kernel_moved"]))
    problems = []
    if a["complete"] == 20:
        problems.append("without linger every request completed: did not reproduce")
    if kernel_resets(a) == 0:
        problems.append("without linger the kernel counted no reset")
    if b["outcomes"] != {"status 413": 20}:
        problems.append("with linger: %s, want 20 x 413" % outcomes(b))
    if data["netns"] != ROOT:
        problems.append("netns=%s as %s" % (data["netns"], "root" if ROOT else "non-root"))
    if ROOT and kernel_resets(b) != 0:
        problems.append("with linger the server's namespace counted resets: %s" % b["kernel"])
    shim = b["shim"] or {}
    if shim.get("linger_lingered_total") != 20:
        problems.append("shim counters %s, want linger_lingered_total 20" % shim)
    if a["shim"] is not None:
        problems.append("shim counters for the run without linger: %s" % a["shim"])
    if not re.search(r"without linger: \d+\.\d% of requests failed \(no complete response\); "
                     r"with linger: 0\.0%", stdout):
        problems.append("no headline in %r" % stdout[-300:])
    for row in ("reset before any response byte", "reset rate", "kernel TcpExtTCPAbortOnClose",
                "kernel TcpExtTCPAbortOnData", "kernel TcpOutRsts", "shim linger_lingered_total"):
        if row not in stdout:
            problems.append("row %r missing from the table" % row)
    csv_rows = (out / "results.csv").read_text().splitlines()
    if csv_rows[0] != "metric,without linger,with linger" or not any(
            r.startswith("status 413,") for r in csv_rows):
        problems.append("results.csv: %r" % csv_rows[:4])
    svg = ET.parse(str(out / "chart.svg")).getroot()
    bars = [e for e in svg.iter() if e.tag.endswith("rect")]
    if not svg.tag.endswith("svg") or len(bars) < 5:
        problems.append("chart.svg has %d rects" % len(bars))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return "without: %d/20 complete, kernel %s; with: 20/20 413, kernel %s, lingered %d" % (
        a["complete"], a["kernel"], b["kernel"], shim["linger_lingered_total"])


def well_behaved(t, args, label, want):
    data, stdout, _ = ab_json(t, args, label)
    res = []
    for key in ("without", "with"):
        v = variant(data, key)
        t.note("%s: %s, kernel %s" % (key, outcomes(v), v["kernel"]))
        if v["outcomes"] != want:
            raise AssertionError("%s linger: %s, want %s | %s" % (key, outcomes(v), want, "; ".join(t.notes)))
        if v["reset_rate"] != 0:
            raise AssertionError("%s linger: reset rate %s" % (key, v["reset_rate"]))
        if ROOT and kernel_resets(v) != 0:
            raise AssertionError("%s linger: the kernel counted resets %s" % (key, v["kernel"]))
        res.append("%s %s" % (key, outcomes(v)))
    if "0.0% of requests failed" not in stdout or "with linger: 0.0%" not in stdout:
        raise AssertionError("headline: %r" % stdout.splitlines()[-1:])
    return "; ".join(res)


@test("ab_well_behaved_legacy", timeout=90)
def test_well_behaved_legacy(t):
    """legacy_server with a limit above the body size reads every body: both
    runs complete every request, no resets."""
    need_built()
    cmd = [str(LEGACY), "--model", "threads", "--limit", 8 * MiB, "--port", "{port}"]
    return well_behaved(t, ["--requests", 20, "--concurrency", 2, "--body-size", "256k", "--"] + cmd,
                        "legacy", {"status 200": 20})


@test("ab_well_behaved_http_server", timeout=90)
def test_well_behaved_http_server(t):
    """python3 -m http.server answering GETs: both runs clean."""
    need_built()
    cmd = [PYTHON, "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
    return well_behaved(t, ["--requests", 20, "--method", "GET", "--body-size", 0, "--"] + cmd,
                        "http_server", {"status 200": 20})


@test("ab_observe_mode", timeout=90)
def test_observe(t):
    """LINGER_MODE=observe under the resetting server: the failures still
    happen (nothing changes) and the shim counts them in
    linger_observe_resets_total; it lingers nothing."""
    need_built()
    data, stdout, _ = ab_json(t, ["--mode", "observe", "--requests", 20, "--concurrency", 2,
                                  "--body-size", "4m", "--"] + LEGACY_CMD, "observe")
    b = variant(data, "with")
    shim = b["shim"] or {}
    t.note("observe: %s, kernel %s, shim %s" % (outcomes(b), b["kernel"], shim))
    problems = []
    if b["label"] != "with linger (observe)" or "with linger (observe)" not in stdout:
        problems.append("label %r" % b["label"])
    if b["complete"] == 20:
        problems.append("every request completed under observe: it changed the closes?")
    if not shim.get("linger_observe_resets_total", 0) > 0:
        problems.append("linger_observe_resets_total not > 0")
    if shim.get("linger_observe_would_linger_total", 0) < shim.get("linger_observe_resets_total", 0):
        problems.append("would_linger < observe_resets")
    if shim.get("linger_lingered_total", 0) != 0:
        problems.append("observe lingered %s sockets" % shim.get("linger_lingered_total"))
    if ROOT and kernel_resets(b) == 0:
        problems.append("the kernel counted no reset under observe")
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return "observe: %d/20 failed, observe_resets %d, would_linger %d, lingered 0, kernel %s" % (
        20 - b["complete"], shim["linger_observe_resets_total"],
        shim["linger_observe_would_linger_total"], b["kernel"])


@test("ab_error_paths", timeout=90)
def test_errors(t):
    """Each error: one line on stderr, nothing on stdout, the status, and
    nothing left running or mounted."""
    need_built()
    done = []
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    p = port.getsockname()[1]
    port.close()

    runs = []
    # a server that never opens its port
    r = run(AB, ["--wait", "1s", "--port", p, "--", "sleep", SLEEP_NEVER_OPENS])
    runs.append(r)
    line = one_line(r, "port never opened")
    m = re.search(r"see its output: (\S+?)\)?$", line)
    if r.returncode != 1 or "never opened port %d" % p not in line or not m or not os.path.exists(m.group(1)):
        raise AssertionError("never opened: status %d, %r" % (r.returncode, line))
    shutil.rmtree(os.path.dirname(m.group(1)), ignore_errors=True)
    if procs_with("sleep", SLEEP_NEVER_OPENS):
        raise AssertionError("the server that never opened its port was left running: pids %s"
                             % procs_with("sleep", SLEEP_NEVER_OPENS))
    done.append("never opened: 1")

    # a server that exits at once
    r = run(AB, ["--port", p, "--", "false"])
    runs.append(r)
    line = one_line(r, "server exits")
    if r.returncode != 1 or "exited with status 1" not in line:
        raise AssertionError("server exits: status %d, %r" % (r.returncode, line))
    m = re.search(r"see its output: (\S+?)\)?$", line)
    if m:
        shutil.rmtree(os.path.dirname(m.group(1)), ignore_errors=True)
    done.append("exits: 1")

    # the port is already in use
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        bp = busy.getsockname()[1]
        r = run(AB, ["--no-netns", "--port", bp, "--", "sleep", SLEEP_PORT_BUSY])
        runs.append(r)
        line = one_line(r, "port in use")
        if r.returncode != 1 or "port %d is already in use" % bp not in line:
            raise AssertionError("port in use: status %d, %r" % (r.returncode, line))
        if procs_with("sleep", SLEEP_PORT_BUSY):
            raise AssertionError("port in use: the server was started anyway: pids %s"
                                 % procs_with("sleep", SLEEP_PORT_BUSY))
    done.append("port in use: 1")

    # nginx missing: a PATH without it
    empty = t.subdir("emptybin")
    r = run(AB, ["--via-nginx", "--"] + LEGACY_CMD, env=env_for({"PATH": str(empty)}))
    runs.append(r)
    line = one_line(r, "no nginx")
    if r.returncode != 1 or "needs nginx" not in line:
        raise AssertionError("no nginx: status %d, %r" % (r.returncode, line))
    done.append("no nginx: 1")

    # --netns without root
    pre = ()
    prog = AB
    if ROOT:
        if not shutil.which("setpriv"):
            raise Skip("setpriv is not installed")
        prog = t.path("linger-ab")
        shutil.copy(AB, prog)
        os.chmod(prog, 0o755)
        pre = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
    r = run(prog, ["--netns", "--port", p, "--", "true"], pre=pre, cwd=t.tmp)
    runs.append(r)
    line = one_line(r, "--netns as nobody")
    if r.returncode != 1 or "--netns needs root" not in line:
        raise AssertionError("--netns as non-root: status %d, %r" % (r.returncode, line))
    done.append("--netns non-root: 1")

    # the client is missing: given, or not built next to the library
    r = run(AB, ["--client", t.path("no-such-client"), "--port", p, "--", "true"])
    runs.append(r)
    line = one_line(r, "--client missing")
    if r.returncode != 1 or "no-such-client is not an executable file" not in line:
        raise AssertionError("--client missing: status %d, %r" % (r.returncode, line))
    tree = t.subdir("unbuilt")
    for d in ("scripts", "lib"):
        (tree / d).mkdir(exist_ok=True)
    shutil.copy(AB, tree / "scripts" / "linger-ab")
    shutil.copy(REPO / "build" / "liblinger.so", tree / "lib" / "liblinger.so")
    r = run(tree / "scripts" / "linger-ab", ["--lib", "lib/liblinger.so", "--port", p, "--", "true"], cwd=tree)
    runs.append(r)
    line = one_line(r, "client not built")
    if r.returncode != 1 or line != "linger-ab: build/linger-ab-client not found: run make":
        raise AssertionError("client not built: status %d, %r" % (r.returncode, line))
    done.append("no client: 1")

    # bad usage: status 2
    bad = [["--bogus", "--", "true"], ["--requests", "0", "--port", p, "--", "true"],
           ["--body-size", "1q", "--port", p, "--", "true"], ["--mode", "maybe", "--port", p, "--", "true"],
           ["--port", p], ["--", "true"], ["--timeout", "-1", "--port", p, "--", "true"],
           ["--a", "nohost", "--b", "127.0.0.1:1"], ["--a", "127.0.0.1:1"],
           ["--port", "70000", "--", "true"], ["--concurrency"]]
    for args in bad:
        r = run(AB, args)
        one_line(r, "usage %s" % args)
        if r.returncode != 2:
            raise AssertionError("usage %s: status %d, %r" % (args, r.returncode, r.stderr))
    done.append("%d bad usages: 2" % len(bad))
    r = run(AB, ["--help"])
    if r.returncode != 0 or "--via-nginx" not in r.stdout:
        raise AssertionError("--help: status %d" % r.returncode)
    for r in runs:
        check_clean(r, "linger-ab %s" % " ".join(r.args[2:]))
    return ", ".join(done)


@test("ab_daemonizing_server", timeout=90)
def test_daemonizing(t):
    """A server command that exits 0 and leaves the server running in the
    background (it daemonized): linger-ab waits for the port while the
    orphan (reparented to it, a subreaper) runs, measures, then stops it. A
    command that exits 0 and leaves nothing gets one line saying so."""
    need_built()
    daemon = "%s --model threads --port {port} & exit 0" % LEGACY
    data, stdout, _ = ab_json(t, ["--requests", 10, "--concurrency", 2, "--body-size", "4m", "--",
                                  "sh", "-c", daemon], "daemon")
    a, b = variant(data, "without"), variant(data, "with")
    lingered = (b["shim"] or {}).get("linger_lingered_total")
    if b["outcomes"] != {"status 413": 10} or lingered != 10:
        raise AssertionError("with linger: %s, lingered %s; want 10 x 413, 10 lingered (the daemon "
                             "ran without the library?)" % (outcomes(b), lingered))
    if a["shim"] is not None or a["notes"] or b["notes"]:
        raise AssertionError("without linger: shim %s; notes %s" % (a["shim"], a["notes"] + b["notes"]))
    res = ["without %s" % outcomes(a), "with %s" % outcomes(b)]
    r = run(AB, ["--port", 1, "--", "true"])
    line = one_line(r, "exits 0 at once")
    check_clean(r, "exits 0 at once")
    if r.returncode != 1 or "exited with status 0 and left no process running" not in line:
        raise AssertionError("exits 0 at once: status %d, %r" % (r.returncode, line))
    m = re.search(r"see its output: (\S+?)\)?$", line)
    if m:
        shutil.rmtree(os.path.dirname(m.group(1)), ignore_errors=True)
    return "; ".join(res) + "; lingered 10, daemons stopped; 'true': one line, status 1"


@test("ab_netns_unavailable", timeout=90)
def test_netns_unavailable(t):
    """Root where ip netns add fails (an unprivileged container; here a user
    namespace, unshare -U -r): without --netns linger-ab measures on the host
    loopback and the kernel-counters line says why; with --netns it fails
    with one line."""
    need_built()
    if not ROOT:
        raise Skip("needs root (to be root in a user namespace without the right to mount)")
    if not shutil.which("unshare"):
        raise Skip("unshare is not installed")
    probe = subprocess.run(["unshare", "-U", "-r", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        raise Skip("user namespaces are not available here")
    pre = ("unshare", "-U", "-r")
    out = t.subdir("fallback")
    r = run(AB, ["-q", "--out", out, "--requests", 4, "--body-size", "64k", "--"] + LEGACY_CMD, pre=pre,
            timeout=80)
    check_clean(r, "fallback")
    if r.returncode != 0:
        raise AssertionError("without --netns: status %d: %s" % (r.returncode, r.stderr.strip()[-500:]))
    scope = next((ln for ln in r.stdout.splitlines() if ln.startswith("kernel counters: ")), "")
    data = json.loads((out / "results.json").read_text())
    if "host-wide (no network namespace: ip netns add failed: " not in scope or data["netns"]:
        raise AssertionError("without --netns: netns %s, %r" % (data["netns"], scope))
    r = run(AB, ["--netns", "--requests", 4, "--"] + LEGACY_CMD, pre=pre)
    line = one_line(r, "--netns in a user namespace")
    check_clean(r, "--netns in a user namespace")
    if r.returncode != 1 or not line.startswith("linger-ab: --netns: ip netns add failed: "):
        raise AssertionError("--netns: status %d, %r" % (r.returncode, line))
    return "fallback: %s; --netns: %s" % (scope[len("kernel counters: "):], line)


# Responses of the scripted server of ab_client_outcomes, by path: what it
# sends once it has read the request, then "keep" (wait for the client to
# close: a response the client misframes times out), "close", "reset" (RST,
# SO_LINGER 0) or a pause in seconds then close.
SCRIPTED = {
    "/length": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "keep"),
    "/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n"
                 b"0\r\nTrailer: 1\r\n\r\n", "keep"),
    "/close": (b"HTTP/1.0 404 Not Found\r\n\r\nnot here", "close"),
    "/continue": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", "keep"),
    "/nobody": (b"HTTP/1.1 204 No Content\r\n\r\n", "keep"),
    "/eof_mid": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", "close"),
    "/reset_mid": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", "reset"),
    "/eof_before": (b"", "close"),
    "/reset_before": (b"", "reset"),
    "/malformed": (b"SMTP ready\r\n\r\n", "keep"),
    "/bad_length": (b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", "keep"),
    "/silent": (b"", 3.0),
}
CLIENT_WANT = [("GET", "/length", "status 200"), ("HEAD", "/length", "status 200"),
               ("GET", "/chunked", "status 200"), ("GET", "/close", "status 404"),
               ("POST", "/continue", "status 201"), ("GET", "/nobody", "status 204"),
               ("GET", "/eof_mid", "eof_mid"), ("GET", "/reset_mid", "reset_mid"),
               ("GET", "/eof_before", "eof_before"), ("POST", "/reset_before", "reset_before"),
               ("GET", "/malformed", "bad_response"), ("GET", "/bad_length", "bad_response"),
               ("GET", "/silent", "timeout")]


def scripted_server(sock):
    """Serves connections on the listening sock by SCRIPTED, each in a thread."""
    import struct
    import threading

    def serve(c):
        with c:
            c.settimeout(5)
            data = recv_until(c, b"\r\n\r\n", 65536)
            if b"\r\n\r\n" not in data:
                return
            head, _, body = data.partition(b"\r\n\r\n")
            m = re.search(rb"content-length: *(\d+)", head, re.I)
            left = int(m.group(1)) - len(body) if m else 0
            while left > 0:
                left -= len(c.recv(65536))
            response, then = SCRIPTED[head.split()[1].decode()]
            c.sendall(response)
            if then == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif then == "keep":
                try:
                    while c.recv(65536):
                        pass
                except OSError:
                    pass
            elif then != "close":
                time.sleep(then)

    def accept():
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()


@test("ab_client_outcomes", timeout=60)
def test_client_outcomes(t):
    """build/linger-ab-client against a scripted server: every way a response
    can be framed (Content-Length, chunks, the close; HEAD, 1xx, 204 without
    a body) is a complete response, and each way it can fail gets its own
    outcome; then a closed port, --help and a bad option."""
    if not CLIENT.exists():
        raise AssertionError("%s is missing (run make)" % CLIENT)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        port = srv.getsockname()[1]
        scripted_server(srv)
        wrong = []
        for method, path, want in CLIENT_WANT:
            r = subprocess.run([str(CLIENT), "--port", str(port), "--requests", "1", "--method", method,
                                "--path", path, "--body-size", "100000" if method == "POST" else "0",
                                "--timeout", "1"], capture_output=True, text=True, timeout=20)
            lines = r.stdout.splitlines()
            got = re.fullmatch(r"outcome (.+) ms \d+\.\d+", lines[0]) if lines else None
            if r.returncode != 0 or not got or got.group(1) != want or len(lines) != 2 or \
                    not lines[1].startswith("summary requests 1 complete "):
                wrong.append("%s %s: want %r, got status %d, %r %r" % (method, path, want, r.returncode,
                                                                         r.stdout, r.stderr))
        srv.shutdown(socket.SHUT_RDWR)     # ends the accept thread
    with socket.socket() as unused:         # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    r = subprocess.run([str(CLIENT), "--port", str(closed), "--requests", "2"], capture_output=True,
                       text=True, timeout=20)
    if r.stdout.count("outcome connect_failed ms ") != 2:
        wrong.append("closed port: %r" % r.stdout)
    r = subprocess.run([str(CLIENT), "--help"], capture_output=True, text=True, timeout=20)
    if r.returncode != 0 or "--concurrency" not in r.stdout:
        wrong.append("--help: status %d" % r.returncode)
    r = subprocess.run([str(CLIENT), "--port", "1", "--bogus"], capture_output=True, text=True, timeout=20)
    if r.returncode != 2 or r.stdout or len(r.stderr.splitlines()) != 1 or \
            not r.stderr.startswith("linger-ab-client: unknown option --bogus"):
        wrong.append("--bogus: status %d, %r" % (r.returncode, r.stderr))
    if wrong:
        raise AssertionError("; ".join(wrong))
    return "%d scripted responses classified as expected; closed port, --help, --bogus" % len(CLIENT_WANT)


@test("ab_sigint_cleanup", timeout=90)
def test_sigint(t):
    """SIGINT in the middle of a run: linger-ab stops the server it started
    and deletes its namespace, then exits 130."""
    need_built()
    err = t.path("ab.err")
    tag = "%d-sigint" % os.getpid()
    with open(err, "wb") as ef:
        proc = subprocess.Popen([PYTHON, str(AB), "-v", "--rate", "4", "--requests", "1000",
                                 "--concurrency", "2", "--body-size", "64k", "--"] + LEGACY_CMD,
                                env=env_for({TAG: tag}), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=ef, cwd=str(REPO), start_new_session=True)
    try:
        started = wait_for(lambda: b"1000 requests" in err.read_bytes() or proc.poll() is not None, 20)
        if not started or proc.poll() is not None:
            raise AssertionError("linger-ab did not get to its workload: %s" % err.read_text()[-500:])
        time.sleep(0.5)
        spaces = our_netns(proc.pid)
        servers = procs_with(str(LEGACY), "--model", "threads")
        mine = [s for s in servers if _ancestor(s, proc.pid)]
        if ROOT and not spaces:
            raise AssertionError("as root linger-ab made no network namespace")
        if not mine:
            raise AssertionError("no server of linger-ab's found running")
        clients = [p for p in leftovers(tag) if _argv0(p).endswith("/linger-ab-client")]
        if not clients:
            raise AssertionError("no linger-ab-client of linger-ab's found running")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("linger-ab did not exit within 30 s of SIGINT") from None
        dt = time.monotonic() - t0
        left_ns = our_netns(proc.pid)
        left = [s for s in mine if os.path.exists("/proc/%d" % s) and _state(s) != "Z"]
        left_any = leftovers(tag)
        kill_pids(left + left_any)
        last = err.read_text().strip().splitlines()[-1:]
        if proc.returncode != 130 or left_ns or left or left_any:
            raise AssertionError("after SIGINT: status %s, namespaces left %s, servers left %s, "
                                 "processes left %s; %s" % (proc.returncode, left_ns, left, left_any, last))
        if not last or "interrupted (SIGINT)" not in last[0]:
            raise AssertionError("last line %r" % last)
        return "status 130 after %.1fs; %d namespace(s), server %s and client %s gone" % (
            dt, len(spaces), mine, clients)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _ancestor(pid, anc):
    for _ in range(50):
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if pid == anc:
            return True
        if pid <= 1:
            return False
    return False


@test("ab_running_instances", timeout=90)
def test_instances(t):
    """The second form: two running servers, one without the shim and one
    with it (LINGER_STATS given as a glob): the outcomes differ and the shim
    counters are those of the workload (deltas)."""
    need_built()
    stats = t.subdir("stats")
    a = legacy(t, "threads", label="inst-a")
    b = legacy(t, "threads", shim=True, env={"LINGER_STATS": str(stats / "linger-%p.prom")}, label="inst-b")
    # traffic before the run: the counters must not include it
    uploads(b, 3, MiB)
    wait_for(lambda: list(stats.glob("*.prom")), 5)
    r = run(AB, ["-q", "--requests", 12, "--concurrency", 2, "--body-size", "4m", "--out", t.subdir("out"),
                 "--a", "127.0.0.1:%d" % a.port, "--b", "127.0.0.1:%d" % b.port,
                 "--stats-b", str(stats / "*.prom")])
    check_clean(r, "--a/--b")
    if r.returncode != 0:
        raise AssertionError("status %d: %s" % (r.returncode, r.stderr.strip()))
    data = json.loads(t.path("out/results.json").read_text())
    va, vb = variant(data, "a"), variant(data, "b")
    t.note("A: %s; B: %s, shim %s" % (outcomes(va), outcomes(vb), vb["shim"]))
    if va["complete"] == 12 or vb["outcomes"] != {"status 413": 12}:
        raise AssertionError("outcomes | " + "; ".join(t.notes))
    if (vb["shim"] or {}).get("linger_lingered_total") != 12 or va["shim"] is not None:
        raise AssertionError("shim counters are not the workload's | " + "; ".join(t.notes))
    if "B 127.0.0.1:%d: 0.0%%" % b.port not in r.stdout:
        raise AssertionError("headline: %r" % r.stdout.splitlines()[-1:])
    return "A %s; B %s, lingered 12" % (outcomes(va), outcomes(vb))


# ---------------------------------------------------------------- stats file, linger-stat

PROM_HELP = re.compile(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*")
PROM_TYPE = re.compile(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)")
PROM_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} '
                         r'(\d+)')
DOCUMENTED = {"linger_lingered_total", "linger_lingering_sockets", "linger_closed_total",
              "linger_drained_bytes_total", "linger_resets_avoided_total", "linger_fallback_closes_total",
              "linger_observe_would_linger_total", "linger_observe_resets_total"}
REASONS = {"eof", "idle_timeout", "time_cap", "byte_cap", "socket_cap", "error"}


def parse_stats_strict(text, pid):
    """Every line of a stats file, checked against the Prometheus text
    format: HELP and TYPE before a metric's samples, one TYPE per metric,
    labels well formed, pid label = pid. Returns {name or name/reason: value}."""
    typed, helped, seen, values = {}, set(), set(), {}
    if not text.endswith("\n"):
        raise AssertionError("the stats file does not end with a newline")
    for no, line in enumerate(text.split("\n")[:-1], 1):
        m = PROM_HELP.fullmatch(line)
        if m:
            if m.group(1) in helped or m.group(1) in seen:
                raise AssertionError("line %d: HELP again or after samples: %r" % (no, line))
            helped.add(m.group(1))
            continue
        m = PROM_TYPE.fullmatch(line)
        if m:
            if m.group(1) in typed or m.group(1) in seen:
                raise AssertionError("line %d: TYPE again or after samples: %r" % (no, line))
            typed[m.group(1)] = m.group(2)
            continue
        m = PROM_SAMPLE.fullmatch(line)
        if not m:
            raise AssertionError("line %d is not Prometheus text: %r" % (no, line))
        name = m.group(1)
        if name not in typed or name not in helped:
            raise AssertionError("line %d: sample before its HELP/TYPE: %r" % (no, line))
        if name.endswith("_total") and typed[name] != "counter":
            raise AssertionError("line %d: %s is a %s" % (no, name, typed[name]))
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)))
        if labels.get("pid") != str(pid):
            raise AssertionError("line %d: pid label %r, want %d" % (no, labels.get("pid"), pid))
        key = name + ("/" + labels["reason"] if "reason" in labels else "")
        if key in values:
            raise AssertionError("line %d: %s twice" % (no, key))
        values[key] = int(m.group(3))
        seen.add(name)
    missing = DOCUMENTED - seen
    if missing:
        raise AssertionError("metrics missing: %s" % sorted(missing))
    reasons = {k.split("/")[1] for k in values if k.startswith("linger_closed_total/")}
    if not REASONS <= reasons:
        raise AssertionError("linger_closed_total reasons %s, want at least %s" % (sorted(reasons), sorted(REASONS)))
    return values


@test("stats_file_known_workload", timeout=60)
def test_stats_file(t):
    """LINGER_STATS=DIR/linger-%p.prom under legacy_server, 10 uploads it
    answers with an early 413: the file is kept up to date while the server
    runs, is well-formed Prometheus text, and says 10 lingered, 10 closed,
    at least one reset avoided, none lingering. linger-stat sums two files and
    refuses a bad one."""
    need_built()
    d = t.subdir("stats")
    srv = legacy(t, "threads", shim=True, env={"LINGER_STATS": str(d / "linger-%p.prom")})
    got = uploads(srv, 10, MiB)
    if count_status(got, 413) != 10:
        raise AssertionError("uploads with the shim: %s" % fmt(got))
    f = d / ("linger-%d.prom" % srv.pid)

    def live():
        try:
            text = f.read_text()
        except OSError:
            return False
        return ("linger_lingered_total{pid=\"%d\"} 10\n" % srv.pid in text
                and "linger_lingering_sockets{pid=\"%d\"} 0\n" % srv.pid in text)
    # rewritten within a second of a change, while the server runs; once all
    # 10 are drained, the exit has nothing to hand over
    if not wait_for(live, 5, 0.1):
        raise AssertionError("no up-to-date stats file while the server runs: %r" % (
            f.read_text() if f.exists() else "missing"))
    srv.stop()
    text = f.read_text()
    v = parse_stats_strict(text, srv.pid)
    closed = sum(x for k, x in v.items() if k.startswith("linger_closed_total/"))
    problems = []
    if v["linger_lingered_total"] != 10:
        problems.append("lingered %d" % v["linger_lingered_total"])
    if not v["linger_resets_avoided_total"] >= 1:
        problems.append("resets_avoided %d" % v["linger_resets_avoided_total"])
    if closed != 10 or v["linger_lingering_sockets"] != 0:
        problems.append("closed %d, lingering %d" % (closed, v["linger_lingering_sockets"]))
    if v["linger_resets_avoided_total"] and not v["linger_drained_bytes_total"] > 0:
        problems.append("drained 0 bytes")
    if v["linger_observe_would_linger_total"] or v["linger_observe_resets_total"] or \
            v["linger_fallback_closes_total"]:
        problems.append("observe/fallback counters not 0")
    stray = [p.name for p in d.iterdir() if p.name != f.name]
    if stray:
        problems.append("other files in the stats dir: %s" % stray)
    if problems:
        raise AssertionError("; ".join(problems) + " | " + text)

    # linger-stat: a second process's file, the total column sums them
    (d / "linger-1.prom").write_text(text.replace('pid="%d"' % srv.pid, 'pid="1"'))
    r = run(STAT, [d])
    lines = r.stdout.splitlines()
    head = lines[0].split() if lines else []
    row = next((ln.split() for ln in lines if ln.startswith("linger_lingered_total ")), None)
    if r.returncode != 0 or head[-1:] != ["total"] or row != ["linger_lingered_total", "10", "10", "20"]:
        raise AssertionError("linger-stat: status %d, %r" % (r.returncode, r.stdout[:400]))
    r = run(STAT, [str(d / "*.prom"), "--total"])
    if r.returncode != 0 or "linger_lingered_total" not in r.stdout or r.stdout.split("\n")[1].split()[-1] != "20":
        raise AssertionError("linger-stat glob --total: %r" % r.stdout[:300])
    bad = t.path("bad.prom")
    bad.write_text("this is not prometheus\n")
    for args, status in (([bad], 1), ([t.path("missing.prom")], 1), ([], 2), (["--bogus"], 2)):
        r = run(STAT, args)
        lines = r.stderr.splitlines()
        if r.returncode != status or len(lines) != 1 or not lines[0].startswith("linger-stat: "):
            raise AssertionError("linger-stat %s: status %d, stderr %r" % (args, r.returncode, r.stderr))
    return "lingered 10, closed 10 (eof %d), resets avoided %d, drained %d bytes; linger-stat total 20" % (
        v.get("linger_closed_total/eof", 0), v["linger_resets_avoided_total"], v["linger_drained_bytes_total"])


# ---------------------------------------------------------------- make demo

STATS_ENV = REPO / "build" / "tests" / "stats_env"


@test("stats_file_survives_the_host", timeout=60)
def test_stats_file_host_behaviour(t):
    """LINGER_STATS=DIR/s-%p.prom under two hosts: one that overwrites its
    environment strings in place (as setproctitle does) before it exits,
    one that forks 4 children which touch no socket and _exit. The first
    must still write DIR/s-PID.prom and nothing in its working directory;
    the second must leave one file, its own (a child with nothing to count
    writes none)."""
    need_shim(t)
    out = []
    for args, label in ((["--clobber-env"], "environment overwritten"), (["--children", "4"], "4 children")):
        d = t.subdir("stats-" + args[0].strip("-"))
        cwd = t.subdir("cwd-" + args[0].strip("-"))
        p = subprocess.Popen([str(STATS_ENV)] + args, cwd=str(cwd), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             env=clean_env(True, {"LINGER_STATS": str(d / "s-%p.prom")}))
        _, err = p.communicate(timeout=20)
        files, strays = sorted(x.name for x in d.iterdir()), sorted(x.name for x in cwd.iterdir())
        out.append("%s: exit %d, stats dir %s, working dir %s" % (label, p.returncode, files, strays))
        said = [line for line in err.splitlines() if line.startswith("linger")]
        if p.returncode != 0 or files != ["s-%d.prom" % p.pid] or strays or said:
            raise AssertionError("; ".join(out) + (" | the shim said %r" % said[-3:] if said else ""))
    return "; ".join(out)


@test("make_demo", timeout=120, needs=("nginx", "make"))
def test_demo(t):
    """`make demo` with a small workload prints both variants, the headline,
    the kernel counters, and 0% 502s with linger."""
    need_built()
    # -v: linger-ab names its namespaces on stderr (linger-ab-PID-a), whose
    # PID tells its namespaces from those of other runs
    r = subprocess.run(["make", "--no-print-directory", "demo", "DEMO_REQUESTS=20", "DEMO_ARGS=-v"], cwd=str(REPO),
                       env=env_for(), capture_output=True, text=True, timeout=110, stdin=subprocess.DEVNULL)
    out = r.stdout
    m = re.search(r"without linger: (\d+\.\d)% of uploads got 502; with linger: (\d+\.\d)%", out)
    if r.returncode != 0 or not m:
        raise AssertionError("make demo: status %d, %s %s" % (r.returncode, out[-600:], r.stderr[-600:]))
    problems = []
    for want in ("without linger", "with linger", "status 502", "kernel TcpExtTCPAbortOnClose",
                 "kernel TcpOutRsts", "20 x POST /upload with a 4 MiB body"):
        if want not in out:
            problems.append("%r missing" % want)
    if float(m.group(2)) != 0.0 or float(m.group(1)) == 0.0:
        problems.append("headline %r" % m.group(0))
    for pid in sorted({int(x) for x in re.findall(r"network namespace linger-ab-(\d+)-", r.stderr)}):
        if our_netns(pid):
            problems.append("namespaces left: %s" % our_netns(pid))
    if ROOT and "network namespace linger-ab-" not in r.stderr:
        problems.append("as root, no namespace named on stderr: %s" % r.stderr[-600:])
    if problems:
        raise AssertionError("; ".join(problems) + " | " + out[-1500:])
    return m.group(0)


if __name__ == "__main__":
    sys.exit("run through tests/integration/run.py")
