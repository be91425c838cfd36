"""scripts/linger-run, the wrapper: LD_PRELOAD kept in order, options checked
as the library checks them, exec (PID, exit status, signals, PID 1 of a PID
namespace), the refusals (static, setuid/setgid/capabilities, wrong libc or
architecture, paths with spaces), the od-only ELF reader under busybox,
make install/uninstall, and the musl build fixing a musl server.

The wrapper runs under dash (Debian's /bin/sh) and, where installed, under
busybox sh (Alpine's shell)."""
import os
import shutil
import signal
import stat
import subprocess
import time

from lib import (BUILD, LEGACY, REPO, SHIM, Proc, Skip, clean_env, direct_case, legacy,
                 need, need_shim, start_server, test, wait_for)

WRAPPER = REPO / "scripts" / "linger-run"
MUSL_SHIM = BUILD / "liblinger-musl.so"
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'


# ---------------------------------------------------------------- helpers

def shells():
    """The shells to run the wrapper with: dash always, busybox sh if there."""
    out = [["dash"]]
    if shutil.which("busybox"):
        out.append(["busybox", "sh"])
    return out


def sh_name(shell):
    return " ".join(shell)


def run(args, shell=("dash",), env=None, extra_env=None, wrapper=WRAPPER, timeout=30,
        cwd=None, pre=()):
    """Runs the wrapper with args; returns CompletedProcess (text)."""
    e = clean_env() if env is None else env
    if extra_env:
        e = dict(e, **extra_env)
    argv = list(pre) + list(shell) + [str(wrapper)] + [str(a) for a in args]
    argv[0] = shutil.which(argv[0]) or argv[0]  # found in our PATH, not the test's
    if pre:
        i = len(pre)
        argv[i] = shutil.which(argv[i]) or argv[i]
    return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout,
                          cwd=str(cwd or REPO), stdin=subprocess.DEVNULL)


def one_line(r, what):
    lines = r.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("linger-run: "):
        raise AssertionError("%s: want one 'linger-run: ...' line on stderr, got %r"
                             % (what, r.stderr))
    return lines[0]


def expect(r, status, what):
    if r.returncode != status:
        raise AssertionError("%s: exit status %s, want %s (stdout %r, stderr %r)"
                             % (what, r.returncode, status, r.stdout[-600:], r.stderr[-600:]))


def cc(ctx, name, src, *flags, compiler="gcc"):
    """Compiles src (C text) into ctx's temp dir; returns the path."""
    c = ctx.path(name + ".c")
    c.write_text(src)
    out = ctx.path(name)
    r = subprocess.run([compiler, "-o", str(out), str(c)] + list(flags),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("%s %s failed: %s" % (compiler, " ".join(flags), r.stderr[-800:]))
    return out


_musl_built = []


def build_musl_shim():
    """make musl (once per run): build/liblinger-musl.so."""
    need("musl-gcc")
    if not _musl_built:
        r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "musl"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not MUSL_SHIM.exists():
            raise AssertionError("make musl failed: %s" % (r.stdout + r.stderr)[-1500:])
        _musl_built.append(True)
    return MUSL_SHIM


def musl_program(ctx, name="hello-musl", src=HELLO_C, flags=()):
    """A dynamically linked musl program; checks its ELF interpreter is musl's
    loader and that the loader is installed."""
    need("musl-gcc")
    prog = cc(ctx, name, src, *flags, compiler="musl-gcc")
    interp = elf_interp(prog)
    if interp != MUSL_LOADER:
        raise AssertionError("musl-gcc built %s with interpreter %r, want %s" % (name, interp, MUSL_LOADER))
    if not os.path.exists(MUSL_LOADER):
        raise AssertionError("%s is missing (Debian: the musl package)" % MUSL_LOADER)
    return prog


def elf_interp(path):
    """PT_INTERP of an ELF file, read here in Python (independent of the
    wrapper's reader), or None."""
    import struct
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF":
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 32)
        phes, phn = struct.unpack_from(end + "HH", data, 54)
    else:
        phoff, = struct.unpack_from(end + "I", data, 28)
        phes, phn = struct.unpack_from(end + "HH", data, 42)
    for i in range(phn):
        o = phoff + i * phes
        ptype, = struct.unpack_from(end + "I", data, o)
        if ptype == 3:
            off, size = (struct.unpack_from(end + "Q", data, o + 8)[0],
                         struct.unpack_from(end + "Q", data, o + 32)[0]) if is64 else \
                        (struct.unpack_from(end + "I", data, o + 4)[0],
                         struct.unpack_from(end + "I", data, o + 16)[0])
            return data[off:off + size].split(b"\0")[0].decode()
    return None


def install_tree(ctx, root, musl=False, wrapper_only=False):
    """A copy of the installed layout: root/bin/linger-run and
    root/lib/linger/liblinger.so (and liblinger-musl.so). Returns the wrapper."""
    need_shim(ctx)
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "lib" / "linger").mkdir(parents=True, exist_ok=True)
    for d in (root, root / "bin", root / "lib", root / "lib" / "linger"):
        os.chmod(d, 0o755)
    w = root / "bin" / "linger-run"
    shutil.copy(WRAPPER, w)
    os.chmod(w, 0o755)
    if not wrapper_only:
        shutil.copy(SHIM, root / "lib" / "linger" / "liblinger.so")
        shutil.copy(BUILD / "linger-supervise", root / "lib" / "linger" / "linger-supervise")
        if musl:
            shutil.copy(build_musl_shim(), root / "lib" / "linger" / "liblinger-musl.so")
    return w


def busybox_path(ctx):
    """A directory holding busybox's applets and nothing else (no readelf,
    getcap, getfattr, coreutils): a minimal Alpine-like PATH."""
    need("busybox")
    d = ctx.subdir("bbpath")
    bb = shutil.which("busybox")
    r = subprocess.run([bb, "--list"], capture_output=True, text=True, timeout=10)
    for name in r.stdout.split():
        if "/" not in name and not (d / name).exists():
            os.symlink(bb, d / name)
    for tool in ("od", "dd", "sh", "tr", "head", "sed", "id", "ls", "readlink"):
        if not (d / tool).exists():
            raise Skip("busybox has no %s applet" % tool)
    return d


TOOL_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def hide_tools(*names):
    """A command prefix: a new mount namespace (unshare --mount, private)
    where /dev/null is bind-mounted over each NAME in TOOL_DIRS, so that the
    wrapper cannot find them. Needs root."""
    need("unshare", "mount")
    paths = sorted({os.path.realpath(os.path.join(d, n)) for n in names for d in TOOL_DIRS
                    if os.path.exists(os.path.join(d, n))})
    mount = shutil.which("mount")
    script = "".join("%s --bind /dev/null '%s' && " % (mount, p) for p in paths) + 'exec "$@"'
    return [shutil.which("unshare"), "--mount", "/bin/sh", "-c", script, "sh"]


# ---------------------------------------------------------------- tests

