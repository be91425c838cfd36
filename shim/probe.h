/* probe.h - the questions the close decision asks a socket: decide.h's
 * facts that cost a system call. They may change errno (the socket's probe
 * leaves EAGAIN): closing.c keeps the app's around the whole decision. */
#ifndef LINGER_PROBE_H
#define LINGER_PROBE_H

#include "decide.h"
#include "fdtable.h"

/* The app is about to set socket option (level, name) on some socket:
 * from the first SO_LINGER (SO_RCVLOWAT) on, every close asks its socket. */
void probe_note_option(int level, int name);

/* The receive side of fd's socket (entry e) right now, without taking
 * anything from it. */
enum peer_state probe_peer(int fd, const struct fd_entry *e);

/* True when the app asked for an abortive close of fd (SO_LINGER on, 0 s). */
int probe_wants_reset(int fd, const struct fd_entry *e);

/* True while fd's connection has not ended (getpeername succeeds). */
int probe_connected(int fd);

/* True when fd is an AF_UNIX socket whose peer is this process: its
 * SO_PEERCRED pid is ours (a socketpair it made and holds both ends of).
 * One getsockopt. */
int probe_self_peer(int fd);

#endif
