/* exec_family.c - each call of the exec family linger interposes, with
 * arguments and environment to pass through unchanged:
 *
 *   exec_family l|lp|le|v|vp|vpe|ve|fexecve|execveat|fail
 *
 * Each execs this program again ("show ARGS...": it prints its argv and
 * $XE) through the named call; "fail" execs a missing file and prints the
 * result and errno. The test compares the output with and without linger.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "show")) {
        for (int i = 0; i < argc; i++)
            printf("[%s]", argv[i]);
        const char *xe = getenv("XE");
        printf(" XE=%s\n", xe ? xe : "-");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: exec_family l|lp|le|v|vp|vpe|ve|fexecve|execveat|fail\n");
        return 2;
    }
    const char *how = argv[1], *self = "/proc/self/exe";
    char *args[] = { "x", "show", "a b", "", "c", NULL };
    char *env[] = { "XE=yes", NULL };
    if (!strcmp(how, "l")) execl(self, "x", "show", "a b", "", "c", (char *)NULL);
    else if (!strcmp(how, "lp")) execlp("exec_family", "x", "show", "p", (char *)NULL);
    else if (!strcmp(how, "le")) execle(self, "x", "show", (char *)NULL, env);
    else if (!strcmp(how, "v")) execv(self, args);
    else if (!strcmp(how, "vp")) execvp("exec_family", args);
    else if (!strcmp(how, "vpe")) execvpe("exec_family", args, env);
    else if (!strcmp(how, "ve")) execve(self, args, env);
    else if (!strcmp(how, "fexecve")) {
        int fd = open(self, O_RDONLY | O_CLOEXEC);
        fexecve(fd, args, env);
    } else if (!strcmp(how, "execveat")) execveat(AT_FDCWD, self, args, env, 0);
    else if (!strcmp(how, "fail")) {
        int r = execl("/nonexistent/exec_family", "x", (char *)NULL);
        printf("execl: %d %s\n", r, strerror(errno));
        r = execvp("no-such-program-exec-family", args);
        printf("execvp: %d %s\n", r, strerror(errno));
        return 0;
    }
    printf("%s: %s\n", how, strerror(errno));
    return 1;
}
