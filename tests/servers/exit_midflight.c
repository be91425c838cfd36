/* exit_midflight.c - a threaded server whose main thread calls exit() while
 * its connection threads are still writing responses and closing sockets.
 *
 *   exit_midflight [--threads N] [--after-ms N] [--status S]
 *
 * In one process: N server threads accept on a shared listener and answer
 * each connection in one of two ways, alternating:
 *   - an upload: read the head, write an early 413 with Connection: close,
 *     close() without reading the body (the case linger lingers);
 *   - a download: write a 200 with Connection: close and a 1 MiB body in
 *     4 KiB writes, 1 ms apart, then close (a response still being written
 *     when the process exits); every other one without Content-Length, its
 *     body ending with the close.
 * N client threads keep making those requests. After --after-ms the main
 * thread calls exit(S) with everything in flight. SIGPIPE keeps its default
 * action, as in most servers that never thought about it: a write to a socket
 * shut down under the app kills the process, and the exit status shows it.
 *
 * Exits with S (default 3), printing nothing; the test checks the status.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static const char REJECT[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";
static const char DOWNLOAD_HEAD[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n";
/* the same body without a length: it ends when the server closes */
static const char STREAM_HEAD[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
static _Atomic unsigned downloads;
static const char DOWNLOAD_REQUEST[] = "GET /down HTTP/1.1\r\nHost: x\r\n\r\n";

static int listener;
static struct sockaddr_in addr;

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void answer_download(int c)
{
    static const char block[4096];
    const char *head = downloads++ % 2 ? STREAM_HEAD : DOWNLOAD_HEAD;
    if (kit_write_all(c, head, strlen(head)) != 0)
        return;
    for (int i = 0; i < 256; i++) {
        if (kit_write_all(c, block, sizeof block) != 0)
            return;
        nap_ms(1);
    }
}

static void *server_thread(void *arg)
{
    (void)arg;
    int c;
    while ((c = kit_accept(listener)) >= 0) {
        char kind = kit_read_head(c);
        if (kind == 'P')
            kit_write_all(c, REJECT, sizeof REJECT - 1);
        else if (kind == 'G')
            answer_download(c);
        close(c);
    }
    return NULL;
}

/* One request (an upload of 256 KiB, or a download); the answer is read
 * until EOF and thrown away. */
static void one_client(int upload)
{
    int s;
    if (upload) {
        s = kit_upload(&addr, 262144);
    } else if ((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0
               && (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0
                   || send(s, DOWNLOAD_REQUEST, sizeof DOWNLOAD_REQUEST - 1, MSG_NOSIGNAL) <= 0)) {
        close(s);
        s = -1;
    }
    if (s < 0)
        return;
    char buf[4096];
    while (recv(s, buf, sizeof buf, 0) > 0)
        ;
    close(s);
}

static void *client_thread(void *arg)
{
    int upload = (int)(long)arg;
    for (;;)
        one_client(upload);
    return NULL;
}

static void start_detached(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, fn, arg) != 0) {
        perror("pthread_create");
        exit(1);
    }
    pthread_attr_destroy(&a);
}

int main(int argc, char **argv)
{
    int threads = 4, after_ms = 200, status = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--after-ms")) after_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--status")) status = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: exit_midflight [--threads N] [--after-ms N] [--status S]\n"); return 2; }
    }
    listener = kit_listen_loopback(&addr, 512);
    for (int i = 0; i < threads; i++)
        start_detached(server_thread, NULL);
    for (int i = 0; i < threads; i++)
        start_detached(client_thread, (void *)(long)(i % 2));
    nap_ms(after_ms);
    exit(status); /* with every thread still busy */
}
