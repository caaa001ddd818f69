/* proto_fast.h -- the common requests parsed without building a tree.
 *
 * A move is most of what a busy server reads: {"type":"move","game_id":N,
 * "cell":N,"ply":N} and an optional "id"; create and join come once a game.
 * jansson allocates a dozen nodes for each; this scanner reads them in
 * place. It decides only the messages it can prove are well-formed, valid
 * requests, and returns 0 for everything else (escapes, names, tokens,
 * other members, any error at all), which the caller then parses the
 * general way (proto.c). So it can only ever give the
 * result proto_parse's jansson path gives; test_proto_fast and the
 * fuzz_proto_fast target compare the two on every input they make. */
#ifndef PROTO_FAST_H
#define PROTO_FAST_H

#include <stddef.h>

#include "proto.h"

/* 1: buf is a valid request, *req is filled exactly as proto_parse
 * fills it and the result is PROTO_OK. 0: not decided here; *req is
 * unspecified and the caller parses buf the general way. */
int proto_fast_parse(const char *buf, size_t len, proto_req *req);

#endif
