/* proto_int.h -- what the protocol module's files share and nobody else
 * sees: the wire's name tables and the jansson helpers. proto.c parses
 * client requests, proto_enc.c encodes server messages, proto_client.c is
 * the client side, proto_name.c the rule for player names. Included only by
 * server/proto*.c (it includes jansson, which no other module may). */
#ifndef PROTO_INT_H
#define PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by the proto.h / game.h enums; NULL where the wire says null. */
extern const char *const proto__err_names[PROTO_ERR_COUNT];
extern const char *const proto__type_names[PROTO_TYPE_COUNT];
extern const char *const proto__server_type_names[PROTO_S_TYPE_COUNT];
extern const char *const proto__seat_names[3];
extern const char *const proto__status_names[3];
extern const char *const proto__result_names[5];
extern const char *const proto__mark_names[3];
extern const char *const proto__vs_names[2];
extern const char *const proto__level_names[2];

/* Index of string value v in names[0..n-1] (NULL entries never match), or -1
 * when v is not a string or not in the table; compared by length, so an
 * embedded NUL matches nothing. */
int proto__str_index(const json_t *v, const char *const *names, size_t n);
/* Integer member key of o: 0 absent, 1 set, -1 present but not a JSON
 * integer in [lo, hi] (null counts as present). */
int proto__get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out);
/* An "id" member: 0, or -1 (and *id untouched) when it is not one. */
int proto__get_id(const json_t *v, proto_id *id);
/* json_loadb with the flags both directions share; NULL and *err set. */
json_t *proto__load(const char *buf, size_t len, proto_err *err);
/* Dump o (consumed) into a fresh block at headroom (proto.h's convention). */
char *proto__dump(json_t *o, size_t headroom, size_t *len);
/* Add "id" to o when id carries one; consumes o and returns NULL on failure. */
json_t *proto__with_id(json_t *o, const proto_id *id);
/* {"type": type} */
json_t *proto__msg_new(const char *type);
/* A "name" member of a request or a server message (proto_name.c): 0 when
 * absent or blank after trimming (out[0] = '\0'), 1 when set (out holds the
 * trimmed name, NUL-terminated, PROTO_NAME_MAX + 1 bytes), -1 when it breaks
 * the rule. */
int proto__get_name(const json_t *o, const char *key, char out[PROTO_NAME_MAX + 1]);

#endif
