#!/usr/bin/python3
"""py_legacy.py - a "legacy" Python HTTP server for linger's integration tests.

Built on http.server like countless small services: a request announcing a
body over --limit bytes gets send_error(413) WITHOUT the body being read, and
socketserver then shuts the socket down and closes it with the body still
arriving, so the client sees a reset instead of the 413. Bodies within the
limit are read and answered 200 with the byte count; HTTP/1.1 keep-alive
works. GET /stats returns "pid=N".

Usage: py_legacy.py --port N [--port-file PATH] [--limit BYTES] [--forking]
                    [--delay-ms N] [--idle-timeout SECS]
  --idle-timeout  close a keep-alive connection idle for SECS (http.server's
              handler timeout), the client still connected
  --forking   ForkingMixIn (fork per connection; the parent closes its copy
              right after fork) instead of ThreadingHTTPServer.
"""
import argparse
import http.server
import os
import signal
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    limit = 65536
    delay = 0.0

    def log_message(self, format, *args):  # keep the test output quiet
        pass

    def _reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            self._reply(200, "pid=%d\n" % os.getpid())
        else:
            self._reply(200, "received 0 bytes\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.limit:
            # The bug under test: answer early, never read the body.
            if self.delay:
                time.sleep(self.delay)
            self.send_error(413, "Payload Too Large")
            return
        got = 0
        while got < length:
            chunk = self.rfile.read(min(65536, length - got))
            if not chunk:
                break
            got += len(chunk)
        self._reply(200, "received %d bytes\n" % got)

    do_PUT = do_POST


class ThreadingServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class ForkingServer(socketserver.ForkingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    max_children = 256


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--limit", type=int, default=65536)
    ap.add_argument("--forking", action="store_true")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--idle-timeout", type=float, default=None)
    a = ap.parse_args()
    Handler.timeout = a.idle_timeout
    Handler.limit = a.limit
    Handler.delay = a.delay_ms / 1000.0
    cls = ForkingServer if a.forking else ThreadingServer
    server = cls(("127.0.0.1", a.port), Handler)
    parent = os.getpid()

    def on_term(signum, frame):
        if os.getpid() != parent:  # a forked child: just go
            os._exit(0)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if a.port_file:
        tmp = "%s.tmp.%d" % (a.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        for pid in list(getattr(server, "active_children", None) or ()):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        server.block_on_close = False
        server.server_close()
        for pid in list(getattr(server, "active_children", None) or ()):
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
