"""Helpers for linger's integration tests: a tiny test registry, process
control (by pid only, and only for processes a test started), servers with and
without the shim, nginx in front of them, and HTTP clients that classify what
happened to an upload.

Stdlib only (Python 3.11).
"""
import collections
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
# LINGER_IT_SHIM runs the suite against another build of the library (an
# ASan build, a candidate fix); the default is the one `make` builds.
SHIM = Path(os.environ.get("LINGER_IT_SHIM") or BUILD / "liblinger.so").resolve()
# With `make test SANITIZE=...`: the sanitizer's runtime libraries, which
# must come before the library in LD_PRELOAD, and where their reports go.
SANITIZE = os.environ.get("LINGER_IT_SANITIZE", "")
PRELOAD_FIRST = os.environ.get("LINGER_IT_PRELOAD_FIRST", "").split()
SAN_REPORTS = Path(tempfile.gettempdir()) / ("linger-sanitizer-reports-%d" % os.getpid())
LEGACY = BUILD / "tests" / "legacy_server"
SERVERS = REPO / "tests" / "servers"
PYTHON = "/usr/bin/python3"
MiB = 1024 * 1024
# An upload that is certain to be cut by a reset when the server closes
# without reading it: larger than what the client's send buffer (tcp_wmem max,
# 4 MiB on Debian) and the server's unread receive window can hold together, so
# the client is still sending when the server closes. 4 MiB fitted about half
# the time (the send completed and the 413 was read before the RST arrived),
# which made "without the shim it fails" a coin toss for 3-5 uploads.
RESETTING_UPLOAD = 16 * MiB


# ---------------------------------------------------------------- registry

class Skip(Exception):
    """Raised by a test that cannot run here (a binary is missing)."""


class TestTimeout(BaseException):
    """Raised in the test by the runner's alarm. A BaseException, so the
    clients' broad `except Exception` never swallows it."""


TESTS = []


def test(name=None, timeout=60, needs=()):
    """Registers a test function fn(t) -> details string.

    needs: executables (names or absolute paths) without which the test is
    skipped rather than run."""
    def deco(fn):
        TESTS.append({"name": name or fn.__name__.removeprefix("test_"),
                      "fn": fn, "timeout": timeout, "needs": tuple(needs)})
        return fn
    return deco


def have(binary):
    if os.path.isabs(binary):
        return os.access(binary, os.X_OK)
    return shutil.which(binary) is not None


def need(*binaries):
    for b in binaries:
        if not have(b):
            raise Skip("%s is not installed" % b)


def need_shim(ctx=None):
    """The with-shim half of a test cannot run without the library: that is a
    failure (make builds it), not a skip. The message carries what the test
    noted so far (the without-shim results)."""
    if not SHIM.exists():
        so_far = ("; " + "; ".join(ctx.notes)) if ctx is not None and ctx.notes else ""
        raise AssertionError("%s is missing (run make)%s" % (SHIM, so_far))


class Ctx:
    """Per-test context: a temp dir, and the processes the test started."""

    def __init__(self, name):
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix="linger-it-%s-" % re.sub(r"\W", "_", name)))
        os.chmod(self.tmp, 0o755)  # nginx workers may not be root
        self.procs = []
        self.notes = []

    def path(self, name):
        return self.tmp / name

    def subdir(self, name):
        d = self.tmp / name
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        return d

    def note(self, msg):
        self.notes.append(msg)

    def cleanup(self, keep=False):
        for p in reversed(self.procs):
            with contextlib.suppress(Exception):
                p.stop()
        self.procs.clear()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- processes

def _children(pid):
    """Direct children of pid, from /proc/PID/task/*/children."""
    kids = []
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/%d/task" % pid):
            with contextlib.suppress(OSError):
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids += [int(x) for x in f.read().split()]
    return kids


def descendants(pid):
    out, todo = [], [pid]
    while todo and len(out) < 10000:
        for k in _children(todo.pop()):
            if k not in out:
                out.append(k)
                todo.append(k)
    return out


