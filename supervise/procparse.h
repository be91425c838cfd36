/* procparse.h - pure parsers for the /proc text the supervisor reads. No
 * system calls, no globals. */
#ifndef LINGER_SUPERVISE_PROCPARSE_H
#define LINGER_SUPERVISE_PROCPARSE_H

#include <stdint.h>

/* The parent PID in the text of /proc/PID/stat ("PID (COMM) STATE PPID
 * ..."; COMM may hold spaces and parentheses: it ends at the last ')'),
 * or -1 when the text is not such a line. */
long procparse_ppid(const char *stat_text);

/* The number text spells in decimal (a /proc directory entry), or -1 when
 * it is empty, holds anything but digits, or exceeds 10^9. */
long procparse_number(const char *text);

/* The fd numbers ("tfd: N") under which the file with inode ino is
 * registered in the text of an epoll fd's /proc/PID/fdinfo (lines "tfd: N
 * events: E data: D pos:P ino:HEX sdev:S"; the epoll file's own "ino:\tN"
 * line never matches): at most max of them into tfds;
 * returns how many there are (more than max: some were not stored), or -1
 * when a matching line cannot be read. */
int procparse_epoll_tfds(const char *fdinfo_text, uint64_t ino, int *tfds, int max);

#endif
