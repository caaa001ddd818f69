/* proto_general.h -- proto.c's general (jansson) parser on its own, for the
 * tests that compare server/proto_fast.c with it (test_proto_fast,
 * fuzz_proto_fast). Link proto_general.c instead of tttproto. */
#ifndef PROTO_GENERAL_H
#define PROTO_GENERAL_H

#include <stddef.h>

#include "proto.h"

/* proto_parse with its fast path switched off: what jansson says. */
proto_err proto_parse_general(const char *buf, size_t len, proto_req *req);
/* 1 when two parsed requests hold the same fields, and the same bytes (both
 * parsers clear the struct first). */
int proto_req_same(const proto_req *a, const proto_req *b);

#endif