@test("wrapper_posix_sh", timeout=60)
def test_posix_sh(t):
    """The wrapper parses under dash, busybox sh and bash, and checkbashisms
    (when installed) finds nothing."""
    done = []
    for shell in (["dash"], ["busybox", "sh"], ["bash"], ["sh"]):
        if not shutil.which(shell[0]):
            continue
        r = subprocess.run(shell + ["-n", str(WRAPPER)], capture_output=True, text=True, timeout=10)
        expect(r, 0, "%s -n" % sh_name(shell))
        done.append("%s -n" % sh_name(shell))
    if shutil.which("checkbashisms"):
        r = subprocess.run(["checkbashisms", "-f", "-p", str(WRAPPER)], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            raise AssertionError("checkbashisms: %s" % (r.stdout + r.stderr))
        done.append("checkbashisms clean")
    else:
        done.append("checkbashisms not installed")
    with open(WRAPPER) as f:
        first = f.readline().strip()
    if first != "#!/bin/sh":
        raise AssertionError("first line is %r, want #!/bin/sh" % first)
    return ", ".join(done)


@test("wrapper_needs_only_listed_tools", timeout=60)
def test_listed_tools(t):
    """The list in linger-run(1) and docs/tools.md is true: with a PATH of
    links to od, dd, tr, sed, head, id, ls and readlink alone (coreutils),
    --help, --check, a check of a LINGER_* variable and a run all work, under
    dash and busybox sh."""
    need_shim(t)
    only = t.subdir("only-tools")
    for tool in ("od", "dd", "tr", "sed", "head", "id", "ls", "readlink"):
        os.symlink(shutil.which(tool), only / tool)
    env = clean_env(extra={"PATH": str(only)})
    printenv = shutil.which("printenv")
    for shell in shells():
        name = sh_name(shell)
        r = run(["--help"], shell=shell, env=env)
        expect(r, 0, "%s: --help, listed tools only" % name)
        if "usage: linger-run" not in r.stdout or r.stderr:
            raise AssertionError("%s: --help with the listed tools only: %r %r" % (name, r.stdout, r.stderr))
        r = run(["--check", printenv], shell=shell, env=env)
        expect(r, 0, "%s: --check, listed tools only" % name)
        r = run([printenv, "LD_PRELOAD"], shell=shell, env=env)
        expect(r, 0, "%s: a run, listed tools only" % name)
        if r.stdout.strip() != str(SHIM) or r.stderr:
            raise AssertionError("%s: a run with the listed tools only: %r %r" % (name, r.stdout, r.stderr))
        r = run([printenv], shell=shell, env=dict(env, LINGER_MODE="bogus"))
        expect(r, 2, "%s: LINGER_MODE=bogus, listed tools only" % name)
    return "--help, --check, LINGER_MODE check and a run with only od dd tr sed head id ls readlink in PATH"


@test("wrapper_ld_preload_kept", timeout=120)
def test_ld_preload(t):
    """LD_PRELOAD with zero, one and two entries (colons, spaces), and with
    the shim already there (same path, relative path, another copy, twice):
    every other entry kept in order, the shim once, first when it was not
    there. Under dash and busybox sh; the program is printenv (glibc)."""
    need_shim(t)
    src = t.path("empty.c")
    src.write_text("void linger_test_empty(void) {}\n")
    libs = {}
    for n in ("a", "b"):
        libs[n] = str(t.path("lib%s.so" % n))
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", libs[n], str(src)], check=True, timeout=60)
    other = t.subdir("other") / "liblinger.so"
    shutil.copy(SHIM, other)
    a, b, s, o = libs["a"], libs["b"], str(SHIM), str(other)
    cases = [
        (None, s, False),
        ("", s, False),
        (a, "%s:%s" % (s, a), False),
        ("%s:%s" % (a, b), "%s:%s:%s" % (s, a, b), False),
        ("%s %s" % (a, b), "%s %s %s" % (s, a, b), False),
        (s, s, False),
        ("%s:%s:%s" % (a, s, b), "%s:%s:%s" % (a, s, b), False),
        ("%s %s %s" % (a, s, b), "%s %s %s" % (a, s, b), False),
        ("%s:build/liblinger.so" % a, "%s:%s" % (a, s), False),     # relative, cwd = repo
        ("%s:%s:%s" % (a, o, b), "%s:%s:%s" % (a, s, b), True),    # another copy: replaced
        ("%s:%s:%s:%s" % (a, s, b, s), "%s:%s:%s" % (a, s, b), False),
    ]
    n = 0
    for shell in shells():
        for old, want, note in cases:
            extra = {} if old is None else {"LD_PRELOAD": old}
            r = run(["printenv", "LD_PRELOAD"], shell=shell, extra_env=extra)
            what = "%s, LD_PRELOAD=%r" % (sh_name(shell), old)
            expect(r, 0, what)
            if r.stdout.rstrip("\n") != want:
                raise AssertionError("%s: program saw %r, want %r" % (what, r.stdout, want))
            if note:
                line = one_line(r, what)
                if o not in line:
                    raise AssertionError("%s: the note does not name %s: %r" % (what, o, line))
            elif r.stderr:
                raise AssertionError("%s: unexpected stderr %r" % (what, r.stderr))
            n += 1
        # The shim really loads, and the options reach it.
        r = run(["--log", "info", "--", "printenv", "LINGER_LOG"], shell=shell,
                extra_env={"LD_PRELOAD": a})
        expect(r, 0, "%s --log info" % sh_name(shell))
        if "info: active:" not in r.stderr or r.stdout.strip() != "info":
            raise AssertionError("%s: no 'active' banner from the shim, or LINGER_LOG not set: %r %r"
                                 % (sh_name(shell), r.stdout, r.stderr))
        # Started by a relative path with a CDPATH that has a decoy "scripts"
        # and "build": still this tree's library. Ordinary variable names in
        # the environment reach the program unchanged.
        decoy = t.subdir("decoy")
        (decoy / "scripts").mkdir(exist_ok=True)
        (decoy / "build").mkdir(exist_ok=True)
        env = clean_env(extra={"CDPATH": str(decoy), "dir": "D", "lib": "L", "self": "S",
                               "cmd": "C", "t": "T", "n": "N"})
        r = subprocess.run(list(shell) + ["scripts/linger-run", "sh", "-c",
                                          'echo "$LD_PRELOAD|$CDPATH|$dir$lib$self$cmd$t$n"'],
                           env=env, capture_output=True, text=True, timeout=30, cwd=str(REPO))
        want = "%s|%s|DLSCTN\n" % (s, decoy)
        if r.returncode != 0 or r.stdout != want:
            raise AssertionError("%s, relative start with CDPATH: %r %r, want %r"
                                 % (sh_name(shell), r.stdout, r.stderr, want))
    return "%d LD_PRELOAD cases under %s; shim banner seen; CDPATH and the environment untouched" % (
        n, " and ".join(sh_name(s) for s in shells()))


# Values and whether shim/config_parse.c accepts them, checked against the C
# parsers themselves below.
OPTION_VALUES = {
    "duration": ["0", "5", "5s", "500ms", "1m", "1h", "2m30s", "24h", "25h", "86400", "86401",
                 "86400000ms", "86400001ms", "1440m", "1441m", "23h59m60s", "23h59m61s",
                 "1m30", "30s1m", "1ms1ms", "0005s", "000000000000000000000000001s",
                 "99999999999999999999", "99999999999999999999ms", "", "abc", "5x", "s", "ms",
                 "5 s", " 5s", "5s ", "-1", "+1", "1.5s", "5S", "5MS", "10mm", "1hms", "1d",
                 "08", "09s", "1h1", "1s1s1s1s"],
    "size": ["0", "none", "NONE", "Unlimited", "unlimit", "1", "1k", "1K", "64k", "1m", "1M",
             "1g", "1G", "1t", "1kb", "1125899906842624", "1125899906842625", "1048576g",
             "1048577g", "1099511627776k", "1099511627777k", "1073741824m", "1073741825m",
             "-1", "1.5m", " 1", "1 ", "00001k", "0009", "99999999999999999999999", "", "k",
             "none1", "0x10"],
    "count": ["0", "1", "1048576", "1048577", "0001", "0009", "", "-1", "1k", "+5", " 5",
              "99999999999999999999", "00000000000000000000001", "4096"],
    "mode": ["on", "ON", "always", "Always", "off", "observe", "OBSERVE", "", "o", "onn",
             "always ", "enabled"],
    "level": ["error", "ERROR", "warn", "WARN", "info", "debug", "Debug", "", "warning",
              "trace", "err"],
}
OPTION_KIND = {"--time": "duration", "--timeout": "duration", "--max-bytes": "size",
               "--max-sockets": "count", "--mode": "mode", "--log": "level"}
OPTION_MESSAGE = {"duration": "is not a duration (like 30s, 500ms, 1m)",
                  "size": "is not a size (like 1m, 64k, 0 for none)",
                  "count": "is not a count from 1 to 1048576",
                  "mode": "is not one of on, always, off, observe",
                  "level": "is not one of error, warn, info, debug"}

PARSE_DRIVER = r'''
#include <stdio.h>
#include <string.h>
#include "config_parse.h"
int main(void)
{
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *v = strchr(line, '\t');
        if (!v) return 2;
        *v++ = 0;
        uint64_t n; enum linger_mode m; enum log_level l; int r = -1;
        if (!strcmp(line, "duration")) r = parse_duration_ms(v, &n);
        else if (!strcmp(line, "size")) r = parse_size_bytes(v, &n);
        else if (!strcmp(line, "count")) r = parse_count(v, 1u << 20, &n);
        else if (!strcmp(line, "mode")) r = parse_mode(v, &m);
        else if (!strcmp(line, "level")) r = parse_log_level(v, &l);
        printf("%s\n", r == 0 ? "ok" : "bad");
    }
    return 0;
}
'''


def shim_verdicts(t):
    """{(kind, value): "ok" or "bad"} for OPTION_VALUES, from the shim's own
    parsers (shim/config_parse.c) compiled into t's temp dir."""
    drv = t.path("parse_driver.c")
    drv.write_text(PARSE_DRIVER)
    exe = t.path("parse_driver")
    subprocess.run(["gcc", "-std=gnu11", "-D_GNU_SOURCE", "-I", str(REPO / "shim"), "-o", str(exe),
                    str(drv), str(REPO / "shim" / "config_parse.c")], check=True, timeout=120)
    items = [(k, v) for k, vals in OPTION_VALUES.items() for v in vals]
    r = subprocess.run([str(exe)], input="".join("%s\t%s\n" % kv for kv in items),
                       capture_output=True, text=True, timeout=30, check=True)
    return dict(zip(items, r.stdout.split()))


@test("wrapper_options_match_shim_parsers", timeout=300)
def test_options(t):
    """Every value of a list is accepted by the wrapper exactly when the
    shim's own parser (shim/config_parse.c, compiled here) accepts it, as
    --opt VALUE and --opt=VALUE, under dash and busybox sh. A bad value,
    an unknown option, a missing value or a missing command: exit 2 and one
    line on stderr. Accepted values reach the program as LINGER_*."""
    verdict = shim_verdicts(t)
    checked = 0
    for shell in shells():
        for opt, kind in OPTION_KIND.items():
            for v in OPTION_VALUES[kind]:
                ok = verdict[(kind, v)] == "ok"
                forms = [[opt, v], ["%s=%s" % (opt, v)]]
                for form in forms:
                    r = run(form + ["/nonexistent/linger-test-cmd"], shell=shell)
                    what = "%s: %s" % (sh_name(shell), " ".join(repr(x) for x in form))
                    if ok:
                        expect(r, 127, what + " (valid: the missing command is the error)")
                    else:
                        expect(r, 2, what + " (invalid for the shim)")
                        line = one_line(r, what)
                        want = "linger-run: %s '%s' %s" % (opt, v, OPTION_MESSAGE[kind])
                        if line != want:
                            raise AssertionError("%s: message %r, want %r" % (what, line, want))
                    checked += 1
        bad = [
            (["--bogus", "true"], "unknown option"),
            (["-x", "true"], "unknown option"),
            (["--check=yes", "true"], "unknown option"),
            (["--time"], "needs a value"),
            (["--log-file", "", "true"], "needs a file name"),
            (["--stats=", "true"], "needs a file name"),
            ([], "no command"),
            (["--check"], "no command"),
            (["--mode", "on", "--"], "no command"),
            (["--time", "1\n2", "true"], "is not a duration"),
        ]
        for args, needle in bad:
            r = run(args, shell=shell)
            what = "%s: %r" % (sh_name(shell), args)
            expect(r, 2, what)
            if needle not in one_line(r, what):
                raise AssertionError("%s: %r does not say %r" % (what, r.stderr, needle))
        # Accepted values reach the program unchanged; options after the
        # command are the command's.
        r = run(["--mode=ALWAYS", "--time", "2m30s", "--timeout=500ms", "--max-bytes", "1G",
                 "--max-sockets=007", "--log", "warn", "--log-file", t.path("l.log"),
                 "--stats", t.path("s.%p"), "--", "sh", "-c",
                 'for v in MODE TIME TIMEOUT MAX_BYTES MAX_SOCKETS LOG LOG_FILE STATS; do '
                 'eval "echo $v=\\$LINGER_$v"; done; echo "$@"', "sh", "--time", "x"],
                shell=shell)
        expect(r, 0, "%s: all options" % sh_name(shell))
        want = ("MODE=ALWAYS\nTIME=2m30s\nTIMEOUT=500ms\nMAX_BYTES=1G\nMAX_SOCKETS=007\nLOG=warn\n"
                "LOG_FILE=%s\nSTATS=%s\n--time x\n" % (t.path("l.log"), t.path("s.%p")))
        if r.stdout != want:
            raise AssertionError("%s: the program saw %r, want %r" % (sh_name(shell), r.stdout, want))
        # Variables not given as options are left as they were.
        r = run(["printenv", "LINGER_TIME"], shell=shell, extra_env={"LINGER_TIME": "7s"})
        if r.stdout.strip() != "7s":
            raise AssertionError("%s: LINGER_TIME from the environment became %r" % (sh_name(shell), r.stdout))
    n_bad = sum(1 for v in verdict.values() if v == "bad")
    return "%d option forms agree with config_parse.c (%d of %d values invalid there); errors exit 2 with one line" % (
        checked, n_bad, len(verdict))


# The variables the shim reads whose values it checks (config.c), by kind.
ENV_KIND = {"LINGER_TIME": "duration", "LINGER_TIMEOUT": "duration", "LINGER_EXIT_WAIT": "duration",
            "LINGER_MAX_BYTES": "size", "LINGER_MAX_SOCKETS": "count", "LINGER_MODE": "mode",
            "LINGER_LOG": "level"}


@test("wrapper_environment_values_checked", timeout=300)
def test_environment_values(t):
    """LINGER_* values already in the environment are checked like options:
    each value of the lists is refused (exit 2, one line naming the variable
    and the environment) exactly when the shim's parser rejects it, except
    the empty value, which the shim treats as unset. An option replaces the
    variable, so its old value is not checked. An unknown LINGER_* name is
    one warning line; the command runs and still sees it. Under dash and
    busybox sh."""
    verdict = shim_verdicts(t)
    checked = 0
    for shell in shells():
        name = sh_name(shell)
        for var, kind in ENV_KIND.items():
            for v in OPTION_VALUES[kind]:
                r = run(["/nonexistent/linger-test-cmd"], shell=shell, extra_env={var: v})
                what = "%s: %s=%r" % (name, var, v)
                if verdict[(kind, v)] == "ok" or v == "":
                    expect(r, 127, what + " (valid for the shim: the missing command is the error)")
                else:
                    expect(r, 2, what + " (invalid for the shim)")
                    want = "linger-run: %s='%s' (from the environment) %s" % (
                        var, v.replace("\n", "?"), OPTION_MESSAGE[kind])
                    if one_line(r, what) != want:
                        raise AssertionError("%s: message %r, want %r" % (what, r.stderr, want))
                checked += 1
        # --check refuses the same way; an option replaces a bad variable.
        r = run(["--check", "true"], shell=shell, extra_env={"LINGER_MODE": "bogus"})
        expect(r, 2, "%s: --check with LINGER_MODE=bogus" % name)
        one_line(r, "--check with LINGER_MODE=bogus")
        r = run(["--mode", "observe", "--timeout=1s", "printenv", "LINGER_MODE", "LINGER_TIMEOUT"],
                shell=shell, extra_env={"LINGER_MODE": "bogus", "LINGER_TIMEOUT": "5x"})
        expect(r, 0, "%s: options replace bad variables" % name)
        if r.stdout != "observe\n1s\n" or r.stderr:
            raise AssertionError("%s: options over bad variables: %r %r" % (name, r.stdout, r.stderr))
        # Unknown names: a warning each, the command runs with them. A line of
        # a multi-line value that looks like "export LINGER_..." is no variable.
        r = run(["printenv", "LINGER_FOO"], shell=shell,
                extra_env={"LINGER_FOO": "1", "LINGER_LIB": str(SHIM),
                           "LINGER_LOG_FILE": t.path("any thing.log"), "LINGER_STATS": t.path("s.prom"),
                           "LINGER_EXIT_WAIT": "250ms",
                           "OTHER": "a\nexport LINGER_FAKE=1\ndeclare -x LINGER_FAKE2=2"})
        expect(r, 0, "%s: LINGER_FOO=1" % name)
        line = one_line(r, "%s: LINGER_FOO=1" % name)
        if r.stdout != "1\n" or "warning: LINGER_FOO (from the environment) is not a variable" not in line:
            raise AssertionError("%s: LINGER_FOO=1: %r %r" % (name, r.stdout, r.stderr))
    return "%d variable values agree with config_parse.c (empty = unset); options replace them; " \
           "LINGER_FOO warned, run" % checked


@test("wrapper_help_version", timeout=60)
def test_help_version(t):
    """--help and -h list every option and the exit statuses, with an empty
    PATH (no cat: builtins only); --version prints the VERSION file."""
    version = (REPO / "VERSION").read_text().strip()
    empty = t.subdir("empty-path")  # --help uses shell builtins only
    for shell in shells():
        for flag in ("--help", "-h"):
            r = run([flag], shell=shell, extra_env={"PATH": str(empty)})
            expect(r, 0, flag)
            for word in ("usage: linger-run", "--mode", "--time", "--timeout", "--max-bytes",
                         "--max-sockets", "--log", "--log-file", "--stats", "--check", "--force",
                         "LINGER_LIB", "127"):
                if word not in r.stdout:
                    raise AssertionError("%s %s does not mention %s" % (sh_name(shell), flag, word))
        r = run(["--version"], shell=shell)
        expect(r, 0, "--version")
        if r.stdout != "linger-run %s\n" % version:
            raise AssertionError("--version printed %r, want 'linger-run %s'" % (r.stdout, version))
    return "linger-run %s" % version


@test("wrapper_exec_status_signals", timeout=60)
def test_exec(t):
    """The command replaces the wrapper: same PID; its exit status is the
    wrapper's; death by a signal (its own, or one sent to the wrapper's PID)
    shows as that signal."""
    need_shim(t)
    notes = []
    for shell in shells():
        name = sh_name(shell)
        for code in (0, 7, 255):
            r = run(["sh", "-c", "exit %d" % code], shell=shell)
            expect(r, code, "%s: sh -c 'exit %d'" % (name, code))
        r = run(["sh", "-c", "kill -TERM $$"], shell=shell)
        expect(r, -signal.SIGTERM, "%s: the program kills itself with SIGTERM" % name)
        # Same PID: the program reports its PID; it is the one we started.
        out = t.path("pid-%s" % name.replace(" ", "_"))
        p = Proc(t, list(shell) + [WRAPPER, "--", "sh", "-c", 'echo $$ > "$1"; exec sleep 30',
                                   "sh", out], clean_env(), "exec-%s.log" % name.replace(" ", "_"))
        if not wait_for(lambda: out.exists() and out.read_text().strip(), 10):
            raise AssertionError("%s: the program never wrote its PID" % name)
        pid = int(out.read_text())
        if pid != p.pid:
            raise AssertionError("%s: program PID %d, wrapper PID %d: no exec" % (name, pid, p.pid))
        def mapped():  # polled: the PID file is written just before `exec sleep`,
            with open("/proc/%d/maps" % p.pid) as f:  # and ld.so maps the shim after exec
                return str(SHIM) in f.read()
        if not wait_for(mapped, 5):
            raise AssertionError("%s: the shim is not mapped in the program" % name)
        os.kill(p.pid, signal.SIGTERM)
        rc = p.popen.wait(10)
        if rc != -signal.SIGTERM:
            raise AssertionError("%s: SIGTERM to the wrapper's PID gave %s" % (name, rc))
        notes.append("%s: exit 0/7/255 kept, SIGTERM -> -15, PID %d kept" % (name, pid))
    return "; ".join(notes)


@test("wrapper_pid1_namespace", timeout=60)
def test_pid1(t):
    """The container entrypoint case without Docker: the wrapper runs as PID
    1 of a new PID namespace (unshare --pid --fork --mount-proc). The app is
    PID 1 with the shim loaded, SIGTERM sent from outside reaches it, and its
    exit status comes out of unshare."""
    need("unshare")
    need_shim(t)
    out = t.path("pid1.out")
    script = ('trap \'echo got-term; exit 42\' TERM; echo "pid=$$"; '
              'echo "maps=$(grep -c liblinger /proc/$$/maps)"; echo ready; '
              'while :; do sleep 0.05; done')
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        raise Skip("unshare --pid --fork --mount-proc does not work here: %s" % probe.stderr.strip())
    with open(out, "w") as f:
        p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", str(WRAPPER), "--",
                              "sh", "-c", script], stdout=f, stderr=subprocess.STDOUT,
                             env=clean_env(), start_new_session=True)
    try:
        if not wait_for(lambda: "ready" in out.read_text(), 10):
            raise AssertionError("the app never started: %r" % out.read_text())
        kids = []
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            kids = [int(x) for x in f.read().split()]
        if len(kids) != 1:
            raise AssertionError("unshare has children %s" % kids)
        os.kill(kids[0], signal.SIGTERM)
        rc = p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    text = out.read_text()
    if "pid=1\n" not in text:
        raise AssertionError("the app is not PID 1 in the namespace: %r" % text)
    maps = [line for line in text.splitlines() if line.startswith("maps=")]
    if not maps or maps[0] == "maps=0":
        raise AssertionError("the shim is not mapped in PID 1: %r" % text)
    if "got-term" not in text or rc != 42:
        raise AssertionError("SIGTERM did not reach PID 1 or the status was lost: rc=%s, %r" % (rc, text))
    return "app is PID 1 with the shim mapped; SIGTERM from outside handled; exit 42 from unshare"