def _starttime(pid):
    """Field 22 of /proc/PID/stat, to tell a pid from a reused one; None when
    the process is gone or a zombie (nothing left to stop)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        fields = data[data.rindex(")") + 2:].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except (OSError, ValueError, IndexError):
        return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def clean_env(shim=False, extra=None):
    """The environment for a process under test: no inherited LD_PRELOAD or
    LINGER_*; with shim=True, LD_PRELOAD is the absolute path of the shim."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("LINGER_")}
    if shim:
        need_shim()
        env["LD_PRELOAD"] = " ".join(PRELOAD_FIRST + [str(SHIM)])
        if SANITIZE:
            SAN_REPORTS.mkdir(exist_ok=True)
            log = "log_path=%s/report" % SAN_REPORTS
            # hosts are not built with the sanitizer: their leaks are not ours
            env["ASAN_OPTIONS"] = log + ":detect_leaks=0:abort_on_error=0"
            env["UBSAN_OPTIONS"] = log + ":print_stacktrace=1"
            env["TSAN_OPTIONS"] = log + ":suppressions=%s" % (Path(__file__).parent / "tsan.supp")
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


class Proc:
    """A process a test started. stop() ends it and whatever it spawned,
    always by pid, never by name or process group."""

    def __init__(self, ctx, argv, env, log_name, pass_fds=()):
        self.argv = [str(a) for a in argv]
        self.log = ctx.path(log_name)
        self._logf = open(self.log, "wb")
        self.popen = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._logf, stderr=subprocess.STDOUT,
                                      start_new_session=True, close_fds=True, pass_fds=pass_fds)
        self.pid = self.popen.pid
        ctx.procs.append(self)

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, n=1500):
        try:
            return self.log.read_bytes()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        if self.popen.poll() is None:
            family = [(p, _starttime(p)) for p in descendants(self.pid)]
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)
            # Anything it spawned and left behind: only those exact processes.
            deadline = time.monotonic() + 2
            for p, st in family:
                while st and _starttime(p) == st and time.monotonic() < deadline:
                    time.sleep(0.02)
                if st and _starttime(p) == st:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
        self._logf.close()
        return self.popen.returncode


