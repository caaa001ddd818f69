/* nf_check.h -- the network fuzzer's judge of what the server says: every
 * text frame must be a message of the contract that ttt-match could read,
 * every state must be one the rules can reach, states of one game reach a
 * connection in order, and a seat is only ever taken with its own token.
 *
 * It keeps what it learns (game ids, seats and their tokens) so the fuzzing
 * phases can aim at live games and use other connections' tokens. */
#ifndef NF_CHECK_H
#define NF_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define NF_SEATS_MAX 1024
#define NF_GAMES_MAX 1024
#define NF_PENDING 1024
#define NF_SEEN 16

typedef struct nf_seat {
    int64_t game_id;
    int mark;                        /* game_mark */
    char token[PROTO_TOKEN_LEN + 1];
} nf_seat;

/* What one request was, so its direct reply (matched by "id") can be judged. */
typedef struct nf_pending {
    int64_t id;                      /* 0: free */
    int type;                        /* proto_type */
    int64_t game_id;
    const nf_seat *token_of;         /* resume: the seat whose token was sent, or NULL */
    nf_seat token_seat;              /* a copy: the ring may have moved on */
} nf_pending;

/* Per connection: the last ply seen of a few games, for the order check. */
typedef struct nf_seen {
    int64_t game_id[NF_SEEN];
    int ply[NF_SEEN];
    unsigned n;
} nf_seen;

typedef struct nf_judge {
    nf_seat seats[NF_SEATS_MAX];     /* a ring: the newest NF_SEATS_MAX seats */
    size_t nseats, seat_next;
    int64_t games[NF_GAMES_MAX];     /* a ring of game ids seen */
    size_t ngames, game_next;
    nf_pending pending[NF_PENDING];
    uint64_t msgs, states, errors[PROTO_ERR_COUNT], joined, bytes;
    uint64_t violations;
    char first_violation[512];
} nf_judge;

/* Judge one text frame from the server on a connection (seen may be NULL).
 * Returns 0, or -1 after recording a violation. */
int nf_judge_text(nf_judge *j, nf_seen *seen, const unsigned char *p, size_t len);

/* Remember a request with an integer "id" before sending it. */
void nf_judge_expect(nf_judge *j, int64_t id, int type, int64_t game_id,
                     const nf_seat *token_of);

/* Check a state against the rules alone: replay its moves. NULL when it is
 * reachable, else a sentence. */
const char *nf_state_problem(const proto_server_msg *m);

#endif
