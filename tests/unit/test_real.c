/* test_real.c - criterion tests of the real-symbol table (shim/real.c):
 * every field LINGER_REAL_FNS declares is resolved (glibc has them all),
 * the table and the list agree, and the raw system call reports errno as
 * libc does. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

/* The fields, as the list names them. */
#define FIELD_NAME(field, symbol, ret, params) #field,
static const char *const fields[] = { LINGER_REAL_FNS(FIELD_NAME) };
#undef FIELD_NAME

#define FIELD_SYMBOL(field, symbol, ret, params) symbol,
static const char *const symbols[] = { LINGER_REAL_FNS(FIELD_SYMBOL) };
#undef FIELD_SYMBOL

#define NFIELDS (sizeof fields / sizeof fields[0])

Test(real, every_field_resolved)
{
    real_resolve();
    cr_assert_eq(sizeof(struct real_fns), NFIELDS * sizeof(void (*)(void)),
                 "struct real_fns holds exactly the listed pointers");
    void (*const *slot)(void) = (void (*const *)(void)) & real;
    for (size_t i = 0; i < NFIELDS; i++)
        cr_expect_not_null(slot[i], "real.%s (%s) is not resolved", fields[i], symbols[i]);
}

Test(real, symbols_unique)
{
    for (size_t i = 0; i < NFIELDS; i++)
        for (size_t j = i + 1; j < NFIELDS; j++)
            cr_expect(strcmp(symbols[i], symbols[j]) != 0, "%s listed twice", symbols[i]);
}

Test(real, calls_reach_libc)
{
    int fds[2];
    cr_assert_eq(real_pipe(fds), 0);
    cr_expect_eq(real_write(fds[1], "ab", 2), 2);
    char buf[2];
    cr_expect_eq(read(fds[0], buf, 2), 2);
    cr_expect_eq(real_close(fds[0]), 0);
    cr_expect_eq(real_close(fds[1]), 0);
    errno = 0;
    cr_expect_eq(real_close(fds[1]), -1, "a closed number");
    cr_expect_eq(errno, EBADF);
}

Test(real, raw_syscall_errno)
{
    errno = 0;
    cr_expect_eq(raw_syscall(SYS_close, -1, 0, 0, 0, 0, 0), -1);
    cr_expect_eq(errno, EBADF, "errno %d", errno);
    cr_expect_eq(raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0), getpid());
}