def wait_for(cond, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_listening(proc, port, timeout):
    """Waits until proc accepts connections on 127.0.0.1:port: "up", or
    "dead" once it has exited, or None when timeout seconds passed."""
    def ready():
        if not proc.alive():
            return "dead"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return "up"
        except OSError:
            return None
    return wait_for(ready, timeout, 0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- servers

class Endpoint:
    """Where a client connects: a TCP port on 127.0.0.1, or a unix path."""

    def __init__(self, port=None, unix=None):
        self.port, self.unix = port, unix


class Server(Endpoint):
    def __init__(self, proc, port=None, unix=None):
        super().__init__(port, unix)
        self.proc = proc
        self.pid = proc.pid

    def stop(self):
        return self.proc.stop()

    @property
    def upstream(self):
        """The address as nginx's `server` directive wants it."""
        return "unix:%s" % self.unix if self.unix else "127.0.0.1:%d" % self.port

    def get(self, path="/stats", timeout=5):
        c = connect(self, timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def stats(self):
        """GET /stats of legacy_server parsed into a dict of ints."""
        status, body = self.get("/stats")
        if status != 200:
            raise AssertionError("GET /stats answered %d" % status)
        return {k: int(v) for k, v in (kv.split("=") for kv in body.split())}


def start_server(ctx, argv, shim=False, env=None, unix=None, label="server", timeout=10, pass_fds=()):
    """Starts argv (which must take --port-file PATH; for TCP also --port 0)
    and waits until it has written its port file. pass_fds: fds it inherits."""
    port_file = ctx.path("%s.port" % label)
    with contextlib.suppress(FileNotFoundError):
        port_file.unlink()
    argv = list(argv) + ["--port-file", str(port_file)]
    proc = Proc(ctx, argv, clean_env(shim, env), "%s.log" % label, pass_fds)

    def ready():
        if not proc.alive():
            return "dead"
        return port_file.exists() and "up"
    state = wait_for(ready, timeout)
    if state != "up":
        proc.stop()
        raise AssertionError("%s did not start (%s): %s" % (
            label, "exited %s" % proc.popen.returncode if state == "dead" else "timeout",
            proc.log_tail()))
    port = int(port_file.read_text().strip() or 0)
    return Server(proc, port=None if unix else port, unix=unix)


def legacy(ctx, model="threads", shim=False, env=None, unix=False, limit=65536,
           extra_args=(), label=None):
    if not LEGACY.exists():
        raise AssertionError("%s is missing (run make servers)" % LEGACY.relative_to(REPO))
    label = label or "legacy-%s-%s" % (model, "shim" if shim else "plain")
    argv = [LEGACY, "--model", model, "--limit", limit]
    path = None
    if unix:
        path = str(ctx.subdir("sock") / ("%s.sock" % label))
        argv += ["--unix", path]
    else:
        argv += ["--port", 0]
    return start_server(ctx, argv + list(extra_args), shim=shim, env=env, unix=path, label=label)


def py_legacy(ctx, forking=False, shim=False, env=None, limit=65536, label=None):
    label = label or "py-%s-%s" % ("forking" if forking else "threading",
                                   "shim" if shim else "plain")
    argv = [PYTHON, SERVERS / "py_legacy.py", "--port", 0, "--limit", limit]
    if forking:
        argv.append("--forking")
    return start_server(ctx, argv, shim=shim, env=env, label=label)


def node_legacy(ctx, shim=False, env=None, limit=65536, reject="end", label=None):
    node = shutil.which("node") or "/usr/bin/node"
    label = label or "node-%s-%s" % (reject, "shim" if shim else "plain")
    argv = [node, SERVERS / "node_legacy.js", "--port", 0, "--limit", limit, "--reject", reject]
    return start_server(ctx, argv, shim=shim, env=env, label=label)


# ---------------------------------------------------------------- nginx

NGINX_CONF = """\
{user}worker_processes 1;
error_log {tmp}/error.log {level};
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream backend {{
        server {upstream};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{location}
        }}
    }}
}}
"""

# The default location: proxy_pass to the upstream, request buffering off.
PROXY_LOCATION = """\
            proxy_pass http://backend;
            proxy_request_buffering off;
            proxy_http_version 1.1;
            client_max_body_size 0;
            proxy_next_upstream off;"""


class Nginx:
    def __init__(self, ctx, proc, tmp, port):
        self.ctx, self.proc, self.tmp, self.port = ctx, proc, tmp, port
        self.error_log = tmp / "error.log"

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    @property
    def endpoint(self):
        return Endpoint(port=self.port)

    def stop(self):
        return self.proc.stop()

    def error_lines(self):
        try:
            return self.error_log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def count(self, needle):
        return sum(1 for line in self.error_lines() if needle in line)

    def resets(self):
        """Lines of the error log that say 'Connection reset by peer'."""
        return self.count("Connection reset by peer")

    def upstream_errors(self):
        """Lines where talking to the upstream failed in any way (reset,
        broken pipe, premature close)."""
        pats = ("reset by peer", "Broken pipe", "prematurely closed", "failed (")
        return sum(1 for line in self.error_lines()
                   if "upstream" in line and any(p in line for p in pats))


def start_nginx(ctx, upstream, label="nginx", level="error", location=PROXY_LOCATION):
    """nginx (not under the shim: it is the client here) on a free port,
    proxying to upstream ("127.0.0.1:PORT" or "unix:/path") with request
    buffering off; location: the directives of `location /` (the upstream
    is `backend`), to use another protocol (uwsgi_pass, scgi_pass)."""
    need("nginx")
    nginx = shutil.which("nginx")
    last = ""
    for attempt in range(3):
        tmp = ctx.subdir("%s%s" % (label, attempt or ""))
        port = free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(
            user=user, tmp=tmp, level=level, upstream=upstream, port=port, location=location))
        argv = [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf"),
                "-g", "daemon off; pid %s/nginx.pid;" % tmp]
        proc = Proc(ctx, argv, clean_env(), "%s%s.out" % (label, attempt or ""))

        state = wait_listening(proc, port, 10)
        if state == "up":
            return Nginx(ctx, proc, tmp, port)
        proc.stop()
        try:
            last = (tmp / "error.log").read_text(errors="replace")[-1500:] + proc.log_tail()
        except OSError:
            last = proc.log_tail()
        if "Address already in use" not in last:
            break
    raise AssertionError("nginx did not start: %s" % last.strip())


# ---------------------------------------------------------------- clients

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def connect(server, timeout=20):
    if server.unix:
        return UnixHTTPConnection(server.unix, timeout)
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)


def classify(exc):
    if isinstance(exc, BrokenPipeError):
        return "BrokenPipeError"
    if isinstance(exc, ConnectionResetError):
        return "ConnectionResetError"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return "other:%s" % type(exc).__name__


_BODIES = {}


def body_of(size):
    if size not in _BODIES:
        _BODIES[size] = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    return _BODIES[size]


def stats_of(path):
    """The LINGER_STATS file as {"name" or "name{reason}": int}; {} if absent."""
    try:
        text = open(path).read()
    except OSError:
        return {}
    out = {}
    for m in re.finditer(r'^(\w+)\{pid="\d+"(?:,reason="(\w+)")?\} (\d+)$', text, re.M):
        out[m.group(1) + ("{%s}" % m.group(2) if m.group(2) else "")] = int(m.group(3))
    return out


def recv_until(sock, marker, chunk=4096):
    """What sock receives until marker is in it, or until the peer's EOF
    (errors propagate)."""
    got = b""
    while marker not in got:
        b = sock.recv(chunk)
        if not b:
            break
        got += b
    return got


def recv_until_eof(sock, chunk=65536):
    """Everything sock receives until the peer's EOF (errors propagate)."""
    got = b""
    while True:
        b = sock.recv(chunk)
        if not b:
            return got
        got += b


class Spawned:
    """A child of spawn_inetd, waited for like a subprocess.Popen."""

    def __init__(self, pid):
        self.pid, self.returncode = pid, None
        self._lock = threading.Lock()

    def poll(self):
        with self._lock:
            if self.returncode is None:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.pid, timeout)
            time.sleep(0.005)
        return self.returncode


