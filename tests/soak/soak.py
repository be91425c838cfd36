#!/usr/bin/python3
"""make soak: 100,000 connections through the shim, against legacy_server's
threads and epoll models at once, in a network namespace of its own.

    /usr/bin/python3 tests/soak/soak.py [--connections N] [--max-seconds S]
                                        [--levels 1,4,16,64] [--no-netns]

Each connection is one of:
  upload   (10%) a POST announcing 1 to 4 MiB, which the server answers with
           an early 413 and closes: half of these clients send the whole body
           and then read the answer, half stop sending once the answer is
           there; both read to EOF and close;
  keepalive (40%) 2 to 10 requests (GETs and small POSTs) on one connection,
           the last with Connection: close, read to EOF;
  client-closes (50%) 1 to 3 requests, then the client closes first.
Client threads run at a concurrency that cycles through --levels, changing
every 2,000 connections. Half the connections go to each server model. Each
client connects from a random address of 127.0.0.0/8 (so that no 4-tuple
comes back while the server holds it in TIME_WAIT), and an uploading client
closes once its kernel has sent what it wrote (so that no orphan socket of
the client's own draws RSTs from the client's kernel): the reset counters
then see only what the servers do.

At the end it reports, and fails unless:
  - no client saw a reset, a broken pipe, a missing or wrong answer;
  - each server's fd count is back at its baseline (taken after a warm-up);
  - each server's RSS did not grow over the second half of the run: every
    tenth of the way the clients pause until no connection is open, and the
    RSS at those checkpoints after the half-way one stays within 256 KiB of
    the half-way one (RSS is also sampled every second, for the report; the
    servers run with glibc's thread-stack cache off, whose size would follow
    the peak number of threads, not a leak);
  - the namespace's reset counters (nstat: TcpExtTCPAbortOnClose,
    TcpExtTCPAbortOnData, TcpOutRsts) did not move during the run. A control
    run first sends 200 such uploads to a server without the shim in the same
    namespace, to show that these counters do see the resets.
It stops by itself: after --max-seconds (default 900) it stops the clients
and fails. The namespace is created with `ip netns add` (as root) and
deleted at the end; --no-netns runs in the current one, without the reset
counter check (other traffic would move them).
"""
import argparse
import collections
import fcntl
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import lib  # noqa: E402

COUNTERS = ("TcpExtTCPAbortOnClose", "TcpExtTCPAbortOnData", "TcpOutRsts")
MiB = 1024 * 1024
CHUNK = b"s" * (64 * 1024)


# ---------------------------------------------------------------- HTTP client

class Bad(Exception):
    """A client-visible failure: the connection did not go as HTTP says."""


def read_response(s, buf=b""):
    """Reads one response (head and Content-Length body). Returns (status,
    rest of the buffer, connection-close flag)."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise Bad("EOF before a response head")
        buf += b
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise Bad("bad status line %r" % lines[0][:60])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and b"close" in value.lower():
            close = True
    while len(buf) < length:
        b = s.recv(65536)
        if not b:
            raise Bad("EOF in a response body")
        buf += b
    return int(parts[1]), buf[length:], close


def read_eof(s, buf):
    """After a response with Connection: close: nothing more, then EOF."""
    if buf:
        raise Bad("bytes after the last response")
    while True:
        b = s.recv(65536)
        if not b:
            return
        raise Bad("bytes after the last response")


IP_BIND_ADDRESS_NO_PORT = 24


# Which kind of connection each client address was, for the RSTs seen.
KIND_OF = {}


def connect(port, rng, kind):
    """A connection from a random address of 127.0.0.0/8: with 100,000
    connections in minutes, a client port would otherwise come back while
    the server still holds the old connection in TIME_WAIT, and the SYN's
    clash with it ends in an RST that has nothing to do with linger."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)), 0))
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        KIND_OF[s.getsockname()] = kind
    except BaseException:
        s.close()
        raise
    return s


SIOCOUTQ = 0x5411


def close_when_sent(s, timeout=10):
    """Closes once the kernel has sent everything written. A client that
    closes with bytes still queued leaves them to an orphan socket, whose
    spurious retransmissions under load draw duplicate ACKs after it is gone:
    RSTs from the client's kernel, a race between two client-side states,
    not anything the server did."""
    deadline = time.monotonic() + timeout
    while fcntl.ioctl(s.fileno(), SIOCOUTQ, b"\0\0\0\0") != b"\0\0\0\0" and time.monotonic() < deadline:
        time.sleep(0.001)


