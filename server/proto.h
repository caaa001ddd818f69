/* proto.h -- the wire contract (docs/protocol.md, version 1): JSON text
 * frames to structs and structs back to JSON.
 *
 * The only module that knows JSON (jansson). It does no I/O and knows
 * nothing of libwebsockets, libuv or the store, in the spirit of
 * picohttpparser: bytes in, a struct out; a struct in, bytes out. */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "game.h"

#define PROTO_VERSION 1
#define PROTO_MAX_MESSAGE 4096  /* bytes of one client message, all fragments */
#define PROTO_MAX_ID 64         /* bytes of a request "id" string */
#define PROTO_TOKEN_LEN 32      /* lowercase hex characters of a seat token */
#define PROTO_NAME_CHARS 24     /* code points of a player's name, at most */
#define PROTO_NAME_MAX 96       /* bytes of a name: 24 code points of UTF-8 */

typedef enum proto_type {
    PROTO_CREATE = 0,
    PROTO_JOIN,
    PROTO_QUICK,
    PROTO_RESUME,
    PROTO_WATCH,
    PROTO_MOVE,
    PROTO_RESIGN,
    PROTO_REMATCH,
    PROTO_LIST,
    PROTO_PING,
    PROTO_TYPE_COUNT
} proto_type;

/* Error codes of the contract, in its order. proto_err_name() gives the wire
 * string ("bad_json", ...). PROTO_OK is not an error. */
typedef enum proto_err {
    PROTO_OK = 0,
    PROTO_EBAD_JSON,
    PROTO_EBAD_MESSAGE,
    PROTO_EUNKNOWN_TYPE,
    PROTO_ENO_SUCH_GAME,
    PROTO_EGAME_FULL,
    PROTO_ENOT_IN_GAME,
    PROTO_ENOT_PLAYING,
    PROTO_ENOT_YOUR_TURN,
    PROTO_ECELL_TAKEN,
    PROTO_ESTALE,
    PROTO_EGAME_OVER,
    PROTO_EBAD_TOKEN,
    PROTO_ERATE_LIMITED,
    PROTO_EUNAVAILABLE,
    PROTO_ERR_COUNT
} proto_err;

/* The optional request "id", echoed in the direct reply with its JSON type. */
typedef enum proto_id_kind {
    PROTO_ID_NONE = 0,
    PROTO_ID_STRING,
    PROTO_ID_INT
} proto_id_kind;

typedef struct proto_id {
    uint8_t kind;              /* proto_id_kind */
    uint8_t len;               /* bytes in str, when kind == PROTO_ID_STRING */
    char str[PROTO_MAX_ID + 1];/* NUL-terminated; may hold embedded NULs (use len) */
    int64_t num;               /* when kind == PROTO_ID_INT */
} proto_id;

/* One parsed client message. Fields a type does not use are left zero. */
typedef struct proto_req {
    proto_type type;
    proto_id id;
    int64_t game_id;           /* join resume watch move resign rematch */
    int cell;                  /* move: 0..8 */
    int ply;                   /* move: 0..9, or -1 when absent */
    uint8_t vs_computer;       /* create: 1 when vs == "computer" */
    uint8_t level;             /* create: game_ai_level, GAME_AI_PERFECT by default */
    char token[PROTO_TOKEN_LEN + 1]; /* resume: as sent, NUL-terminated */
    uint8_t token_len;         /* resume: bytes in token (a wrong length is bad_token later) */
    char name[PROTO_NAME_MAX + 1]; /* create join quick rematch: trimmed, "" for none */
} proto_req;

const char *proto_err_name(proto_err e);
const char *proto_type_name(proto_type t);

/* Parse one complete client message of len bytes (not NUL-terminated).
 * Returns PROTO_OK and fills *req, or one of PROTO_EBAD_JSON,
 * PROTO_EBAD_MESSAGE, PROTO_EUNKNOWN_TYPE. Even on error, req->id is filled
 * when the message was a JSON object with a valid "id", so the error reply
 * can carry it. Field rules (the contract's "Field types are strict"):
 *   - type: required string; unknown string -> PROTO_EUNKNOWN_TYPE
 *   - id: string of <= 64 bytes or JSON integer, else PROTO_EBAD_MESSAGE
 *   - game_id: JSON integer >= 1; cell: integer 0..8; ply: integer 0..9
 *   - vs: "human" | "computer"; level: "easy" | "perfect"
 *   - token: string of <= 64 bytes (its value is checked by the caller)
 *   - name (create join quick rematch): see proto_name_norm()
 *   - unknown fields are ignored. */
proto_err proto_parse(const char *buf, size_t len, proto_req *req);

/* The contract's rule for a player's name, on len bytes of UTF-8 at in:
 * leading and trailing white space (what JavaScript's trim() removes) is
 * dropped; what remains must be 1..24 code points of valid UTF-8 with no
 * control character (U+0000-U+001F, U+007F-U+009F). Returns 1 and the
 * trimmed name NUL-terminated in out, 0 when nothing remains (no name;
 * out = ""), -1 when the rule is broken. */
int proto_name_norm(const char *in, size_t len, char out[PROTO_NAME_MAX + 1]);
/* 1 when s (NUL-terminated) is a name exactly as proto_name_norm leaves one. */
int proto_name_valid(const char *s);
/* "Computer (easy)" or "Computer (perfect)" for a game_ai_level. */
const char *proto_computer_name(uint8_t level);

/* ---- Encoding: server to client ----------------------------------------
 *
 * Every encoder returns a malloc'd block of headroom + *len + 1 bytes; the
 * JSON text sits at block + headroom and is NUL-terminated. The headroom lets
 * the caller put its own header and libwebsockets' LWS_PRE in front of the
 * payload without a copy. NULL on allocation failure. The caller frees the
 * block. id may be NULL (no "id" member). */

