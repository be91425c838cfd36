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

int procparse_epoll_has(const char *fdinfo_text, uint64_t ino)
{
    char want[40];
    snprintf(want, sizeof want, " ino:%llx ", (unsigned long long)ino);
    return strstr(fdinfo_text, want) != NULL;
}