def expect(status, want):
    if status != want:
        raise Bad("status %d, expected %d" % (status, want))


def conn_upload(port, rng):
    size = rng.randint(1 * MiB, 4 * MiB)
    full = rng.random() < 0.5
    with connect(port, rng, "upload") as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n\r\n" % size)
        sent = 0
        if full:
            view = memoryview(CHUNK)
            while sent < size:
                n = min(len(CHUNK), size - sent)
                s.sendall(view[:n])
                sent += n
        else:
            while sent < size:
                if select.select([s], [], [], 0)[0]:
                    break          # the answer is there: stop sending
                n = min(len(CHUNK), size - sent)
                s.sendall(CHUNK[:n])
                sent += n
        status, rest, close = read_response(s)
        expect(status, 413)
        read_eof(s, rest)
        close_when_sent(s)
    return "upload-full" if full else "upload-stop"


def request(s, rng, last_close):
    if rng.random() < 0.5:
        req = b"GET /small HTTP/1.1\r\nHost: soak\r\n"
        body = b""
    else:
        body = b"p" * rng.randint(1, 4000)
        req = b"POST /small HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n" % len(body)
    if last_close:
        req += b"Connection: close\r\n"
    s.sendall(req + b"\r\n" + body)


def conn_keepalive(port, rng):
    n = rng.randint(2, 10)
    with connect(port, rng, "keepalive") as s:
        buf = b""
        for i in range(n):
            request(s, rng, i == n - 1)
            status, buf, close = read_response(s, buf)
            expect(status, 200)
            if close != (i == n - 1):
                raise Bad("Connection: close on request %d of %d" % (i + 1, n))
        read_eof(s, buf)
    return "keepalive"


def conn_client_closes(port, rng):
    n = rng.randint(1, 3)
    with connect(port, rng, "client-closes") as s:
        buf = b""
        for _ in range(n):
            request(s, rng, False)
            status, buf, close = read_response(s, buf)
            expect(status, 200)
        if buf:
            raise Bad("bytes after the last response")
    return "client-closes"


MIX = (10, 40, 50)  # percent: upload, keepalive, client-closes


def one_connection(port, rng):
    r = rng.random() * 100
    if r < MIX[0]:
        return conn_upload(port, rng)
    if r < MIX[0] + MIX[1]:
        return conn_keepalive(port, rng)
    return conn_client_closes(port, rng)


# ---------------------------------------------------------------- measurements

def nstat():
    """The namespace's absolute reset counters."""
    r = subprocess.run(["nstat", "-asz"] + list(COUNTERS), capture_output=True, text=True, timeout=10)
    out = dict.fromkeys(COUNTERS, 0)
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in out:
            out[parts[0]] = int(parts[1])
    return out


def delta(a, b):
    return {k: b[k] - a[k] for k in COUNTERS}


class RstCapture:
    """Every TCP RST on the namespace's loopback, from a packet socket with
    a classic BPF filter (IPv4, TCP, RST flag set), so that each RST the
    counters count can be tied to the connection that sent or drew it."""

    BPF = [(0x28, 0, 0, 12), (0x15, 0, 6, 0x800),   # ldh [12]; jeq IPv4
           (0x30, 0, 0, 23), (0x15, 0, 4, 6),        # ldb [23]; jeq TCP
           (0xb1, 0, 0, 14), (0x50, 0, 0, 27),       # ldxb 4*([14]&15); ldb [x+27]
           (0x45, 0, 1, 4),                          # jset RST
           (0x06, 0, 0, 65535), (0x06, 0, 0, 0)]     # accept; drop

    def __init__(self):
        import ctypes
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        prog = b"".join(struct.pack("HBBI", *i) for i in self.BPF)
        self._buf = ctypes.create_string_buffer(prog)
        self.sock.setsockopt(socket.SOL_SOCKET, 26,  # SO_ATTACH_FILTER
                             struct.pack("HL", len(self.BPF), ctypes.addressof(self._buf)))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.rsts = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                pkt, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:   # loopback shows each packet twice
                continue
            ip = pkt[14:]
            tcp = ip[(ip[0] & 15) * 4:]
            sport, dport = struct.unpack("!HH", tcp[:4])
            self.rsts.append((socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport))

    def finish(self):
        time.sleep(0.3)
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
        return self.rsts


