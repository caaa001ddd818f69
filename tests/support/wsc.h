/* wsc.h -- test support: a small synchronous WebSocket client for the
 * integration tests, on libwebsockets' own poll loop (not libuv).
 *
 * Every call that waits takes a deadline and services the lws context inside
 * itself, so a test reads like a conversation: send, then expect a reply within
 * N ms. Several connections share one wsc_ctx (two players and a spectator in
 * one test); waiting on one of them services all of them, and messages for
 * the others are queued until asked for.
 *
 * Nothing here knows the game protocol except the JSON helpers at the end,
 * which only look at "type". Errors never abort: functions return NULL / -1
 * and leave a sentence in wsc_error(). */
#ifndef TEST_WSC_H
#define TEST_WSC_H

#include <stddef.h>
#include <jansson.h>

typedef struct wsc_ctx wsc_ctx;
typedef struct wsc wsc;

/* Close code reported when the connection ended without a close frame. */
#define WSC_CLOSE_ABNORMAL 1006

/* One lws client context. Freeing it closes and frees every wsc still open
 * on it. NULL on failure. */
wsc_ctx *wsc_ctx_new(void);
void wsc_ctx_free(wsc_ctx *ctx);

/* Open ws://127.0.0.1:port/path (no subprotocol, like a browser) and wait
 * for the handshake. Returns NULL on refusal or time-out. The server's
 * `welcome` is the first message in the queue; it is not consumed here. */
wsc *wsc_connect(wsc_ctx *ctx, int port, const char *path, int timeout_ms);

/* Queue one complete text frame (a copy of text) and ask lws to write it.
 * Frames go out in the order they were queued. Returns 0 or -1 (closed). */
int wsc_send(wsc *w, const char *text);
/* printf-style wsc_send. */
int wsc_sendf(wsc *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One text message of len bytes sent as ceil(len / frag) frames: the first
 * a TEXT frame without FIN, the rest CONTINUATION frames, FIN on the last. */
int wsc_send_fragments(wsc *w, const char *data, size_t len, size_t frag);

/* One binary frame; and one text frame of arbitrary bytes (for invalid UTF-8). */
int wsc_send_binary(wsc *w, const void *data, size_t len);
int wsc_send_raw_text(wsc *w, const void *data, size_t len);

/* Service until every queued frame has been handed to the kernel, or time-out.
 * Returns 0 when the queue is empty. */
int wsc_flush(wsc *w, int timeout_ms);

/* The next complete message (malloc'd, NUL-terminated; *len and *binary
 * optional), or NULL if none arrived within timeout_ms or the connection is
 * closed with nothing left in the queue. */
char *wsc_recv_msg(wsc *w, int timeout_ms, size_t *len, int *binary);
char *wsc_recv(wsc *w, int timeout_ms);

/* The next message parsed as a JSON object (caller decrefs), or NULL on
 * time-out or when it is not a JSON object (see wsc_error()). */
json_t *wsc_recv_json(wsc *w, int timeout_ms);

/* The next message, which must be a JSON object with "type" == type. Skips
 * nothing: any other message is an error (NULL, wsc_error() shows it). */
json_t *wsc_expect(wsc *w, const char *type, int timeout_ms);

/* Messages already received and not yet read (does not service). */
int wsc_pending(const wsc *w);

/* 1 while the WebSocket is open. */
int wsc_is_open(const wsc *w);

/* Wait until the peer has closed the connection; *code gets its close code
 * as lws reports it (WSC_CLOSE_ABNORMAL when the TCP connection ended
 * without one; lws 4.1 turns 1012-1015 into 1002, see wsc_raw below) and
 * *reason (optional) the reason text, valid until wsc_close. Messages still
 * queued are kept. Returns 0, or -1 on time-out. */
int wsc_wait_close(wsc *w, int timeout_ms, int *code, const char **reason);

/* Close (normal closure, waiting a little for it to go out) and free. */
void wsc_close(wsc *w);
/* Drop the TCP connection at once without a close frame, and free: what a
 * player whose network vanished looks like to the server. */
void wsc_drop(wsc *w);

/* Service the context for ms milliseconds (every connection on it). */
void wsc_ctx_service(wsc_ctx *ctx, int ms);

/* The last error of any wsc call on this context, for assertion messages. */
const char *wsc_error(const wsc_ctx *ctx);
wsc_ctx *wsc_get_ctx(const wsc *w);

/* ---- raw: a bare-socket WebSocket client for exact close codes ----------
 * The lws 4.1 client rewrites some legal close codes the peer sends (1012,
 * 1013, 1014 among them) to 1002 before LWS_CALLBACK_WS_PEER_INITIATED_CLOSE
 * sees them (lib/roles/ws/client-parser-ws.c), so "the server closed with
 * 1012" cannot be checked through lws. This client does the handshake and
 * the framing itself on a blocking socket. Blocking calls take a time-out. */
typedef struct wsc_raw wsc_raw;

/* Opcodes (RFC 6455). */
#define WSC_OP_CONT  0x0
#define WSC_OP_TEXT  0x1
#define WSC_OP_BIN   0x2
#define WSC_OP_CLOSE 0x8
#define WSC_OP_PING  0x9
#define WSC_OP_PONG  0xA

/* Connect and complete the handshake; NULL on failure. */
wsc_raw *wsc_raw_connect(int port, const char *path, int timeout_ms);
/* One masked frame. Returns 0 or -1. */
int wsc_raw_send_frame(wsc_raw *r, int opcode, int fin, const void *data, size_t len);
/* The next frame: returns its opcode and a malloc'd NUL-terminated payload
 * in *payload (optional), or -1 on time-out or end of stream. Pings are
 * answered and skipped. */
int wsc_raw_recv_frame(wsc_raw *r, int timeout_ms, char **payload, size_t *len);
/* Skip frames until the peer's close frame or the end of the stream.
 * *code: the close code, 1005 for an empty close, WSC_CLOSE_ABNORMAL for a
 * stream that ended without one. Returns 0, or -1 on time-out. */
int wsc_raw_wait_close(wsc_raw *r, int timeout_ms, int *code);
void wsc_raw_free(wsc_raw *r);
/* silent != 0: wsc_raw_recv_frame returns pings (WSC_OP_PING) instead of
 * answering them, to play a client that has gone quiet. */
void wsc_raw_set_silent(wsc_raw *r, int silent);

#endif
