#!/usr/bin/env python3
"""make bench: what linger costs, each figure next to its target and how it was
measured.

Ratios come from one interleaved run (A, B, A, B, ...; the order reversed
every other round) and are medians: absolute times on a shared VM are noise,
so no verdict rests on one. Instruction counts come from valgrind's callgrind,
which repeats them from run to run.

Usage: bench/run.py [--only FIG[,FIG...]] [--quick] [--lib PATH]
  FIG: hotpath, nginx, capacity, drain, close, fork, static (default: all, in that order)
  --quick: shorter runs (a smoke test of the bench itself; figures are noisier)
  --lib: the library to measure (default build/liblinger.so), e.g. a candidate
         change built elsewhere
Needs build/liblinger.so, build/tests/legacy_server and build/bench/* (make bench
builds them), valgrind, wrk and nginx.
"""
import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
BIN = BUILD / "bench"
SHIM = BUILD / "liblinger.so"
TOUCHLIB = BIN / "touchlib.so"  # preloaded in the shim's place for the anchors (bench/touchlib.c)
LEGACY = BUILD / "tests" / "legacy_server"
STATIC_LEGACY = BUILD / "tests" / "static" / "legacy_server-glibc"
SUPERVISE = BUILD / "linger-supervise"
FIGS = ["hotpath", "nginx", "capacity", "drain", "close", "fork", "static"]

rows = []        # (figure, measured, target, verdict) for the final table
started = []     # processes to stop at exit


def out(line=""):
    print(line, flush=True)


def row(fig, measured, target, verdict):
    rows.append((fig, measured, target, verdict))


def verdict(ok):
    return "pass" if ok else "MISS"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGER_") and k != "LD_PRELOAD"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def shim_env(**extra):
    return clean_env(LD_PRELOAD=str(SHIM), **extra)


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], **kw)


def spawn(argv, env, **kw):
    p = subprocess.Popen([str(a) for a in argv], env=env, **kw)
    started.append(p)
    return p


def stop(p, sig=signal.SIGTERM, wait=5):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def median(xs):
    return statistics.median(xs)


def machine():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "nproc=%d, CPU: %s, kernel %s" % (os.cpu_count() or 0, cpu, os.uname().release)


def busy_fraction(secs=1.0):
    """Share of all CPUs' time spent busy over secs, before the bench starts."""
    def sample():
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(f), f[3] + f[4]  # total, idle + iowait
    t0, i0 = sample()
    time.sleep(secs)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_port_file(path, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (proc.args[0], proc.returncode))
        try:
            txt = Path(path).read_text().strip()
            if txt:
                return int(txt)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise RuntimeError("no port from %s" % proc.args[0])


# ---------------------------------------------------------------- 1. hot path

def callgrind_ir(argv, preload, tmp):
    """Instructions callgrind counted for the whole run of argv (all threads)."""
    fd, outf = tempfile.mkstemp(prefix="cg.", dir=tmp)
    os.close(fd)
    env = shim_env() if preload else clean_env()
    # LD_PRELOAD in valgrind's own environment reaches the client program.
    r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outf] + list(argv),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("callgrind %s failed: %s" % (argv, r.stderr[-800:]))
    for line in Path(outf).read_text().splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("no totals in " + outf)


