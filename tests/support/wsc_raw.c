/* wsc_raw.c -- test support: the bare-socket WebSocket client of wsc.h
 * (wsc_raw_*), for what libwebsockets' client would hide or change: exact
 * close codes (lws 4.1 turns 1012-1015 into 1002), raw frames of any opcode
 * and FIN bit, and pings left unanswered. Blocking, with deadlines. */
#define _GNU_SOURCE
#include "wsc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"

struct wsc_raw {
    int fd;
    int eof;
    int silent;           /* pings are returned to the caller, not answered */
    unsigned char *buf;   /* bytes read and not yet parsed */
    size_t len, cap;
};

/* Read more bytes by the deadline: 0, -1 on time-out, -2 at end of stream. */
static int raw_fill(wsc_raw *r, long long deadline)
{
    if (r->eof)
        return -2;
    long long left = deadline - proc_now_ms();
    if (left < 0)
        left = 0;
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    int n = poll(&pfd, 1, (int)left);
    if (n <= 0)
        return -1;
    if (r->cap - r->len < 4096) {
        size_t cap = r->cap ? r->cap * 2 : 8192;
        unsigned char *p = realloc(r->buf, cap);
        if (!p)
            return -2;
        r->buf = p;
        r->cap = cap;
    }
    ssize_t got = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
    if (got <= 0) {
        r->eof = 1;
        return -2;
    }
    r->len += (size_t)got;
    return 0;
}

static void raw_consume(wsc_raw *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

static int send_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

wsc_raw *wsc_raw_connect(int port, const char *path, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    char req[512];
    wsc_raw *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0)
        goto fail;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        goto fail;
    /* the key is the RFC 6455 sample nonce: the server only has to hash it */
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\n\r\n",
                     path ? path : "/ws", port, port);
    if (send_all(r->fd, req, (size_t)n) < 0)
        goto fail;
    for (;;) {
        unsigned char *hdr_end = r->len >= 4 ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;
        if (hdr_end) {
            size_t hlen = (size_t)(hdr_end - r->buf) + 4;
            if (r->len < 12 || memcmp(r->buf + 9, "101", 3) != 0)
                goto fail;
            raw_consume(r, hlen);
            return r;
        }
        if (raw_fill(r, end) < 0)
            goto fail;
    }

fail:
    wsc_raw_free(r);
    return NULL;
}

int wsc_raw_send_frame(wsc_raw *r, int opcode, int fin, const void *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    /* a fixed mask: masking is for proxies, not secrecy, in a test */
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};

    hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *frame = malloc(h + len);
    if (!frame)
        return -1;
    memcpy(frame, hdr, h);
    for (size_t i = 0; i < len; i++)
        frame[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    int rc = send_all(r->fd, frame, h + len);
    free(frame);
    return rc;
}

int wsc_raw_recv_frame(wsc_raw *r, int timeout_ms, char **payload, size_t *plen)
{
    long long end = proc_now_ms() + timeout_ms;
    for (;;) {
        if (r->len >= 2) {
            size_t h = 2;
            uint64_t len = r->buf[1] & 0x7f;
            int masked = r->buf[1] & 0x80;
            if (len == 126 && r->len >= 4) {
                len = ((uint64_t)r->buf[2] << 8) | r->buf[3];
                h = 4;
            } else if (len == 127 && r->len >= 10) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = (len << 8) | r->buf[2 + i];
                h = 10;
            }
            int have_len = len < 126 || h > 2;  /* extended length all here */
            if (masked)
                h += 4;   /* a server must not mask; tolerate it anyway */
            if (have_len && r->len >= h + len) {
                int op = r->buf[0] & 0x0f;
                char *p = malloc(len + 1);
                if (!p)
                    return -1;
                memcpy(p, r->buf + h, len);
                if (masked)
                    for (uint64_t i = 0; i < len; i++)
                        p[i] ^= r->buf[h - 4 + (i & 3)];
                p[len] = '\0';
                raw_consume(r, h + len);
                if (op == WSC_OP_PING && !r->silent) {
                    wsc_raw_send_frame(r, WSC_OP_PONG, 1, p, len);
                    free(p);
                    continue;
                }
                if (payload)
                    *payload = p;
                else
                    free(p);
                if (plen)
                    *plen = len;
                return op;
            }
        }
        if (raw_fill(r, end) < 0)
            return -1;
    }
}

int wsc_raw_wait_close(wsc_raw *r, int timeout_ms, int *code)
{
    long long end = proc_now_ms() + timeout_ms;
    for (;;) {
        char *p = NULL;
        size_t len = 0;
        long long left = end - proc_now_ms();
        int op = wsc_raw_recv_frame(r, left > 0 ? (int)left : 0, &p, &len);
        if (op < 0) {
            free(p);
            if (r->eof) {
                *code = WSC_CLOSE_ABNORMAL;
                return 0;
            }
            return -1;
        }
        if (op == WSC_OP_CLOSE) {
            *code = len >= 2 ? (((unsigned char)p[0] << 8) | (unsigned char)p[1]) : 1005;
            /* answer it, as RFC 6455 asks; the server may be gone already */
            wsc_raw_send_frame(r, WSC_OP_CLOSE, 1, p, len >= 2 ? 2 : 0);
            free(p);
            return 0;
        }
        free(p);
    }
}

void wsc_raw_free(wsc_raw *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

void wsc_raw_set_silent(wsc_raw *r, int silent)
{
    r->silent = silent;
}
