"""A fork child starts with the shim's read-only pages mapped (shim/forkmap.c):
fork copies the page-table entries of the shim's code, read-only data and
symbol table, so a fork-per-connection child takes no fault there. In the
same run, libc's read-only mappings show what fork does without it: the
child starts without them."""
import os
import subprocess

from lib import BUILD, SANITIZE, SHIM, Skip, clean_env, need_shim, test

FORK_PAGEMAP = BUILD / "tests" / "fork_pagemap"


def kernel_at_least(major, minor):
    """True when the running kernel is major.minor or newer."""
    v = os.uname().release.split("-")[0].split(".")
    return (int(v[0]), int(v[1])) >= (major, minor)


def pages_after_fork(shim, name):
    """(pages, present in the parent, present in the child at its start) of
    the read-only mappings of the library whose path holds name."""
    out = subprocess.run([str(FORK_PAGEMAP), name], env=clean_env(shim), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=30)
    words = out.stdout.split()
    if out.returncode != 0 or len(words) != 6:
        raise AssertionError("fork_pagemap %s: exit %d, %r" % (name, out.returncode, out.stdout.strip()))
    return int(words[1]), int(words[3]), int(words[5])


@test("fork_child_starts_with_the_shims_read_only_pages", timeout=60)
def test_fork_child_pages(t):
    """In a process that holds an accepted socket and has forked once (a
    fork-per-connection server), every page of the shim's read-only
    mappings is in a fork child's page table from its start; libc's, in the
    same child, are not: without an anon_vma, fork copies no entry of a
    file mapping."""
    if SANITIZE == "thread":
        raise Skip("a TSAN build makes no fork channel (test_forkchan.py), so no fork maps the pages")
    libc = pages_after_fork(False, "libc.so")
    t.note("without the shim, libc's read-only pages: %d, %d in the parent, %d in the child" % libc)
    need_shim(t)
    shim = pages_after_fork(True, SHIM.name)
    t.note("the shim's read-only pages: %d, %d in the parent, %d in the child" % shim)
    if libc[2] >= libc[1]:
        raise AssertionError("fork copied libc's entries: the kernel copies file mappings' entries "
                             "anyway, so this test shows nothing: " + "; ".join(t.notes))
    # from Linux 5.14 on (MADV_POPULATE_READ) every page is in the child's
    # table from its start; before, every page the parent has mapped
    want = shim[0] if kernel_at_least(5, 14) else shim[1]
    if shim[2] < want or shim[1] == 0:
        raise AssertionError("the fork child starts without some of the shim's read-only pages: "
                             + "; ".join(t.notes))
    return "; ".join(t.notes)