@test("wrapper_refuses_static", timeout=120)
def test_static(t):
    """gcc -static and -static-pie binaries, directly and as the interpreter
    of a '#!/usr/bin/env NAME' script, on a kernel without seccomp user
    notification (simulated by no_user_notify), where linger-supervise
    cannot take them: --check and a plain run say so and exit 3 without
    running anything; --force runs them with a warning. (Where the kernel
    can, they are supervised: tests/integration/test_static.py.)"""
    need_shim(t)
    no_notify = [str(BUILD / "tests" / "no_user_notify")]
    progs = {"static": cc(t, "hello-static", HELLO_C, "-static"),
             "static-pie": cc(t, "hello-static-pie", HELLO_C, "-static-pie")}
    script = t.path("via-env")
    script.write_text("#!/usr/bin/env hello-static\n")
    os.chmod(script, 0o755)
    env = clean_env(extra={"PATH": "%s:%s" % (t.tmp, os.environ.get("PATH", "/usr/bin:/bin"))})
    n = 0
    for shell in shells():
        for label, prog in list(progs.items()) + [("script", script)]:
            what = "%s %s" % (sh_name(shell), label)
            r = run(["--check", prog], shell=shell, env=env, pre=no_notify)
            expect(r, 3, what + " --check")
            if "statically linked" not in r.stdout.splitlines()[-1]:
                raise AssertionError("%s --check: %r" % (what, r.stdout))
            r = run([prog], shell=shell, env=env, pre=no_notify)
            expect(r, 3, what + " plain run")
            if r.stdout:
                raise AssertionError("%s: the program ran: %r" % (what, r.stdout))
            if "statically linked" not in one_line(r, what):
                raise AssertionError("%s: %r" % (what, r.stderr))
            r = run(["--force", prog], shell=shell, env=env, pre=no_notify)
            expect(r, 0, what + " --force")
            if r.stdout != "hello\n":
                raise AssertionError("%s --force: %r" % (what, r.stdout))
            if "warning" not in one_line(r, what + " --force"):
                raise AssertionError("%s --force: no warning: %r" % (what, r.stderr))
            n += 1
    return "%d cases refused with 3 (static, static-pie, #!/usr/bin/env static); --force runs" % n


