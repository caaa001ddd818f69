/* bench_idle.c -- ttt-bench-idle: how much memory an idle player costs.
 *
 * Opens N WebSocket connections to a ttt-server, waits for each one's
 * "welcome", keeps them all open and idle, and reads the server's resident
 * memory (VmRSS of --pid) before and after, printing the cost per
 * connection. Optionally each connection first creates a game, so the
 * figure includes a seat and a room.
 *
 * The client side is deliberately minimal (blocking sockets, a fixed
 * upgrade request, unmasked reads of small frames): it measures the server,
 * and a handful of system calls per connection keeps it out of the way. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one server frame (unmasked, short); returns payload length or -1. */
static int read_frame(int fd, char *buf, size_t cap)
{
    unsigned char h[4];
    if (recv(fd, h, 2, MSG_WAITALL) != 2)
        return -1;
    size_t len = h[1] & 0x7f;
    if (len == 126) {
        if (recv(fd, h + 2, 2, MSG_WAITALL) != 2)
            return -1;
        len = ((size_t)h[2] << 8) | h[3];
    } else if (len == 127)
        return -1;
    if (len >= cap)
        return -1;
    if (len && recv(fd, buf, len, MSG_WAITALL) != (ssize_t)len)
        return -1;
    buf[len] = '\0';
    return (int)len;
}

/* Send one masked text frame (mask 0: the payload is sent as is, XOR 0). */
static int send_text(int fd, const char *text)
{
    size_t len = strlen(text);
    unsigned char frame[256];
    if (len > 125)
        return -1;
    frame[0] = 0x81;
    frame[1] = (unsigned char)(0x80 | len);
    memset(frame + 2, 0, 4);
    memcpy(frame + 6, text, len);
    return send(fd, frame, 6 + len, 0) == (ssize_t)(6 + len) ? 0 : -1;
}

static int ws_open(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        goto fail;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", host, port);
    if (send(fd, req, (size_t)n, 0) != n)
        goto fail;
    /* read the 101 response up to its blank line, byte by byte: it is short */
    char resp[1024];
    size_t got = 0;
    while (got < sizeof resp - 1) {
        if (recv(fd, resp + got, 1, 0) != 1)
            goto fail;
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[got] = '\0';
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
        goto fail;
    char frame[512];
    if (read_frame(fd, frame, sizeof frame) < 0 || !strstr(frame, "\"welcome\""))
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ttt-bench-idle --port N --pid SERVER_PID [--host 127.0.0.1] "
               "[--conns 10000] [--create] [--hold SECONDS]\n"
               "Opens --conns idle WebSocket connections to ttt-server and prints the\n"
               "server's memory per connection (VmRSS of --pid). --create: each connection\n"
               "also opens a game first (a seat and a room per connection).\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, pid = 0, conns = 10000, create = 0;
    double hold = 0;
    static const struct option o[] = {{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'},
                                      {"pid", 1, 0, 'P'}, {"conns", 1, 0, 'n'},
                                      {"create", 0, 0, 'c'}, {"hold", 1, 0, 'H'},
                                      {"help", 0, 0, '?'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
        switch (c) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'P': pid = atoi(optarg); break;
        case 'n': conns = atoi(optarg); break;
        case 'c': create = 1; break;
        case 'H': hold = atof(optarg); break;
        case '?':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (port <= 0 || pid <= 0 || conns <= 0) {
        usage(stderr);
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur < conns + 16) {
        fprintf(stderr, "ttt-bench-idle: file descriptor limit %ld is below %d\n",
                (long)rl.rlim_cur, conns + 16);
        return 1;
    }

    int *fds = calloc((size_t)conns, sizeof(*fds));
    if (!fds)
        return 1;
    long before = rss_kib(pid);
    double t0 = now_s();
    int open_n = 0, failed = 0;
    for (int i = 0; i < conns; i++) {
        int fd = ws_open(host, port);
        if (fd < 0) {
            failed++;
            continue;
        }
        if (create) {
            char frame[1024];
            if (send_text(fd, "{\"type\":\"create\"}") != 0 ||
                read_frame(fd, frame, sizeof frame) < 0 || read_frame(fd, frame, sizeof frame) < 0) {
                close(fd);
                failed++;
                continue;
            }
        }
        fds[open_n++] = fd;
        if (isatty(2) && (i + 1) % 1000 == 0)
            fprintf(stderr, "\r%d/%d connected", i + 1, conns);
    }
    double t1 = now_s();
    if (isatty(2))
        fprintf(stderr, "\n");
    usleep(500000);   /* let the server finish its writes and settle */
    long after = rss_kib(pid);
    printf("connections: %d open, %d failed, in %.2f s (%.0f/s)\n", open_n, failed, t1 - t0,
           open_n / (t1 - t0));
    printf("server VmRSS: %ld KiB before, %ld KiB after\n", before, after);
    if (open_n)
        printf("per connection: %.2f KiB%s\n", (double)(after - before) / open_n,
               create ? " (with one waiting game each)" : " (idle)");
    if (hold > 0)
        usleep((useconds_t)(hold * 1e6));
    for (int i = 0; i < open_n; i++)
        close(fds[i]);
    free(fds);
    return failed ? 1 : 0;
}
