/* test_ownfd.c - criterion tests of the shim's own fds (shim/ownfd.c): the
 * high range, an fd moved there (close-on-exec, marked FK_SHIM, its low
 * number free again), moved again when the app names its number, and
 * released. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fdtable.h"
#include "ownfd.h"

static void setup(void)
{
    if (!fdt)
        cr_assert_eq(fdt_init(), 0, "fdt_init");
    ownfd_init(16);
}

TestSuite(ownfd, .init = setup);

Test(ownfd, base_in_the_upper_half)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    unsigned soft = rl.rlim_cur < fdt_size ? (unsigned)rl.rlim_cur : fdt_size;
    cr_expect_geq(ownfd_base(), (int)(soft / 2), "never the lower half");
    cr_expect_lt(ownfd_base(), (int)soft);
    cr_expect_eq(fdt_own_base, (unsigned)ownfd_base());
}

Test(ownfd, protect_moves_high)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    _Atomic int slot = p[0];
    int high = ownfd_protect(&slot);
    cr_expect_geq(high, ownfd_base());
    cr_expect_eq(slot, high);
    cr_expect_eq(fdt_kind(&fdt[high]), FK_SHIM);
    cr_expect(fcntl(high, F_GETFD) & FD_CLOEXEC, "close-on-exec");
    cr_expect_eq(fcntl(p[0], F_GETFD), -1, "the low number is free again");

    /* the app dup2s onto the shim's number: it moves away first */
    ownfd_relocate(high);
    cr_expect_neq(slot, high, "moved again");
    cr_expect_eq(fdt_kind(&fdt[high]), FK_UNKNOWN, "its old number is the app's");
    cr_expect_eq(fdt_kind(&fdt[slot]), FK_SHIM);
    close(high);

    int now = slot;
    ownfd_release(&slot);
    cr_expect_eq(fdt_kind(&fdt[now]), FK_UNKNOWN, "released: no longer the shim's");
    close(now);
    close(p[1]);
}

/* A released shim fd that was the highest touched in its range lowers the
 * range's mark (fdt_untouch_top): a fork child's scans of the range stop
 * below it and touch no page there. One released below another still
 * open leaves the mark alone. */
Test(ownfd, release_of_the_top_fd_lowers_the_mark)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    _Atomic int low = p[0], top = p[1];
    int l = ownfd_protect(&low), t = ownfd_protect(&top);
    cr_assert(l >= ownfd_base() && t > l, "two shim fds, %d below %d", l, t);
    cr_assert_eq(fdt_own_high, (unsigned)t + 1);

    ownfd_release(&low); /* not the top: the mark stays */
    cr_expect_eq(fdt_own_high, (unsigned)t + 1, "released below the top");
    cr_expect_eq(fdt[l].ino, 0u, "the released entry is all zero");
    close(l);

    ownfd_release(&top);
    cr_expect_eq(fdt_own_high, (unsigned)t, "released the top: the scans stop below it");
    cr_expect_eq(fdt_kind(&fdt[t]), FK_UNKNOWN);
    close(t);
}