@test("wrapper_refuses_setuid_caps", timeout=120)
def test_setuid(t):
    """A dynamic program (printenv) that is setuid to another user, setgid to
    another group, or has file capabilities (for a non-root user) is refused
    with 4; --force shows the loader really dropped LD_PRELOAD. Setuid to
    yourself, and capabilities for root, are fine (the shim loads). The
    capability check works through getcap, through getfattr, and says so
    when neither is there."""
    if os.geteuid() != 0:
        raise Skip("needs root (chown, setcap)")
    need("setpriv", "setcap")
    root = t.subdir("inst")
    w = install_tree(t, root)
    printenv = shutil.which("printenv")
    files = {}
    for name, owner, mode in (("suid-other", (65534, 0), 0o4755), ("sgid-other", (0, 65534), 0o2755),
                              ("suid-self", (0, 0), 0o4755), ("caps", (0, 0), 0o755)):
        p = t.path(name)
        shutil.copy(printenv, p)
        os.chown(p, *owner)
        os.chmod(p, mode)
        files[name] = p
    subprocess.run(["setcap", "cap_net_bind_service+ep", str(files["caps"])], check=True, timeout=10)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    lib = str(root / "lib" / "linger" / "liblinger.so")
    notes = []

    def case(name, pre, status, loaded, what, env=None, shell=("dash",)):
        prog = files[name]
        r = run(["--check", prog], shell=shell, wrapper=w, pre=pre, env=env)
        expect(r, status, what + " --check")
        r = run([prog, "LD_PRELOAD"], shell=shell, wrapper=w, pre=pre, env=env)
        expect(r, 4 if status == 4 else 0, what + " plain run")
        if status == 4:
            one_line(r, what)
            if r.stdout:
                raise AssertionError("%s: the program ran" % what)
            r = run(["--force", prog, "LD_PRELOAD"], shell=shell, wrapper=w, pre=pre, env=env)
        got = r.stdout.strip()
        if loaded and got != lib:
            raise AssertionError("%s: the program saw LD_PRELOAD=%r, want %s" % (what, got, lib))
        if not loaded and got:
            raise AssertionError("%s --force: the loader kept LD_PRELOAD=%r (the refusal was wrong)" % (what, got))
        notes.append("%s: %s" % (what, "refused 4, loader drops it" if status == 4 else "ok, shim loads"))

    case("suid-other", (), 4, False, "setuid nobody")
    case("sgid-other", (), 4, False, "setgid nogroup")
    case("suid-self", (), 0, True, "setuid root, run by root")
    case("caps", (), 0, True, "capabilities, run by root")
    case("caps", as_nobody, 4, False, "capabilities, run by nobody")
    # In a busybox-only PATH: getcap and getfattr are found in /usr/sbin,
    # /sbin, /usr/bin or /bin all the same; with getcap hidden (a mount
    # namespace puts /dev/null over it), getfattr; with both hidden, --check
    # notes it and a plain run warns in one line, runs, and the loader drops
    # LD_PRELOAD, which is what the warning is about. Root gets no warning.
    if shutil.which("busybox"):
        bb = busybox_path(t)
        env = clean_env(extra={"PATH": str(bb)})
        bsh = ["busybox", "sh"]
        nobody_abs = [shutil.which("setpriv")] + as_nobody[1:]
        case("caps", nobody_abs, 4, False, "capabilities, PATH without getcap, run by nobody",
             env=env, shell=bsh)
        case("suid-other", (), 4, False, "setuid nobody (busybox ls/id)", env=env, shell=bsh)
        if shutil.which("getfattr") or any(os.path.exists(d + "/getfattr") for d in TOOL_DIRS):
            case("caps", hide_tools("getcap") + nobody_abs, 4, False,
                 "capabilities via getfattr (getcap hidden), run by nobody", env=env, shell=bsh)
        hidden = hide_tools("getcap", "getfattr")
        prog = files["caps"]
        r = run(["--check", prog], shell=bsh, wrapper=w, pre=hidden + nobody_abs, env=env)
        expect(r, 0, "getcap and getfattr hidden, --check")
        if "capabilities of %s not checked" % prog not in r.stdout:
            raise AssertionError("no 'not checked' note: %r" % r.stdout)
        r = run([prog, "LD_PRELOAD"], shell=bsh, wrapper=w, pre=hidden + nobody_abs, env=env)
        expect(r, 1, "getcap and getfattr hidden, plain run by nobody (printenv of an unset variable)")
        line = one_line(r, "getcap and getfattr hidden, plain run by nobody")
        if "warning: file capabilities of %s not checked" % prog not in line or r.stdout:
            raise AssertionError("hidden tools, nobody: %r %r" % (r.stdout, r.stderr))
        r = run([prog, "LD_PRELOAD"], shell=bsh, wrapper=w, pre=hidden, env=env)
        expect(r, 0, "getcap and getfattr hidden, plain run by root")
        if r.stdout.strip() != lib or r.stderr:
            raise AssertionError("hidden tools, root: %r %r" % (r.stdout, r.stderr))
        notes.append("getcap/getfattr outside PATH found; via getfattr; neither: --check note, "
                     "plain run by nobody warns (loader dropped LD_PRELOAD), root silent")
    return "; ".join(notes)


