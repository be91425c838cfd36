/* fdspace.h - the supervisor's own fd numbers, kept out of the range the
 * program uses. To take a socket out of the program's epoll sets the
 * supervisor places a copy at the very number the program registered it
 * under (see notify.c), so that number must be free in the supervisor. */
#ifndef LINGER_SUPERVISE_FDSPACE_H
#define LINGER_SUPERVISE_FDSPACE_H

/* Sets the high range from the supervisor's fd limit: from limit/2 up
 * (none below a limit of 4096: then every fd stays where it is). */
void fdspace_init(int limit);

/* The first number of the high range (0: none). */
int fdspace_base(void);

/* fd moved into the high range (its old number closed), or fd itself when
 * there is no high range or no room in it. */
int fdspace_high(int fd);

#endif
