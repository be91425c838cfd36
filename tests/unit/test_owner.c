/* test_owner.c - criterion tests of which process owns the fd table
 * (shim/owner.c): the owner itself, a child that borrows its memory (a
 * CLONE_VM child, as vfork makes), and a copy made without the fork
 * handlers (its owner mark wiped by the kernel); the page a fork child
 * starts zeroed. */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owner.h"

static void setup(void)
{
    owner_init();
}

TestSuite(owner, .init = setup);

Test(owner, the_owner_owns)
{
    cr_expect(owner_is_current());
    cr_expect(!owner_borrowed_memory(), "the owner's memory is its own");
    owner_memory_may_be_shared();
    cr_expect(!owner_borrowed_memory(), "still its own once children may share it: the pid says so");
}

/* What a child saw, written into the parent's memory (CLONE_VM). */
static volatile int child_borrowed = -1, child_is_owner = -1;

static int in_child(void *unused)
{
    (void)unused;
    child_borrowed = owner_borrowed_memory();
    child_is_owner = owner_is_current();
    return 0;
}

Test(owner, child_sharing_memory_borrows)
{
    owner_memory_may_be_shared(); /* as the vfork and clone hooks say before the child starts */
    static char stack[64 * 1024];
    int pid = clone(in_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(child_borrowed, 1, "a child sharing our memory must leave the table alone");
    cr_expect_eq(child_is_owner, 0, "and is not the owner");
    cr_expect(!owner_borrowed_memory(), "the parent still owns it");
}

/* A copy made without the fork handlers (syscall(SYS_fork), _Fork): the
 * kernel wiped its owner mark, so it borrows, with no system call. */
Test(owner, copy_without_handlers_borrows)
{
    int pid = (int)syscall(SYS_fork);
    if (pid == 0)
        _exit(owner_borrowed_memory() ? 0 : 1);
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the unhandled copy borrows (status %#x)", status);
}

/* A fork child that ran the handlers (owner_note_self) owns its copy. */
Test(owner, fork_child_noted_owns)
{
    int pid = (int)syscall(SYS_fork);
    if (pid == 0) {
        owner_note_self();
        _exit(!owner_borrowed_memory() && owner_is_current() ? 0 : 1);
    }
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the noted child owns (status %#x)", status);
}

/* A fork child that ran the handlers asks no pid (none of its children
 * shared its memory yet); once it is about to make one, it asks, and that
 * child is not the owner, while the fork child still is. */
Test(owner, noted_fork_child_then_sharing_child)
{
    int pid = (int)syscall(SYS_fork);
    if (pid == 0) {
        owner_note_self();
        int ok = owner_is_current() && !owner_borrowed_memory();
        owner_memory_may_be_shared();
        static char stack[64 * 1024];
        int c = clone(in_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
        int status;
        ok = ok && c > 0 && waitpid(c, &status, 0) == c && child_borrowed == 1 && child_is_owner == 0;
        _exit(ok && owner_is_current() && !owner_borrowed_memory() ? 0 : 1);
    }
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the fork child owns, its memory-sharing child does not (status %#x)", status);
}

/* What the process writes at each fork lies on a page the kernel zeroes
 * in the child (the parent's writes to it then never fault). */
Test(owner, fork_fresh_zeroed_in_child)
{
    cr_assert(owner_fresh_wiped(), "this kernel wipes pages on fork (Linux 4.14)");
    atomic_store(&fork_fresh->forks, 5);
    int pid = (int)syscall(SYS_fork);
    if (pid == 0)
        _exit(atomic_load(&fork_fresh->forks) == 0 && !fork_fresh->owned ? 0 : 1);
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's copy is zeroed (status %#x)", status);
    cr_expect_eq(atomic_load(&fork_fresh->forks), 5, "the parent's is its own");
}
