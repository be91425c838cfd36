"""Servers in other runtimes that reject oversized uploads early: Python's
http.server (threading and forking) and Node's http module. Same comparison
as the direct-client tests: resets without the shim, 413 with it."""
import struct

from lib import BUILD, PRELOAD_FIRST, SHIM, direct_case, node_legacy, py_legacy, test

COUNT_SYSCALL = BUILD / "tests" / "libcount_syscall.so"


@test("python_threading_http_server", timeout=90)
def test_py_threading(t):
    """http.server ThreadingHTTPServer, send_error(413) without reading."""
    return direct_case(t, lambda shim: py_legacy(t, forking=False, shim=shim), 10)


@test("python_forking_http_server", timeout=90)
def test_py_forking(t):
    """socketserver.ForkingMixIn: the parent closes its copy right after
    fork, the child answers 413, closes and os._exit()s."""
    return direct_case(t, lambda shim: py_legacy(t, forking=True, shim=shim), 10)


def node_case(t, reject):
    """direct_case for Node, with tests/servers/libcount_syscall.so ahead of
    the shim: its count shows that libuv closed the connections through
    syscall(SYS_close), the path the shim must interpose."""
    counter = t.path("syscall-close-count")

    def start(shim):
        env = None
        if shim:
            env = {"LD_PRELOAD": " ".join(PRELOAD_FIRST + [str(COUNT_SYSCALL), str(SHIM)]),
                   "COUNT_SYSCALL_FILE": counter}
        return node_legacy(t, shim=shim, env=env, reject=reject)

    def closes_through_syscall(srv, shim):
        if not shim:
            return None
        n = struct.unpack("Q", counter.read_bytes()[:8])[0] if counter.exists() else 0
        if n < 10:
            raise AssertionError("only %d closes went through syscall(SYS_close): %s" % (n, "; ".join(t.notes)))
        return "%d closes through syscall(SYS_close)" % n
    return direct_case(t, start, 10, after=closes_through_syscall)


@test("node_http_end", timeout=90, needs=("node",))
def test_node_end(t):
    """Node http: 413 with Connection: close via res.end(); Node then closes
    the socket itself, through syscall(SYS_close) (counted)."""
    return node_case(t, "end")


@test("node_http_destroy", timeout=90, needs=("node",))
def test_node_destroy(t):
    """Node http: 413 via res.end(), then req.socket.destroy() once the
    response is written; the close goes through syscall(SYS_close) (counted)."""
    return node_case(t, "destroy")
