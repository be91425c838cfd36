/* procparse.c - pure parsers for /proc text (see procparse.h). */
#include "procparse.h"

#include <stdio.h>
#include <string.h>

long procparse_ppid(const char *stat_text)
{
    const char *p = strrchr(stat_text, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    if (*p < 'A' || *p > 'z' || p[1] != ' ')
        return -1; /* the state letter */
    p += 2;
    long v = 0;
    int digits = 0;
    if (*p == '-')
        return -1;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++)
        v = v * 10 + (*p - '0');
    return digits && (*p == ' ' || *p == '\0' || *p == '\n') ? v : -1;
}

long procparse_number(const char *text)
{
    long v = 0;
    if (!*text)
        return -1;
    for (; *text; text++) {
        if (*text < '0' || *text > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*text - '0');
    }
    return v;
}

int procparse_epoll_tfds(const char *fdinfo_text, uint64_t ino, int *tfds, int max)
{
    char want[40];
    snprintf(want, sizeof want, " ino:%llx ", (unsigned long long)ino);
    int n = 0;
    for (const char *line = fdinfo_text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *hit = strstr(line, want);
        if (hit && hit < line + len) {
            long tfd = -1;
            if (strncmp(line, "tfd:", 4) != 0)
                return -1;
            const char *p = line + 4;
            while (*p == ' ')
                p++;
            for (tfd = 0; *p >= '0' && *p <= '9' && tfd <= 100000000; p++)
                tfd = tfd * 10 + (*p - '0');
            if (*p != ' ' || p == line + 4)
                return -1;
            if (n < max)
                tfds[n] = (int)tfd;
            n++;
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}
