#!/usr/bin/python3
"""Integration tests for linger: real servers and clients, with and without
the shim, in the same run.

    /usr/bin/python3 tests/integration/run.py [--keep] [name-filter...]

A test runs when its name contains any of the filters (all run without
filters). Each prints "PASS name (details)", "FAIL name: reason" or
"SKIP name: reason"; the last line is "N passed, N failed" (", N skipped" when
some were skipped). Exit status 1 if any failed. --keep keeps the temp dirs
(server logs, nginx error logs) of failed tests.
"""
import importlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lib  # noqa: E402


def load_tests():
    for f in sorted(HERE.glob("test_*.py")):
        importlib.import_module(f.stem)
    return lib.TESTS


def on_alarm(signum, frame):
    raise lib.TestTimeout()


def run_one(t, keep):
    ctx = lib.Ctx(t["name"])
    failed = True
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(t["timeout"])
    t0 = time.monotonic()
    try:
        for b in t["needs"]:
            lib.need(b)
        details = t["fn"](ctx)
        failed = False
        return "PASS", details or ""
    except lib.Skip as e:
        failed = False
        return "SKIP", str(e)
    except lib.TestTimeout:
        notes = ("; so far: " + "; ".join(ctx.notes)) if ctx.notes else ""
        return "FAIL", "timed out after %ds%s" % (t["timeout"], notes)
    except AssertionError as e:
        return "FAIL", str(e) or "assertion failed"
    except Exception as e:  # noqa: BLE001
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        return "FAIL", "%s: %s\n%s" % (type(e).__name__, e, "".join(tb[-3:]).rstrip())
    finally:
        signal.alarm(0)
        try:
            ctx.cleanup(keep=keep and failed)
        except lib.TestTimeout:
            pass
        if keep and failed:
            print("      (kept %s)" % ctx.tmp, flush=True)
        ctx.elapsed = time.monotonic() - t0


def on_term(signum, frame):
    # Unwinds through run_one's finally, which stops the test's processes.
    raise SystemExit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, on_term)
    keep = "--keep" in argv
    filters = [a for a in argv if a != "--keep"]
    os.chdir(lib.REPO)
    tests = load_tests()
    if filters:
        tests = [t for t in tests if any(f in t["name"] for f in filters)]
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    t_all = time.monotonic()
    for t in tests:
        t0 = time.monotonic()
        if lib.SANITIZE and t["name"].startswith("wrapper_"):
            verdict, details = "SKIP", "linger-run preloads the library alone, not a sanitizer runtime"
        else:
            verdict, details = run_one(t, keep)
        dt = time.monotonic() - t0
        counts[verdict] += 1
        if verdict == "PASS":
            print("PASS %s (%s; %.1fs)" % (t["name"], details, dt), flush=True)
        else:
            print("%s %s: %s" % (verdict, t["name"], details), flush=True)
    print("# total %.1fs" % (time.monotonic() - t_all), flush=True)
    if lib.SANITIZE:
        reports = sorted(lib.SAN_REPORTS.glob("report*")) if lib.SAN_REPORTS.exists() else []
        counts["FAIL" if reports else "PASS"] += 1
        if reports:
            print("FAIL sanitizer_reports: %d report file(s) from -fsanitize=%s:" % (len(reports), lib.SANITIZE))
            for r in reports[:5]:
                print("---- %s\n%s" % (r, r.read_text(errors="replace")[:4000]))
        else:
            print("PASS sanitizer_reports (no -fsanitize=%s report from any process under the shim)"
                  % lib.SANITIZE, flush=True)
    line = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        line += ", %d skipped" % counts["SKIP"]
    print(line, flush=True)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
