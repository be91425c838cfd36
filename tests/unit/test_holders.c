/* test_holders.c - criterion tests of shim/holders.c: the fds open in this
 * process, and whether the parent process holds a socket (asked from a
 * child, whose parent is this test). */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "holders.h"

static int marked[4096];

static void mark(int fd)
{
    if (fd >= 0 && fd < 4096)
        marked[fd] = 1;
}

Test(holders, each_open_fd)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[1]);
    holders_each_open_fd(mark);
    cr_expect(marked[p[0]], "an open fd is marked");
    cr_expect(!marked[p[1]], "a closed one is not");
    close(p[0]);
}

static int visited[4096];

static void visit(int fd, void *arg)
{
    (void)arg;
    if (fd >= 0 && fd < 4096)
        visited[fd]++;
}

Test(holders, each_fd_from)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    int low = p[0] < p[1] ? p[0] : p[1];
    holders_each_fd_from(low + 1, visit, NULL);
    cr_expect(!visited[low], "below first: not visited");
    cr_expect_eq(visited[low == p[0] ? p[1] : p[0]], 1, "from first: visited once");
    close(p[0]);
    close(p[1]);
}

static uint64_t ino_of(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    return (uint64_t)st.st_ino;
}

/* In a child: 0 when holders_parent_lets_go(ino) == want. */
static int child_sees(uint64_t ino, int want)
{
    int pid = fork();
    if (pid == 0)
        _exit(holders_parent_lets_go(ino) == want ? 0 : 1);
    cr_assert_gt(pid, 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

Test(holders, parent_holds_the_socket)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect_eq(child_sees(ino_of(sv[0]), 0), 0, "the parent (this test) holds it: not let go");
    close(sv[0]);
    close(sv[1]);
}

Test(holders, parent_lets_go)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uint64_t ino = ino_of(sv[0]);
    close(sv[0]); /* the child's copy would be the only one: ask about an inode the parent no longer has */
    cr_expect_eq(child_sees(ino, 1), 0, "the parent does not hold it: let go");
    close(sv[1]);
}