def rsts_by_kind(rsts, server_ports):
    """Counter of connection kinds the RSTs belong to, and by whom they
    were sent: "upload, sent by the client" and so on."""
    out = collections.Counter()
    for src, sport, dst, dport in rsts:
        if dport in server_ports:
            kind, who = KIND_OF.get((src, sport), "unknown"), "client"
        elif sport in server_ports:
            kind, who = KIND_OF.get((dst, dport), "unknown"), "server"
        else:
            kind, who = "unknown", "?"
        out["%s, sent by the %s" % (kind, who)] += 1
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- the run

class Load:
    """Client threads that run `total` connections, at a concurrency that
    cycles through `levels`, against the servers in turn. Every tenth of the
    way the clients pause until every connection is over (a checkpoint)."""

    def __init__(self, servers, total, levels, deadline, every=2000):
        self.servers, self.total, self.levels = servers, total, levels
        self.deadline, self.every = deadline, every
        self.checkpoint_every = max(1, total // 10)
        self.lock = threading.Condition()
        self.started = self.done = 0
        self.gate_closed = False
        self.outcomes = collections.Counter()
        self.failures = []
        self.stopped = False

    def level(self):
        return self.levels[(self.started // self.every) % len(self.levels)]

    def next_job(self, worker):
        with self.lock:
            while True:
                if self.stopped or self.started >= self.total or time.monotonic() > self.deadline:
                    return None
                if not self.gate_closed and worker < self.level():
                    n = self.started
                    self.started += 1
                    if self.started % self.checkpoint_every == 0 and self.started < self.total:
                        self.gate_closed = True
                    return n
                self.lock.wait(0.2)

    def worker(self, idx):
        rng = random.Random(idx * 7919 + 1)
        while True:
            n = self.next_job(idx)
            if n is None:
                return
            srv = self.servers[n % len(self.servers)]
            try:
                kind = one_connection(srv.port, rng)
                key = "%s %s ok" % (srv.model, kind)
            except (Bad, OSError) as e:
                key = "%s FAILED %s" % (srv.model, type(e).__name__)
                with self.lock:
                    if len(self.failures) < 20:
                        self.failures.append("%s: %s: %s" % (srv.model, type(e).__name__, e))
            with self.lock:
                self.outcomes[key] += 1
                self.done += 1
                self.lock.notify_all()

    def run(self, sample, checkpoint, interval=1.0):
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(max(self.levels))]
        for th in threads:
            th.start()
        last = 0.0
        while any(th.is_alive() for th in threads):
            if time.monotonic() - last >= interval:
                last = time.monotonic()
                sample(self.done)
            if self.gate_closed and self.done == self.started:
                checkpoint(self.done)
                with self.lock:
                    self.gate_closed = False
                    self.lock.notify_all()
            if time.monotonic() > self.deadline + 60:
                break               # a client stuck past its own timeouts
            time.sleep(0.05)
        with self.lock:
            self.stopped = True
        sample(self.done)


def control(ctx, n=200):
    """Early 413s without the shim in this namespace: the counters move."""
    srv = lib.legacy(ctx, "threads", shim=False, label="control")
    before = nstat()
    got = lib.uploads(srv, n, 2 * MiB, timeout=10)
    time.sleep(0.5)
    after = nstat()
    srv.stop()
    return got, delta(before, after)


def inside(args):
    ctx = lib.Ctx("soak")
    t_start = time.monotonic()
    report, problems = [], []
    try:
        lib.need_shim()
        if args.netns and args.control:
            got, d = control(ctx)
            report.append("control, %d early-413 uploads of 2 MiB WITHOUT the shim: %s; reset counters %s"
                          % (sum(got.values()), lib.fmt(got), d))
            if not any(d.values()):
                problems.append("the control run moved no reset counter: the check would see nothing")
        servers = []
        for model in args.models:
            stats = ctx.path("stats-%s-%%p.prom" % model)
            # glibc's thread-stack cache (up to 40 MiB) grows with the peak
            # number of threads: off, so RSS at rest counts live memory only
            env = {"LINGER_STATS": stats, "GLIBC_TUNABLES": "glibc.pthread.stack_cache_size=0"}
            srv = lib.legacy(ctx, model, shim=args.shim, env=env, label="soak-%s" % model)
            srv.model, srv.stats_file = model, stats
            servers.append(srv)
        rng = random.Random(1)
        for srv in servers:       # warm-up: starts each drainer
            for _ in range(20):
                if args.shim:
                    conn_upload(srv.port, rng)
                conn_client_closes(srv.port, rng)
        time.sleep(1.0)
        base_fds = {srv.model: lib.fd_count(srv.pid) for srv in servers}
        samples = []               # (seconds, connections done, {model: (rss KiB, fds)})
        t0 = time.monotonic()

        def sample(done):
            samples.append((time.monotonic() - t0, done,
                            {s.model: (rss_kib(s.pid), lib.fd_count(s.pid)) for s in servers}))

        capture = RstCapture() if args.netns else None
        checkpoints = []           # (connections done, {model: rss KiB}) with none open

        def checkpoint(done):
            for srv in servers:    # lingering sockets see the clients' EOF and go
                lib.wait_for(lambda: lib.fd_count(srv.pid) <= base_fds[srv.model], 3, 0.02)
            time.sleep(0.2)
            checkpoints.append((done, {s.model: rss_kib(s.pid) for s in servers}))

        before = nstat() if args.netns else None
        load = Load(servers, args.connections, args.levels, t0 + args.max_seconds)
        load.run(sample, checkpoint)
        elapsed = time.monotonic() - t0
        # every client has closed: lingering sockets see EOF and go
        end_fds = {}
        for srv in servers:
            lib.wait_for(lambda: lib.fd_count(srv.pid) <= base_fds[srv.model], 10, 0.1)
            end_fds[srv.model] = lib.fd_count(srv.pid)
        time.sleep(0.5)
        after = nstat() if args.netns else None
        rsts = capture.finish() if capture else []

        ok = sum(v for k, v in load.outcomes.items() if k.endswith(" ok"))
        failed = sum(v for k, v in load.outcomes.items() if " FAILED " in k)
        report.append("%d connections in %.1f s (%.0f/s) at concurrency cycling %s every %d: %d ok, %d failed"
                      % (load.done, elapsed, load.done / elapsed if elapsed else 0,
                         ",".join(map(str, args.levels)), load.every, ok, failed))
        for k in sorted(load.outcomes):
            report.append("  %-34s %7d" % (k, load.outcomes[k]))
        for f in load.failures:
            report.append("  failure: " + f)
        if load.done < args.connections:
            problems.append("only %d of %d connections ran within %d s"
                            % (load.done, args.connections, args.max_seconds))
        if failed:
            problems.append("%d client-visible failures" % failed)

        half = args.connections // 2
        checkpoints.append((load.done, {s.model: rss_kib(s.pid) for s in servers}))
        for srv in servers:
            m = srv.model
            first = [sm[2][m][0] for sm in samples if sm[1] <= half]
            second = [sm[2][m][0] for sm in samples if sm[1] > half]
            peak_fds = max(sm[2][m][1] for sm in samples)
            at_rest = [(done, rss[m]) for done, rss in checkpoints]
            report.append("%s (port %d): fds baseline %d, peak %d, at the end %d; RSS KiB peak %s in the "
                          "first half, %s in the second (%d samples); with no connection open, every "
                          "tenth of the way: %s" % (
                              m, srv.port, base_fds[m], peak_fds, end_fds[m], max(first) if first else "-",
                              max(second) if second else "-", len(samples),
                              " ".join("%d" % r for _, r in at_rest)))
            if end_fds[m] > base_fds[m]:
                problems.append("%s: fds %d at the end, baseline %d" % (m, end_fds[m], base_fds[m]))
            # RSS flat: with no connection open, never more over the second
            # half than at the half-way checkpoint (a leak of 10 bytes per
            # connection would add 500 KiB over 50,000 connections)
            mid = [r for done, r in at_rest if done >= half]
            if len(mid) < 2:
                problems.append("%s: too few checkpoints" % m)
            elif max(mid[1:]) > mid[0] + 256:
                problems.append("%s: RSS grew over the second half: %d KiB at the half-way mark, then up to %d KiB"
                                % (m, mid[0], max(mid[1:])))
        if args.netns:
            d = delta(before, after)
            kinds = rsts_by_kind(rsts, {srv.port for srv in servers})
            report.append("reset counters in the namespace during the soak: %s; RSTs on the wire: %d %s"
                          % (d, len(rsts), lib.fmt(kinds)))
            # The early-413 connections leave no trace in the counters when
            # the abort counters stay at 0 and every RST the namespace sent
            # belongs to another kind of connection.
            if d["TcpExtTCPAbortOnClose"] or d["TcpExtTCPAbortOnData"]:
                problems.append("abort counters moved: %s" % d)
            if d["TcpOutRsts"] != len(rsts):
                problems.append("TcpOutRsts moved by %d but %d RSTs were seen: cannot tell whose"
                                % (d["TcpOutRsts"], len(rsts)))
            bad = {k: v for k, v in kinds.items() if k.startswith(("upload", "unknown"))}
            if bad:
                problems.append("RSTs on early-413 (or unknown) connections: %s" % bad)
        for srv in servers:
            srv.stop()
            path = str(srv.stats_file).replace("%p", str(srv.pid))
            try:
                text = open(path).read()
            except OSError:
                text = ""
            vals = {}
            for line in text.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                name, value = line.rsplit(" ", 1)
                name = name.split("{")[0] + ("{%s}" % name.split('reason="')[1].split('"')[0]
                                             if 'reason="' in name else "")
                vals[name] = int(value)
            report.append("%s linger stats: lingered %d, resets avoided %d, drained %.1f MiB, closed %s, "
                          "fallback closes %d" % (
                              srv.model, vals.get("linger_lingered_total", 0),
                              vals.get("linger_resets_avoided_total", 0),
                              vals.get("linger_drained_bytes_total", 0) / MiB,
                              {k.split("{")[1][:-1]: v for k, v in vals.items()
                               if k.startswith("linger_closed_total") and v},
                              vals.get("linger_fallback_closes_total", 0)))
    finally:
        ctx.cleanup(keep=bool(problems))
    report.append("soak: %.0f s in all" % (time.monotonic() - t_start))
    for line in report:
        print(line, flush=True)
    if problems:
        for p in problems:
            print("FAIL " + p, flush=True)
        print("soak: FAILED", flush=True)
        return 1
    print("soak: PASSED (0 client-visible resets, fds back to baseline, RSS flat%s)"
          % (", reset counters unchanged" if args.netns else ""), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=100000)
    ap.add_argument("--max-seconds", type=int, default=900)
    ap.add_argument("--levels", default="1,4,16,64")
    ap.add_argument("--models", default="threads,epoll")
    ap.add_argument("--mix", default="10,40,50",
                    help="percent of upload, keepalive and client-closes connections")
    ap.add_argument("--no-netns", dest="netns", action="store_false")
    ap.add_argument("--no-control", dest="control", action="store_false", help=argparse.SUPPRESS)
    # for comparisons only: the same load against the servers without the shim
    ap.add_argument("--no-shim", dest="shim", action="store_false", help=argparse.SUPPRESS)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    args.models = args.models.split(",")
    global MIX
    MIX = tuple(int(x) for x in args.mix.split(","))
    if args.inside or not args.netns:
        return inside(args)
    if os.geteuid() != 0:
        print("soak: needs root for its network namespace (or --no-netns)", file=sys.stderr)
        return 2
    ns = "linger-soak-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ex = ["ip", "netns", "exec", ns]
        subprocess.run(ex + ["ip", "link", "set", "lo", "up"], check=True)
        argv = [sys.executable, str(Path(__file__).resolve()), "--inside",
                "--connections", str(args.connections), "--max-seconds", str(args.max_seconds),
                "--levels", ",".join(map(str, args.levels)), "--models", ",".join(args.models),
                "--mix", ",".join(map(str, MIX))] + ([] if args.shim else ["--no-shim"]) \
            + ([] if args.control else ["--no-control"])
        return subprocess.run(ex + argv).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    sys.exit(main())
