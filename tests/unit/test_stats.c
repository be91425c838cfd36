/* test_stats.c - criterion tests of the stats file (shim/stats.c): its
 * format, and its writers (the drainer's rewrite and the exit's final
 * write) that never trip over each other. stats.c writes through
 * real_open, real_write and real_close (real.c, linked) and warns through
 * log_msg; this file stands in for log_msg, so that the test sees every
 * warning. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "real.h"
#include "stats.h"

static _Atomic int warnings;

void log_msg(enum log_level level, const char *fmt, ...)
{
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    warnings++;
}

/* A fresh directory for one test's stats file; path gets DIR/stats. */
static void stats_path(char *dir, size_t dsize, char *path, size_t psize)
{
    snprintf(dir, dsize, "/tmp/linger-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, psize, "%s/stats", dir);
}

/* The value of metric line "NAME{pid=...} V" in file path, or -1. */
static long long metric_in(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == '{')
            v = atoll(strrchr(line, ' ') + 1);
    fclose(f);
    return v;
}

/* The number of entries in dir besides . and .. */
static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void remove_dir(const char *dir, const char *path)
{
    unlink(path);
    rmdir(dir);
}

Test(stats_format, every_counter_with_its_pid)
{
    stats_reset();
    stat_add(ST_LINGERED, 7);
    stat_add(ST_CLOSED_IDLE, 2);
    char buf[4096];
    size_t len = stats_format(buf, sizeof buf, 42);
    cr_assert_eq(strlen(buf), len);
    cr_expect_not_null(strstr(buf, "linger_lingered_total{pid=\"42\"} 7\n"));
    cr_expect_not_null(strstr(buf, "linger_closed_total{pid=\"42\",reason=\"idle_timeout\"} 2\n"));
    cr_expect_not_null(strstr(buf, "# TYPE linger_lingering_sockets gauge\n"));
}

Test(stats_format, truncates_within_the_buffer)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    size_t len = stats_format(buf, sizeof buf, 42);
    cr_expect_eq(len, sizeof buf - 1);
    cr_expect_eq(buf[len], '\0');
}

Test(stats_file, percent_p_becomes_the_pid)
{
    char dir[64], path[128], template[128], want[128];
    stats_path(dir, sizeof dir, path, sizeof path);
    snprintf(template, sizeof template, "%s/s.%%p", dir);
    snprintf(want, sizeof want, "%s/s.1234", dir);
    stats_reset();
    stat_add(ST_LINGERED, 3);
    cr_assert_eq(stats_write_file(template, 1234), 0);
    cr_expect_eq(metric_in(want, "linger_lingered_total"), 3);
    cr_expect_eq(entries_in(dir), 1, "only the stats file, no temporary file left");
    remove_dir(dir, want);
}

Test(stats_file, nothing_is_written_after_the_final_write)
{
    char dir[64], path[128];
    stats_path(dir, sizeof dir, path, sizeof path);
    stats_reset();
    stat_add(ST_LINGERED, 5);
    stats_write_final_file(path, 1);
    stat_add(ST_LINGERED, 1);
    stats_update_file(path, 1); /* the drainer's rewrite, just after the exit's */
    cr_expect_eq(metric_in(path, "linger_lingered_total"), 5, "the exit's counters stay in the file");
    stats_reset(); /* a fork child writes its own file again */
    stats_update_file(path, 1);
    cr_expect_eq(metric_in(path, "linger_lingered_total"), 0);
    cr_expect_eq(warnings, 0);
    remove_dir(dir, path);
}

struct hammer {
    const char *path;
    int rounds;
};

/* Rewrites the stats file as fast as it can, counters changing between. */
static void *rewrite_often(void *arg)
{
    const struct hammer *h = arg;
    for (int i = 0; i < h->rounds; i++) {
        stat_add(ST_BYTES_DRAINED, 1);
        stats_update_file(h->path, 1);
    }
    return NULL;
}

Test(stats_file, concurrent_writers_never_fail_and_the_final_write_wins)
{
    char dir[64], path[128];
    stats_path(dir, sizeof dir, path, sizeof path);
    stats_reset();
    struct hammer h = { path, 3000 };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, rewrite_often, &h);
    usleep(20000);
    stat_add(ST_LINGERED, 9);
    stats_write_final_file(path, 1); /* the exit, while the others still write */
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(warnings, 0, "no writer failed (%d warnings)", warnings);
    cr_expect_eq(metric_in(path, "linger_lingered_total"), 9);
    cr_expect_eq(entries_in(dir), 1, "only the stats file, no temporary file left");
    remove_dir(dir, path);
}

Test(stats_file, a_fork_child_that_counted_nothing_writes_no_file)
{
    char dir[64], path[128];
    stats_path(dir, sizeof dir, path, sizeof path);
    stat_add(ST_LINGERED, 4); /* the parent's, before the fork */
    stats_begin_fork_child();
    stats_write_final_file(path, 1);
    cr_expect_eq(entries_in(dir), 0, "a child with nothing to count wrote a file");
    stat_add(ST_LINGERED, 1);
    stats_write_final_file(path, 1);
    cr_expect_eq(metric_in(path, "linger_lingered_total"), 1, "a child that lingered has its own file");
    cr_expect_eq(warnings, 0);
    remove_dir(dir, path);
}
