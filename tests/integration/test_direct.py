"""Python http.client uploading straight to legacy_server: without the shim
the early close resets the upload (BrokenPipeError / ConnectionResetError);
with it, every upload gets the 413. Once per server model."""
import collections

from lib import (MiB, RESETTING_UPLOAD, count_status, direct_case, failures, fmt, legacy, need_shim, parallel,
                 test, upload_once, uploads)


@test("direct_threads", timeout=90)
def test_direct_threads(t):
    """20 x 16 MiB to the thread-per-connection model."""
    return direct_case(t, lambda shim: legacy(t, "threads", shim=shim), 20)


def model_test(model):
    def fn(t):
        return direct_case(t, lambda shim: legacy(t, model, shim=shim), 10)
    fn.__doc__ = "10 x 16 MiB to the %s model." % model
    return fn


for _model in ("single", "fork", "prefork"):
    test("direct_model_%s" % _model, timeout=90)(model_test(_model))


def epoll_stats(srv, shim):
    st = srv.stats()
    note = "stale events %d, spurious wakeups %d" % (st["stale"], st["spurious"])
    if shim and (st["stale"] or st["spurious"]):
        raise AssertionError("epoll server saw events for fds it had closed with the shim "
                             "(%s): the shim keeps closed sockets in the app's epoll set" % note)
    return note


@test("direct_model_epoll", timeout=90)
def test_direct_epoll(t):
    """10 x 16 MiB to the epoll model; with the shim the event loop must not
    see events for fds it closed (stale/spurious counters stay 0)."""
    return direct_case(t, lambda shim: legacy(t, "epoll", shim=shim), 10, after=epoll_stats)


@test("epoll_concurrent_fd_reuse", timeout=120)
def test_epoll_concurrent(t):
    """8 clients at once against the epoll model, each alternating 1 MiB
    uploads (413) and small requests (200) on new connections, so fd numbers
    are reused while earlier sockets may still be lingering."""
    rounds = 6
    res = {}
    for shim in (False, True):
        side = "with" if shim else "without"
        if shim:
            need_shim(t)
        srv = legacy(t, "epoll", shim=shim)

        def client(i):
            c = collections.Counter()
            for r in range(rounds):
                c["big " + upload_once(srv, 1 * MiB)] += 1
                c["small " + upload_once(srv, 100)] += 1
            return c
        total = sum(parallel(client, [(i,) for i in range(8)]), collections.Counter())
        note = epoll_stats(srv, False)
        st = srv.stats()
        srv.stop()
        res[side] = (total, st)
        t.note("%s shim: %s, %s" % (side, fmt(total), note))
    n = 8 * rounds
    tw, sw = res["with"]
    tn, _ = res["without"]
    problems = []
    if tn.get("big status 413", 0) == n:
        problems.append("did not reproduce: every big upload got 413 without the shim")
    if tw.get("big status 413", 0) != n:
        problems.append("with shim %d/%d big uploads got 413" % (tw.get("big status 413", 0), n))
    if tw.get("small status 200", 0) != n or tn.get("small status 200", 0) != n:
        problems.append("small requests failed")
    if sw["stale"] or sw["spurious"]:
        problems.append("with shim the epoll loop saw %d stale events, %d spurious wakeups"
                        % (sw["stale"], sw["spurious"]))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return "without: %d/%d big got 413; with: %d/%d 413, %d/%d small 200, 0 stale events" % (
        tn.get("big status 413", 0), n, tw.get("big status 413", 0), n,
        tw.get("small status 200", 0), n)


def _stat(path, name):
    """A counter from the shim's LINGER_STATS file (Prometheus text), summed
    over its labels; None when the file or the counter is not there."""
    import re
    try:
        text = open(path).read()
    except OSError:
        return None
    vals = [int(m.group(1)) for m in re.finditer(
        r"^%s(?:\{[^}]*\})? (\d+)$" % re.escape(name), text, re.M)]
    return sum(vals) if vals else None


@test("modes_off_and_observe_change_nothing", timeout=90)
def test_modes(t):
    """Preloaded with LINGER_MODE=off or =observe the shim must not change
    what the client sees: uploads still fail as without it. Observe mode
    counts the closes it would have lingered (LINGER_STATS, written at exit);
    mode on with the same settings gets every 413."""
    n = 10
    res = {}
    need_shim(t)
    for mode in ("off", "observe", "on"):
        stats = t.path("stats-%s-%%p" % mode)
        srv = legacy(t, "threads", shim=True, env={"LINGER_MODE": mode, "LINGER_STATS": stats},
                     label="legacy-%s" % mode)
        got = uploads(srv, n, RESETTING_UPLOAD)
        pid = srv.pid
        srv.stop()
        path = str(stats).replace("%p", str(pid))
        would = _stat(path, "linger_observe_would_linger_total")
        lingered = _stat(path, "linger_lingered_total")
        res[mode] = (got, would, lingered)
        t.note("mode %s: %s, stats would_linger=%s lingered=%s" % (mode, fmt(got), would, lingered))
    problems = []
    for mode in ("off", "observe"):
        if failures(res[mode][0]) == 0:
            problems.append("LINGER_MODE=%s: no upload failed, so the shim still acted" % mode)
    if count_status(res["on"][0], 413) != n:
        problems.append("LINGER_MODE=on: only %d/%d got 413" % (count_status(res["on"][0], 413), n))
    if res["observe"][1] is not None and res["observe"][1] < failures(res["observe"][0]):
        problems.append("observe mode counted %s would-be lingers for %d failed uploads"
                        % (res["observe"][1], failures(res["observe"][0])))
    if res["on"][2] is not None and res["on"][2] < n:
        problems.append("mode on counted %s lingering closes for %d uploads" % (res["on"][2], n))
    if problems:
        raise AssertionError("; ".join(problems) + " | " + "; ".join(t.notes))
    return "off: %d/%d failed; observe: %d/%d failed, would_linger=%s; on: %d/%d 413, lingered=%s" % (
        failures(res["off"][0]), n, failures(res["observe"][0]), n, res["observe"][1],
        count_status(res["on"][0], 413), n, res["on"][2])