typedef enum proto_seat {
    PROTO_SEAT_OPEN = 0,
    PROTO_SEAT_CONNECTED = 1,
    PROTO_SEAT_AWAY = 2
} proto_seat;

/* What a "state" message shows. */
typedef struct proto_state {
    int64_t game_id;
    const game_state *st;
    uint8_t seat[2];   /* proto_seat of X (seat[0]) and O (seat[1]) */
} proto_state;

typedef struct proto_game_entry {
    int64_t game_id;
    int64_t age_s;
} proto_game_entry;

/* What a "state" carries since "Version 1, additions": names, the series
 * of the rematch chain, and the time of each move. */
typedef struct proto_state_more {
    const char *names[2];      /* X, O: NUL-terminated, NULL or "" for null. A
                                * name that breaks the rule goes out as null. */
    uint32_t series[4];        /* games, X's wins, O's wins, draws */
    const uint32_t *times;     /* st->ply entries (ms since playing), NULL = all 0 */
} proto_state_more;

char *proto_encode_welcome(const char *server, size_t headroom, size_t *len);
char *proto_encode_joined(const proto_id *id, int64_t game_id, game_mark mark,
                          const char *token, size_t headroom, size_t *len);
char *proto_encode_watching(const proto_id *id, int64_t game_id,
                            size_t headroom, size_t *len);
/* The state of version 1 without its additions (names, series, times). */
char *proto_encode_state(const proto_state *s, size_t headroom, size_t *len);
/* The state with its additions; more == NULL is proto_encode_state(). */
char *proto_encode_state_full(const proto_state *s, const proto_state_more *more,
                              size_t headroom, size_t *len);
/* The longest "state" with its additions, its NUL included. */
#define PROTO_STATE_MAX 768
/* proto_encode_state_full's text into the caller's buf of cap bytes, with
 * no allocation (the state of every move goes out this way, into a reused
 * msg): its length, NUL not counted, or 0 for a state that cannot be
 * encoded or a cap under PROTO_STATE_MAX. */
size_t proto_encode_state_to(const proto_state *s, const proto_state_more *more,
                             char *buf, size_t cap);
char *proto_encode_rematch_offer(int64_t game_id, size_t headroom, size_t *len);
char *proto_encode_games(const proto_id *id, const proto_game_entry *games,
                         size_t n, size_t headroom, size_t *len);
/* The same with each entry's "name": names[i] is the creator's (NULL or ""
 * for null, a name that breaks the rule goes out as null). */
char *proto_encode_games_named(const proto_id *id, const proto_game_entry *games,
                               const char *const *names, size_t n,
                               size_t headroom, size_t *len);
char *proto_encode_pong(const proto_id *id, size_t headroom, size_t *len);
/* message == NULL uses a default human sentence for the code. */
char *proto_encode_error(const proto_id *id, proto_err code, const char *message,
                         size_t headroom, size_t *len);

/* ---- The client side (ttt-match, test clients) --------------------------
 * Parsing what a server sends and encoding what a client sends, so that no
 * other module of the project handles JSON either. */

typedef enum proto_server_type {
    PROTO_S_WELCOME = 0,
    PROTO_S_JOINED,
    PROTO_S_WATCHING,
    PROTO_S_STATE,
    PROTO_S_REMATCH_OFFER,
    PROTO_S_GAMES,
    PROTO_S_PONG,
    PROTO_S_ERROR,
    PROTO_S_TYPE_COUNT
} proto_server_type;

#define PROTO_MAX_LISTED 64   /* games kept from one "games" reply by the parser */

/* One parsed server message. Fields a type does not carry are zero. */
typedef struct proto_server_msg {
    proto_server_type type;
    proto_id id;                       /* joined watching games pong error */
    int64_t game_id;                   /* joined watching state rematch_offer */
    uint8_t mark;                      /* joined: game_mark */
    char token[PROTO_TOKEN_LEN + 1];   /* joined */
    char server[64];                   /* welcome (truncated) */
    int protocol;                      /* welcome */
    game_state st;                     /* state: board moves ply status result winner line */
    uint8_t turn;                      /* state: game_mark, GAME_NONE for null */
    uint8_t seat[2];                   /* state: proto_seat of X and O */
    proto_err code;                    /* error */
    size_t ngames;                     /* games: total in the reply */
    proto_game_entry games[PROTO_MAX_LISTED]; /* games: the first PROTO_MAX_LISTED */
    /* "Version 1, additions", each optional (an older server sends none) */
    uint8_t has_names, has_series, has_times;   /* state: which were sent */
    char names[2][PROTO_NAME_MAX + 1]; /* state: X, O; "" for null */
    uint32_t series[4];                /* state: games, X, O, draws */
    uint32_t times[GAME_CELLS];        /* state: ply entries */
    char game_names[PROTO_MAX_LISTED][PROTO_NAME_MAX + 1]; /* games: "" for null */
} proto_server_msg;

/* Parse one server message. Returns PROTO_OK, PROTO_EBAD_JSON, or
 * PROTO_EBAD_MESSAGE when a required field is missing or malformed (for a
 * state: board not 9 of X/O/., moves not 0..8, ply != number of moves; and,
 * when present, names not strings or null breaking the name rule, series
 * not four integers >= 0, times not ply integers >= 0 never decreasing). It
 * checks shape, not rules: whether the state is legal is the caller's
 * business (game/ decides). */
proto_err proto_parse_server(const char *buf, size_t len, proto_server_msg *m);

/* Encode a client request; game_id/cell/ply/vs/level/token/name are written
 * when the type uses them (ply only when >= 0, name only when not "").
 * Same block convention as above. */
char *proto_encode_request(const proto_req *req, size_t headroom, size_t *len);

#endif
