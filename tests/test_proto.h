/* test_proto.h -- what the test_proto sources share: parsing from a buffer of
 * exactly the input's length (no terminating NUL, so ASan catches a parser
 * that reads past len) and building game states for the encoders. */
#ifndef TEST_PROTO_H
#define TEST_PROTO_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ---- helpers ------------------------------------------------------------ */

static inline proto_err parse_n(const char *text, size_t len, proto_req *r) {
    char *buf = malloc(len ? len : 1);
    proto_err rc;

    cr_assert_not_null(buf);
    memcpy(buf, text, len);
    rc = proto_parse(buf, len, r);
    free(buf);
    return rc;
}

static inline proto_err parse(const char *text, proto_req *r) {
    return parse_n(text, strlen(text), r);
}

static inline proto_err parse_server_n(const char *text, size_t len, proto_server_msg *m) {
    char *buf = malloc(len ? len : 1);
    proto_err rc;

    cr_assert_not_null(buf);
    memcpy(buf, text, len);
    rc = proto_parse_server(buf, len, m);
    free(buf);
    return rc;
}

static inline proto_err parse_server(const char *text, proto_server_msg *m) {
    return parse_server_n(text, strlen(text), m);
}

/* Each input must fail with want. */
static inline void expect_all(const char *const *inputs, size_t n, proto_err want) {
    proto_req r;
    size_t i;

    for (i = 0; i < n; i++) {
        proto_err got = parse(inputs[i], &r);
        cr_expect_eq(got, want, "input %s: got %s, want %s", inputs[i],
                     proto_err_name(got), proto_err_name(want));
    }
}
#define EXPECT_ALL(arr, want) expect_all(arr, sizeof(arr) / sizeof(arr[0]), want)

/* The JSON text of an encoder's block, checked for the block convention. */
static inline char *text_of(char *block, size_t headroom, size_t len) {
    cr_assert_not_null(block);
    cr_assert_eq(block[headroom + len], '\0');
    cr_assert_eq(strlen(block + headroom), len, "no NUL inside the text");
    memset(block, 0xAB, headroom); /* the headroom is the caller's to write */
    return block + headroom;
}

/* A game_state built by hand (the rules module is tested elsewhere). */
static inline game_state mkstate(const int *moves, int n, int status, int result,
                          int winner, int l0, int l1, int l2) {
    game_state st;
    int i;

    memset(&st, 0, sizeof(st));
    for (i = 0; i < n; i++) {
        st.moves[i] = (uint8_t)moves[i];
        if (i % 2 == 0)
            st.board.x |= (uint16_t)(1u << moves[i]);
        else
            st.board.o |= (uint16_t)(1u << moves[i]);
    }
    st.ply = (uint8_t)n;
    st.status = (uint8_t)status;
    st.result = (uint8_t)result;
    st.winner = (uint8_t)winner;
    st.line[0] = (int8_t)l0;
    st.line[1] = (int8_t)l1;
    st.line[2] = (int8_t)l2;
    return st;
}

#endif
