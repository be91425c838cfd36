/* sockcheck.c - whether a socket copy should linger (see sockcheck.h). */
#include "sockcheck.h"

#include "fdspace.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* its tcp_info has tcpi_bytes_sent */
#include <stddef.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The TCP states (include/net/tcp_states.h), which no uapi header names. */
enum { ST_ESTABLISHED = 1, ST_FIN_WAIT1 = 4, ST_FIN_WAIT2 = 5, ST_CLOSE = 7, ST_LISTEN = 10 };

static int diag_fd = -1;

int sockcheck_init(void)
{
    diag_fd = fdspace_high(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (diag_fd >= 0) {
        struct timeval tv = { 1, 0 }; /* the kernel answers at once; never hang on it */
        setsockopt(diag_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return diag_fd;
}

/* 1 when a TCP listener exists on local's address and port (in the
 * supervisor's network namespace, which is the program's), 0 when not or
 * when the kernel cannot say. One exact sock_diag lookup with no remote
 * end: the kernel finds the listener that would take a connection there. */
static int listener_exists(const struct sockaddr_storage *local)
{
    if (diag_fd < 0)
        return 0;
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nh = { .nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
        .req = { .sdiag_family = (unsigned char)local->ss_family, .sdiag_protocol = IPPROTO_TCP,
                 .idiag_states = 1u << ST_LISTEN },
    };
    msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (local->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)local;
        msg.req.id.idiag_sport = a->sin_port;
        memcpy(msg.req.id.idiag_src, &a->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)local;
        msg.req.id.idiag_sport = a->sin6_port;
        memcpy(msg.req.id.idiag_src, &a->sin6_addr, 16);
    }
    if (send(diag_fd, &msg, sizeof msg, 0) != (ssize_t)sizeof msg)
        return 0;
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n = recv(diag_fd, buf, sizeof buf, 0);
    if (n < (ssize_t)sizeof(struct nlmsghdr))
        return 0;
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return 0; /* NLMSG_ERROR: ENOENT, no listener there */
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    return m->idiag_state == ST_LISTEN;
}

int sock_should_linger(int fd, struct sock_facts *f)
{
    /* getsockopt first: on anything but a socket it fails at once
     * (ENOTSOCK), where fstat could wait on a file system (a FUSE mount
     * the program itself serves, blocked in this very close) */
    int domain = 0, protocol = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6))
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    len = sizeof protocol;
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 || protocol != IPPROTO_TCP)
        return 0;
    struct tcp_info ti;
    len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return 0;
    int unread = 0;
    if (ioctl(fd, SIOCINQ, &unread) != 0)
        unread = 0;
    int peer_open = ti.tcpi_state == ST_ESTABLISHED || ti.tcpi_state == ST_FIN_WAIT1
                    || ti.tcpi_state == ST_FIN_WAIT2;
    if (ti.tcpi_state == ST_LISTEN || ti.tcpi_state == ST_CLOSE || (!peer_open && unread <= 0))
        return 0;
    /* nothing sent: no response a reset could cut (a fork server's parent
     * closing its copy right after the fork, before the child answers) */
    if (len < offsetof(struct tcp_info, tcpi_bytes_sent) + sizeof ti.tcpi_bytes_sent || ti.tcpi_bytes_sent == 0)
        return 0;
    struct sockaddr_storage local;
    len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) != 0 || !listener_exists(&local))
        return 0;
    f->ino = (uint64_t)st.st_ino;
    f->unread = unread;
    return 1;
}
