"""nginx (proxy_request_buffering off) in front of a legacy upstream that
answers 413 early and closes: without the shim nginx's writev() to the
upstream fails (reset by peer / broken pipe) and the client gets 502; with the
shim, every client gets the 413 and nginx logs nothing."""
from lib import (MiB, count_status, curl_uploads, fmt, legacy, need_shim, start_nginx,
                 test, uploads)


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
        ng.stop()
        resets, errors = ng.resets(), ng.upstream_errors()
        srv.stop()
        out[side] = (codes, py, resets, errors)
        t.note("%s shim: curl %s, http.client %s, nginx log: %d 'reset by peer', "
               "%d upstream errors" % (side, fmt(codes), fmt(py), resets, errors))
        if not shim and codes.get("502", 0) + count_status(py, 502) == 0:
            raise AssertionError("did not reproduce: no 502 without the shim: " + t.notes[-1])
    codes, py, resets, errors = out["with"]
    problems = []
    if codes.get("413", 0) != n:
        problems.append("with shim curl got %d/%d 413" % (codes.get("413", 0), n))
    if count_status(py, 413) != n:
        problems.append("with shim http.client got %d/%d 413" % (count_status(py, 413), n))
    if resets or errors:
        problems.append("with shim nginx logged %d resets, %d upstream errors" % (resets, errors))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    wc, wp, wr, _ = out["without"]
    return ("without: curl %d/%d 502, http.client %d/%d 502, %d resets logged; "
            "with: curl %d/%d 413, http.client %d/%d 413, 0 resets logged" % (
                wc.get("502", 0), n, count_status(wp, 502), n, wr,
                codes.get("413", 0), n, count_status(py, 413), n))


@test("seed_nginx_threads", timeout=120, needs=("nginx", "curl"))
def test_seed(t):
    """The seed scenario: 20 x 4 MiB uploads through nginx to the threads
    model."""
    return nginx_case(t, 20, 4 * MiB, unix=False)


@test("nginx_unix_upstream", timeout=120, needs=("nginx", "curl"))
def test_unix(t):
    """Same, with the upstream on an AF_UNIX socket (nginx -> unix:path)."""
    return nginx_case(t, 20, 4 * MiB, unix=True)
