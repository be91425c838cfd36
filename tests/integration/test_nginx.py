"""nginx (proxy_request_buffering off) in front of a legacy upstream that
answers 413 early and closes: without the shim nginx's writev() to the
upstream fails (reset by peer / broken pipe) and the client gets 502; with the
shim, every client gets the 413 and nginx logs nothing. The other requests
through the same nginx (GETs, small POSTs, keep-alive and not) are answered
exactly alike with and without the shim."""
import http.client

from lib import (MiB, body_of, count_status, curl_uploads, fmt, legacy, need_shim, start_nginx,
                 test, uploads)

# The other requests a user sends through the same nginx: (method, path,
# body size), on one keep-alive connection, then each on its own.
OTHER_REQUESTS = (("GET", "/", 0), ("GET", "/page?q=1", 0), ("POST", "/form", 1000),
                  ("POST", "/upload", 60000))


def other_requests(endpoint):
    """What nginx answers to OTHER_REQUESTS: [(status, content type, body)],
    first on one connection, then on a connection each."""
    def ask(conn, method, path, size):
        conn.request(method, path, body=body_of(size) if size else None)
        r = conn.getresponse()
        return (r.status, r.getheader("Content-Type"), r.read())
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    try:
        got = [ask(conn, *req) for req in OTHER_REQUESTS]
    finally:
        conn.close()
    for req in OTHER_REQUESTS:
        conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
        try:
            got.append(ask(conn, *req))
        finally:
            conn.close()
    return got


def nginx_case(t, n, size, unix):
    out = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        srv = legacy(t, "threads", shim=shim, unix=unix)
        ng = start_nginx(t, srv.upstream, label="nginx-%s" % side)
        codes = curl_uploads(ng.url + "upload", n, size, t)
        # The same through nginx with Python's http.client, which sends the
        # body in one sendall() and so keeps nginx busier still.
        py = uploads(ng.endpoint, n, size)
        others = other_requests(ng.endpoint)
        ng.stop()
        resets, errors = ng.resets(), ng.upstream_errors()
        srv.stop()
        out[side] = (codes, py, resets, errors, others)
        t.note("%s shim: curl %s, http.client %s, nginx log: %d 'reset by peer', "
               "%d upstream errors" % (side, fmt(codes), fmt(py), resets, errors))
        if not shim and codes.get("502", 0) + count_status(py, 502) == 0:
            raise AssertionError("did not reproduce: no 502 without the shim: " + t.notes[-1])
    codes, py, resets, errors, others = out["with"]
    problems = []
    if others != out["without"][4]:
        problems.append("the other requests were answered differently: without %r, with %r" % (
            out["without"][4], others))
    elif [o[0] for o in others] != [200] * len(others):
        problems.append("the other requests did not all get 200: %r" % others)
    if codes.get("413", 0) != n:
        problems.append("with shim curl got %d/%d 413" % (codes.get("413", 0), n))
    if count_status(py, 413) != n:
        problems.append("with shim http.client got %d/%d 413" % (count_status(py, 413), n))
    if resets or errors:
        problems.append("with shim nginx logged %d resets, %d upstream errors" % (resets, errors))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    wc, wp, wr, _, _ = out["without"]
    return ("without: curl %d/%d 502, http.client %d/%d 502, %d resets logged; "
            "with: curl %d/%d 413, http.client %d/%d 413, 0 resets logged; %d other requests "
            "answered alike" % (wc.get("502", 0), n, count_status(wp, 502), n, wr,
                                codes.get("413", 0), n, count_status(py, 413), n, len(others)))


@test("seed_nginx_threads", timeout=120, needs=("nginx", "curl"))
def test_seed(t):
    """The seed scenario: 20 x 4 MiB uploads through nginx to the threads
    model."""
    return nginx_case(t, 20, 4 * MiB, unix=False)


@test("nginx_unix_upstream", timeout=120, needs=("nginx", "curl"))
def test_unix(t):
    """Same, with the upstream on an AF_UNIX socket (nginx -> unix:path)."""
    return nginx_case(t, 20, 4 * MiB, unix=True)
