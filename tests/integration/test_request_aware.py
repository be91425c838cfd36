"""Request-aware `on` (issue 13): a close lingers while a request body the
app was sent is not fully consumed, whatever the response said, so servers
that answer early without `Connection: close` (uWSGI) and the protocols
nginx speaks to app servers (uwsgi, SCGI) get their 413 through. Each test
runs the real server without the shim, then with it, in the same run. And
what must not linger does not: an idle close after bodies read in full, and
php-fpm's master, whose own socketpair has the process itself as its peer.
"""
import collections
import glob
import os
import shutil
import signal
import socket
import time

from lib import (MiB, PYTHON, SERVERS, Proc, body_of, classify, clean_env, fmt, free_port,
                 need, need_shim, py_legacy, start_nginx, start_server, stats_of, test, wait_listening)

UWSGI = "uwsgi"
APP = SERVERS / "wsgi_early413.py"
PHP_FPM = "php-fpm8.2"


def start_uwsgi(t, proto, shim, env=None, label=None):
    """uWSGI (Debian's, python3 plugin) serving APP on a free port with
    `--PROTO-socket` (http, uwsgi, scgi): one worker under a master.
    Returns (Proc, port)."""
    need(UWSGI)
    if not os.path.exists("/usr/lib/uwsgi/plugins/python3_plugin.so"):
        raise AssertionError("uwsgi-plugin-python3 is not installed")
    port = free_port()
    label = label or "uwsgi-%s-%s" % (proto, "shim" if shim else "plain")
    argv = [UWSGI, "--plugin", "python3", "--%s-socket" % proto, "127.0.0.1:%d" % port,
            "--wsgi-file", APP, "--master", "--processes", "1", "--die-on-term",
            "--disable-logging", "--buffer-size", "32768"]
    proc = Proc(t, argv, clean_env(shim, env), "%s.log" % label)
    if wait_listening(proc, port, 15) != "up":
        proc.stop()
        raise AssertionError("uwsgi did not start: %s" % proc.log_tail())
    return proc, port


def late_body_upload(port, size, delay=0.1, timeout=20):
    """One POST straight to an HTTP server: the head, then after `delay`
    the body of size bytes, then the answer to EOF. Returns "status N" and
    whether the answer said `Connection: close`, or the error's class."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n\r\n" % size)
        time.sleep(delay)
        s.sendall(body_of(size))
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        head = got.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        lines = head.split("\r\n")
        if not lines[0].startswith("HTTP/1."):
            return "other:no response"
        close = any(l.lower().startswith("connection:") and "close" in l.lower() for l in lines[1:])
        return "status %s%s" % (lines[0].split()[1], " close" if close else "")
    except Exception as e:  # noqa: BLE001 - classifying is the point
        return classify(e)
    finally:
        s.close()


@test("request_aware_uwsgi_http_socket", timeout=240, needs=(UWSGI,))
def test_uwsgi_http_socket(t):
    """uWSGI --http-socket answers 413 with keep-alive semantics (no
    `Connection: close`) and closes at once; the client sends the body
    100 ms after the head, so nothing is unread at the close. Without the
    shim the body meets a closed socket (reset); with it, the close lingers
    because the announced body was not consumed: 20/20 get the 413."""
    n, size = 20, 8 * MiB
    out = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        proc, port = start_uwsgi(t, "http", shim)
        out[shim] = collections.Counter(late_body_upload(port, size) for _ in range(n))
        proc.stop()
        t.note("%s shim: %s" % ("with" if shim else "without", fmt(out[shim])))
    if out[True].get("status 413", 0) != n:
        raise AssertionError("with the shim only %d/%d got the 413 | %s" % (
            out[True].get("status 413", 0), n, "; ".join(t.notes)))
    if out[False].get("status 413", 0) == n:
        raise AssertionError("did not reproduce: without the shim all got the 413 | " + "; ".join(t.notes))
    return "without: %d/%d failed %s; with: %d/%d 413 (keep-alive semantics)" % (
        n - out[False].get("status 413", 0), n, fmt(out[False]), n, n)


UWSGI_LOCATION = """\
            include /etc/nginx/uwsgi_params;
            uwsgi_pass backend;
            uwsgi_request_buffering {buffering};
            client_max_body_size 0;
            uwsgi_next_upstream off;"""

SCGI_LOCATION = """\
            include /etc/nginx/scgi_params;
            scgi_pass backend;
            scgi_request_buffering {buffering};
            client_max_body_size 0;
            scgi_next_upstream off;"""


def start_app_server(t, proto, shim):
    """The app server nginx talks proto to: uWSGI for uwsgi, the Perl SCGI
    server for scgi. Returns (Proc, port)."""
    if proto == "uwsgi":
        return start_uwsgi(t, proto, shim)
    if not os.path.exists("/usr/share/perl5/SCGI.pm"):
        raise AssertionError("libscgi-perl is not installed")
    srv = start_server(t, ["perl", SERVERS / "scgi_early413.pl", "--port", 0], shim=shim,
                       label="scgi-%s" % ("shim" if shim else "plain"))
    return srv.proc, srv.port


def nginx_app_case(t, proto, location, n=20, size=4 * MiB):
    """nginx in front of an app server speaking proto (uwsgi, scgi), with
    request buffering off and on: n uploads of size bytes with http.client
    each, without the shim, then with it. Returns the details line."""
    need("nginx")
    res = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        proc, port = start_app_server(t, proto, shim)
        for buffering in ("off", "on"):
            ng = start_nginx(t, "127.0.0.1:%d" % port, label="nginx-%s-%s-%s" % (proto, buffering, shim),
                             location=location.format(buffering=buffering))
            got = collections.Counter()
            for _ in range(n):
                got[upload_via(ng.port, size)] += 1
            small = upload_via(ng.port, 1000)
            ng.stop()
            res[(shim, buffering)] = got
            t.note("%s shim, buffering %s: %s, then a small POST: %s, nginx logged %d upstream errors" % (
                "with" if shim else "without", buffering, fmt(got), small, ng.upstream_errors()))
            if small != "status 200":
                raise AssertionError("a small POST got %s | %s" % (small, "; ".join(t.notes)))
        proc.stop()
    problems = []
    for buffering in ("off", "on"):
        if res[(True, buffering)].get("status 413", 0) != n:
            problems.append("with the shim, buffering %s: %d/%d 413" % (
                buffering, res[(True, buffering)].get("status 413", 0), n))
        if res[(False, buffering)].get("status 413", 0) == n:
            problems.append("did not reproduce without the shim, buffering %s" % buffering)
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return "; ".join("buffering %s: without %d/%d 413 %s, with %d/%d 413" % (
        b, res[(False, b)].get("status 413", 0), n, fmt(res[(False, b)]),
        res[(True, b)].get("status 413", 0), n) for b in ("off", "on"))


def upload_via(port, size, timeout=30):
    """One POST through nginx: head and body at once, then the answer."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.putrequest("POST", "/upload")
        c.putheader("Content-Type", "application/octet-stream")
        c.putheader("Content-Length", str(size))
        c.endheaders()
        c.send(body_of(size))
        r = c.getresponse()
        r.read()
        return "status %d" % r.status
    except Exception as e:  # noqa: BLE001
        return classify(e)
    finally:
        c.close()


