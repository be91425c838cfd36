#!/usr/bin/python3
"""line_server.py - a line-based server that is not HTTP, for the tests of
LINGER_MODE beyond HTTP responses.

Usage: line_server.py --port-file PATH [--greet]
  default  read one line, answer "ERR line too long\\n" and close at once,
           leaving whatever the client sends after that line unread
  --greet  answer "HELLO\\n" right after accept and close at once, before
           the client has sent anything

One connection at a time, on 127.0.0.1 and a free port (written to the port
file). Writes go through send() and the close through close(), as in any
small C-ish server.
"""
import argparse
import os
import signal
import socket
import sys
import time

HTTP_GREETING = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--greet", action="store_true")
ap.add_argument("--http-greet", action="store_true")
ap.add_argument("--close-after-ms", type=int, default=0)
ap.add_argument("--greet-then-fork", action="store_true")
ap.add_argument("--shutdown-rdwr", action="store_true")
args = ap.parse_args()

# SIGTERM (the tests' stop) is a clean exit, so that linger writes its
# final stats file, which the tests read.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(16)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % lsock.getsockname()[1])
os.rename(args.port_file + ".tmp", args.port_file)



def greet_then_fork(c):
    c.sendall(b"220 ready\r\n")
    time.sleep(0.1)
    if os.fork() == 0:
        lsock.close()
        c.recv(64)
        c.sendall(b"250 hello\r\n")
        c.close()
        os._exit(0)
    c.close()


def shutdown_rdwr(c):
    c.sendall(b"+OK\r\n")
    time.sleep(0.1)
    c.shutdown(socket.SHUT_RDWR)
    c.settimeout(1)
    try:
        while c.recv(64):
            pass
        print("after SHUT_RDWR: EOF", flush=True)
    except OSError as e:
        print("after SHUT_RDWR: %s" % type(e).__name__, flush=True)
    c.close()


while True:
    c, _ = lsock.accept()
    if args.greet_then_fork:
        greet_then_fork(c)
        continue
    if args.shutdown_rdwr:
        shutdown_rdwr(c)
        continue
    if args.greet or args.http_greet:
        c.sendall(HTTP_GREETING if args.http_greet else b"HELLO\n")
    else:
        line = b""
        while not line.endswith(b"\n"):
            b = c.recv(1)
            if not b:
                break
            line += b
        c.sendall(b"ERR line too long\n")
    time.sleep(args.close_after_ms / 1000)
    c.close()
