/* hooks_spawn.c - posix_spawn and posix_spawnp. libc makes their child
 * with a clone(CLONE_VM | CLONE_VFORK) of its own, past the clone hook:
 * this hook counts it as a fork. */
#include <errno.h>
#include <spawn.h>

#include "hooks.h"
#include "process.h"
#include "real.h"

/* posix_spawn's child has a copy of our fds (its file actions may hand it
 * a socket): a fork, counted once libc returns - after the child has
 * exec'd, or failed and gone (then nothing is counted). Returns err, the
 * answer of libc's posix_spawn or posix_spawnp. */
static int count_spawned(int err)
{
    if (err == 0)
        process_note_fork();
    return err;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    struct real_fns *r = real_exec_fns();
    return r->posix_spawn ? count_spawned(r->posix_spawn(pid, path, fa, attr, argv, envp)) : ENOSYS;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    struct real_fns *r = real_exec_fns();
    return r->posix_spawnp ? count_spawned(r->posix_spawnp(pid, file, fa, attr, argv, envp)) : ENOSYS;
}
