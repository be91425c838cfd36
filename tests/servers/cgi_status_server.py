#!/usr/bin/python3
"""cgi_status_server.py - answers every connection at once with a CGI-style
response head, as an SCGI or uwsgi app behind nginx does, and closes.

Usage: cgi_status_server.py --port-file PATH

Right after accept, before the client has sent anything, it writes
"Status: 413 Request Entity Too Large" and a few headers and a body in one
send(), and closes: nothing is unread at its close, so only the response's
own close semantics can make linger linger. One connection at a time, on
127.0.0.1 and a free port (written to the port file).
"""
import argparse
import os
import signal
import socket
import sys

ANSWER = (b"Status: 413 Request Entity Too Large\r\nContent-Type: text/plain\r\n"
          b"Content-Length: 9\r\n\r\ntoo large")

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
args = ap.parse_args()

# SIGTERM (the tests' stop) is a clean exit, so that linger writes its
# final stats file.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(16)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % lsock.getsockname()[1])
os.rename(args.port_file + ".tmp", args.port_file)

while True:
    c, _ = lsock.accept()
    c.sendall(ANSWER)
    c.close()
