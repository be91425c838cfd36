/* test_procparse.c - supervise/procparse.c: the /proc text the supervisor reads. */
#include <criterion/criterion.h>

#include "procparse.h"

Test(procparse, ppid_plain)
{
    cr_expect_eq(procparse_ppid("1234 (server) S 1 1234 1234 0 -1 4194560 ..."), 1);
    cr_expect_eq(procparse_ppid("77 (a) R 76 77 1\n"), 76);
}

Test(procparse, ppid_name_with_parens_and_spaces)
{
    /* the name is whatever the program set: it ends at the last ')' */
    cr_expect_eq(procparse_ppid("42 (evil) S 999 (x) S 7 1 1"), 7);
    cr_expect_eq(procparse_ppid("42 (two words) Z 5 0 0"), 5);
}

Test(procparse, ppid_zero_for_the_top)
{
    cr_expect_eq(procparse_ppid("1 (init) S 0 1 1"), 0);
}

Test(procparse, ppid_rejects_garbage)
{
    cr_expect_eq(procparse_ppid(""), -1);
    cr_expect_eq(procparse_ppid("12 no parens S 1"), -1);
    cr_expect_eq(procparse_ppid("12 (x)"), -1);
    cr_expect_eq(procparse_ppid("12 (x) S "), -1);
    cr_expect_eq(procparse_ppid("12 (x) S -1 2"), -1);
    cr_expect_eq(procparse_ppid("12 (x) S 12345678901 2"), -1);
}

Test(procparse, number)
{
    cr_expect_eq(procparse_number("0"), 0);
    cr_expect_eq(procparse_number("4194304"), 4194304);
    cr_expect_eq(procparse_number(""), -1);
    cr_expect_eq(procparse_number("self"), -1);
    cr_expect_eq(procparse_number("12a"), -1);
    cr_expect_eq(procparse_number("99999999999"), -1);
}

static const char EPOLL_INFO[] =
    "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n"
    "tfd:        4 events:       19 data:                4  pos:0 ino:1fb5b6 sdev:9\n"
    "tfd:        7 events:       19 data:     7f0012345678  pos:0 ino:abc sdev:9\n";

Test(procparse, epoll_tfds_no_other)
{
    int tfds[2];
    cr_expect_eq(procparse_epoll_tfds(EPOLL_INFO, 0x1fb5b, tfds, 2), 0); /* a prefix is not the inode */
    cr_expect_eq(procparse_epoll_tfds(EPOLL_INFO, 0xfb5b6, tfds, 2), 0); /* nor a suffix */
}

Test(procparse, epoll_tfds)
{
    int tfds[4] = { -1, -1, -1, -1 };
    cr_expect_eq(procparse_epoll_tfds(EPOLL_INFO, 0x1fb5b6, tfds, 4), 1);
    cr_expect_eq(tfds[0], 4);
    cr_expect_eq(procparse_epoll_tfds(EPOLL_INFO, 0xabc, tfds, 4), 1);
    cr_expect_eq(tfds[0], 7);
    cr_expect_eq(procparse_epoll_tfds(EPOLL_INFO, 0x1038, tfds, 4), 0);
    cr_expect_eq(procparse_epoll_tfds("", 1, tfds, 4), 0);
}

Test(procparse, epoll_tfds_several_and_too_many)
{
    static const char two[] =
        "tfd:        5 events:       19 data:                5  pos:0 ino:99 sdev:9\n"
        "tfd:       12 events:       19 data:                c  pos:0 ino:99 sdev:9\n";
    int tfds[1] = { -1 };
    cr_expect_eq(procparse_epoll_tfds(two, 0x99, tfds, 1), 2); /* two, one stored */
    cr_expect_eq(tfds[0], 5);
}

Test(procparse, epoll_tfds_unreadable_line)
{
    int tfds[2];
    cr_expect_eq(procparse_epoll_tfds("weird: x ino:99 sdev:9\n", 0x99, tfds, 2), -1);
    cr_expect_eq(procparse_epoll_tfds("tfd: x ino:99 sdev:9\n", 0x99, tfds, 2), -1);
}
