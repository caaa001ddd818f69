/* store_codec.c -- the record format of store_codec.h, encoder and decoder.
 * Every read is bounds-checked against the input length, and the decoded
 * values against the ranges the server relies on: the bytes come from Redis
 * and are hostile until decoded. */
#include "store_codec.h"

#include <string.h>

typedef struct wbuf {
    uint8_t *p;
    size_t n;
} wbuf;

static void put8(wbuf *w, uint8_t v) { w->p[w->n++] = v; }

static void put16(wbuf *w, uint16_t v)
{
    put8(w, (uint8_t)v);
    put8(w, (uint8_t)(v >> 8));
}

static void put32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put8(w, (uint8_t)(v >> (8 * i)));
}

static void put64(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put8(w, (uint8_t)(v >> (8 * i)));
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
    int bad;
} rbuf;

static uint8_t get8(rbuf *r)
{
    if (r->off >= r->n) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->off++];
}

static uint16_t get16(rbuf *r)
{
    uint16_t v = get8(r);
    return (uint16_t)(v | (uint16_t)get8(r) << 8);
}

static uint32_t get32(rbuf *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)get8(r) << (8 * i);
    return v;
}

static uint64_t get64(rbuf *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)get8(r) << (8 * i);
    return v;
}

/* A name as u8 length + bytes; a string that does not fit (never written by
 * the manager) is cut at STORE_NAME_MAX bytes rather than overflow out. */
