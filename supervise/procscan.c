/* procscan.c - other holders and epoll registrations, from /proc (see
 * procscan.h). */
#include "procscan.h"
#include "procparse.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROCS 65536            /* more processes: the scan gives up (plain close) */
#define MAX_FDINFO (4u << 20)      /* an epoll set's fdinfo longer than this: kept */

/* The whole of a small /proc file into buf (NUL-terminated); its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* The parent of process pid, from /proc/PID/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
    char path[48], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    return (pid_t)procparse_ppid(buf);
}

pid_t procscan_tgid(pid_t tid)
{
    char path[48], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strstr(buf, "\nTgid:");
    return p ? (pid_t)atoi(p + 6) : -1;
}

/* Every process in /proc with its parent. */
struct proc_list {
    int n;
    pid_t pid[MAX_PROCS], ppid[MAX_PROCS];
    unsigned char in_family[MAX_PROCS];
};

/* What the last listing learned: the parent of each process, keyed by its
 * pid and the inode of its /proc/PID directory, which a new process with a
 * reused pid does not share (its directory is a new inode). A parent that
 * changes later (reparenting to a subreaper) is missed: docs/static.md. */
#define CACHE_SLOTS (1 << 16)
static struct { pid_t pid; ino_t ino; pid_t ppid; } cache[CACHE_SLOTS];

/* The parent of pid whose /proc entry has inode ino: from the cache, or
 * read (and cached). */
static pid_t cached_parent(pid_t pid, ino_t ino)
{
    unsigned slot = (unsigned)pid % CACHE_SLOTS;
    if (cache[slot].pid == pid && cache[slot].ino == ino && ino != 0)
        return cache[slot].ppid;
    pid_t ppid = parent_of(pid);
    if (ppid >= 0) {
        cache[slot].pid = pid;
        cache[slot].ino = ino;
        cache[slot].ppid = ppid;
    }
    return ppid;
}

/* Fills l from /proc; -1 when it cannot be read or has too many processes. */
static int list_processes(struct proc_list *l)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    l->n = 0;
    int ok = 0;
    while ((e = readdir(d))) {
        long pid = procparse_number(e->d_name);
        if (pid <= 0)
            continue;
        if (l->n == MAX_PROCS) {
            ok = -1;
            break;
        }
        l->pid[l->n] = (pid_t)pid;
        l->ppid[l->n] = cached_parent((pid_t)pid, e->d_ino);
        l->in_family[l->n] = 0;
        l->n++;
    }
    closedir(d);
    for (int i = 1; i < l->n; i++)
        if (l->pid[i] <= l->pid[i - 1])
            return -1; /* /proc lists pids in ascending order; if not, in doubt */
    return ok;
}

/* The index of pid in l, or -1 (l->pid is ascending: /proc lists
 * processes in pid order). */
