"""Shipping linger: the glibc version ceiling of the library, the manual pages
(they render without warnings, liblinger(7) documents every LINGER_* variable
the code reads), and the Debian package (make deb; installed with apt-get,
the seed scenario through the installed linger-run and linger-ab, purged
without a trace). make install itself is checked by wrapper_install_uninstall
(test_wrapper.py)."""
import os
import re
import shutil
import subprocess

from lib import (LEGACY, REPO, SANITIZE, SHIM, Skip, clean_env, direct_case, need_shim,
                 start_server, test)

DOCS = REPO / "docs"
PAGES = sorted(p for p in DOCS.glob("*.[1-8]"))
# The newest glibc symbol version the x86-64 glibc build may need: old hosts
# (RHEL 7 has 2.17) load the library made on Debian 12.
GLIBC_CEILING = (2, 17)


def glibc_versions(path):
    """{symbol: (major, minor...)} of the GLIBC_x versions path binds."""
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    got = {}
    for line in out.splitlines():
        m = re.search(r"\(?GLIBC_([0-9.]+)\)?\s+(\S+)$", line)
        if m:
            got[m.group(2)] = tuple(int(x) for x in m.group(1).split("."))
    return got


@test("install_glibc_symbol_ceiling", needs=("objdump",))
def test_glibc_ceiling(t):
    """objdump -T of the library shows no glibc symbol version newer than
    GLIBC_2.17, and it names libpthread.so.0 and libdl.so.2 (where the
    threads functions and dlsym were before glibc 2.34). The sanitizer builds
    are exempt (their runtimes need the build host's glibc anyway)."""
    if SANITIZE:
        raise Skip("the sanitizer builds are exempt from the glibc ceiling")
    need_shim(t)
    vers = glibc_versions(SHIM)
    if not vers:
        raise AssertionError("objdump -T %s shows no GLIBC_ version at all" % SHIM)
    over = sorted("%s@GLIBC_%s" % (s, ".".join(map(str, v))) for s, v in vers.items() if v > GLIBC_CEILING)
    if over:
        raise AssertionError("%s needs glibc newer than %s: %s"
                             % (SHIM.name, ".".join(map(str, GLIBC_CEILING)), ", ".join(over)))
    dyn = subprocess.run(["objdump", "-p", str(SHIM)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    needed = re.findall(r"NEEDED\s+(\S+)", dyn)
    for lib in ("libc.so.6", "libpthread.so.0", "libdl.so.2"):
        if lib not in needed:
            raise AssertionError("%s does not name %s (NEEDED: %s)" % (SHIM.name, lib, needed))
    newest = max(vers.values())
    return "%d glibc symbols, newest GLIBC_%s; NEEDED %s" % (
        len(vers), ".".join(map(str, newest)), " ".join(needed))


@test("install_man_pages_render", needs=("groff", "man"))
def test_man_render(t):
    """Every page in docs/ renders with man -l, and groff -ww (all warnings)
    says nothing about it."""
    want = {"liblinger.7", "linger-run.1", "linger-ab.1", "linger-stat.1"}
    have = {p.name for p in PAGES}
    if not want <= have:
        raise AssertionError("docs/ lacks %s" % sorted(want - have))
    env = dict(clean_env(), LC_ALL="C.UTF-8", MANWIDTH="80")
    for p in PAGES:
        g = subprocess.run(["groff", "-ww", "-man", "-Tutf8", "-z", str(p)], capture_output=True,
                           text=True, timeout=60, env=env)
        if g.returncode != 0 or g.stderr.strip():
            raise AssertionError("groff -ww %s: status %d: %s" % (p.name, g.returncode, g.stderr.strip()))
        m = subprocess.run(["man", "--warnings", "-l", str(p)], capture_output=True, text=True,
                           timeout=60, env=env)
        name = p.name.rsplit(".", 1)[0]
        if m.returncode != 0 or m.stderr.strip() or name.upper() not in m.stdout:
            raise AssertionError("man -l %s: status %d, stderr %r" % (p.name, m.returncode, m.stderr[-500:]))
    return "%d pages: %s" % (len(PAGES), ", ".join(p.name for p in PAGES))


def variables_read():
    """{name: [files]} of the LINGER_* variables the code reads: the names
    in string literals of shim/*.c (getenv's arguments), and every LINGER_
    name in scripts/ (the scripts' environment)."""
    found = {}
    for f in sorted((REPO / "shim").glob("*.c")):
        for name in re.findall(r'"(LINGER_[A-Z0-9_]+)"', f.read_text()):
            found.setdefault(name, set()).add(f.relative_to(REPO).as_posix())
    for f in sorted((REPO / "scripts").iterdir()):
        if f.is_file():
            for name in re.findall(r"\b(LINGER_[A-Z0-9_]*[A-Z0-9])\b", f.read_text(errors="replace")):
                found.setdefault(name, set()).add(f.relative_to(REPO).as_posix())
    return found


@test("install_man_documents_every_variable")
def test_man_variables(t):
    """Every LINGER_* variable that shim/*.c or scripts/* read has an entry
    (.TP, then .B NAME) in liblinger(7)'s ENVIRONMENT section."""
    page = DOCS / "liblinger.7"
    if not page.exists():
        raise AssertionError("docs/liblinger.7 is missing")
    text = page.read_text()
    m = re.search(r"^\.SH ENVIRONMENT\n(.*?)^\.SH ", text, re.S | re.M)
    if not m:
        raise AssertionError("liblinger.7 has no ENVIRONMENT section")
    entries = set(re.findall(r"^\.TP\n\.BR? (LINGER_[A-Z0-9_]+)", m.group(1), re.M))
    found = variables_read()
    if len(found) < 10:
        raise AssertionError("found only %s in the sources: the search is broken" % sorted(found))
    missing = {n: sorted(fs) for n, fs in found.items() if n not in entries}
    if missing:
        raise AssertionError("not in liblinger(7)'s ENVIRONMENT: %s" % "; ".join(
            "%s (read in %s)" % (n, ", ".join(fs)) for n, fs in sorted(missing.items())))
    return "%d variables documented: %s" % (len(found), " ".join(sorted(found)))


# ------------------------------------------------------------ the package

def sh(argv, timeout=600, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def apt_env():
    return dict(clean_env(), DEBIAN_FRONTEND="noninteractive")


def package_installed():
    r = sh(["dpkg-query", "-W", "-f=${Status}", "linger"], timeout=60)
    return r.returncode == 0 and "installed" in r.stdout.split()[-1:]


@test("install_deb_installs_fixes_and_purges", timeout=900,
      needs=("dpkg-deb", "dpkg-shlibdeps", "apt-get", "dpkg-query"))
def test_deb(t):
    """make deb builds build/linger_VERSION_amd64.deb (lintian: no error);
    apt-get install ./build/linger_*.deb puts the files in Debian's places;
    the installed linger-run fixes the seed scenario (16 MiB uploads answered
    early with 413: reset without, 413 with, in the same run) with the
    installed library; the installed linger-ab finds its client and library;
    apt-get purge leaves none of the package's files behind. Needs root."""
    if os.geteuid() != 0:
        raise Skip("not root: apt-get install needs root (run the suite as root)")
    if SANITIZE:
        raise Skip("the package holds the plain build; the default suite tests it")
    if package_installed():
        raise Skip("a linger package is already installed here; this test does not touch it")
    version = (REPO / "VERSION").read_text().strip()
    arch = sh(["dpkg", "--print-architecture"], timeout=60).stdout.strip()
    triplet = sh(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], timeout=60).stdout.strip()
    deb = REPO / "build" / ("linger_%s_%s.deb" % (version, arch))
    r = sh(["make", "-C", str(REPO), "--no-print-directory", "deb"])
    if r.returncode != 0 or not deb.exists():
        raise AssertionError("make deb: status %d: %s %s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
    lint = "lintian: no errors" if "lintian: no errors" in r.stdout else "lintian not run"
    if shutil.which("lintian") and lint != "lintian: no errors":
        raise AssertionError("make deb did not report lintian's verdict: %s" % r.stdout[-1500:])
    pkglib = "/usr/lib/%s/linger" % triplet
    want = ["/usr/bin/linger-run", "/usr/bin/linger-ab", "/usr/bin/linger-stat",
            pkglib + "/liblinger.so", pkglib + "/VERSION", pkglib + "/linger-ab-client",
            "/usr/share/man/man7/liblinger.7.gz", "/usr/share/man/man1/linger-run.1.gz",
            "/usr/share/man/man1/linger-ab.1.gz", "/usr/share/man/man1/linger-stat.1.gz",
            "/usr/share/doc/linger/copyright", "/usr/share/doc/linger/changelog.gz"]
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    r = sh(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + lock + ["./" + str(deb.relative_to(REPO))],
           cwd=str(REPO), env=apt_env())
    if r.returncode != 0:
        raise AssertionError("apt-get install: status %d: %s %s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
    listed = []
    try:
        listed = sh(["dpkg-query", "-L", "linger"], timeout=60).stdout.split("\n")
        listed = [p for p in listed if p and p != "/."]
        missing = [p for p in want if not os.path.isfile(p)]
        if missing:
            raise AssertionError("installed package lacks %s" % missing)
        lib = pkglib + "/liblinger.so"

        def start(with_shim):
            argv = [LEGACY, "--model", "threads", "--limit", 65536, "--port", 0]
            if with_shim:
                argv = ["/usr/bin/linger-run", "--"] + argv
            return start_server(t, argv, label="deb-%s" % ("wrapped" if with_shim else "plain"))

        def after(srv, shim):
            with open("/proc/%d/maps" % srv.pid) as f:
                mapped = lib in f.read()
            if mapped != shim:
                raise AssertionError("%s %smapped in the server %s linger-run" % (
                    lib, "" if mapped else "not ", "with" if shim else "without"))
            return "%s mapped" % lib if shim else None
        seed = direct_case(t, start, 5, after=after)
        v = sh(["/usr/bin/linger-ab", "--version"], timeout=60)
        if v.stdout.strip() != "linger-ab %s" % version:
            raise AssertionError("installed linger-ab --version: %r %r" % (v.stdout, v.stderr))
        ab = sh(["/usr/bin/linger-ab", "--no-netns", "-q", "--requests", "3", "--body-size", "16m",
                 "--", str(LEGACY), "--model", "threads", "--port", "{port}"], timeout=300,
                env=clean_env(), cwd="/")
        if ab.returncode != 0 or not re.search(r"shim linger_lingered_total\s+-\s+3\b", ab.stdout):
            raise AssertionError("installed linger-ab: status %d: %s %s" % (ab.returncode, ab.stdout[-1500:],
                                                                             ab.stderr[-800:]))
        man = sh(["man", "-l", "/usr/share/man/man7/liblinger.7.gz"], timeout=60,
                 env=dict(clean_env(), MANWIDTH="80")) if shutil.which("man") else None
        if man is not None and (man.returncode != 0 or "LINGER_MAX_SOCKETS" not in man.stdout):
            raise AssertionError("man -l liblinger.7.gz: %d %r" % (man.returncode, man.stderr))
    finally:
        p = sh(["apt-get", "purge", "-y", "-q"] + lock + ["linger"], env=apt_env())
    if p.returncode != 0:
        raise AssertionError("apt-get purge: status %d: %s" % (p.returncode, p.stderr[-1500:]))
    if package_installed():
        raise AssertionError("dpkg still lists linger after the purge")
    left = [x for x in listed + want + [pkglib, "/usr/share/doc/linger"]
            if os.path.lexists(x) and not (os.path.isdir(x) and x in ("/usr", "/usr/bin", "/usr/lib", "/usr/share",
                                                                     "/usr/share/man", "/usr/share/man/man1",
                                                                     "/usr/share/man/man7", "/usr/share/doc",
                                                                     "/usr/lib/" + triplet))]
    if left:
        raise AssertionError("left after apt-get purge: %s" % left)
    return "%s (%s); installed %d paths; %s; linger-ab via /usr/bin found its client and library; " \
           "purged, nothing left" % (deb.name, lint, len(listed), seed)


# ------------------------------------------------------------ an old glibc

OLD_ROOT = REPO / "build" / "oldglibc" / "bullseye"
OLD_LIBDIR = OLD_ROOT / "lib" / "x86_64-linux-gnu"


@test("install_old_glibc_runs_the_library", timeout=300, needs=("gcc",))
def test_old_glibc(t):
    """The library built here (glibc 2.36) loads and fixes the seed scenario
    on Debian 11's glibc 2.31, which lacks every version the unpinned build
    needed (2.32, 2.33, 2.34): legacy_server, built to run on an old glibc
    (shim/glibc_compat.h and tests/oldglibc/start.c), runs under Debian 11's
    own loader and libc; 10 x 16 MiB uploads fail without the library and all
    get 413 with it. The libc comes from tests/oldglibc/fetch (run by
    scripts/install-test-deps as root): skipped without it."""
    if SANITIZE:
        raise Skip("the sanitizer builds are exempt from the glibc ceiling")
    loader = OLD_LIBDIR / "ld-linux-x86-64.so.2"
    if not loader.exists():
        raise Skip("no old glibc in %s (sh tests/oldglibc/fetch downloads Debian 11's libc6)"
                   % OLD_ROOT.relative_to(REPO))
    need_shim(t)
    server = t.path("legacy_server_oldglibc")
    r = sh(["gcc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-fPIE", "-pie", "-nostartfiles",
            "-include", str(REPO / "shim" / "glibc_compat.h"), "-o", str(server),
            str(REPO / "tests" / "servers" / "legacy_server.c"), str(REPO / "tests" / "oldglibc" / "start.c"),
            "-Wl,--push-state,--no-as-needed", "-l:libpthread.so.0", "-Wl,--pop-state", "-lpthread"])
    if r.returncode != 0:
        raise AssertionError("building the old-glibc legacy_server: %s" % r.stderr[-1500:])
    old = max(glibc_versions(server).values())
    if old > (2, 31):
        raise AssertionError("the test server itself needs GLIBC_%s" % ".".join(map(str, old)))

    def start(shim):
        argv = [loader, "--library-path", OLD_LIBDIR, server, "--model", "threads", "--limit", 65536,
                "--port", 0]
        return start_server(t, argv, shim=shim, label="oldglibc-%s" % ("shim" if shim else "plain"))

    def after(srv, shim):
        with open("/proc/%d/maps" % srv.pid) as f:
            maps = f.read()
        libc = sorted({ln.split()[-1] for ln in maps.splitlines() if "/libc" in ln.split()[-1]})
        if not libc or not all(p.startswith(str(OLD_ROOT)) for p in libc):
            raise AssertionError("the server's libc is %s, not Debian 11's" % libc)
        if (str(SHIM) in maps) != shim:
            raise AssertionError("%s %smapped %s the shim" % (SHIM, "" if shim else "not ", "with" if shim else "without"))
        return "libc %s%s" % (os.path.basename(libc[0]), ", liblinger.so mapped" if shim else "")
    return direct_case(t, start, 10, after=after)