@test("wrapper_wrong_libc_arch", timeout=300)
def test_wrong_libc(t):
    """A musl program with only the glibc build: refused with 5 (a plain run
    and --check). With liblinger-musl.so next to it, the wrapper picks it and
    the shim loads into the musl program. A glibc program given the musl
    build (LINGER_LIB), a program for another machine, and a program whose
    ELF interpreter is missing are refused too."""
    hello = musl_program(t)
    build_musl_shim()
    glibc_only = install_tree(t, t.subdir("glibc-only"))
    both = install_tree(t, t.subdir("both"), musl=True)
    musl_lib = t.path("both") / "lib" / "linger" / "liblinger-musl.so"
    # Another machine: e_machine patched to aarch64 (183) in a copy.
    data = bytearray(hello.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")
    arm = t.path("hello-aarch64")
    arm.write_bytes(bytes(data))
    os.chmod(arm, 0o755)
    # A missing ELF interpreter: /lib/ld-musl-... renamed in a copy.
    data = bytes(hello.read_bytes()).replace(MUSL_LOADER.encode(), b"/lib/ld-musX-x86_64.so.1")
    nointerp = t.path("hello-nointerp")
    nointerp.write_bytes(data)
    os.chmod(nointerp, 0o755)
    bad_script = t.path("bad-interp")
    bad_script.write_text("#!/nonexistent/linger-test-interp\n")
    os.chmod(bad_script, 0o755)
    notes = []
    for shell in shells():
        name = sh_name(shell)
        r = run(["--check", hello], shell=shell, wrapper=glibc_only)
        expect(r, 5, "%s: musl program, glibc build only, --check" % name)
        if "musl program" not in r.stdout or "make musl" not in r.stdout:
            raise AssertionError("%s --check: %r" % (name, r.stdout))
        r = run([hello], shell=shell, wrapper=glibc_only)
        expect(r, 5, "%s: musl program, glibc build only" % name)
        one_line(r, name)
        if r.stdout:
            raise AssertionError("%s: the program ran" % name)
        r = run(["--check", hello], shell=shell, wrapper=both)
        expect(r, 0, "%s: musl program, both builds, --check" % name)
        if "library: %s (musl" % musl_lib not in r.stdout:
            raise AssertionError("%s: the musl build was not chosen: %r" % (name, r.stdout))
        r = run(["--log", "info", hello], shell=shell, wrapper=both)
        expect(r, 0, "%s: musl program, both builds" % name)
        if r.stdout != "hello\n" or "info: active:" not in r.stderr:
            raise AssertionError("%s: the musl shim did not load: %r %r" % (name, r.stdout, r.stderr))
        r = run(["--check", "printenv"], shell=shell, extra_env={"LINGER_LIB": str(MUSL_SHIM)})
        expect(r, 5, "%s: glibc program, LINGER_LIB=musl build" % name)
        if "glibc program" not in r.stdout:
            raise AssertionError("%s: %r" % (name, r.stdout))
        r = run(["--check", arm], shell=shell, wrapper=both)
        expect(r, 5, "%s: aarch64 program" % name)
        if "64-bit aarch64 program" not in r.stdout:
            raise AssertionError("%s: %r" % (name, r.stdout))
        r = run([nointerp], shell=shell, wrapper=both)
        expect(r, 127, "%s: missing ELF interpreter" % name)
        if "does not exist" not in one_line(r, name):
            raise AssertionError("%s: %r" % (name, r.stderr))
        r = run([bad_script], shell=shell, wrapper=both)
        expect(r, 127, "%s: missing #! interpreter" % name)
        if "the #! interpreter of %s, does not exist" % bad_script not in one_line(r, name):
            raise AssertionError("%s: %r" % (name, r.stderr))
        notes.append(name)
    return "musl program: refused (5) with the glibc build, musl build auto-picked and loaded; " \
           "glibc program + musl build, aarch64: 5; missing ELF or #! interpreter: 127 (%s)" % ", ".join(notes)


@test("wrapper_path_with_spaces", timeout=120)
def test_spaces(t):
    """ld.so splits LD_PRELOAD at spaces and colons. A library whose path has
    a space is refused with 6 and one line, unless the path without symlinks
    (or the path the wrapper was started by) has none, which is then used."""
    need_shim(t)
    spaced = t.subdir("with space")
    w = install_tree(t, spaced)
    real = t.subdir("real")
    w_real = install_tree(t, real)
    os.symlink(spaced, t.path("nospace"))
    os.symlink(w_real, spaced / "lr")
    os.symlink(real / "lib" / "linger" / "liblinger.so", spaced / "link.so")
    shutil.copy(SHIM, spaced / "copy.so")
    weird = t.subdir("co:lon")
    w_colon = install_tree(t, weird)
    notes = []
    for shell in shells():
        name = sh_name(shell)
        for wr, label in ((w, "installed under 'with space'"), (w_colon, "installed under 'co:lon'")):
            r = run(["printenv", "LD_PRELOAD"], shell=shell, wrapper=wr)
            expect(r, 6, "%s: %s" % (name, label))
            if "splits LD_PRELOAD at spaces and colons" not in one_line(r, label):
                raise AssertionError("%s: %r" % (label, r.stderr))
        cases = [
            (t.path("nospace") / "bin" / "linger-run", {},
             str(t.path("nospace") / "lib" / "linger" / "liblinger.so"), "started through a symlinked dir without spaces"),
            (spaced / "lr", {}, str(real / "lib" / "linger" / "liblinger.so"), "a symlink with a space to the real wrapper"),
            (WRAPPER, {"LINGER_LIB": str(spaced / "link.so")},
             str(real / "lib" / "linger" / "liblinger.so"), "LINGER_LIB: a link with a space to a path without"),
        ]
        for wr, extra, want, label in cases:
            r = run(["printenv", "LD_PRELOAD"], shell=shell, wrapper=wr, extra_env=extra)
            expect(r, 0, "%s: %s" % (name, label))
            if r.stdout.strip() != want:
                raise AssertionError("%s: %s: LD_PRELOAD=%r, want %r" % (name, label, r.stdout, want))
        r = run(["printenv", "LD_PRELOAD"], shell=shell, extra_env={"LINGER_LIB": str(spaced / "copy.so")})
        expect(r, 6, "%s: LINGER_LIB with a space" % name)
        one_line(r, "LINGER_LIB with a space")
        notes.append(name)
    return "refused with 6 for ' ' and ':'; symlink-free or as-started path used when clean (%s)" % ", ".join(notes)


@test("wrapper_od_reader_busybox", timeout=300)
def test_od_reader(t):
    """In a busybox-only PATH (no readelf, getcap, getfattr or coreutils: a
    minimal Alpine-like image) the wrapper, run by busybox sh, reads ELF
    headers with od and dd and reaches the same verdicts as with readelf under
    dash: for glibc, musl, static, static-pie, shared library, 32-bit-class
    and #! cases, and it reads each library's libc from its DT_NEEDED."""
    need_shim(t)
    bb = busybox_path(t)
    progs = {"glibc dynamic": t.path("printenv")}
    shutil.copy(shutil.which("printenv"), progs["glibc dynamic"])
    progs["static"] = cc(t, "hello-static", HELLO_C, "-static")
    progs["static-pie"] = cc(t, "hello-static-pie", HELLO_C, "-static-pie")
    progs["shared library"] = SHIM
    if shutil.which("musl-gcc"):
        build_musl_shim()
        progs["musl dynamic"] = musl_program(t)
        progs["musl static"] = cc(t, "hello-musl-static", HELLO_C, "-static", compiler="musl-gcc")
    data = bytearray(progs["glibc dynamic"].read_bytes())
    data[18:20] = (183).to_bytes(2, "little")
    progs["aarch64"] = t.path("printenv-aarch64")
    progs["aarch64"].write_bytes(bytes(data))
    os.chmod(progs["aarch64"], 0o755)
    for label, target in (("script -> static", "hello-static"), ("script -> glibc", "printenv")):
        s = t.path(label.replace(" ", "").replace(">", ""))
        s.write_text("#!/usr/bin/env %s\n" % target)
        os.chmod(s, 0o755)
        progs[label] = s
    s = t.path("nested")
    s.write_text("#!%s\n" % t.path("script-static"))
    os.chmod(s, 0o755)
    progs["script -> script -> static"] = s
    full = clean_env(extra={"PATH": "%s:%s" % (t.tmp, os.environ.get("PATH", "/usr/bin:/bin"))})
    mini = clean_env(extra={"PATH": "%s:%s" % (t.tmp, bb)})
    rows = []
    for label, prog in progs.items():
        libs = [None] + ([str(MUSL_SHIM)] if "musl dynamic" in progs else [])
        for lib in libs:
            extra = {"LINGER_LIB": lib} if lib else {}
            a = run(["--check", prog], shell=["dash"], env=dict(full, **extra))
            b = run(["--check", prog], shell=["busybox", "sh"], env=dict(mini, **extra))
            verdict = lambda r: [x for x in r.stdout.splitlines() if not x.startswith("linger-run: note:")]
            if a.returncode != b.returncode or verdict(a) != verdict(b):
                raise AssertionError("%s (LINGER_LIB=%s): readelf/dash said %s %r, od/busybox said %s %r"
                                     % (label, lib, a.returncode, a.stdout, b.returncode, b.stdout))
            rows.append("%s%s=%d" % (label, " +musl lib" if lib else "", a.returncode))
    return "same verdicts: " + ", ".join(rows)


@test("wrapper_install_uninstall", timeout=300)
def test_install(t):
    """make install DESTDIR=... PREFIX=/usr puts the library, VERSION,
    linger-ab's client, the three scripts and the four man pages in place;
    the installed wrapper (and linger-ab) find the installed library; make
    uninstall removes every file it installed. The default PREFIX is
    /usr/local; LIBDIR=/usr/lib/TRIPLET (as for the Debian package) moves the
    library directory, and the installed scripts follow it."""
    need_shim(t)
    dest = t.subdir("dest")
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "install",
                        "DESTDIR=%s" % dest, "PREFIX=/usr"], capture_output=True, text=True, timeout=600)
    expect(r, 0, "make install")
    usr = dest / "usr"
    want = {usr / "bin" / "linger-run": 0o755,
            usr / "bin" / "linger-ab": 0o755,
            usr / "bin" / "linger-stat": 0o755,
            usr / "lib" / "linger" / "liblinger.so": 0o644,
            usr / "lib" / "linger" / "VERSION": 0o644,
            usr / "lib" / "linger" / "linger-ab-client": 0o755,
            usr / "lib" / "linger" / "linger-supervise": 0o755,
            usr / "share" / "man" / "man1" / "linger-run.1": 0o644,
            usr / "share" / "man" / "man1" / "linger-ab.1": 0o644,
            usr / "share" / "man" / "man1" / "linger-stat.1": 0o644,
            usr / "share" / "man" / "man7" / "liblinger.7": 0o644}
    if MUSL_SHIM.exists():
        want[usr / "lib" / "linger" / "liblinger-musl.so"] = 0o644
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    if files != sorted(want):
        raise AssertionError("installed %s, want %s" % ([str(p.relative_to(dest)) for p in files],
                                                         [str(p.relative_to(dest)) for p in sorted(want)]))
    for p, mode in want.items():
        if stat.S_IMODE(p.stat().st_mode) != mode:
            raise AssertionError("%s has mode %o, want %o" % (p, stat.S_IMODE(p.stat().st_mode), mode))
    lib = usr / "lib" / "linger" / "liblinger.so"
    for shell in shells():
        r = run(["printenv", "LD_PRELOAD"], shell=shell, wrapper=usr / "bin" / "linger-run")
        expect(r, 0, "installed wrapper")
        if r.stdout.strip() != str(lib):
            raise AssertionError("installed wrapper preloads %r, want %s" % (r.stdout, lib))
        r = run(["--version"], shell=shell, wrapper=usr / "bin" / "linger-run")
        if r.stdout.strip() != "linger-run " + (REPO / "VERSION").read_text().strip():
            raise AssertionError("installed --version: %r" % r.stdout)
    ab = subprocess.run([str(usr / "bin" / "linger-ab"), "--version"], capture_output=True, text=True,
                        timeout=60, env=clean_env(), cwd="/")
    if ab.stdout.strip() != "linger-ab " + (REPO / "VERSION").read_text().strip():
        raise AssertionError("installed linger-ab --version: %r %r" % (ab.stdout, ab.stderr))
    # Run from a copy far away from the source tree: only the installed files.
    r = run(["--log", "info", "true"], wrapper=usr / "bin" / "linger-run", cwd="/")
    if r.returncode != 0 or "info: active:" not in r.stderr:
        raise AssertionError("installed library did not load: %r" % r.stderr)
    man = "man page not rendered (man not installed)"
    if shutil.which("man"):
        m = subprocess.run(["man", "--warnings", "-l", str(usr / "share" / "man" / "man1" / "linger-run.1")],
                           capture_output=True, text=True, timeout=60, env=dict(clean_env(), MANWIDTH="80"))
        if m.returncode != 0 or "linger-run" not in m.stdout or m.stderr.strip():
            raise AssertionError("man -l: %s %r" % (m.returncode, m.stderr))
        man = "man page renders without warnings"
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "uninstall",
                        "DESTDIR=%s" % dest, "PREFIX=/usr"], capture_output=True, text=True, timeout=120)
    expect(r, 0, "make uninstall")
    left = [str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir()]
    if left or (usr / "lib" / "linger").exists():
        raise AssertionError("after uninstall: files %s, lib/linger exists: %s"
                             % (left, (usr / "lib" / "linger").exists()))
    dest2 = t.subdir("dest2")
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "install", "DESTDIR=%s" % dest2],
                       capture_output=True, text=True, timeout=600)
    expect(r, 0, "make install (default PREFIX)")
    w2 = dest2 / "usr" / "local" / "bin" / "linger-run"
    r = run(["printenv", "LD_PRELOAD"], wrapper=w2)
    if r.stdout.strip() != str(dest2 / "usr" / "local" / "lib" / "linger" / "liblinger.so"):
        raise AssertionError("default PREFIX: %r" % r.stdout)
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "uninstall", "DESTDIR=%s" % dest2],
                       capture_output=True, text=True, timeout=120)
    expect(r, 0, "make uninstall (default PREFIX)")
    if any(not p.is_dir() for p in dest2.rglob("*")):
        raise AssertionError("default PREFIX: files left after uninstall")
    # LIBDIR as the Debian package has it: the scripts look there.
    dest3 = t.subdir("dest3")
    mk = ["make", "-C", str(REPO), "--no-print-directory", "DESTDIR=%s" % dest3, "PREFIX=/usr",
          "LIBDIR=/usr/lib/x86_64-linux-gnu"]
    r = subprocess.run(mk + ["install"], capture_output=True, text=True, timeout=600)
    expect(r, 0, "make install LIBDIR=/usr/lib/x86_64-linux-gnu")
    lib3 = dest3 / "usr" / "lib" / "x86_64-linux-gnu" / "linger" / "liblinger.so"
    r = run(["printenv", "LD_PRELOAD"], wrapper=dest3 / "usr" / "bin" / "linger-run", cwd="/")
    if r.stdout.strip() != str(lib3):
        raise AssertionError("LIBDIR=/usr/lib/x86_64-linux-gnu: linger-run preloads %r, want %s" % (r.stdout, lib3))
    ab = subprocess.run([str(dest3 / "usr" / "bin" / "linger-ab"), "--version"], capture_output=True,
                        text=True, timeout=60, env=clean_env(), cwd="/")
    if ab.stdout.strip() != "linger-ab " + (REPO / "VERSION").read_text().strip():
        raise AssertionError("LIBDIR: installed linger-ab --version: %r %r" % (ab.stdout, ab.stderr))
    r = subprocess.run(mk + ["uninstall"], capture_output=True, text=True, timeout=120)
    expect(r, 0, "make uninstall LIBDIR=...")
    if any(not p.is_dir() for p in dest3.rglob("*")) or lib3.parent.exists():
        raise AssertionError("LIBDIR: files left after uninstall")
    return "%d files installed and found by the installed wrapper, all removed; %s; PREFIX default /usr/local; " \
        "LIBDIR=/usr/lib/x86_64-linux-gnu followed" % (len(want), man)