static int index_of(const struct proc_list *l, pid_t pid)
{
    int lo = 0, hi = l->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (l->pid[mid] == pid)
            return mid;
        if (l->pid[mid] < pid)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Marks pid in l, if listed. */
static void mark(struct proc_list *l, pid_t pid)
{
    int i = index_of(l, pid);
    if (i >= 0)
        l->in_family[i] = 1;
}

/* Marks the descendants of every marked process: for each process, walks
 * up its parents until a marked one (then all of the walk is family) or
 * the top (then none of it is). At most 1024 levels up. */
static void mark_descendants(struct proc_list *l)
{
    enum { UNKNOWN = 0, IN = 1, OUT = 2 };
    static unsigned char seen[MAX_PROCS];
    static int walk[1024];
    for (int i = 0; i < l->n; i++)
        seen[i] = l->in_family[i] ? IN : UNKNOWN;
    for (int i = 0; i < l->n; i++) {
        int depth = 0, at = i, verdict = OUT;
        while (at >= 0 && depth < 1024) {
            if (seen[at] != UNKNOWN) {
                verdict = seen[at];
                break;
            }
            walk[depth++] = at;
            at = l->ppid[at] > 0 ? index_of(l, l->ppid[at]) : -1;
        }
        for (int k = 0; k < depth; k++)
            seen[walk[k]] = (unsigned char)verdict;
    }
    for (int i = 0; i < l->n; i++)
        l->in_family[i] = seen[i] == IN;
}

/* Notes reg as a registration of target x (KEPT_EPOLL), or marks x
 * KEPT_DOUBT when it has too many. */
static void note_registration(struct scan_target *x, struct epoll_reg reg)
{
    x->kept |= KEPT_EPOLL;
    if (x->nregs < MAX_REGS)
        x->regs[x->nregs++] = reg;
    else
        x->kept |= KEPT_DOUBT;
}

/* Notes the targets registered in the epoll set at fd epfd of process pid
 * (its fdinfo at path: lines "tfd: N events: E data: D pos:P ino:HEX
 * sdev:S"); marks them all KEPT_DOUBT when it cannot be read in full. */
static void mark_registered(const char *path, pid_t pid, int epfd, struct scan_target *t, int n)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = buf && fd >= 0;
    while (ok) {
        if (len + 4096 >= cap) {
            char *bigger = cap * 2 <= MAX_FDINFO ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                ok = 0;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0)
            ok = 0;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    if (ok) {
        buf[len] = '\0';
        for (int i = 0; i < n; i++) {
            int tfds[MAX_REGS];
            int k = procparse_epoll_tfds(buf, t[i].ino, tfds, MAX_REGS);
            if (k < 0 || k > MAX_REGS)
                t[i].kept |= KEPT_DOUBT;
            for (int j = 0; j < k && j < MAX_REGS; j++)
                note_registration(&t[i], (struct epoll_reg){ pid, epfd, tfds[j] });
        }
    } else {
        for (int i = 0; i < n; i++)
            t[i].kept |= KEPT_DOUBT;
    }
    free(buf);
}

/* Looks at every fd of process pid: marks the targets it holds (but under
 * fds c says are closing, when pid is c's process) and the targets its
 * epoll sets have. -1 when its fd list cannot be read. */
static int scan_process(pid_t pid, pid_t closing_pid, const struct closing *c, struct scan_target *t, int n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1; /* gone since the listing: it holds nothing now */
    struct dirent *e;
    while ((e = readdir(d))) {
        long fd = procparse_number(e->d_name);
        if (fd < 0)
            continue;
        char target[64];
        ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strncmp(target, "socket:[", 8) == 0) {
            if (pid == closing_pid && fd >= c->first && fd <= c->last)
                continue;
            unsigned long long ino = strtoull(target + 8, NULL, 10);
            for (int i = 0; i < n; i++)
                if (t[i].ino == ino)
                    t[i].kept |= KEPT_HELD;
        } else if (strcmp(target, "anon_inode:[eventpoll]") == 0) {
            char info[80];
            snprintf(info, sizeof info, "/proc/%d/fdinfo/%ld", (int)pid, fd);
            mark_registered(info, pid, (int)fd, t, n);
        }
    }
    closedir(d);
    return 0;
}

int procscan_mark_kept(pid_t root, const struct closing *c, struct scan_target *t, int n)
{
    static struct proc_list l; /* large: not on the stack; one scan at a time */
    pid_t closing_pid = c->tid ? procscan_tgid(c->tid) : 0;
    if (closing_pid < 0 || list_processes(&l) != 0)
        return -1;
    mark(&l, root);
    if (closing_pid)
        mark(&l, closing_pid);
    mark_descendants(&l);
    for (int i = 0; i < l.n; i++)
        if (l.pid[i] == root && l.ppid[i] > 1)
            mark(&l, l.ppid[i]);
    static pid_t self;
    if (!self)
        self = getpid();
    for (int i = 0; i < l.n; i++)
        if (l.in_family[i] && l.pid[i] != self)
            scan_process(l.pid[i], closing_pid, c, t, n);
    return 0;
}