@test("request_aware_nginx_uwsgi_pass", timeout=400, needs=(UWSGI, "nginx"))
def test_nginx_uwsgi(t):
    """nginx uwsgi_pass to uWSGI (how uWSGI is deployed), request
    buffering off and on: the app answers 413 without reading the body.
    Without the shim nginx's write of the body is reset and it answers 502;
    with it every upload gets the 413."""
    return nginx_app_case(t, "uwsgi", UWSGI_LOCATION)


@test("request_aware_nginx_scgi_pass", timeout=400, needs=("perl", "nginx"))
def test_nginx_scgi(t):
    """nginx scgi_pass to an SCGI server on Debian's SCGI library
    (libscgi-perl, tests/servers/scgi_early413.pl), buffering off and on:
    the same. Its answer starts with a CGI-style `Status: 413` line, which
    is no HTTP response to the response scanner: the request side alone
    makes the close linger. (uWSGI's --scgi-socket misreads CONTENT_LENGTH
    when nginx streams the body, with or without linger: not used here.)"""
    return nginx_app_case(t, "scgi", SCGI_LOCATION)


def keepalive_posts(port, n, size, timeout=10):
    """n POSTs of size bytes on one connection, each answer read; then the
    client closes. Counter of outcomes."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    out = collections.Counter()
    try:
        for _ in range(n):
            c.request("POST", "/small", body=body_of(size), headers={"Content-Type": "application/octet-stream"})
            r = c.getresponse()
            r.read()
            out["status %d" % r.status] += 1
    except Exception as e:  # noqa: BLE001
        out[classify(e)] += 1
    finally:
        c.close()
    return out


def keepalive_then_idle(port, n, size, idle, timeout=10):
    """n POSTs of size bytes on one connection, each answer read; then the
    client stays connected, idle, for `idle` seconds (the server's idle
    timeout closes its end meanwhile), then closes. Counter of outcomes,
    plus "server closed" when it saw the server's EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = collections.Counter()
    try:
        for _ in range(n):
            s.sendall(b"POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size + body_of(size))
            got = b""
            while b"\r\n\r\n" not in got or not got.endswith(b"bytes\n"):
                b = s.recv(65536)
                if not b:
                    break
                got += b
            out["status %s" % got[9:12].decode(errors="replace")] += 1
        s.settimeout(idle)
        try:
            if s.recv(1) == b"":
                out["server closed"] += 1
        except socket.timeout:
            pass
    except Exception as e:  # noqa: BLE001
        out[classify(e)] += 1
    finally:
        s.close()
    return out


@test("request_aware_keepalive_idle_close", timeout=60)
def test_keepalive_idle_close(t):
    """A keep-alive server that reads every body in full (Python's
    http.server): after 5 POSTs on one connection, its idle close does not
    linger - every body was consumed and every response keeps the
    connection - both when the client closed first and when the server's
    idle timeout closes a connection the client still holds. Then, on the
    same server, a body it does not read (413, which http.server marks
    close) does linger: the counter counts."""
    need_shim(t)
    st = t.path("stats-%p.prom")
    srv = py_legacy(t, shim=True, env={"LINGER_STATS": st}, label="py-keepalive")
    got = keepalive_posts(srv.port, 5, 30000)
    time.sleep(0.5)  # the server sees the EOF and closes its socket
    stats_file = str(st).replace("%p", str(srv.pid))
    # the stats file is rewritten on the drainer's tick; read it at exit
    srv.stop()
    idle = stats_of(stats_file).get("linger_lingered_total")
    t.note("5 POSTs of 30000 bytes on one connection, the client closes: %s; lingered: %s" % (fmt(got), idle))
    if got.get("status 200", 0) != 5:
        raise AssertionError("the POSTs failed | " + "; ".join(t.notes))
    if idle != 0:
        raise AssertionError("the idle close lingered | " + "; ".join(t.notes))
    srv = start_server(t, [PYTHON, SERVERS / "py_legacy.py", "--port", 0, "--idle-timeout", "0.3"], shim=True,
                       env={"LINGER_STATS": st}, label="py-idle-timeout")
    got = keepalive_then_idle(srv.port, 5, 30000, idle=1.5)
    srv.stop()
    timed_out = stats_of(str(st).replace("%p", str(srv.pid))).get("linger_lingered_total")
    t.note("5 POSTs, then the server's idle timeout closes: %s; lingered: %s" % (fmt(got), timed_out))
    if got.get("status 200", 0) != 5 or not got.get("server closed"):
        raise AssertionError("the POSTs failed or the server did not close | " + "; ".join(t.notes))
    if timed_out != 0:
        raise AssertionError("the idle timeout's close lingered | " + "; ".join(t.notes))
    srv = py_legacy(t, shim=True, env={"LINGER_STATS": st}, label="py-keepalive-413")
    big = keepalive_posts(srv.port, 1, 4 * MiB)
    time.sleep(0.5)
    srv.stop()
    control = stats_of(str(st).replace("%p", str(srv.pid))).get("linger_lingered_total")
    t.note("control: one 4 MiB POST it does not read: %s, lingered %s" % (fmt(big), control))
    if not control:
        raise AssertionError("the control did not linger: the counter proves nothing | " + "; ".join(t.notes))
    return "; ".join(t.notes)


PHP_FPM_CONF = """\
[global]
pid = {tmp}/php-fpm.pid
error_log = {tmp}/php-fpm.log
daemonize = no

[www]
user = {user}
listen = 127.0.0.1:{port}
pm = static
pm.max_children = 1
"""


def php_fpm_stop_time(t, shim, sig, label):
    """Starts php-fpm's master (and its one worker), waits until it
    listens, sends sig; returns (seconds from the signal to the master's
    exit, the master's stats)."""
    tmp = t.subdir(label)
    port = free_port()
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    (tmp / "php-fpm.conf").write_text(PHP_FPM_CONF.format(tmp=tmp, port=port, user=user))
    env = {"LINGER_MODE": "always", "LINGER_EXIT_WAIT": "2s", "LINGER_STATS": str(tmp / "stats-%p.prom")}
    argv = [PHP_FPM, "-F", "-n", "-y", tmp / "php-fpm.conf"] + (["-R"] if os.geteuid() == 0 else [])
    proc = Proc(t, argv, clean_env(shim, env if shim else None), "%s.log" % label)
    if wait_listening(proc, port, 15) != "up":
        proc.stop()
        raise AssertionError("php-fpm did not start: %s" % proc.log_tail())
    time.sleep(0.2)
    t0 = time.monotonic()
    os.kill(proc.pid, sig)
    proc.popen.wait(20)
    dt = time.monotonic() - t0
    proc.stop()
    return dt, stats_of(str(tmp / ("stats-%d.prom" % proc.pid)))


@test("request_aware_php_fpm_self_peer", timeout=120, needs=(PHP_FPM,))
def test_php_fpm(t):
    """php-fpm's master keeps an AF_UNIX socketpair for its signals, both
    ends its own. Under LINGER_MODE=always its exit must not hand that
    socket to a drainer and wait out LINGER_EXIT_WAIT (2 s here): a socket
    whose peer is the process itself never lingers. The master's stats
    show no lingered close, on SIGQUIT and on SIGTERM; the stop times with
    and without the shim are reported."""
    need_shim(t)
    rows = []
    for sig in (signal.SIGQUIT, signal.SIGTERM):
        plain, _ = php_fpm_stop_time(t, False, sig, "fpm-%s-plain" % sig.name)
        shimmed, st = php_fpm_stop_time(t, True, sig, "fpm-%s-shim" % sig.name)
        lingered = st.get("linger_lingered_total")
        rows.append((sig.name, plain, shimmed, lingered))
        t.note("%s: stops in %.3f s without the shim, %.3f s with it (always); master lingered %s" % (
            sig.name, plain, shimmed, lingered))
    bad = [r for r in rows if r[3] != 0]
    if bad:
        raise AssertionError("php-fpm's master lingered its own socketpair | " + "; ".join(t.notes))
    return "; ".join(t.notes)