def musl_legacy(t):
    """tests/servers/legacy_server.c built with musl-gcc, dynamically linked."""
    return musl_program(t, "legacy_server_musl", (REPO / "tests" / "servers" / "legacy_server.c").read_text(),
                        flags=("-std=gnu11", "-O2", "-D_GNU_SOURCE", "-lpthread"))


def maps_check(path):
    def after(srv, shim):
        with open("/proc/%d/maps" % srv.pid) as f:
            mapped = str(path) in f.read()
        if shim and not mapped:
            raise AssertionError("%s is not mapped in the server (pid %d)" % (path, srv.pid))
        return "%s %s" % (os.path.basename(str(path)), "mapped" if mapped else "not mapped")
    return after


@test("wrapper_musl_build_fixes_musl_server", timeout=300)
def test_musl_server(t):
    """legacy_server built with musl-gcc (dynamic, /lib/ld-musl-x86_64.so.1):
    10 x 16 MiB uploads with http.client. Without the shim they fail (reset,
    broken pipe); with LD_PRELOAD=build/liblinger-musl.so every one gets 413."""
    shim = build_musl_shim()
    server = musl_legacy(t)
    t.note("musl server built, interpreter %s" % elf_interp(server))

    def start(with_shim):
        env = {"LD_PRELOAD": str(shim)} if with_shim else None
        return start_server(t, [server, "--model", "threads", "--limit", 65536, "--port", 0],
                            env=env, label="musl-%s" % ("shim" if with_shim else "plain"))
    return direct_case(t, start, 10, after=maps_check(shim))


