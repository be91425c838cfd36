"""What a process wrote through stdio (whose writes no hook sees) counts as
its answer only if the stream really wrote something: a write-only stream
(stdout, stderr, fdopen(sock, "w")) that was never written is not an
answer, and neither is one whose bytes all went out before the process
forked a handler. tests/servers/stdio_fork.c is the host: it hands the
connection to a forked handler, inetd style (the socket is stdin and
stdout, and the parent returns from main) or through an fdopen'ed stream it
fcloses; the handler answers once the parent is done. The client must get
the same bytes with the shim as without. A control shows that an answer
written through stdio still lingers, flushed or not."""
import socket

from lib import BUILD, MiB, SANITIZE, Skip, clean_env, need_shim, recv_until_eof, spawn_inetd, start_server, test, wait_for

STDIO_FORK = BUILD / "tests" / "stdio_fork"
GREETING = b"220 ready\r\n"
REPLY = b"250 handler\r\n"
TRIES = 3


def talk(port):
    """Sends a line and reads to the server's EOF: the bytes, or the error's name."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"HELO x\r\n")
            return recv_until_eof(s)
    except OSError as e:
        return type(e).__name__


def inetd_run(t, args, client, shim, label):
    """A minimal inetd: accepts one connection, runs stdio_fork --inetd ARGS
    with it as fds 0 and 1 and closes its own copy; client(sock) runs on
    the client's side of it. Returns what client returned and the
    program's stderr (its handler's report)."""
    err = t.path("%s.err" % label)
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        cs = socket.create_connection(lsock.getsockname(), timeout=10)
        conn, _ = lsock.accept()
    with cs, open(err, "wb") as errf:
        proc = spawn_inetd([STDIO_FORK, "--inetd"] + args, conn, clean_env(shim), stderr=errf)
        try:
            got = client(cs)
        except OSError as e:
            got = type(e).__name__
        proc.wait(20)
    if "--answer" not in args:  # the handler reports once it has written, maybe after the EOF
        wait_for(lambda: "handler" in err.read_text(), 5)
    return got, err.read_text().strip()


def greet_and_read(s):
    s.sendall(b"HELO x\r\n")
    return recv_until_eof(s)


def no_fork_under_tsan():
    if "thread" in SANITIZE:
        raise Skip("ThreadSanitizer cannot start threads after a multi-threaded fork (the handler's drainer)")


def compare(t, got, want):
    """got: {shim: [outcomes]}. Without the shim every client gets want;
    with it, the same."""
    for shim in (False, True):
        t.note("%s shim: %s" % ("with" if shim else "without", sorted(set(map(repr, got[shim])))))
    if any(g != want for g in got[False]):
        raise AssertionError("no whole answer without the shim: " + "; ".join(t.notes))
    if any(g != want for g in got[True]):
        raise AssertionError("with the shim the client did not get what it got without: " + "; ".join(t.notes))
    return "; ".join(t.notes)


def inetd_case(greet):
    def fn(t):
        no_fork_under_tsan()
        got, reports = {}, {}
        for shim in (False, True):
            if shim:
                need_shim(t)
            runs = [inetd_run(t, ["--greet"] if greet else [], greet_and_read, shim, "%s-%d" % (shim, i))
                    for i in range(TRIES)]
            got[shim] = [g for g, _ in runs]
            reports[shim] = sorted(set(r for _, r in runs))
        t.note("the handler's write, without the shim: %s; with it: %s" % (reports[False], reports[True]))
        return compare(t, got, (GREETING if greet else b"") + REPLY)
    fn.__doc__ = ("inetd style: the socket is stdout, the process forks a handler and returns from main "
                  "%s. Its exit must not shut the socket down under the handler: the client gets the "
                  "handler's reply, as without the shim." % (
                      "after a greeting printf'ed and fflush'ed before the fork" if greet
                      else "without writing anything (stdout is write-only: __fwriting() is true)"))
    return fn


test("stdout_socket_unwritten_then_forked_handler_answers", timeout=120)(inetd_case(False))
test("stdout_greeting_flushed_before_fork_then_handler_answers", timeout=120)(inetd_case(True))


def fdopen_case(greet):
    def fn(t):
        no_fork_under_tsan()
        got = {}
        for shim in (False, True):
            if shim:
                need_shim(t)
            srv = start_server(t, [STDIO_FORK, "--fdopen"] + (["--greet"] if greet else []), shim=shim,
                               label="fdopen-%s" % shim)
            got[shim] = [talk(srv.port) for _ in range(TRIES)]
            srv.stop()
            t.note("%s shim, the handlers: %s" % (
                "with" if shim else "without",
                sorted(set(x for x in srv.proc.log.read_text().splitlines() if x.startswith("handler")))))
        return compare(t, got, (GREETING if greet else b"") + REPLY)
    fn.__doc__ = ("A server fdopen's each connection for writing, %sforks a handler and fcloses the "
                  "stream: the fclose must not shut the socket down under the handler." % (
                      "fprintf's and fflush'es a greeting on it, " if greet else "writes nothing, "))
    return fn


test("fdopen_unwritten_fclose_while_forked_handler_answers", timeout=120)(fdopen_case(False))
test("fdopen_greeting_flushed_before_fork_fclose_handler_answers", timeout=120)(fdopen_case(True))


@test("fork_child_exit_does_not_count_stdout_flushed_before_the_fork", timeout=120)
def test_child_exit(t):
    """A server puts each connection on stdout, printf's and fflush'es a
    greeting, forks a child that exit()s at once, then reads the client's
    line and answers itself. The child's exit must not take the parent's
    greeting, which its copy of stdout shows as written, for its own answer
    and shut the socket down under the parent."""
    no_fork_under_tsan()
    got = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        srv = start_server(t, [STDIO_FORK, "--dup2-stdout"], shim=shim, label="dup2-%s" % shim)
        got[shim] = [talk(srv.port) for _ in range(TRIES)]
        srv.stop()
        t.note("%s shim, the parent's writes: %s" % (
            "with" if shim else "without",
            sorted(set(x for x in srv.proc.log.read_text().splitlines() if x.startswith("handler")))))
    return compare(t, got, GREETING + REPLY)


LINE_AND_PAYLOAD = b"x" * 100 + b"\n" + b"y" * (16 * MiB)


def too_long_line(s):
    """Sends a line and 16 MiB after it (the server reads the line only),
    then reads the answer to the server's EOF."""
    s.sendall(LINE_AND_PAYLOAD)
    s.shutdown(socket.SHUT_WR)
    got = recv_until_eof(s)
    return "ok" if got == b"ERR line too long\n" else "answer %r" % got[:30]


def answer_case(how):
    def fn(t):
        got = {}
        for shim in (False, True):
            if shim:
                need_shim(t)
            got[shim] = [inetd_run(t, ["--answer", how], too_long_line, shim, "%s-%d" % (shim, i))[0]
                         for i in range(TRIES)]
            t.note("%s shim: %s" % ("with" if shim else "without", sorted(set(got[shim]))))
        if all(g == "ok" for g in got[False]):
            raise AssertionError("did not reproduce without the shim: " + "; ".join(t.notes))
        if any(g != "ok" for g in got[True]):
            raise AssertionError("the answer written through stdio did not linger: " + "; ".join(t.notes))
        return "; ".join(t.notes)
    fn.__doc__ = ("Control: inetd style, the answer is printf'ed to stdout (%s) and the process returns "
                  "from main with the client's bytes unread: without the shim the client is reset; "
                  "with it the socket lingers and the client sends all it had." % (
                      "and fflush'ed: nothing is pending at exit" if how == "flush" else "left to exit's flush"))
    return fn


test("stdout_answer_flushed_still_lingers", timeout=120)(answer_case("flush"))
test("stdout_answer_pending_at_exit_lingers", timeout=120)(answer_case("pending"))
