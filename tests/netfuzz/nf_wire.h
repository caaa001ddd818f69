/* nf_wire.h -- the network fuzzer's wire layer: TCP on loopback, a raw
 * WebSocket client that can write any frame (well-formed or not), and a tiny
 * HTTP client for the checks.
 *
 * Raw sockets rather than libwebsockets' client: a fuzzer must be able to
 * send what a correct client never would (unmasked frames, lying lengths,
 * reserved opcodes), and must not be stopped by its own library. Every wait
 * takes a bound in milliseconds; nothing here blocks without one. */
#ifndef NF_WIRE_H
#define NF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NF_WS_IN_CAP (256u * 1024u)   /* server frames buffered per connection */

/* Monotonic milliseconds. */
long long nf_now_ms(void);

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
int nf_tcp_connect(int port, int timeout_ms);
/* Write all of buf; 0, or -1 when the peer is gone (never SIGPIPE). */
int nf_send_all(int fd, const void *buf, size_t len);
/* Close with a TCP RST instead of a FIN (SO_LINGER 0). */
void nf_close_rst(int fd);
/* Read whatever arrives into buf until the peer closes, or nothing came for
 * idle_ms after the first byte, or total_ms passed. Returns bytes read. */
size_t nf_read_some(int fd, char *buf, size_t cap, int idle_ms, int total_ms);

/* WebSocket opcodes (RFC 6455 section 5.2). */
enum { NF_OP_CONT = 0, NF_OP_TEXT = 1, NF_OP_BIN = 2, NF_OP_CLOSE = 8,
       NF_OP_PING = 9, NF_OP_PONG = 10 };

/* How to write one frame. The defaults (zero-filled, then fin = 1, masked =
 * 1) give a correct client frame; every other field makes it wrong in one
 * chosen way. */
typedef struct nf_frame_spec {
    int fin;
    int rsv;            /* the three RSV bits, 0..7 */
    int opcode;         /* 0..15 */
    int masked;
    uint32_t mask;
    int len_form;       /* 0 shortest, 1 force 16-bit, 2 force 64-bit */
    int lie;            /* 1: declare declared_len instead of the real length */
    uint64_t declared_len;
} nf_frame_spec;

/* Encode one frame into out (cap bytes); returns its length, or 0 when it
 * does not fit. The payload is masked with spec->mask when spec->masked. */
size_t nf_ws_encode(unsigned char *out, size_t cap, const nf_frame_spec *spec,
                    const void *payload, size_t len);

/* One connection's frames as the server sent them. */
typedef struct nf_ws {
    int fd;             /* -1 when closed */
    unsigned char *in;  /* NF_WS_IN_CAP bytes */
    size_t inlen;
    size_t drop;        /* bytes of the frame last handed out, dropped next call */
    int peer_closed;    /* the server sent a close frame or closed the socket */
    int close_code;     /* from its close frame, 1006 when there was none */
} nf_ws;

/* A server frame as read; payload points into the connection's buffer and is
 * valid until the next nf_ws_* call on it. */
typedef struct nf_rframe {
    int fin, rsv, opcode, masked;
    const unsigned char *payload;
    size_t len;
} nf_rframe;

/* Connect and do the opening handshake (path "/ws", no subprotocol, as a
 * browser does). 0, or -1 with a reason in err. Bytes after the 101 stay in
 * the buffer for nf_ws_next(). */
int nf_ws_open(nf_ws *w, int port, int timeout_ms, char *err, size_t errlen);
void nf_ws_close(nf_ws *w, int rst);

/* Write a correct masked text frame. 0, or -1 when the peer is gone. */
int nf_ws_send_text(nf_ws *w, const char *text, size_t len);

/* The next complete server frame within timeout_ms (0: only what is already
 * readable). Returns 1 with *f filled, 0 when none came in time, -1 when the
 * connection is gone (peer_closed set) or the server broke the framing (a
 * frame the buffer cannot hold). A close frame is returned once, then -1. */
int nf_ws_next(nf_ws *w, int timeout_ms, nf_rframe *f);

/* GET path on a fresh connection (Connection: close); fills the status and
 * up to cap-1 bytes of body (NUL-terminated). 0, or -1 with no answer. */
int nf_http_get(int port, const char *path, int *status, char *body, size_t cap,
                int timeout_ms);

#endif
