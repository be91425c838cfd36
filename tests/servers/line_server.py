#!/usr/bin/python3
"""line_server.py - a line-based server that is not HTTP, for the tests of
LINGER_MODE beyond HTTP responses.

Usage: line_server.py --port-file PATH [--greet]
  default  read one line, answer "ERR line too long\\n" and close at once,
           leaving whatever the client sends after that line unread
  --greet  answer "HELLO\\n" right after accept and close at once, before
           the client has sent anything
  --greet-then-fork
           greet "220 ready", let the client's command arrive (unread), fork
           a handler that reads it and replies "250 hello", close our copy
  --greet-then-spawn subprocess|posix_spawn
           the same, with the handler a program (sh) started through
           subprocess (which uses vfork) or os.posix_spawn; it waits until
           we have closed our copy before it reads
  --listen-fd N  accept on the listening socket inherited as fd N (as from a
           supervisor) instead of making one
  --rcvlowat  set SO_RCVLOWAT to 64 KiB on each accepted socket

One connection at a time, on 127.0.0.1 and a free port (written to the port
file). Writes go through send() and the close through close(), as in any
small C-ish server.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time

HTTP_GREETING = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--greet", action="store_true")
ap.add_argument("--http-greet", action="store_true")
ap.add_argument("--close-after-ms", type=int, default=0)
ap.add_argument("--greet-then-fork", action="store_true")
ap.add_argument("--greet-then-spawn", choices=("subprocess", "posix_spawn"))
ap.add_argument("--shutdown-rdwr", action="store_true")
ap.add_argument("--listen-fd", type=int)
ap.add_argument("--rcvlowat", action="store_true")
args = ap.parse_args()

# SIGTERM (the tests' stop) is a clean exit, so that linger writes its
# final stats file, which the tests read.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

if args.listen_fd is not None:
    lsock = socket.socket(fileno=args.listen_fd)
else:
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % lsock.getsockname()[1])
os.rename(args.port_file + ".tmp", args.port_file)



def recv1(c):
    """One byte. Under SO_RCVLOWAT the kernel does not wake a reader
    blocked in recv while fewer bytes than that are queued: there, look
    without blocking, every 5 ms."""
    if c.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) <= 1:
        return c.recv(1)
    while True:
        try:
            return c.recv(1, socket.MSG_DONTWAIT)
        except BlockingIOError:
            time.sleep(0.005)


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


# The spawned handler: waits for EOF on fd N (our close of the pipe, after
# our close of the connection), then reads the client's command and replies.
SPAWNED_HANDLER = "read x <&%d; read line; printf '250 hello\\r\\n'"


def greet_then_spawn(c, how):
    c.sendall(b"220 ready\r\n")
    time.sleep(0.1)
    r, w = os.pipe()
    if how == "subprocess":  # _posixsubprocess: vfork, as close_fds=True allows
        subprocess.Popen(["/bin/sh", "-c", SPAWNED_HANDLER % r], stdin=c, stdout=c, pass_fds=(r,),
                         close_fds=True)
    else:
        os.posix_spawn("/bin/sh", ["sh", "-c", SPAWNED_HANDLER % 3], os.environ,
                       file_actions=[(os.POSIX_SPAWN_DUP2, c.fileno(), 0),
                                     (os.POSIX_SPAWN_DUP2, c.fileno(), 1),
                                     (os.POSIX_SPAWN_DUP2, r, 3)])
    c.close()
    os.close(w)
    os.close(r)


def reap():
    """Reaps the handlers os.posix_spawn started (subprocess reaps its own)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


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
    if args.rcvlowat:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 65536)
    if args.greet_then_fork:
        greet_then_fork(c)
        continue
    if args.greet_then_spawn:
        reap()
        greet_then_spawn(c, args.greet_then_spawn)
        continue
    if args.shutdown_rdwr:
        shutdown_rdwr(c)
        continue
    if args.greet or args.http_greet:
        c.sendall(HTTP_GREETING if args.http_greet else b"HELLO\n")
    else:
        line = b""
        while not line.endswith(b"\n"):
            b = recv1(c)
            if not b:
                break
            line += b
        c.sendall(b"ERR line too long\n")
    time.sleep(args.close_after_ms / 1000)
    c.close()