def spawn_inetd(argv, conn, env, stderr=None):
    """Runs argv (an absolute path first) with the socket conn as its fds 0
    and 1 and stderr (a file, or /dev/null) as fd 2, as inetd does, and
    closes our copy of conn before the program starts: it never finds its
    launcher still holding the connection. (With subprocess.Popen the
    launcher closes its copy only after the program started; on a loaded
    machine the program could answer and exit first, and linger rightly
    leaves alone a socket its parent still holds.)"""
    argv = [str(a) for a in argv]
    errfd = stderr.fileno() if stderr is not None else os.open(os.devnull, os.O_WRONLY)
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only system calls until the exec
        try:
            os.close(gate_w)
            os.read(gate_r, 1)
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            os.dup2(errfd, 2)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(gate_r)
    if stderr is None:
        os.close(errfd)
    conn.close()
    os.write(gate_w, b"x")
    os.close(gate_w)
    return Spawned(pid)


def upload_once(server, size, timeout=20, path="/upload"):
    """One POST with http.client: send the whole body, then read the answer.
    Returns "status N", "BrokenPipeError", "ConnectionResetError", "timeout"
    or "other:Name"."""
    body = body_of(size)
    c = connect(server, timeout)
    try:
        c.putrequest("POST", path)
        c.putheader("Content-Type", "application/octet-stream")
        c.putheader("Content-Length", str(size))
        c.endheaders()
        c.send(body)
        r = c.getresponse()
        r.read()
        return "status %d" % r.status
    except Exception as e:  # noqa: BLE001 - classifying is the point
        return classify(e)
    finally:
        c.close()


def uploads(server, n, size, timeout=20):
    return collections.Counter(upload_once(server, size, timeout) for _ in range(n))


def curl_uploads(url, n, size, ctx, timeout=30, expect=False, stream=True):
    """n POST uploads of size bytes with curl; Counter of HTTP codes as
    strings ("000" when curl got no response at all).

    stream=True sends the file with `-T FILE -X POST` (curl streams it from
    disk, as an upload tool does); stream=False with `--data-binary @FILE`
    (curl loads it into memory first). Both reproduce the 502 through nginx;
    measured on a 2-core machine, -T did so for about 57% of uploads and
    --data-binary for about 32%, so -T is the default. Expect: 100-continue is
    off unless expect=True (nginx answers it itself anyway)."""
    need("curl")
    f = ctx.path("upload-%d.bin" % size)
    if not f.exists():
        f.write_bytes(body_of(size))
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(timeout),
            "-H", "Content-Type: application/octet-stream"]
    if stream:
        argv += ["-T", str(f), "-X", "POST"]
    else:
        argv += ["--data-binary", "@%s" % f]
    if not expect:
        argv += ["-H", "Expect:"]
    codes = collections.Counter()
    for _ in range(n):
        r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=timeout + 10,
                           env=clean_env())
        codes[r.stdout.strip() or "000"] += 1
    return codes


def fmt(counter):
    return "{" + ", ".join("%s: %d" % kv for kv in sorted(counter.items())) + "}"


def count_status(counter, status):
    return counter.get("status %d" % status, 0)


def failures(counter):
    return sum(v for k, v in counter.items() if not k.startswith("status "))