@test("wrapper_fixes_servers", timeout=300)
def test_fixes(t):
    """One command: `linger-run -- server ...` fixes the resets of the glibc
    legacy_server and of the musl one (the wrapper picks the musl build by
    itself); 10 x 16 MiB uploads each, the server keeping the wrapper's PID."""
    need_shim(t)
    results = []
    servers = [("glibc", LEGACY, SHIM)]
    if shutil.which("musl-gcc"):
        build_musl_shim()
        servers.append(("musl", musl_legacy(t), MUSL_SHIM))
    else:
        t.note("musl-gcc missing: glibc server only")
    for label, server, lib in servers:
        if not server.exists():
            raise AssertionError("%s is missing (run make servers)" % server)

        def start(with_shim, server=server, label=label):
            argv = [server, "--model", "threads", "--limit", 65536, "--port", 0]
            if with_shim:
                argv = [WRAPPER, "--"] + argv
            return start_server(t, argv, label="%s-%s" % (label, "wrapped" if with_shim else "plain"))

        def after(srv, shim, lib=lib):
            note = maps_check(lib)(srv, shim)
            if shim:
                exe = os.readlink("/proc/%d/exe" % srv.pid)
                if os.path.basename(exe) == "dash":
                    raise AssertionError("the wrapper's PID is still dash: no exec")
            return note
        results.append("%s: %s" % (label, direct_case(t, start, 10, after=after)))
    return "; ".join(results)
