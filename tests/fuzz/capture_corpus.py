#!/usr/bin/python3
"""Captures the seed corpus of tests/fuzz/: the exact bytes real servers send
on one connection, each file one connection, server to client.

    /usr/bin/python3 tests/fuzz/capture_corpus.py [OUTDIR]

Servers: nginx (static file, 404, 413, keep-alive, HTTP/1.0, HEAD), Python's
http.server (HTTP/1.0 by default, and as HTTP/1.1), Node's http (chunked by
default, trailers, 100-continue, 101 Switching Protocols, keep-alive) and
build/tests/legacy_server (its early 413). The files are committed; rerun this
only to refresh them. Needs nginx, node and python3; starts every server on a
free port on 127.0.0.1 and stops it (by pid) when done.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "tests" / "fuzz" / "corpus"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server on port %d did not start" % port)


def exchange(port, steps, idle=0.5):
    """Sends each step (bytes, or a float: pause that long) and returns every
    byte the server sent until it closed or was idle for `idle` seconds."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for st in steps:
            if isinstance(st, float):
                time.sleep(st)
            else:
                s.sendall(st)
        s.settimeout(idle)
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
    return got


def save(name, data):
    if not data:
        raise SystemExit("%s: the server sent nothing" % name)
    (OUT / name).write_bytes(data)
    print("%-40s %6d bytes  %s" % (name, len(data), data.split(b"\r\n", 1)[0].decode(errors="replace")))


def start(argv, env=None, cwd=None):
    return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


NGINX_CONF = """\
{user}worker_processes 1;
error_log {tmp}/error.log error;
pid {tmp}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
    uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        client_max_body_size 1k;
        location /gz {{ gzip on; gzip_min_length 1; gzip_types text/plain; }}
    }}
}}
"""


def nginx(tmp):
    port = free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / "index.html").write_text("<html><body>hello from nginx</body></html>\n")
    (tmp / "www" / "gz").mkdir()
    (tmp / "www" / "gz" / "big.txt").write_text("linger " * 2000)
    os.chmod(tmp, 0o755)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port))
    p = start([shutil.which("nginx"), "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")])
    try:
        wait_port(port)
        save("nginx-keepalive-then-close", exchange(port, [
            b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
            b"HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
        save("nginx-413-early", exchange(port, [
            b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n" + b"x" * 65536]))
        save("nginx-http10", exchange(port, [b"GET /index.html HTTP/1.0\r\n\r\n"]))
        save("nginx-http10-keepalive", exchange(port, [
            b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"GET /index.html HTTP/1.0\r\n\r\n"]))
        save("nginx-chunked-gzip", exchange(port, [
            b"GET /gz/big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"]))
        save("nginx-400", exchange(port, [b"GARBAGE\r\n\r\n"]))
        head = exchange(port, [b"HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        last_modified = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                         if line.lower().startswith(b"last-modified:")][0]
        save("nginx-304", exchange(port, [
            b"GET /index.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + last_modified + b"\r\n\r\n",
            b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
    finally:
        stop(p)


PY_SERVER = r'''
import http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = sys.argv[2]
    def do_POST(self):
        self.send_error(413)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def python_http_server(tmp):
    (tmp / "py").mkdir()
    (tmp / "py" / "hello.txt").write_text("hello from python\n")
    script = tmp / "py_server.py"
    script.write_text(PY_SERVER)
    for proto, tag in (("HTTP/1.0", "10"), ("HTTP/1.1", "11")):
        port = free_port()
        p = start([sys.executable, str(script), str(port), proto], cwd=tmp / "py")
        try:
            wait_port(port)
            save("python-http%s-get" % tag, exchange(port, [
                b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /nothere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
            save("python-http%s-dirlist-413" % tag, exchange(port, [
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"]))
        finally:
            stop(p)


NODE_SERVER = r'''
const http = require('http');
const server = http.createServer((req, res) => {
  if (req.url === '/chunked') { res.write('first chunk\n'); res.end('last chunk\n'); }
  else if (req.url === '/trailers') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Trailer': 'X-Checksum' });
    res.write('data with a trailer\n');
    res.addTrailers({ 'X-Checksum': 'abc123' });
    res.end();
  }
  else if (req.url === '/413') { res.writeHead(413, { 'Connection': 'close' }); res.end('too big\n'); }
  else { res.writeHead(200, { 'Content-Length': 3 }); res.end('ok\n'); }
});
server.on('checkContinue', (req, res) => {
  res.writeContinue();
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(201, { 'Content-Length': 8 }); res.end('created\n'); });
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
  socket.write('\x81\x05hello binary after the upgrade \x00\xff');
  socket.end();
});
server.listen(Number(process.argv[2]), '127.0.0.1');
'''


def node(tmp):
    script = tmp / "node_server.js"
    script.write_text(NODE_SERVER)
    port = free_port()
    p = start([shutil.which("node"), str(script), str(port)])
    try:
        wait_port(port)
        save("node-chunked-keepalive", exchange(port, [
            b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /len HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
        save("node-chunked-trailers", exchange(port, [
            b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"]))
        save("node-100-continue", exchange(port, [
            b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 0.3,
            b"hello", 0.3, b"GET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
        save("node-101-upgrade", exchange(port, [
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"]))
        save("node-413-close", exchange(port, [
            b"POST /413 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"y" * 100]))
        save("node-http10", exchange(port, [b"GET /chunked HTTP/1.0\r\n\r\n"]))
    finally:
        stop(p)


def legacy(tmp):
    server = REPO / "build" / "tests" / "legacy_server"
    if not server.exists():
        raise SystemExit("%s is missing (make servers)" % server)
    port_file = tmp / "legacy.port"
    p = start([str(server), "--port", "0", "--port-file", str(port_file), "--model", "threads"])
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(port_file.read_text())
        save("legacy-keepalive-then-413", exchange(port, [
            b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n"]))
    finally:
        stop(p)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="linger-corpus-") as d:
        tmp = Path(d)
        for fn in (nginx, python_http_server, node, legacy):
            sub = tmp / fn.__name__
            sub.mkdir()
            fn(sub)


if __name__ == "__main__":
    main()