static void put_name(wbuf *w, const char *s)
{
    size_t n = strnlen(s, STORE_NAME_MAX);
    put8(w, (uint8_t)n);
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

size_t rec_encode(const store_game *g, int64_t id, uint64_t version, uint8_t kind,
                  uint8_t *out)
{
    wbuf w = {out, 0};
    put8(&w, REC_FORMAT);
    put64(&w, (uint64_t)id);
    put64(&w, version);
    put16(&w, g->st.board.x);
    put16(&w, g->st.board.o);
    for (int i = 0; i < GAME_CELLS; i++)
        put8(&w, g->st.moves[i]);
    put8(&w, g->st.ply);
    put8(&w, g->st.status);
    put8(&w, g->st.result);
    put8(&w, g->st.winner);
    for (int i = 0; i < 3; i++)
        put8(&w, (uint8_t)g->st.line[i]);
    for (int i = 0; i < 2; i++) {
        const store_seat *st = &g->seat[i];
        uint8_t nh = st->nholders > STORE_MAX_HOLDERS ? STORE_MAX_HOLDERS : st->nholders;
        put8(&w, st->taken);
        put8(&w, st->computer);
        put8(&w, nh);
        for (int h = 0; h < nh; h++)
            put32(&w, st->holders[h]);
        put64(&w, (uint64_t)st->away_ms);
        memcpy(w.p + w.n, st->token_hash, STORE_HASH_LEN);
        w.n += STORE_HASH_LEN;
    }
    put8(&w, kind);
    put8(&w, g->level);
    put8(&w, g->rematch[0]);
    put8(&w, g->rematch[1]);
    put64(&w, (uint64_t)g->rematch_id);
    put64(&w, (uint64_t)g->created_ms);
    put64(&w, (uint64_t)g->updated_ms);
    put64(&w, (uint64_t)g->deadline_ms);
    /* format 2 */
    put_name(&w, g->name[0]);
    put_name(&w, g->name[1]);
    for (int i = 0; i < 4; i++)
        put32(&w, g->series[i]);
    put64(&w, (uint64_t)g->started_ms);
    for (int i = 0; i < g->st.ply && i < GAME_CELLS; i++)
        put32(&w, g->times[i]);
    put_name(&w, g->rematch_name[0]);
    put_name(&w, g->rematch_name[1]);
    return w.n;
}

/* The ranges the server indexes arrays by or switches on: a record that
 * passes cannot make a reader step outside moves[], a result table or a
 * mark. Nothing more (the rules are not re-checked). */
static int rec_sane(const store_game *g)
{
    const game_state *s = &g->st;
    if (s->ply > GAME_CELLS || s->status > GAME_OVER || s->result > GAME_RESULT_ABANDON ||
        s->winner > GAME_O || (s->board.x | s->board.o) > 0x1ff)
        return 0;
    for (int i = 0; i < s->ply; i++)
        if (s->moves[i] >= GAME_CELLS)
            return 0;
    for (int i = 0; i < 3; i++)
        if (s->line[i] < -1 || s->line[i] >= GAME_CELLS)
            return 0;
    for (int i = 0; i < 2; i++)
        if (g->seat[i].taken > 1 || g->seat[i].computer > 1)
            return 0;
    return g->kind <= STORE_KIND_REMATCH && g->level <= GAME_AI_PERFECT &&
           g->rematch[0] <= 1 && g->rematch[1] <= 1 && g->id > 0;
}

/* A name written by put_name into out (STORE_NAME_MAX + 1 bytes). A NUL
 * inside would make the C string shorter than what was stored: refused. */
static void get_name(rbuf *r, char *out)
{
    uint8_t n = get8(r);
    if (n > STORE_NAME_MAX) {
        r->bad = 1;
        return;
    }
    for (int i = 0; i < n; i++)
        if ((out[i] = (char)get8(r)) == '\0')
            r->bad = 1;
    out[n] = '\0';
}

/* What format 2 adds after the format-1 fields. */
static void get_v2(rbuf *r, store_game *g)
{
    get_name(r, g->name[0]);
    get_name(r, g->name[1]);
    for (int i = 0; i < 4; i++)
        g->series[i] = get32(r);
    g->started_ms = (int64_t)get64(r);
    /* ply was range-checked by nobody yet: read at most GAME_CELLS times
     * and let rec_sane refuse a larger ply */
    for (int i = 0; i < g->st.ply && i < GAME_CELLS; i++) {
        g->times[i] = get32(r);
        if (i && g->times[i] < g->times[i - 1])
            r->bad = 1;   /* the wire promises times never decrease */
    }
    get_name(r, g->rematch_name[0]);
    get_name(r, g->rematch_name[1]);
}

int rec_decode(const void *p, size_t n, store_game *g)
{
    rbuf r = {p, n, 0, 0};
    memset(g, 0, sizeof(*g));
    if (!p)
        return -1;
    uint8_t format = get8(&r);
    if (format != REC_FORMAT && format != REC_FORMAT_1)
        return -1;
    g->id = (int64_t)get64(&r);
    g->version = get64(&r);
    g->st.board.x = get16(&r);
    g->st.board.o = get16(&r);
    for (int i = 0; i < GAME_CELLS; i++)
        g->st.moves[i] = get8(&r);
    g->st.ply = get8(&r);
    g->st.status = get8(&r);
    g->st.result = get8(&r);
    g->st.winner = get8(&r);
    for (int i = 0; i < 3; i++)
        g->st.line[i] = (int8_t)get8(&r);
    for (int i = 0; i < 2; i++) {
        store_seat *st = &g->seat[i];
        st->taken = get8(&r);
        st->computer = get8(&r);
        st->nholders = get8(&r);
        if (st->nholders > STORE_MAX_HOLDERS)
            return -1;
        for (int h = 0; h < st->nholders; h++)
            st->holders[h] = get32(&r);
        st->away_ms = (int64_t)get64(&r);
        for (int h = 0; h < STORE_HASH_LEN; h++)
            st->token_hash[h] = get8(&r);
    }
    g->kind = get8(&r);
    g->level = get8(&r);
    g->rematch[0] = get8(&r);
    g->rematch[1] = get8(&r);
    g->rematch_id = (int64_t)get64(&r);
    g->created_ms = (int64_t)get64(&r);
    g->updated_ms = (int64_t)get64(&r);
    g->deadline_ms = (int64_t)get64(&r);
    if (format == REC_FORMAT)
        get_v2(&r, g);
    if (r.bad || r.off != r.n)
        return -1;
    return rec_sane(g) ? 0 : -1;
}
