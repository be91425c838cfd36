"""What the app can see of linger besides the missing resets: the symbols
it exports, configuration errors, epoll sets after dup2, fds across exec and
fork, and children that share the app's memory."""
import re
import os
import subprocess
import threading
from pathlib import Path

from lib import (BUILD, REPO, MiB, PYTHON, SHIM, clean_env, count_status, fmt, need_shim, one_shot_uploads, start_server,
                 test, upload_once)

EPOLL_DUP2 = BUILD / "tests" / "epoll_dup2"
EPOLL_CLOSED_NUMBER = BUILD / "tests" / "epoll_closed_number"

BAD_VALUES = {
    "LINGER_MODE": "sometimes",
    "LINGER_TIMEOUT": "5 seconds",
    "LINGER_TIME": "-1",
    "LINGER_EXIT_WAIT": "1.5s",
    "LINGER_MAX_BYTES": "12q",
    "LINGER_MAX_SOCKETS": "0",
    "LINGER_LOG": "loud",
}


# What the library may export: the calls it interposes, as shim/exports.map
# declares them (the link uses that list as its version script), nothing of
# its own.
EXPORTS_MAP = REPO / "shim" / "exports.map"


def strip_c(text):
    """C source (or a version script) without its comments and string and
    character literals (each kept as an empty literal), so that a name in
    them is not taken for code; a comment keeps its line breaks."""
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                  lambda m: " " + "\n" * m.group(0).count("\n") if m.group(0).startswith("/") else m.group(0)[0] * 2,
                  text, flags=re.S)


def interposed_names():
    """The names shim/exports.map exports: its global: section."""
    text = strip_c(EXPORTS_MAP.read_text())
    m = re.search(r"global:(.*?)local:", text, re.S)
    if not m:
        raise AssertionError("%s has no global: ... local: section" % EXPORTS_MAP)
    return {name.strip() for name in m.group(1).split(";") if name.strip()}


INTERPOSED = interposed_names()

# The one deliberate call of an interposed name outside the hook files: its
# function, its file, the name (see the function's comment).
INTERPOSED_ON_PURPOSE = ("close_seen_by_interposers", "ownfd.c", "close")


@test("exports_only_the_interposed_calls", timeout=30)
def test_exports(t):
    """The shared library's dynamic symbol table defines the interposed libc
    calls and nothing else: none of linger's own functions can collide with
    the host's or another library's."""
    need_shim(t)
    r = subprocess.run(["nm", "-D", "--defined-only", str(SHIM)], capture_output=True, text=True, timeout=30)
    names = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
    if names != INTERPOSED:
        raise AssertionError("extra: %s; missing: %s" % (sorted(names - INTERPOSED), sorted(INTERPOSED - names)))
    return "%d symbols, all interposed calls" % len(names)


@test("shim_calls_no_interposed_name_bare", timeout=30)
def test_no_bare_interposed_calls(t):
    """No file in shim/ but the hook files (hooks_*.c) calls an interposed
    name (shim/exports.map) bare: each goes through real_NAME() or real.NAME,
    or it would run linger's own hook from inside linger (or miss the raw
    fallback before resolution). The one deliberate case has a function of
    its own, named in INTERPOSED_ON_PURPOSE; the check fails when that
    function is gone too, so that the exception cannot outlive its reason."""
    func, home, name = INTERPOSED_ON_PURPOSE
    calls = re.compile(r"(?<![\w.>])(%s)\s*\(" % "|".join(sorted(map(re.escape, INTERPOSED))))
    found, allowed = [], 0
    for path in sorted((REPO / "shim").glob("*.[ch]")):
        if path.name.startswith("hooks_"):
            continue
        text = strip_c(path.read_text())
        if path.name == home:
            body = re.compile(r"\b%s\s*\([^)]*\)\s*\{(?:[^{}]|\{[^{}]*\})*\}" % func)
            allowed = len(re.findall(r"(?<![\w.>])%s\s*\(" % name, "".join(body.findall(text))))
            text = body.sub(" ", text)
        for m in calls.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append("%s:%d: %s()" % (path.relative_to(REPO), line, m.group(1)))
    if found:
        raise AssertionError("interposed names called bare outside the hooks: %s" % "; ".join(found))
    if allowed != 1:
        raise AssertionError("%s in shim/%s should call %s() once, calls it %d times" % (func, home, name, allowed))
    return "%d interposed names, no bare call outside the hooks but %s's %s()" % (len(INTERPOSED), func, name)


