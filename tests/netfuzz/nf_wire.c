/* nf_wire.c -- the network fuzzer's sockets, raw WebSocket frames and HTTP
 * GET. See nf_wire.h. Loopback only: every address here is 127.0.0.1. */
#define _GNU_SOURCE
#include "nf_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long long nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    int n;
    do {
        n = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n;
}

int nf_tcp_connect(int port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    socklen_t elen = sizeof(int);
    int soerr = 0;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, timeout_ms) <= 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 || soerr != 0)
            goto fail;
    }
    /* blocking from here on: writes are small, reads always poll first */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
fail:
    close(fd);
    return -1;
}

int nf_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        /* bounded: a server that stops reading must not hang the fuzzer */
        if (wait_fd(fd, POLLOUT, 5000) <= 0)
            return -1;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void nf_close_rst(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

size_t nf_read_some(int fd, char *buf, size_t cap, int idle_ms, int total_ms)
{
    long long end = nf_now_ms() + total_ms;
    size_t got = 0;
    while (got < cap) {
        long long left = end - nf_now_ms();
        if (left <= 0)
            break;
        int wait = got ? (idle_ms < left ? idle_ms : (int)left) : (int)left;
        if (wait_fd(fd, POLLIN, wait) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* ---- frames ---------------------------------------------------------------------- */

size_t nf_ws_encode(unsigned char *out, size_t cap, const nf_frame_spec *spec,
                    const void *payload, size_t len)
{
    uint64_t declared = spec->lie ? spec->declared_len : len;
    size_t h = 2;
    int form = spec->len_form;

    if (form == 0)
        form = declared < 126 ? 0 : declared < 65536 ? 1 : 2;
    if (form == 1 && declared > 0xffff)
        form = 2;
    h += form == 1 ? 2 : form == 2 ? 8 : 0;
    h += spec->masked ? 4 : 0;
    if (h + len > cap)
        return 0;
    out[0] = (unsigned char)((spec->fin ? 0x80 : 0) | ((spec->rsv & 7) << 4) |
                             (spec->opcode & 0x0f));
    out[1] = spec->masked ? 0x80 : 0;
    size_t p = 2;
    if (form == 0) {
        out[1] |= (unsigned char)declared;
    } else if (form == 1) {
        out[1] |= 126;
        out[p++] = (unsigned char)(declared >> 8);
        out[p++] = (unsigned char)declared;
    } else {
        out[1] |= 127;
        for (int i = 7; i >= 0; i--)
            out[p++] = (unsigned char)(declared >> (8 * i));
    }
    unsigned char mk[4] = {(unsigned char)(spec->mask >> 24), (unsigned char)(spec->mask >> 16),
                           (unsigned char)(spec->mask >> 8), (unsigned char)spec->mask};
    if (spec->masked) {
        memcpy(out + p, mk, 4);
        p += 4;
    }
    const unsigned char *src = payload;
    for (size_t i = 0; i < len; i++)
        out[p + i] = spec->masked ? (unsigned char)(src[i] ^ mk[i & 3]) : src[i];
    return p + len;
}

int nf_ws_send_text(nf_ws *w, const char *text, size_t len)
{
    nf_frame_spec spec = {.fin = 1, .opcode = NF_OP_TEXT, .masked = 1, .mask = 0x5a3c961e};
    size_t cap = len + 16;
    unsigned char *buf = malloc(cap);
    int rc = -1;
    if (w->fd < 0 || !buf)
        goto done;
    size_t n = nf_ws_encode(buf, cap, &spec, text, len);
    rc = n ? nf_send_all(w->fd, buf, n) : -1;
done:
    free(buf);
    return rc;
}

/* ---- the client connection --------------------------------------------------------- */

static void gone(nf_ws *w)
{
    w->peer_closed = 1;
    if (!w->close_code)
        w->close_code = 1006;
}

int nf_ws_open(nf_ws *w, int port, int timeout_ms, char *err, size_t errlen)
{
    static const char req[] =
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    long long end = nf_now_ms() + timeout_ms;

    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (!(w->in = malloc(NF_WS_IN_CAP))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((w->fd = nf_tcp_connect(port, timeout_ms)) < 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        goto fail;
    }
    if (nf_send_all(w->fd, req, sizeof(req) - 1) != 0) {
        snprintf(err, errlen, "handshake write failed");
        goto fail;
    }
    for (;;) {
        unsigned char *hdr_end = memmem(w->in, w->inlen, "\r\n\r\n", 4);
        if (hdr_end) {
            size_t hlen = (size_t)(hdr_end - w->in) + 4;
            if (w->inlen < 12 || memcmp(w->in, "HTTP/1.1 101", 12) != 0) {
                snprintf(err, errlen, "handshake refused: %.*s",
                         (int)(hlen < 40 ? hlen : 40), (char *)w->in);
                goto fail;
            }
            memmove(w->in, w->in + hlen, w->inlen - hlen);
            w->inlen -= hlen;
            return 0;
        }
        long long left = end - nf_now_ms();
        if (left <= 0 || w->inlen == NF_WS_IN_CAP || wait_fd(w->fd, POLLIN, (int)left) <= 0) {
            snprintf(err, errlen, "no handshake answer in %d ms", timeout_ms);
            goto fail;
        }
        ssize_t n = recv(w->fd, w->in + w->inlen, NF_WS_IN_CAP - w->inlen, MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
            snprintf(err, errlen, "closed during the handshake");
            goto fail;
        }
        if (n > 0)
            w->inlen += (size_t)n;
    }
fail:
    nf_ws_close(w, 0);
    return -1;
}

void nf_ws_close(nf_ws *w, int rst)
{
    if (w->fd >= 0) {
        if (rst)
            nf_close_rst(w->fd);
        else
            close(w->fd);
    }
    w->fd = -1;
    free(w->in);
    w->in = NULL;
    w->inlen = w->drop = 0;
}

/* Bytes of the frame at the head of the buffer, 0 when incomplete, or
 * (size_t)-1 when it can never fit. */
static size_t frame_at_head(const nf_ws *w, nf_rframe *f)
{
    const unsigned char *b = w->in;
    size_t h = 2;
    uint64_t len;

    if (w->inlen < 2)
        return 0;
    f->fin = b[0] >> 7;
    f->rsv = (b[0] >> 4) & 7;
    f->opcode = b[0] & 0x0f;
    f->masked = b[1] >> 7;
    len = b[1] & 0x7f;
    if (len == 126) {
        if (w->inlen < 4)
            return 0;
        len = (uint64_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (w->inlen < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        h = 10;
    }
    if (f->masked)
        h += 4;
    if (len > NF_WS_IN_CAP - h)
        return (size_t)-1;
    if (w->inlen < h + len)
        return 0;
    f->payload = b + h;
    f->len = (size_t)len;
    return h + (size_t)len;
}

int nf_ws_next(nf_ws *w, int timeout_ms, nf_rframe *f)
{
    long long end = nf_now_ms() + timeout_ms;

    if (!w->in || w->fd < 0)
        return -1;
    if (w->drop) {
        /* the frame handed out last time: its payload was valid until now */
        memmove(w->in, w->in + w->drop, w->inlen - w->drop);
        w->inlen -= w->drop;
        w->drop = 0;
    }
    for (;;) {
        size_t n = frame_at_head(w, f);
        if (n == (size_t)-1) {
            gone(w);
            return -1;
        }
        if (n) {
            if (f->opcode == NF_OP_CLOSE) {
                if (w->peer_closed)
                    return -1;
                w->close_code = f->len >= 2 ? (f->payload[0] << 8 | f->payload[1]) : 1005;
                w->peer_closed = 1;
            }
            w->drop = n;
            return 1;
        }
        if (w->peer_closed)
            return -1;
        long long left = end - nf_now_ms();
        if (wait_fd(w->fd, POLLIN, left > 0 ? (int)left : 0) <= 0)
            return 0;
        ssize_t r = recv(w->fd, w->in + w->inlen, NF_WS_IN_CAP - w->inlen, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            gone(w);
            return -1;
        }
        w->inlen += (size_t)r;
    }
}

/* ---- HTTP GET for the checks ----------------------------------------------------------- */

int nf_http_get(int port, const char *path, int *status, char *body, size_t cap,
                int timeout_ms)
{
    char req[512], resp[65536];
    int fd = nf_tcp_connect(port, timeout_ms);
    if (fd < 0)
        return -1;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Connection: close\r\n\r\n", path);
    if (nf_send_all(fd, req, (size_t)n) != 0) {
        close(fd);
        return -1;
    }
    size_t got = nf_read_some(fd, resp, sizeof resp - 1, 200, timeout_ms);
    close(fd);
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", status) != 1)
        return -1;
    const char *b = strstr(resp, "\r\n\r\n");
    b = b ? b + 4 : "";
    snprintf(body, cap, "%s", b);
    return 0;
}
