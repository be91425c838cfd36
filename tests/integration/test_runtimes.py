"""Servers in other runtimes that reject oversized uploads early: Python's
http.server (threading and forking) and Node's http module. Same comparison
as the direct-client tests: resets without the shim, 413 with it."""
from lib import direct_case, node_legacy, py_legacy, test


@test("python_threading_http_server", timeout=90)
def test_py_threading(t):
    """http.server ThreadingHTTPServer, send_error(413) without reading."""
    return direct_case(t, lambda shim: py_legacy(t, forking=False, shim=shim), 10)


@test("python_forking_http_server", timeout=90)
def test_py_forking(t):
    """socketserver.ForkingMixIn: the parent closes its copy right after
    fork, the child answers 413, closes and os._exit()s."""
    return direct_case(t, lambda shim: py_legacy(t, forking=True, shim=shim), 10)


@test("node_http_end", timeout=90, needs=("node",))
def test_node_end(t):
    """Node http: 413 with Connection: close via res.end(); Node then closes
    the socket itself."""
    return direct_case(t, lambda shim: node_legacy(t, shim=shim, reject="end"), 10)


@test("node_http_destroy", timeout=90, needs=("node",))
def test_node_destroy(t):
    """Node http: 413 via res.end(), then req.socket.destroy() once the
    response is written."""
    return direct_case(t, lambda shim: node_legacy(t, shim=shim, reject="destroy"), 10)