def shim_includes():
    """{module: modules it includes}, a module being a shim/ file's name
    without .c or .h (shim/x.c and shim/x.h are module x)."""
    graph = {}
    for path in sorted((REPO / "shim").glob("*.[ch]")):
        deps = graph.setdefault(path.stem, set())
        deps.update(m for m in re.findall(r'^#include "(\w+)\.h"', re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.S), re.M)
                    if m != path.stem)
    return graph


def include_cycle(graph):
    """A cycle in graph as a list of modules (first == last), or None."""
    state = {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                return path[path.index(d):] + [d]
            if d not in state:
                found = visit(d, path + [d])
                if found:
                    return found
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


@test("shim_includes_point_down", timeout=30)
def test_includes_point_down(t):
    """The arrows between shim/ files go down (HACKING.md, "Layers"): no
    file includes, directly or not, one that includes it. A cycle is
    printed, so that its upward arrow can be found."""
    graph = shim_includes()
    cycle = include_cycle(graph)
    if cycle:
        raise AssertionError("an include cycle in shim/: %s" % " -> ".join(cycle))
    return "%d modules, %d arrows, no cycle" % (len(graph), sum(map(len, graph.values())))


@test("config_bad_values_one_line_each", timeout=60)
def test_bad_values(t):
    """Each bad LINGER_* value: exactly one line on stderr naming the
    variable and the value; the host's output and exit status unchanged; the
    banner shows the default in force."""
    need_shim(t)
    for var, value in BAD_VALUES.items():
        r = subprocess.run(["/bin/sh", "-c", "echo out; exit 3"], capture_output=True, text=True,
                           timeout=10, env=clean_env(True, {var: value}))
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        if r.returncode != 3 or r.stdout != "out\n":
            raise AssertionError("%s=%s changed the host: status %d, stdout %r" % (var, value, r.returncode, r.stdout))
        if len(lines) != 1 or var not in lines[0] or value not in lines[0] or not lines[0].startswith("linger["):
            raise AssertionError("%s=%s: expected one line naming it, got %r" % (var, value, lines))
    r = subprocess.run(["/bin/true"], capture_output=True, text=True, timeout=10,
                       env=clean_env(True, {"LINGER_TIME": "abc", "LINGER_LOG": "info"}))
    if "time=30000ms" not in r.stderr:
        raise AssertionError("the default was not used: %r" % r.stderr)
    # a value with control bytes in it still makes one line ('?' for each)
    r = subprocess.run(["/bin/true"], capture_output=True, text=True, timeout=10,
                       env=clean_env(True, {"LINGER_MODE": "on\nlinger[1]: info: forged\r"}))
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    if len(lines) != 1 or "'on?linger[1]: info: forged?'" not in lines[0]:
        raise AssertionError("a value with a newline: expected one line, got %r" % lines)
    return "%d variables and a value with a newline: one line each, host unchanged, defaults used" % len(
        BAD_VALUES)


def sender(port, stop):
    """A client that sends a request head and then keeps sending body bytes."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        chunk = b"x" * 16384
        while not stop.is_set():
            try:
                s.sendall(chunk)
            except OSError:
                return


@test("epoll_set_after_dup2_over_lingering_socket", timeout=60)
def test_epoll_dup2(t):
    """dup2 over a socket that lingers: the app's epoll set holds no
    registration for the old socket: adding the number again succeeds (no
    EEXIST, no other error) and no event arrives for the number while the
    client keeps sending."""
    out, adds = {}, {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        srv = start_server(t, [EPOLL_DUP2], shim=shim, label="epoll-dup2-%s" % shim)
        stop = threading.Event()
        th = threading.Thread(target=sender, args=(srv.port, stop), daemon=True)
        th.start()
        srv.proc.popen.wait(20)
        stop.set()
        th.join(5)
        text = srv.proc.log.read_text()
        m = re.search(r"events-for-replaced-number (\d+)", text)
        if not m:
            raise AssertionError("epoll_dup2 %s shim failed: %r" % ("with" if shim else "without", text[-500:]))
        out[shim] = int(m.group(1))
        add = re.search(r"second-add (-?\d+) errno (\S+)", text)
        adds[shim] = add.group(0) if add else "no second-add line in %r" % text[-300:]
    if adds[True] != "second-add 0 errno 0" or adds[False] != "second-add 0 errno 0":
        raise AssertionError("adding the number again: without the shim %s; with it %s" % (adds[False], adds[True]))
    if out[True] != 0 or out[False] != 0:
        raise AssertionError("events for the replaced number: without %d, with %d" % (out[False], out[True]))
    return "second EPOLL_CTL_ADD 0 and 0 events for the replaced number with and without the shim"


# epoll_closed_number's cases whose registration outlives the number it was
# made through (the last close must be plain); the others may linger.
ORPHANED_REGISTRATION = ("dup-registered", "first-registered", "dup2-over", "dup-closed-unseen")


def epoll_closed_number(shim):
    r = subprocess.run([str(EPOLL_CLOSED_NUMBER)], capture_output=True, text=True, timeout=30,
                       env=clean_env(shim))
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^(\S+) registrations (\d+) events (-?\d+) data (\S+) held (\d+)$", r.stdout, re.M)}
    if r.returncode != 0 or len(rows) < 5:
        raise AssertionError("epoll_closed_number %s shim exited %d: %r %r" % (
            "with" if shim else "without", r.returncode, r.stdout[-500:], r.stderr[-500:]))
    return rows


@test("epoll_registration_through_a_closed_duplicate", timeout=60)
def test_epoll_closed_number(t):
    """A socket added to an epoll set through one of its numbers, that
    number closed while another still held the socket (dup then close, the
    original closed first, dup2 over the duplicate, a raw close of it), then
    the last number closed after an early 413: the kernel keeps such a
    registration until the file is released, and no number is left to
    remove it by. The app's epoll set must end as without the shim: no
    registration left and no event (with the app's data) from epoll_wait;
    those closes are plain (nothing holds the socket), while a registration
    the app removed, or one made through the last number, still lets the
    close linger."""
    res = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        res[shim] = epoll_closed_number(shim)
        t.note("%s shim: %s" % ("with" if shim else "without", "; ".join(
            "%s regs %s events %s data %s held %s" % ((k,) + v) for k, v in res[shim].items())))
    if set(res[True]) != set(res[False]):
        raise AssertionError("different cases ran: " + "; ".join(t.notes))
    bad = [k for k, v in res[False].items() if v[:3] != ("0", "0", "0") or v[3] != "0"]
    if bad:
        raise AssertionError("without the shim the set was not empty for %s: %s" % (bad, t.notes[0]))
    differ = [k for k in res[True] if res[True][k][:3] != res[False][k][:3]]
    if differ:
        raise AssertionError("the epoll set differs with the shim for %s: %s" % (differ, "; ".join(t.notes)))
    held = {k: v[3] for k, v in res[True].items()}
    wrong = [k for k, h in held.items() if h != ("0" if k in ORPHANED_REGISTRATION else "1")]
    if wrong:
        raise AssertionError("with the shim, what still holds the socket after the close is wrong for %s "
                             "(0 expected where a registration was left behind, 1 elsewhere): %s"
                             % (wrong, t.notes[-1]))
    return "%d cases: 0 registrations and 0 events with and without the shim; with it, %d plain closes " \
        "(a registration outlived its number) and %d lingering" % (
            len(held), sum(h == "0" for h in held.values()), sum(h == "1" for h in held.values()))


SYSCALL_PASSTHROUGH = BUILD / "tests" / "syscall_passthrough"


@test("syscall_other_numbers_pass_through", timeout=60)
def test_syscall_passthrough(t):
    """syscall() with numbers linger does not handle goes through untouched,
    with all six arguments and the kernel's errno: getpid; mmap of a file
    page by its offset (the sixth argument); pread64; splice and
    copy_file_range (six arguments each, offsets moved); -1 (ENOSYS), a bad
    fd (EBADF), an unaligned mmap offset (EINVAL). Every check passes without
    the shim (the expected values are the kernel's) and with it, where the
    program's syscall() is the shim's."""
    res = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        r = subprocess.run([str(SYSCALL_PASSTHROUGH), str(t.tmp)], capture_output=True, text=True, timeout=20,
                           env=clean_env(shim))
        lines = r.stdout.splitlines()
        oks = [x for x in lines if x.startswith("ok ")]
        provider = next((x.split(" from ", 1)[1] for x in lines if x.startswith("syscall() from ")), "?")
        t.note("%s shim: %d checks ok, status %d, syscall() from %s" % (
            "with" if shim else "without", len(oks), r.returncode, provider))
        res[shim] = (r.returncode, oks, [x for x in lines if x.startswith("FAIL")] + r.stderr.splitlines(), provider)
    for shim in (False, True):
        status, oks, bad, provider = res[shim]
        if status != 0 or len(oks) != 8:
            raise AssertionError("%s the shim: status %d, %s" % ("with" if shim else "without", status, bad))
    if Path(res[True][3]).resolve() != SHIM or Path(res[False][3]).resolve() == SHIM:
        raise AssertionError("syscall() came from %s with the shim, %s without" % (res[True][3], res[False][3]))
    return "; ".join(t.notes)


FD_PROBE = r'''
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_error(413)          # early answer; the body stays unread
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write("%d\n" % srv.server_address[1])
srv.handle_request()                  # one upload: its close lingers
srv.server_close()
if os.fork() == 0:                    # the child's fds, then the exec'd image's
    print("child:", sorted(int(x) for x in os.listdir("/proc/self/fd")), flush=True)
    os._exit(0)
os.wait()
os.execv("/bin/sh", ["sh", "-c", "echo exec: $(ls /proc/$$/fd | sort -n | tr '\\n' ' ')"])
'''


@test("exec_and_fork_drop_shim_fds", timeout=60)
def test_exec_fork(t):
    """After a lingering close, a forked child holds none of the shim's fds
    (it drops its copies), and an exec'd image starts with none either
    (close-on-exec); the upload still got its 413."""
    need_shim(t)
    probe = t.path("probe.py")
    probe.write_text(FD_PROBE)
    port_file = t.path("probe.port")
    p = subprocess.Popen([PYTHON, str(probe), str(port_file)], stdout=subprocess.PIPE, text=True,
                         env=clean_env(True))
    try:
        from lib import wait_for, Endpoint
        if not wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 10):
            raise AssertionError("the probe server did not start")
        got = upload_once(Endpoint(port=int(port_file.read_text())), 4 * MiB)
        out, _ = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    child = re.search(r"child: \[([\d, ]*)\]", out)
    execd = re.search(r"exec: ([\d ]*)", out)
    if got != "status 413" or not child or not execd:
        raise AssertionError("upload %s; probe output %r" % (got, out))
    child_fds = [int(x) for x in child.group(1).replace(",", " ").split()]
    exec_fds = [int(x) for x in execd.group(1).split()]
    if any(fd > 255 for fd in child_fds) or any(fd > 255 for fd in exec_fds):
        raise AssertionError("shim fds leaked: child %s, exec %s" % (child_fds, exec_fds))
    return "413 received; child fds %s; exec'd fds %s" % (child_fds, exec_fds)


VFORK_CHILD = BUILD / "tests" / "vfork_child"


def memory_sharing_child(how):
    def fn(t):
        runs = one_shot_uploads(t, [VFORK_CHILD] + (["--clone"] if how == "clone" else []), how)
        if count_status(runs[False], 413) == 3:
            raise AssertionError("did not reproduce without the shim: %s" % fmt(runs[False]))
        if count_status(runs[True], 413) != 3:
            raise AssertionError("with the shim: %s (without: %s)" % (fmt(runs[True]), fmt(runs[False])))
        return "without: %s; with: 3/3 413" % fmt(runs[False])
    fn.__doc__ = ("A %s child dup2()s the answered socket onto stdout and closes it before exec, in its "
                  "parent's memory; the parent's later close must still linger (413 arrives)." %
                  ("vfork" if how == "vfork" else "clone(CLONE_VM | CLONE_VFORK)"))
    return fn


test("vfork_child_leaves_parent_table_alone", timeout=60)(memory_sharing_child("vfork"))
test("clone_vm_child_leaves_parent_table_alone", timeout=60)(memory_sharing_child("clone"))

VFORK_OUTBOUND = BUILD / "tests" / "vfork_outbound"


@test("vfork_child_close_leaves_parent_outbound_alone", timeout=60)
def test_vfork_outbound(t):
    """A vfork child closes the number of its parent's outbound connection
    (one linger never lingers) before exiting; the parent then closes it
    with a response unread. The other side must read the same thing with
    and without the shim (a reset): the child's close, in the parent's
    memory, must not make the shim forget what that number is."""
    seen = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        for args in (["--no-child"], []):
            r = subprocess.run([str(VFORK_OUTBOUND)] + args, capture_output=True, text=True, timeout=20,
                               env=clean_env(shim))
            seen[shim, bool(args)] = r.stdout.strip() if r.returncode == 0 else "exit %d" % r.returncode
    t.note("without the shim: %s / %s (no child / vfork child); with: %s / %s" % (
        seen[False, True], seen[False, False], seen[True, True], seen[True, False]))
    if seen[False, False] != "Connection reset by peer":
        raise AssertionError("did not reproduce the reset without the shim: " + t.notes[-1])
    if seen[True, False] != seen[False, False] or seen[True, True] != seen[False, True]:
        raise AssertionError("the shim changed how the connection ends: " + t.notes[-1])
    return t.notes[-1]


HANDLERLESS_CHILD = BUILD / "tests" / "handlerless_child"
HANDLERLESS_WAYS = ("_Fork", "clone", "sysfork", "__vfork", "__clone")


@test("child_without_fork_handlers_leaves_parent_socket_alone", timeout=60)
def test_handlerless_child(t):
    """A child made without fork handlers (_Fork, clone without CLONE_VM,
    syscall(SYS_fork), __vfork, __clone) closes its copy of a keep-alive
    connection; the parent then answers the next request. The child's close
    must not linger (shut down) the parent's socket: both answers arrive,
    with and without the shim (a shim that lingers there kills the parent
    with SIGPIPE: 141)."""
    res = {}
    for shim in (False, True):
        if shim:
            need_shim(t)
        res[shim] = {how: subprocess.run([str(HANDLERLESS_CHILD), how], capture_output=True, timeout=20,
                                         env=clean_env(shim)).returncode for how in HANDLERLESS_WAYS}
        t.note("%s shim: %s" % ("with" if shim else "without", res[shim]))
    if any(res[False].values()):
        raise AssertionError("the program itself failed: " + "; ".join(t.notes))
    if any(res[True].values()):
        raise AssertionError("the shim changed what the parent could send: " + "; ".join(t.notes))
    return "5 ways, both answers with and without the shim"


EXEC_FAMILY = BUILD / "tests" / "exec_family"
EXEC_CALLS = ("l", "lp", "le", "v", "vp", "vpe", "ve", "fexecve", "execveat", "fail")


@test("exec_family_passes_arguments_environment_and_errno", timeout=60)
def test_exec_family(t):
    """Every exec call linger interposes (execl, execlp, execle, execv,
    execvp, execvpe, execve, fexecve, execveat) runs the new image with the
    same arguments (an empty one and one with a space among them) and
    environment as without the shim, and a failed one returns -1 with the
    same errno."""
    out = {}
    for shim in (False, True):
        env = clean_env(shim, {"PATH": "%s:%s" % (EXEC_FAMILY.parent, os.environ.get("PATH", ""))})
        out[shim] = [subprocess.run([str(EXEC_FAMILY), how], capture_output=True, text=True, timeout=10,
                                    env=env).stdout for how in EXEC_CALLS]
    for how, a, b in zip(EXEC_CALLS, out[False], out[True]):
        if a != b or not a:
            raise AssertionError("%s: without the shim %r, with it %r" % (how, a, b))
    return "%d calls: the same output with and without the shim" % len(EXEC_CALLS)
