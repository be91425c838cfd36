/* stats_env.c - a process that does what hosts do to their environment and
 * children, for the tests of the LINGER_STATS file.
 *
 *   stats_env --clobber-env   overwrites its environment strings in place
 *                             (as setproctitle does, in nginx, PostgreSQL,
 *                             Ruby's $0=), then exits
 *   stats_env --children N    forks N children that touch no socket and
 *                             _exit, waits for them, then exits
 *
 * The library reads LINGER_STATS once, at load; what it does later must
 * not depend on memory the host may reuse, and a child with nothing to
 * count must leave no file of its own.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Every environment string, overwritten with 'x' (lengths kept). */
static void clobber_environment(void)
{
    for (char **e = environ; *e; e++)
        memset(*e, 'x', strlen(*e));
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--clobber-env")) {
        clobber_environment();
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--children")) {
        for (int i = 0, n = atoi(argv[2]); i < n; i++) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(0);
            if (pid < 0)
                return 1;
            waitpid(pid, NULL, 0);
        }
        return 0;
    }
    return 2;
}
