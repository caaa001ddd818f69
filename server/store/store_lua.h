/* store_lua.h -- the Redis backend's Lua scripts, embedded at build time from
 * server/store/lua/<name>.lua (cmake/embed_lua.cmake) as NUL-terminated
 * sources. Each script declares every key it touches in KEYS, all of one
 * hash tag, so each runs on one slot of a cluster. */
#ifndef STORE_LUA_H
#define STORE_LUA_H

extern const char store_lua_alloc_id[];
extern const char store_lua_create[];
extern const char store_lua_save[];
extern const char store_lua_reset[];
extern const char store_lua_claim[];
extern const char store_lua_resolve[];
extern const char store_lua_resolve_id[];
extern const char store_lua_beat[];
extern const char store_lua_reap[];
extern const char store_lua_take[];
extern const char store_lua_bye[];
extern const char store_lua_qpush[];

#endif