def fig_hotpath(a):
    out("== 1. Hot path, in instructions (valgrind --tool=callgrind; repeatable counts)")
    n1, n2 = (20000, 40000) if a.quick else (50000, 100000)
    out("   Each workload runs without and with the shim (LD_PRELOAD set in valgrind's environment)")
    out("   for N=%d and N=%d calls; per call = (Ir(N=%d) - Ir(N=%d)) / %d, so startup cancels;" % (n1, n2, n2, n1, n2 - n1))
    out("   extra = shim's per call - plain per call. Program: build/bench/hotpath (bench/hotpath.c).")
    hot = BIN / "hotpath"
    work = [
        ("write-null", [hot, "write-null"], [], "write() of 1 byte to /dev/null", 10),
        ("write-pipe", [hot, "write-pipe"], [], "write() of 1 byte to a pipe", 10),
        ("read-null", [hot, "read-null"], [], "read() of 1 byte from /dev/zero", 10),
        ("send-body", [hot, "send-body"], [], "send() of 16 bytes, tracked socket inside a body", 30),
        ("send-body-mt", [hot, "send-body"], ["--app-thread"],
         "  the same, host already multi-threaded (the shim's code alone)", None),
        ("write-null-drainer", [hot, "write-null"], ["--drainer"],
         "  write() to /dev/null once the drainer thread runs", None),
        ("send-head", [hot, "send-head"], [], "send() of 16 bytes of response heads (scanned)", None),
        ("recv-body", [hot, "recv-body"], [], "recv() of 16 bytes, accepted socket inside a request body", None),
        ("recv-body-mt", [hot, "recv-body"], ["--app-thread"],
         "  the same, host already multi-threaded (the shim's code alone)", None),
    ]
    jobs = []
    tmp = tempfile.mkdtemp(prefix="linger-bench-cg.")
    for key, base, opts, _, _ in work:
        for preload in (False, True):
            for n in (n1, n2):
                jobs.append((key, preload, n, base + [n] + opts))
    jobs.append(("scan", False, n1 // 25, [BIN / "scanbench", n1 // 25]))
    jobs.append(("scan", False, n2 // 25, [BIN / "scanbench", n2 // 25]))
    jobs.append(("scanbytes", False, n1 // 250, [BIN / "scanbench", n1 // 250, "bytes"]))
    jobs.append(("scanbytes", False, n2 // 250, [BIN / "scanbench", n2 // 250, "bytes"]))
    jobs.append(("scantwo", False, n1 // 25, [BIN / "scanbench", n1 // 25, "two"]))
    jobs.append(("scantwo", False, n2 // 25, [BIN / "scanbench", n2 // 25, "two"]))
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as ex:
        futs = {(k, p, n): ex.submit(callgrind_ir, argv, p, tmp) for k, p, n, argv in jobs}
        ir = {key: f.result() for key, f in futs.items()}
    shutil.rmtree(tmp, ignore_errors=True)
    out("   %-62s %9s %9s %8s  %s" % ("workload", "plain", "shim", "extra", "target"))
    for key, _, _, label, target in work:
        plain = (ir[(key, False, n2)] - ir[(key, False, n1)]) / (n2 - n1)
        shim = (ir[(key, True, n2)] - ir[(key, True, n1)]) / (n2 - n1)
        extra = shim - plain
        tgt = "<= %d" % target if target else "(info)"
        out("   %-62s %9.1f %9.1f %+8.1f  %s" % (label, plain, shim, extra, tgt))
        if key == "send-head":
            out("   %-62s %28s" % ("    = extra per head byte through the shim", "%+.1f" % (extra / 16)))
        if target:
            row("1. " + label.strip(), "%+.1f instr/call" % extra, "<= %d" % target, verdict(extra <= target))
        elif key == "send-body-mt":
            # glibc's part of the total: any second thread (the drainer is one) sends every
            # cancellable call through its cancellation bookkeeping, shim or not
            row("1. send() in a body, shim code only (host multi-threaded)", "%+.1f instr/call" % extra,
                "<= 30 (the shim's part)", verdict(extra <= 30))
        elif key == "recv-body-mt":
            row("1. recv() in a request body, shim code only (host multi-threaded)", "%+.1f instr/call" % extra,
                "(info)", "-")
        elif key == "write-null-drainer":
            row("1. write() to /dev/null, drainer thread running", "%+.1f instr/call" % extra, "(info)", "-")
    hlen = int(run([BIN / "scanbench", "len"], stdout=subprocess.PIPE, text=True).stdout)
    per_byte = (ir[("scan", False, n2 // 25)] - ir[("scan", False, n1 // 25)]) / ((n2 - n1) // 25) / hlen
    split = (ir[("scanbytes", False, n2 // 250)] - ir[("scanbytes", False, n1 // 250)]) / ((n2 - n1) // 250) / hlen
    two = (ir[("scantwo", False, n2 // 25)] - ir[("scantwo", False, n1 // 25)]) / ((n2 - n1) // 25) / hlen
    out("   scanner alone (shim/scan_fast.c and scan_ref.c, build/bench/scanbench): a %d-byte nginx response" % hlen)
    out("   head fed whole to a fresh scanner: %.1f instructions per head byte (%.0f per head); fed one byte" % (
        per_byte, per_byte * hlen))
    out("   per scan_feed (a head split at every byte): %.1f per byte. Before the fast path (82fbdde): 10.1" % split)
    out("   whole, 119.6 split at every byte.")
    out("   Fed in two writes, split inside a header line: %.1f per byte (9.4 at 0e8ac03)." % two)
    row("1. scanner, per byte of response head", "%.1f instr/byte" % per_byte, "<= 2", verdict(per_byte <= 2))
    row("1. scanner, per byte, head split at every byte", "%.1f instr/byte" % split, "<= 119.6 (before)",
        verdict(split <= 119.6))
    out()


# ---------------------------------------------------------------- 2. nginx + wrk

NGINX_CONF = """\
{user}{process}
error_log {dir}/error.log error;
pid {dir}/nginx.pid;
events {{ worker_connections {conns}; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout {keepalive};
    keepalive_requests 10000000;
    lingering_close {lingering};
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location / {{ }}
    }}
}}
"""
# the wrk figure's nginx: a master and 2 workers; the counting figures': one process
TWO_WORKERS = ("worker_processes 2;", 4096)
ONE_PROCESS = ("master_process off;\ndaemon off;\nworker_processes 1;", 1024)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_site(tmp, name, keepalive, lingering, process):
    """A directory with an nginx config (NGINX_CONF; process is TWO_WORKERS or
    ONE_PROCESS) and its 612-byte file; returns (directory, port)."""
    d = Path(tmp) / name
    (d / "www").mkdir(parents=True)
    (d / "www" / "index.html").write_text(("<p>linger bench</p>\n" * 40)[:612])
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    (d / "nginx.conf").write_text(NGINX_CONF.format(user=user, process=process[0], conns=process[1], dir=d,
                                                    port=port, keepalive="65" if keepalive else "0",
                                                    lingering=lingering))
    return d, port


def start_nginx(name, keepalive, lingering, shim, tmp):
    """nginx for one variant; shim: True (the shim), "inert" (bench/touchlib.c
    preloaded, doing nothing) or False."""
    d, port = nginx_site(tmp, name, keepalive, lingering, TWO_WORKERS)
    if shim == "inert":
        env = clean_env(LD_PRELOAD=str(TOUCHLIB))
    elif shim:
        env = shim_env(LINGER_LOG="info", LINGER_LOG_FILE=d / "linger.log")
    else:
        env = clean_env()
    p = spawn(["nginx", "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log", "-g", "daemon off;"], env,
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_accepting(p, port, 10, "nginx %s" % name)
    except RuntimeError as e:
        raise RuntimeError("%s: %s" % (e, (d / "error.log").read_text()[-500:]))
    return p, port, d


def run_wrk(port, secs, conns):
    r = run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "http://127.0.0.1:%d/index.html" % port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    reqs = re.search(r"(\d+) requests in", r.stdout)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", r.stdout)
    if not m:
        raise RuntimeError("wrk: " + r.stdout[-500:])
    return float(m.group(1)), int(reqs.group(1)), int(bad.group(1)) if bad else 0, \
        sum(int(x) for x in errs.groups()) if errs else 0


def worker_pids(master):
    """The nginx master's children: its workers."""
    pids = []
    for tid in os.listdir("/proc/%d/task" % master):
        try:
            pids += [int(x) for x in Path("/proc/%d/task/%s/children" % (master, tid)).read_text().split()]
        except OSError:
            pass
    return pids


def process_cpu_ticks(pids):
    """utime + stime of the processes, all their threads (live and ended),
    in clock ticks (/proc/PID/stat fields 14 and 15)."""
    total = 0
    for pid in pids:
        stat = Path("/proc/%d/stat" % pid).read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


# (name, keep-alive, lingering_close, shim, label): what figure 2 compares
NGINX_VARIANTS = [
    ("ka-plain", True, "on", False, "keep-alive, no shim"),
    ("ka-shim", True, "on", True, "keep-alive, shim"),
    ("close-plain", False, "off", False, "Connection: close, lingering_close off, no shim"),
    ("close-shim", False, "off", True, "Connection: close, lingering_close off, shim"),
    ("close-native", False, "always", False, "Connection: close, nginx's lingering_close always, no shim"),
]
# figure 2's anchor: what preloading a library that does nothing costs keep-alive nginx
INERT_VARIANT = ("ka-inert", True, "on", "inert", "keep-alive, an inert library preloaded")


def fig_nginx(a):
    out("== 2. Server throughput: wrk against nginx (2 workers, 612-byte static file, access_log off)")
    rounds, secs, conns = (2, 1, 32) if a.quick else (9, 2, 32)
    out("   wrk -t2 -c%d -d%ds per run; %d rounds, each running every variant once, order reversed every" % (conns, secs, rounds))
    out("   other round; ratio = median over rounds of (B / A) within the round. Shim: LD_PRELOAD into nginx.")
    out("   CPU per request: the nginx workers' own utime + stime (/proc/PID/stat, all threads, the shim's")
    out("   drainer too) over each wrk run, divided by the requests wrk counted in it.")
    out("   Anchor: the same keep-alive nginx with build/bench/touchlib.so preloaded, a library that")
    out("   does nothing: what loading any library costs, within this machine's noise.")
    variants = NGINX_VARIANTS + [INERT_VARIANT]
    tmp = tempfile.mkdtemp(prefix="linger-bench-nginx.")
    os.chmod(tmp, 0o755)
    procs = {}
    try:
        for name, ka, ling, shim, _ in variants:
            procs[name] = start_nginx(name, ka, ling, shim, tmp)
        rps = {v[0]: [] for v in variants}
        cpu = {v[0]: [] for v in variants}  # ticks per request, one a round
        total = {v[0]: 0 for v in variants}
        problems = {v[0]: 0 for v in variants}
        workers = {name: worker_pids(procs[name][0].pid) for name, *_ in variants}
        for r in range(rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for name, *_ in order:
                t0 = process_cpu_ticks(workers[name])
                x, n, bad, errs = run_wrk(procs[name][1], secs, conns)
                t1 = process_cpu_ticks(workers[name])
                rps[name].append(x)
                cpu[name].append((t1 - t0) / max(1, n))
                total[name] += n
                problems[name] += bad + errs
        for name, *_ in variants:
            stop(procs[name][0], signal.SIGQUIT, 10)
        lingered = {}
        for name, _, _, shim, _ in variants:
            if shim is True:
                log = procs[name][2] / "linger.log"
                txt = log.read_text() if log.exists() else ""
                lingered[name] = sum(int(x) for x in re.findall(r"exit: lingered=(\d+)", txt))
        out("   %-58s %12s  %s" % ("variant", "median req/s", "per round"))
        for name, _, _, _, label in variants:
            out("   %-58s %12.0f  %s" % (label, median(rps[name]), " ".join("%.0f" % x for x in rps[name])))
            if problems[name]:
                out("     (wrk counted %d non-2xx responses or socket errors)" % problems[name])
        for name in lingered:
            out("   %s: the shim lingered %d closes for %d requests (the workers' exit lines, LINGER_LOG=info)"
                % (name, lingered[name], total[name]))
        comps = [
            ("2. keep-alive, shim / no shim", "ka-plain", "ka-shim", 0.99),
            ("2. Connection: close, shim / no shim", "close-plain", "close-shim", 0.95),
            ("2. close: shim (lingering_close off) / nginx lingering_close always", "close-native", "close-shim", 1.00),
            # what lingering costs nginx itself: the most a lingering close can keep of plain close
            ("2. close: nginx lingering_close always / no lingering (no shim)", "close-plain", "close-native", None),
        ]
        for label, A, B, target in comps:
            ratios = [b / x for x, b in zip(rps[A], rps[B])]
            m = median(ratios)
            want = "target >= %.2f" % target if target else "(info)"
            out("   %-66s %.3f  (rounds %s)  %s" % (label[3:], m, " ".join("%.3f" % x for x in ratios), want))
            row(label, "%.3f (range %.3f-%.3f)" % (m, min(ratios), max(ratios)),
                ">= %.2f" % target if target else "(info)", verdict(m >= target) if target else "-")
        fig_nginx_cpu(variants, cpu)
    finally:
        for p, _, _ in procs.values():
            stop(p, signal.SIGQUIT, 10)
        shutil.rmtree(tmp, ignore_errors=True)
    fig_nginx_instr(a)
    calls = fig_nginx_syscalls(a)
    fig_nginx_account(a)
    fig_nginx_predicted(calls, {name: median(rps[name]) for name in rps})
    out()


def fig_nginx_cpu(variants, cpu):
    """The CPU-per-request ratios of the rounds fig_nginx just ran."""
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    out("   CPU per request of the nginx workers (utime + stime), median of the rounds:")
    for name, _, _, _, label in variants:
        out("   %-58s %8.2f us  (rounds %s)" % (label, median(cpu[name]) * tick_us,
                                              " ".join("%.2f" % (x * tick_us) for x in cpu[name])))
    comps = [
        ("2. CPU/request, keep-alive: no shim / shim", "ka-plain", "ka-shim", 0.99),
        ("2. CPU/request, keep-alive: no shim / an inert library (anchor)", "ka-plain", "ka-inert", None),
        ("2. CPU/request, close: nginx lingering_close always / shim", "close-native", "close-shim", 0.95),
        ("2. CPU/request, close: no shim / shim", "close-plain", "close-shim", None),
        ("2. CPU/request, close: no lingering / nginx lingering_close always", "close-plain", "close-native", None),
    ]
    for label, A, B, target in comps:
        # A's CPU per request over B's, within each round: 1.0 = B costs what A costs
        ratios = [a / b for a, b in zip(cpu[A], cpu[B]) if b > 0]
        if not ratios:
            continue
        m = median(ratios)
        want = "target >= %.2f" % target if target else "(info)"
        out("   %-66s %.3f  (rounds %s)  %s" % (label[3:], m, " ".join("%.3f" % x for x in ratios), want))
        row(label, "%.3f (range %.3f-%.3f)" % (m, min(ratios), max(ratios)),
            ">= %.2f" % target if target else "(info)", verdict(m >= target) if target else "-")


def wait_accepting(p, port, secs, what):
    """Waits until something accepts on port while process p runs."""
    import socket
    end = time.monotonic() + secs
    while True:
        if p.poll() is not None or time.monotonic() > end:
            raise RuntimeError("%s did not start" % what)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


def nginx_callgrind(tmp, name, keepalive, lingering, shim, client_mode, n):
    """Instructions callgrind counts in a one-process nginx that serves n requests."""
    d, port = nginx_site(tmp, name, keepalive, lingering, ONE_PROCESS)
    env = shim_env() if shim else clean_env()
    outf = d / "callgrind.out"
    p = spawn(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % outf, "nginx", "-p", d,
               "-c", d / "nginx.conf", "-e", d / "error.log"], env,
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_accepting(p, port, 60, "nginx under callgrind (%s)" % name)
    run([BIN / "client", client_mode, port, n], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    p.send_signal(signal.SIGQUIT)
    p.wait(60)
    for line in outf.read_text().splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("no totals in %s" % outf)


def fig_nginx_instr(a):
    n1, n2 = (200, 600) if a.quick else (1000, 3000)
    out("   Why, in instructions: nginx as one process (master_process off) under callgrind serves N1=%d" % n1)
    out("   and N2=%d requests from build/bench/client (ka: one keep-alive connection; seq: a new connection" % n2)
    out("   per request, Connection: close); per request = (Ir(N2) - Ir(N1)) / (N2 - N1), all threads, user space")
    out("   only (the syscalls' kernel work is not counted).")
    cases = [
        ("ka", True, "on", "keep-alive"),
        ("close", False, "off", "Connection: close, lingering_close off"),
        ("native", False, "always", "Connection: close, lingering_close always"),
    ]
    tmp = tempfile.mkdtemp(prefix="linger-bench-ngcg.")
    os.chmod(tmp, 0o755)
    jobs = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as ex:
            for key, ka, ling, _ in cases:
                for shim in ((False, True) if key != "native" else (False,)):
                    for n in (n1, n2):
                        name = "%s-%s-%d" % (key, "shim" if shim else "plain", n)
                        jobs[(key, shim, n)] = ex.submit(nginx_callgrind, tmp, name, ka, ling, shim,
                                                         "ka" if ka else "seq", n)
            ir = {k: f.result() for k, f in jobs.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per = {k[:2]: (ir[(k[0], k[1], n2)] - ir[(k[0], k[1], n1)]) / (n2 - n1) for k in ir if k[2] == n1}
    out("   %-46s %10s %10s %9s" % ("instructions per request", "no shim", "shim", "extra"))
    for key, _, _, label in cases[:2]:
        out("   %-46s %10.0f %10.0f %+9.0f" % (label, per[(key, False)], per[(key, True)],
                                               per[(key, True)] - per[(key, False)]))
        row("2. nginx instr/request, %s: shim - no shim" % label.split(",")[0],
            "%+.0f (%.0f vs %.0f)" % (per[(key, True)] - per[(key, False)], per[(key, True)], per[(key, False)]),
            "(info)", "-")
    out("   %-46s %10.0f" % (cases[2][3], per[("native", False)]))


def nginx_strace(tmp, name, keepalive, lingering, shim, client_mode, n):
    """{syscall: calls} that strace -f -c counts in a one-process nginx that
    serves n requests (its startup included: callers take differences)."""
    d, port = nginx_site(tmp, name, keepalive, lingering, ONE_PROCESS)
    env = shim_env() if shim else clean_env()
    outf = d / "strace.out"
    # strace itself runs without the preload; nginx gets it through -E
    argv = ["strace", "-f", "-c", "-o", outf]
    if "LD_PRELOAD" in env:
        argv += ["-E", "LD_PRELOAD=%s" % env["LD_PRELOAD"]]
    p = spawn(argv + ["nginx", "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log"],
              {k: v for k, v in env.items() if k != "LD_PRELOAD"},
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_accepting(p, port, 30, "nginx under strace (%s)" % name)
    run([BIN / "client", client_mode, port, n], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.5)  # the last lingering sockets finish (the client has closed)
    # nginx is strace's child: it quits on SIGQUIT, then strace prints and exits
    children = Path("/proc/%d/task/%d/children" % (p.pid, p.pid)).read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGQUIT)
    p.wait(30)
    calls = {}
    for line in outf.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[-1] != "total" and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    return calls


def fig_nginx_syscalls(a):
    n1, n2 = (200, 600) if a.quick else (1000, 3000)
    out("   Why, in system calls: the same one-process nginx under strace -f -c (all threads), N1=%d and" % n1)
    out("   N2=%d requests; per request = (calls(N2) - calls(N1)) / (N2 - N1)." % n2)
    tmp = tempfile.mkdtemp(prefix="linger-bench-ngst.")
    os.chmod(tmp, 0o755)
    per = {}
    try:
        for key, ka, ling, shim, label in NGINX_VARIANTS:
            c = {n: nginx_strace(tmp, "%s-%d" % (key, n), ka, ling, shim, "ka" if ka else "seq", n)
                 for n in (n1, n2)}
            per[key] = {k: (c[n2].get(k, 0) - c[n1].get(k, 0)) / (n2 - n1) for k in set(c[n1]) | set(c[n2])}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for key, _, _, _, label in NGINX_VARIANTS:
        d = {k: v for k, v in per[key].items() if v >= 0.05}
        out("   %-50s %5.1f: %s" % (label, sum(d.values()),
                                    ", ".join("%s %.1f" % kv for kv in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))))
    plain, shim, native = (sum(per[k].values()) for k in ("close-plain", "close-shim", "close-native"))
    out("   A lingering close costs nginx itself a shutdown and one more recv. Through the shim it also")
    out("   costs the copy the drainer keeps (fcntl), taking it out of the app's epoll set (epoll_ctl),")
    out("   the drainer's recv and close, and an fstat at accept and at close (a number closed and reused")
    out("   behind linger's back must not be shut down), and the poll that closes at once a socket whose")
    out("   client has closed already. No close wakes the drainer while it is busy: it pauses 1 ms")
    out("   (clock_nanosleep), then takes the closes and client EOFs of that pause in one round (epoll_wait);")
    out("   by then the client has usually closed, and the socket is read and closed without joining its")
    out("   epoll set.")
    row("2. syscalls per Connection: close request: no shim / shim / native",
        "%.1f / %.1f / %.1f" % (plain, shim, native), "(info)", "-")
    return {"close-plain": plain, "close-shim": shim, "close-native": native}


# the system calls fig_nginx_account counts one by one (the rest are summed)
ACCOUNT_CALLS = ("accept4 recvfrom writev openat newfstatat pread64 close shutdown epoll_ctl epoll_wait newfstat "
                 "ppoll fcntl ioctl clock_nanosleep read write sendmsg recvmsg futex").split()


def perf_counts_threads(pids, events, seconds_of, tmp):
    """{event: {thread name: count}} that perf stat counts in pids (all
    their threads) while seconds_of() runs; None where perf cannot."""
    if not shutil.which("perf"):
        return None
    outf = Path(tmp) / "perf.stat"
    p = subprocess.Popen(["perf", "stat", "--per-thread", "-x,", "-o", outf, "-e", ",".join(events),
                          "-p", ",".join(map(str, pids))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        result = seconds_of()
    finally:
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        p.wait(30)
    counts = {}
    for line in outf.read_text().splitlines() if outf.exists() else []:
        f = line.split(",")
        if len(f) > 3 and f[0].strip() and f[1].strip() and f[1].strip()[0].isdigit():
            comm = f[0].strip().rsplit("-", 1)[0]
            ev = f[3].strip()
            counts.setdefault(ev, {})
            counts[ev][comm] = counts[ev].get(comm, 0) + float(f[1])
    return (counts, result) if counts else None


def fig_nginx_account(a):
    """Figure 2's Connection: close account under wrk's load: per request,
    each system call, the wake-ups (context switches) of each thread and
    its CPU, for nginx's own lingering close and for linger's."""
    secs = 1 if a.quick else 3
    events = (["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + c for c in ACCOUNT_CALLS]
              + ["context-switches", "task-clock"])
    tmp = tempfile.mkdtemp(prefix="linger-bench-acct.")
    os.chmod(tmp, 0o755)
    rows = {}
    try:
        for name, ka, ling, shim, label in NGINX_VARIANTS:
            if name not in ("close-native", "close-shim"):
                continue
            p, port, d = start_nginx(name, ka, ling, shim, tmp)
            try:
                run_wrk(port, 1, 32)  # the drainer thread starts at the first close
                got = perf_counts_threads(worker_pids(p.pid), events, lambda: run_wrk(port, secs, 32), tmp)
            finally:
                stop(p, signal.SIGQUIT, 10)
            if got is None:
                out("   (the under-load account needs perf with syscall tracepoints: apt-get install linux-perf)")
                return
            rows[name] = (label, got[0], got[1][1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out("   The same, under wrk's load (-c32, %d s, perf stat counting each thread of the 2 workers):" % secs)
    out("   per request, system calls one by one, wake-ups (context switches) and CPU of each thread.")
    for name in ("close-native", "close-shim"):
        label, c, n = rows[name]
        per = {ev.split("sys_enter_")[1]: sum(v.values()) / n for ev, v in c.items() if "sys_enter_" in ev}
        total = sum(c.get("raw_syscalls:sys_enter", {}).values()) / n
        out("   %s: %.2f calls: %s%s" % (label, total, ", ".join(
            "%s %.2f" % kv for kv in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])) if kv[1] >= 0.01),
            ", others %.2f" % (total - sum(per.values())) if total - sum(per.values()) >= 0.01 else ""))
        out("      wake-ups: %s; CPU: %s" % (
            ", ".join("%s %.3f" % (t, v / n) for t, v in sorted(c.get("context-switches", {}).items())),
            ", ".join("%s %.1f us" % (t, v * 1e3 / n) for t, v in sorted(c.get("task-clock", {}).items()))))
    out("   (perf's tracepoints add to the cost of each call: this CPU runs above the rounds' figures)")


def fig_nginx_predicted(calls, rps):
    """What the system calls alone predict for the close ratios: the CPU
    time plain nginx (and wrk) spend per request, plus the extra calls at
    what one costs here."""
    ns = float(run([BIN / "syscallcost"], stdout=subprocess.PIPE, text=True).stdout)
    cpus = os.cpu_count() or 1
    per_req_us = cpus * 1e6 / rps["close-plain"]
    predict = {k: per_req_us / (per_req_us + (calls[k] - calls["close-plain"]) * ns / 1000)
               for k in ("close-shim", "close-native")}
    floor = per_req_us / (per_req_us + (calls["close-native"] - calls["close-plain"] + 3) * ns / 1000)
    out("   What the system calls alone predict: one costs %.0f ns here (build/bench/syscallcost, getppid in a" % ns)
    out("   loop); plain nginx and wrk take %.0f us of CPU per Connection: close request (%d CPUs / %.0f" % (
        per_req_us, cpus, rps["close-plain"]))
    out("   requests/s). At that price the shim's %.1f calls more predict %.3f of plain (measured above), nginx's" % (
        calls["close-shim"] - calls["close-plain"], predict["close-shim"]))
    out("   own lingering's %.1f more %.3f. A lingering close made outside the app needs at least 3 calls more" % (
        calls["close-native"] - calls["close-plain"], predict["close-native"]))
    out("   than nginx's own: the copy that outlives the app's close (fcntl), taking it out of the app's epoll")
    out("   set (epoll_ctl), and closing both numbers instead of one: %.3f of plain at best here, whatever" % floor)
    out("   the shim's code costs.")
    row("2. close ratio predicted by syscalls alone: shim / native / floor", "%.3f / %.3f / %.3f (%.0f ns a call)" % (
        predict["close-shim"], predict["close-native"], floor, ns), "(info)", "-")


# ---------------------------------------------------------------- 3. capacity

def vmrss_kb(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def socket_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def open_fds(pid):
    """Open fds of pid (cheap: no readlink, so it can be polled at 10k fds)."""
    return len(os.listdir("/proc/%d/fd" % pid))


def drainer_tid(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            if Path("/proc/%d/task/%s/comm" % (pid, tid)).read_text().strip() == "linger-drainer":
                return int(tid)
        except OSError:
            pass
    return None


def thread_cpu(pid, tid):
    """(ns on CPU from schedstat, utime+stime ticks from stat, voluntary switches)."""
    base = "/proc/%d/task/%d/" % (pid, tid)
    ns = int(Path(base + "schedstat").read_text().split()[0])
    stat = Path(base + "stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    vol = 0
    for line in Path(base + "status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            vol = int(line.split()[1])
    return ns, ticks, vol


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def fig_capacity(a):
    n = 2000 if a.quick else 10000
    ltime = 3
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < n + 512:
        n = max(100, hard - 512)  # the client needs n fds of its own
    out("== 3. Lingering capacity: %d clients that got their answer and keep the connection open" % n)
    out("   Server: build/tests/legacy_server --model single (one thread, no per-connection memory), nofile")
    out("   %d (soft = hard; this machine cannot raise the hard limit). Shim: LINGER_TIME=%ds" % (hard, ltime))
    out("   LINGER_TIMEOUT=10s LINGER_MAX_SOCKETS=%d. Client: build/bench/client hold (each connection sends" % n)
    out("   GET with Connection: close, reads the answer up to the FIN, and stays open).")
    out("   Memory: server VmRSS (user memory; kernel socket buffers are not in it) after the clients minus")
    out("   before (after 100 warm-up requests), with the shim minus without, / sockets lingering.")
    res = {}
    tmp = tempfile.mkdtemp(prefix="linger-bench-cap.")
    try:
        for shim in (False, True):
            pf = Path(tmp) / ("port-%d" % shim)
            env = shim_env(LINGER_TIME="%ds" % ltime, LINGER_TIMEOUT="10s", LINGER_MAX_SOCKETS=n) if shim else clean_env()
            srv = spawn([LEGACY, "--model", "single", "--port", "0", "--port-file", pf], env, preexec_fn=raise_nofile)
            port = wait_port_file(pf, srv)
            run([BIN / "client", "seq", port, 100], stdout=subprocess.DEVNULL, check=True)
            end = time.monotonic() + 3
            while socket_fds(srv.pid) > 1 and time.monotonic() < end:
                time.sleep(0.02)
            rss0 = vmrss_kb(srv.pid)
            base_fds = open_fds(srv.pid)  # 0-2, the listener, and the shim's own fds
            t_start = time.monotonic()
            cli = spawn([BIN / "client", "hold", port, n], clean_env(), stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True)
            line = cli.stdout.readline().split()
            t_ready = time.monotonic()
            if not line or line[0] != "ready":
                raise RuntimeError("client hold failed")
            ok = int(line[1])
            rss1 = vmrss_kb(srv.pid)
            held = open_fds(srv.pid) - base_fds
            r = {"rss0": rss0, "rss1": rss1, "held": held, "ok": ok, "connect_s": t_ready - t_start}
            if shim:
                tid = drainer_tid(srv.pid)
                window = max(0.5, min(1.5, t_start + ltime - 0.3 - t_ready))
                c0 = thread_cpu(srv.pid, tid)
                time.sleep(window)
                c1 = thread_cpu(srv.pid, tid)
                r["cpu"] = ((c1[0] - c0[0]) / 1e9 / window, c1[1] - c0[1], c1[2] - c0[2], window)
                first_drop = None
                deadline = t_ready + ltime + 4
                while time.monotonic() < deadline:
                    cur = open_fds(srv.pid) - base_fds
                    now = time.monotonic()
                    if first_drop is None and cur < held:
                        first_drop = now
                    if cur <= 0:
                        break
                    time.sleep(0.01)
                r["first_drop"] = (first_drop or now) - t_start
                r["all_closed"] = now - t_ready
                r["left"] = max(0, open_fds(srv.pid) - base_fds)
            cli.stdin.close()
            cli.wait(10)
            stop(srv)
            res[shim] = r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p, s = res[False], res[True]
    dp, ds = p["rss1"] - p["rss0"], s["rss1"] - s["rss0"]
    per = (ds - dp) * 1024 / max(1, s["held"])
    out("   no shim: %d answers, VmRSS %d -> %d kB (%+d kB), server sockets held after: %d" % (p["ok"], p["rss0"], p["rss1"], dp, p["held"]))
    out("   shim:    %d answers, VmRSS %d -> %d kB (%+d kB), sockets lingering: %d of %d (connected in %.2f s)"
        % (s["ok"], s["rss0"], s["rss1"], ds, s["held"], n, s["connect_s"]))
    if s["held"] < n:
        out("            the other %d closes were plain: the shim keeps its fds in the top half of the fd limit" % (n - s["held"]))
        out("            (%d here) less its own 2, so at most %d linger at once on this machine" % (hard, hard - hard // 2 - 2))
    out("   memory per lingering socket: (%d - %d) kB / %d = %.1f bytes   target <= 128" % (ds, dp, s["held"], per))
    row("3. memory per lingering socket", "%.1f B (%d sockets)" % (per, s["held"]), "<= 128 B", verdict(per <= 128))
    cpu, ticks, vol, window = s["cpu"]
    out("   drainer CPU while %d sockets idle: %.3f%% of one CPU over %.1f s (schedstat), %d ticks (stat), %d wake-ups"
        % (s["held"], cpu * 100, window, ticks, vol))
    row("3. drainer CPU, %d idle lingering sockets" % s["held"], "%.3f%% of a CPU, %d wake-ups in %.1f s" % (cpu * 100, vol, window),
        "~0", verdict(cpu < 0.01))
    within = s["all_closed"] <= ltime + 1 and s["left"] == 0
    out("   every app close happened between the clients' start and their last answer; the server's fd count,")
    out("   polled every 10 ms, first fell %.2f s after that start" % s["first_drop"])
    if s["left"]:
        out("   and %d sockets were still lingering %.2f s after the last answer (polling stopped there)" % (s["left"], s["all_closed"]))
        measured = "%d still open %.1f s after the last close" % (s["left"], s["all_closed"])
    else:
        out("   and reached zero %.2f s after the last answer" % s["all_closed"])
        measured = "all closed %.2f s after the last close" % s["all_closed"]
    out("   target: each closed within LINGER_TIME + 1 s = %d s of its app close (and not before LINGER_TIME)" % (ltime + 1))
    row("3. every lingering socket closed in time", measured, "<= LINGER_TIME + 1 s = %d s" % (ltime + 1), verdict(within))
    out()


# ---------------------------------------------------------------- 4. drain rate

def fig_drain(a):
    secs, pairs = (0.3, 3) if a.quick else (0.5, 6)
    out("== 4. Drain rate: one client streams 64 KiB send()s as fast as it can into a lingering socket")
    out("   build/bench/drainrate %s %d under the shim, trials alternating: the drainer thread discarding" % (secs, pairs))
    out("   (recv MSG_TRUNC) vs a server thread's recv() loop into a 4 KiB buffer (nginx's way).")
    out("   Rate = bytes the client got into the connection / time (give or take the socket buffers).")
    tmp = tempfile.mkdtemp(prefix="linger-bench-drain.")
    stats = Path(tmp) / "stats.prom"
    try:
        r = run([BIN / "drainrate", secs, pairs], env=shim_env(LINGER_STATS=stats),
                stdout=subprocess.PIPE, text=True, check=True)
        drained = re.search(r"linger_drained_bytes_total\{[^}]*\} (\d+)", stats.read_text())
        drained = int(drained.group(1)) if drained else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rates = {"drainer": [], "recv4k": []}
    sent = 0
    for line in r.stdout.split("\n"):
        f = line.split()
        if len(f) == 3:
            rates[f[0]].append(int(f[1]) / float(f[2]))
            if f[0] == "drainer":
                sent += int(f[1])
    d, p = median(rates["drainer"]), median(rates["recv4k"])
    ratios = [x / y for x, y in zip(rates["drainer"], rates["recv4k"])]
    out("   drainer (MSG_TRUNC): median %.0f MB/s   (%s)" % (d / 1e6, " ".join("%.0f" % (x / 1e6) for x in rates["drainer"])))
    out("   recv() into 4 KiB:   median %.0f MB/s   (%s)" % (p / 1e6, " ".join("%.0f" % (x / 1e6) for x in rates["recv4k"])))
    out("   ratio drainer / recv loop: %.2f (median of pairs)   target >= 1 (no slower than nginx's way)" % median(ratios))
    out("   check: the shim's linger_drained_bytes_total %d vs %d bytes the client sent in the drainer trials" % (drained, sent))
    row("4. drain rate, drainer / 4 KiB recv loop", "%.0f vs %.0f MB/s = %.2f" % (d / 1e6, p / 1e6, median(ratios)),
        ">= 1.00", verdict(median(ratios) >= 1.0))
    out()


# ---------------------------------------------------------------- 5. close latency

def fig_close(a):
    rounds = 1000 if a.quick else 3000
    out("== 5. close() latency of the app: a socket that lingers vs a plain close")
    out("   build/bench/closelat %d under the shim (LINGER_TIMEOUT=1s): each round a fresh connection whose" % rounds)
    out("   client left 4 KiB of body unread; close() timed with clock_gettime around it; rounds take turns:")
    out("   the shim's close (lingers), libc's own close (dlsym in libc.so.6, past the shim: a plain close),")
    out("   and the anchor (the floor): the five system calls the shim's lingering close makes (fstat, ppoll,")
    out("   fcntl for the copy, shutdown, close), made directly through libc, past the shim.")
    out("   The client keeps sending after the close and closes only after it returns, in the same thread:")
    out("   a close that waited for the drain could not return.")
    r = run([BIN / "closelat", rounds], env=shim_env(LINGER_TIMEOUT="1s"),
                       stdout=subprocess.PIPE, text=True, check=True)
    res = {}
    for line in r.stdout.split("\n"):
        f = line.split()
        if len(f) == 6:
            res[f[0]] = (int(f[1]), int(f[2]), float(f[3]), float(f[4]), float(f[5]))
    out("   %-22s %7s %8s %9s %9s %9s" % ("close", "rounds", "resets", "p50 us", "p99 us", "max us"))
    for k, label in (("linger", "shim (lingers)"), ("plain", "plain (libc)"), ("calls", "floor (its 5 calls)")):
        n, rs, p50, p99, mx = res[k]
        out("   %-22s %7d %8d %9.1f %9.1f %9.1f" % (label, n, rs, p50, p99, mx))
    ln, lr, l50, l99, lmax = res["linger"]
    pn, pr, p50, p99, pmax = res["plain"]
    ok = lr == 0 and lmax < 1e6 and l99 <= 2 * p99
    out("   resets seen by the client: %d with the shim, %d with the plain close" % (lr, pr))
    out("   target: the app never waits for the drain (every lingered close returned, none near LINGER_TIMEOUT),")
    out("   and the lingering close's p99 is at most twice the plain close's: %.2fx" % (l99 / p99))
    f50, f99 = res["calls"][2], res["calls"][3]
    out("   floor: the five calls alone, p99 %.2fx the plain close's (p50 %.1f us, p99 %.1f us)" % (f99 / p99, f50, f99))
    row("5. close() p50 / p99, lingered vs plain", "%.1f / %.1f us vs %.1f / %.1f us" % (l50, l99, p50, p99),
        "no wait; p99 <= 2x plain", verdict(ok))
    row("5. floor: its five calls, no shim: p99 / plain p99", "%.2fx (%.1f / %.1f us)" % (f99 / p99, f50, f99),
        "(anchor)", "-")
    out()


# ---------------------------------------------------------------- 6. fork per connection

def fork_server_counts(pid):
    """A fork server's minor faults and CPU ticks, its own and those of the
    children it has waited for (/proc/PID/stat: minflt, cminflt, utime +
    stime, cutime + cstime)."""
    stat = Path("/proc/%d/stat" % pid).read_text()
    f = [int(x) for x in stat[stat.rindex(")") + 2:].split()[7:15]]
    return {"parent_faults": f[0], "child_faults": f[1], "ticks": f[4] + f[5] + f[6] + f[7]}


def callgrind_pages(outf, obj_suffix):
    """The pages (address >> 12) of the instructions a callgrind output
    (--dump-instr=yes) saw run in the object whose name ends in obj_suffix."""
    pages = set()
    names = {}     # "(id)" -> object name, for callgrind's compressed names
    here = False   # the cost lines that follow belong to that object
    pos = 0
    for line in Path(outf).read_text().splitlines():
        if line.startswith(("ob=", "cob=")):
            m = re.match(r"c?ob=(\(\d+\))?\s*(.*)", line)
            name = m.group(2) or names.get(m.group(1), "")
            if m.group(1) and m.group(2):
                names[m.group(1)] = m.group(2)
            if line.startswith("ob="):
                here = name.endswith(obj_suffix)
            continue
        first = line.split(" ", 1)[0]
        if not first or not (first[0] in "+-*" or first[0].isdigit()):
            continue  # a spec line (fn=, calls=, ...), not a cost line
        if first[0] in "+-":
            pos += int(first, 0)  # relative to the last position
        elif first != "*":        # "*": the same
            pos = int(first, 0)
        if here:
            pages.add(pos >> 12)
    return pages


def fork_child_code_pages(tmp):
    """How many pages of the shim's code one fork-per-connection child runs:
    legacy_server --model fork under callgrind, its costs zeroed where the
    child starts (the shim's fork handler), serving two Connection: close
    requests; the last child's instructions in liblinger.so, by page."""
    d = Path(tmp) / "codepages"
    d.mkdir()
    p = spawn(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--zero-before=after_fork_child",
               "--callgrind-out-file=%s/cg.%%p" % d, LEGACY, "--model", "fork", "--port", "0",
               "--port-file", d / "port"], shim_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = wait_port_file(d / "port", p, 60)
        run([BIN / "client", "seq", port, 2], stdout=subprocess.DEVNULL, check=True)
        time.sleep(1)
    finally:
        stop(p)
    children = []
    for f in d.glob("cg.*"):
        txt = f.read_text()
        if "after_fork_child" in txt and f.name != "cg.%d" % p.pid:
            children.append((int(f.name.split(".")[1]), f))
    if not children:
        raise RuntimeError("no fork child in the callgrind run")
    text = [int(x, 16) for x in run(["readelf", "-S", "-W", SHIM], stdout=subprocess.PIPE, text=True)
            .stdout.split(" .text ")[1].split()[1:4:2]]  # address, size
    return len(callgrind_pages(max(children)[1], SHIM.name)), (text[1] + 4095) // 4096


def lackey_child_pages(tmp, name, env):
    """(pages only read, pages written) by one fork-per-connection child:
    legacy_server --model fork under valgrind's lackey (every load and
    store), four Connection: close requests; the last child's trace."""
    d = Path(tmp) / name
    d.mkdir()
    p = spawn(["valgrind", "--tool=lackey", "--trace-mem=yes", "--log-file=%s/t.%%p" % d, LEGACY, "--model",
               "fork", "--port", "0", "--port-file", d / "port"], env, stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL)
    try:
        port = wait_port_file(d / "port", p, 60)
        run([BIN / "client", "seq", port, 4], stdout=subprocess.DEVNULL, check=True)
        time.sleep(2)  # the last child's exit, under valgrind
    finally:
        stop(p)
    children = sorted(int(f.name[2:]) for f in d.glob("t.*") if int(f.name[2:]) != p.pid)
    if not children:
        raise RuntimeError("no fork child in the lackey run")
    written = {}
    with open(d / ("t.%d" % children[-1])) as trace:
        for line in trace:
            f = line.split()
            if len(f) != 2 or f[0] not in ("I", "L", "S", "M"):
                continue
            page = int(f[1].split(",")[0], 16) >> 12
            written[page] = written.get(page, False) or f[0] in ("S", "M")
    w = sum(written.values())
    return len(written) - w, w


def drainer_process_ns(exclude):
    """{pid: CPU ns so far} of each running linger drainer process (named
    linger-drain, in a session of its own) whose pid is not in exclude."""
    got = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude:
            continue
        try:
            if Path("/proc/%s/comm" % d).read_text().startswith("linger-drain"):
                got[int(d)] = sum(int(Path("/proc/%s/task/%s/schedstat" % (d, t)).read_text().split()[0])
                                  for t in os.listdir("/proc/%s/task" % d))
        except (OSError, ValueError, IndexError):
            pass
    return got


def fig_fork(a):
    rounds, reqs = (2, 100) if a.quick else (9, 200)
    out("== 6. Fork-per-connection server: build/tests/legacy_server --model fork, Connection: close requests")
    out("   one after another (build/bench/client seq PORT %d), with and without the shim, %d interleaved pairs." % (reqs, rounds))
    tmp = tempfile.mkdtemp(prefix="linger-bench-lackey.")
    try:
        shim_pages = lackey_child_pages(tmp, "shim", shim_env())
        plain_pages = lackey_child_pages(tmp, "plain", clean_env())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    more_read, more_written = (max(0, s - p) for s, p in zip(shim_pages, plain_pages))
    out("   Pages one child touches (valgrind's lackey, every load and store, from the fork on): read only /")
    out("   written, %d / %d with the shim, %d / %d without: %d more read, %d more written." % (
        shim_pages + plain_pages + (more_read, more_written)))
    out("   Anchor (the floor): the same server with build/bench/touchlib.so preloaded, whose fork handler")
    out("   does nothing but read %d pages and write %d more in each child, interleaved with the two." % (
        more_read, more_written))
    floor_env = clean_env(LD_PRELOAD=str(TOUCHLIB), LINGER_BENCH_TOUCH="%d,%d" % (more_read, more_written))
    tmp = tempfile.mkdtemp(prefix="linger-bench-fork.")
    srvs = {}
    others = set(drainer_process_ns(set()))  # not this server's
    drainer_ns = 0
    kinds = (False, True, "floor")
    try:
        for shim in kinds:
            pf = Path(tmp) / ("port-%s" % shim)
            env = floor_env if shim == "floor" else shim_env() if shim else clean_env()
            srv = spawn([LEGACY, "--model", "fork", "--port", "0", "--port-file", pf], env)
            srvs[shim] = (srv, wait_port_file(pf, srv))
        per = {k: [] for k in kinds}
        short = {k: 0 for k in kinds}
        counts = {k: {} for k in kinds}
        for r in range(rounds):
            for shim in (kinds if r % 2 == 0 else kinds[::-1]):
                before = fork_server_counts(srvs[shim][0].pid)
                dr_before = drainer_process_ns(others) if shim is True else {}
                res = run([BIN / "client", "seq", srvs[shim][1], reqs], stdout=subprocess.PIPE,
                                     text=True, check=True).stdout.split()
                if int(res[1]) != reqs:
                    out("   (only %s of %d answers)" % (res[1], reqs))
                    short[shim] += reqs - int(res[1])
                per[shim].append(float(res[3]) / reqs * 1e6)
                time.sleep(0.05)  # the last child waited for
                after = fork_server_counts(srvs[shim][0].pid)
                if shim is True:  # the drainer process starts at the server's first fork
                    drainer_ns += sum(ns - dr_before.get(pid, 0) for pid, ns in drainer_process_ns(others).items())
                for k in after:
                    counts[shim][k] = counts[shim].get(k, 0) + after[k] - before[k]
    finally:
        for srv, _ in srvs.values():
            stop(srv)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [b / x for x, b in zip(per[False], per[True])]
    floor_ratios = [b / x for x, b in zip(per[False], per["floor"])]
    out("   no shim: median %.0f us per request (%s)" % (median(per[False]), " ".join("%.0f" % x for x in per[False])))
    out("   shim:    median %.0f us per request (%s)" % (median(per[True]), " ".join("%.0f" % x for x in per[True])))
    out("   floor:   median %.0f us per request (%s)" % (median(per["floor"]), " ".join("%.0f" % x for x in per["floor"])))
    out("   floor / no shim: %.2f (median of pairs): the touch of those pages alone" % median(floor_ratios))
    n = rounds * reqs
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    out("   load-independent, per request (/proc, the server and the children it waited for), no shim / shim /")
    out("   floor: page faults in the server %.1f / %.1f / %.1f, in each child %.1f / %.1f / %.1f; CPU %.0f / %.0f /"
        " %.0f us" % tuple([counts[k]["parent_faults"] / n for k in kinds] + [counts[k]["child_faults"] / n for k in kinds]
                           + [counts[k]["ticks"] * tick_us / n for k in kinds]))
    out("   and the shim's drainer process, which the server never waits for: %.1f us of CPU a request" % (
        drainer_ns / 1e3 / n))
    out("   time ratio shim / no shim: %.2f (median of pairs); each child hands its lingering socket to the" % median(ratios))
    out("   drainer process of the server's children (shim/forkchan.c): no thread of its own, no wait at exit")
    tmp = tempfile.mkdtemp(prefix="linger-bench-pages.")
    try:
        pages, text_pages = fork_child_code_pages(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    touch = run([BIN / "pagetouch", 2000], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    out("   the shim's code one such child runs (callgrind, from its fork handler on): %d of the %d pages of" % (
        pages, text_pages))
    out("   .text. What a fork child pays the first time it touches a page its parent mapped, here")
    out("   (build/bench/pagetouch, 2000 children of 64 pages each): %s us to read it, %s to run code" % (
        touch[1], touch[3]))
    out("   on it, %s to write it (a copy); see shim/pages.h" % touch[5])
    row("6. fork per connection, time per request shim / no shim", "%.2f (%.0f vs %.0f us)"
        % (median(ratios), median(per[True]), median(per[False])), "<= 1.10, all answered",
        verdict(median(ratios) <= 1.10 and not short[True] and not short[False]))
    row("6. pages of the shim's code a fork child runs", "%d of %d" % (pages, text_pages), "(info)", "-")
    row("6. floor: no shim, a child touching %d + %d more pages / no shim" % (more_read, more_written),
        "%.2f" % median(floor_ratios), "(anchor)", "-" if not short["floor"] else "MISS")
    out()


# ---------------------------------------------------------------- 7. static programs, supervised

def supervisor_pid(marker):
    """The pid of the linger-supervise (not its guardian) whose command line
    holds marker, or None."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % d).read_text()
            cmd = Path("/proc/%s/cmdline" % d).read_bytes().decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if comm.startswith("linger-supervis") and marker in cmd:
            found[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
    sups = [p for p, pp in found.items() if pp not in found]
    return sups[0] if len(sups) == 1 else None


def cpu_ns(pid):
    """CPU time pid has used, in ns (/proc/PID/schedstat; 0 when it is gone)."""
    try:
        return int(Path("/proc/%d/schedstat" % pid).read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def fig_static(a):
    rounds = 2 if a.quick else 5
    n_close, reqs, ka_reqs = (500, 100, 1000) if a.quick else (2000, 300, 5000)
    out("== 7. Static programs under linger-supervise (linger-run's path for binaries that ignore LD_PRELOAD)")
    out("   a) build/bench/staticclose %d (gcc -static): close() timed alone, plain vs under the supervisor," % n_close)
    out("      %d interleaved pairs: an fd of /dev/null (trapped and let go) and an accepted TCP socket that" % rounds)
    out("      sent a byte, peer open (lingers: pidfd_getfd, socket checks, /proc scan, ID_VALID, shutdown).")
    res = {False: {"file": [], "socket": []}, True: {"file": [], "socket": []}}
    for r in range(rounds):
        for sup in ((False, True) if r % 2 == 0 else (True, False)):
            argv = ([SUPERVISE, "--"] if sup else []) + [BIN / "staticclose", n_close]
            for line in run(argv, env=clean_env(), stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n"):
                f = line.split()
                if len(f) == 5:
                    res[sup][f[0]].append(float(f[2]))
    for kind in ("file", "socket"):
        plain, sup = median(res[False][kind]), median(res[True][kind])
        out("      %-6s close p50: %7.1f us plain, %7.1f us supervised (+%.1f us per close)" % (kind, plain, sup, sup - plain))
    row("7a. static close() p50, file / lingering socket", "+%.0f us / +%.0f us" % (
        median(res[True]["file"]) - median(res[False]["file"]),
        median(res[True]["socket"]) - median(res[False]["socket"])), "(report)", "-")
    tmp = tempfile.mkdtemp(prefix="linger-bench-static.")
    try:
        for label, model, mode, n in (("b) fork per connection", "fork", "seq", reqs),
                                      ("c) threads, Connection: close", "threads", "seq", reqs),
                                      ("d) threads, keep-alive", "threads", "ka", ka_reqs)):
            srvs = {}
            for sup in (False, True):
                pf = Path(tmp) / ("port-%s-%s-%d" % (model, mode, sup))
                argv = ([SUPERVISE, "--"] if sup else []) + [STATIC_LEGACY, "--model", model, "--port", "0",
                                                             "--port-file", pf]
                srv = spawn(argv, clean_env())
                srvs[sup] = (srv, wait_port_file(pf, srv), supervisor_pid(str(pf)) if sup else None)
            per = {False: [], True: []}
            sup_cpu = []
            for r in range(rounds):
                for sup in ((False, True) if r % 2 == 0 else (True, False)):
                    spid = srvs[sup][2]
                    c0 = cpu_ns(spid) if spid else 0
                    res2 = run([BIN / "client", mode, srvs[sup][1], n], stdout=subprocess.PIPE,
                               text=True, check=True).stdout.split()
                    if int(res2[2]) != n:
                        out("   (only %s of %d answers)" % (res2[2], n))
                    per[sup].append(float(res2[3]) / n * 1e6)
                    if spid:
                        sup_cpu.append((cpu_ns(spid) - c0) / 1e3 / n)
            for srv, _, _ in srvs.values():
                stop(srv)
            ratios = [b / x for x, b in zip(per[False], per[True])]
            out("   %s: build/tests/static/legacy_server-glibc --model %s, build/bench/client %s PORT %d," % (label, model, mode, n))
            out("      %d interleaved pairs: %.1f us per request plain, %.1f us supervised: ratio %.2f;" % (
                rounds, median(per[False]), median(per[True]), median(ratios)))
            out("      the supervisor's own CPU: %.1f us per request" % median(sup_cpu))
            row("7%s. static %s, time per request supervised / plain" % (label[0], label[3:]),
                "%.2f (%.0f vs %.0f us; supervisor CPU %.0f us/req)" % (
                    median(ratios), median(per[True]), median(per[False]), median(sup_cpu)), "(report)", "-")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out()


def main():
    global SHIM
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(FIGS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lib", default=str(SHIM))
    a = ap.parse_args()
    SHIM = Path(a.lib).resolve()
    figs = [f.strip() for f in a.only.split(",") if f.strip()]
    for f in figs:
        if f not in FIGS:
            sys.exit("bench: unknown figure %s (one of %s)" % (f, ", ".join(FIGS)))
    need = [SHIM, LEGACY] + [BIN / b for b in ("hotpath", "scanbench", "client", "closelat", "drainrate",
                                                "syscallcost", "pagetouch")]
    if "static" in figs:
        need += [SUPERVISE, STATIC_LEGACY, BIN / "staticclose"]
    missing = [str(p) for p in need if not p.exists()]
    for tool in ("valgrind", "wrk", "nginx", "strace"):
        if not shutil.which(tool) and not (tool == "nginx" and Path("/usr/sbin/nginx").exists()):
            missing.append(tool)
    if missing:
        sys.exit("bench: missing %s (run make bench)" % ", ".join(missing))
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    t0 = time.monotonic()
    out("linger make bench, %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
    out("machine: %s" % machine())
    out("library: %s" % SHIM)
    busy = busy_fraction()
    out("other load: the CPUs were %.0f%% busy in the second before the bench started%s" % (
        busy * 100, "" if busy < 0.15 else
        " (another process is running: wall-clock figures, 2 to 6, are noisier than usual)"))
    out()
    try:
        for f in FIGS:
            if f in figs:
                globals()["fig_" + f](a)
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
    out("== Summary (%.0f s)" % (time.monotonic() - t0))
    w = max(len(r[0]) for r in rows) if rows else 10
    m = max(len(r[1]) for r in rows) if rows else 10
    out("| %-*s | %-*s | %-26s | %s |" % (w, "figure", m, "measured", "target", "verdict"))
    out("|-%s-|-%s-|-%s-|---------|" % ("-" * w, "-" * m, "-" * 26))
    for r in rows:
        out("| %-*s | %-*s | %-26s | %-7s |" % (w, r[0], m, r[1], r[2], r[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