def keepalive_run(server, n, size=0, timeout=10):
    """n requests on ONE persistent connection (POST of size bytes, or GET
    when size is 0). Returns (Counter of outcomes, seconds, connections used)."""
    c = connect(server, timeout)
    out = collections.Counter()
    socks = set()
    t0 = time.monotonic()
    try:
        for _ in range(n):
            try:
                if size:
                    c.request("POST", "/small", body=body_of(size),
                              headers={"Content-Type": "application/octet-stream"})
                else:
                    c.request("GET", "/small")
                r = c.getresponse()
                r.read()
                out["status %d" % r.status] += 1
                socks.add(id(c.sock))
            except Exception as e:  # noqa: BLE001
                out[classify(e)] += 1
                break
    finally:
        c.close()
    return out, time.monotonic() - t0, len(socks)


def close_run(server, n, timeout=10):
    """n requests, each on a new connection with `Connection: close`, read to
    EOF. Returns (Counter, seconds)."""
    out = collections.Counter()
    t0 = time.monotonic()
    for _ in range(n):
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
                s.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = recv_until_eof(s)
            m = re.match(rb"HTTP/1\.1 (\d+)", data)
            out["status %s" % (m.group(1).decode() if m else "?")] += 1
        except Exception as e:  # noqa: BLE001
            out[classify(e)] += 1
    return out, time.monotonic() - t0


def parallel(fn, args_list):
    """Runs fn(*args) in threads; returns results in order. Exceptions are
    re-raised in the caller."""
    results = [None] * len(args_list)
    errors = []

    def run(i, args):
        try:
            results[i] = fn(*args)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i, a), daemon=True)
               for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def server_sockets(port, states=("close-wait", "fin-wait-1", "fin-wait-2", "last-ack",
                                 "closing", "established")):
    """Sockets whose local port is port, per `ss`, in the given states."""
    need("ss")
    out = []
    for st in states:
        r = subprocess.run(["ss", "-Htan", "state", st, "( sport = :%d )" % port],
                           capture_output=True, text=True, timeout=10)
        out += ["%s %s" % (st, line.strip()) for line in r.stdout.splitlines() if line.strip()]
    return out


def shim_log_lines(server):
    """Lines the shim wrote to the server's stderr ("linger[PID]: LEVEL: ...").
    At the default level it should say nothing in normal operation."""
    try:
        text = server.proc.log.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if re.match(r"linger\[\d+\]: ", line)]


def one_shot_uploads(t, argv, label, n=3, env=None):
    """n runs, first without the shim then with it, of a server (argv, which
    takes --port-file) that serves one connection and exits: one upload of
    RESETTING_UPLOAD bytes each. env: more variables for the runs with the
    shim. Returns {False: Counter, True: Counter}."""
    runs = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        runs[shim] = collections.Counter()
        for i in range(n):
            srv = start_server(t, argv, shim=shim, env=env if shim else None,
                               label="%s-%s-%d" % (label, shim, i))
            runs[shim][upload_once(srv, RESETTING_UPLOAD)] += 1
            srv.proc.popen.wait(10)
            srv.stop()
    return runs


def direct_case(t, start, n, size=RESETTING_UPLOAD, after=None):
    """The direct-client comparison: start(shim) -> server; n uploads of size
    bytes with http.client, first without the shim, then with it. Without,
    every one must fail (reset / broken pipe); with, every one must get 413.
    A few small requests afterwards must still get 200 on both sides (the
    server still works). after(server, shim) may add checks and return a
    note, which the details line repeats.
    Returns the details line."""
    res, extras = {}, []
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        srv = start(shim)
        got = uploads(srv, n, size)
        small = collections.Counter(upload_once(srv, 1000) for _ in range(3))
        extra = after(srv, shim) if after else None
        if extra:
            extras.append("%s: %s" % (side, extra))
        srv.stop()
        res[side] = got
        t.note("%s shim: %s, then small %s%s" % (side, fmt(got), fmt(small),
                                                  "; " + extra if extra else ""))
        said = shim_log_lines(srv)
        if said:
            t.note("the shim logged: %s" % " / ".join(said[-3:]))
        if count_status(small, 200) != 3:
            raise AssertionError("small requests failed %s shim | %s" % (side, "; ".join(t.notes)))
        if not shim and failures(got) != n:
            raise AssertionError("did not reproduce: %d/%d uploads failed without the shim: %s" % (
                failures(got), n, t.notes[-1]))
    if count_status(res["with"], 413) != n:
        raise AssertionError("with shim only %d/%d got 413 | %s" % (
            count_status(res["with"], 413), n, "; ".join(t.notes)))
    said = [x for x in t.notes if x.startswith("the shim logged")]
    return "without: %d/%d failed %s; with: %d/%d 413%s" % (
        failures(res["without"]), n, fmt(res["without"]), count_status(res["with"], 413), n,
        "".join("; " + x for x in (said[:1] + extras)))
