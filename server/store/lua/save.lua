-- save.lua -- compare-and-save one game, and publish it: the only script a move
-- runs. Every key is the game's own ({ID}), so it is one slot on a cluster.
-- KEYS[1] the game hash, KEYS[2] this write's marker
-- ARGV[1] the record, ARGV[2] the version the caller read, ARGV[3] the new
-- index signature, ARGV[4] ttl ms or 0 (persist), ARGV[5] the game's channel
-- -> {0} saved, indexes unchanged; {0, old signature} saved, indexes to update
--    (by the caller, after this); {1} not found; {2, current record} conflict
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('TTTFENCED') end
local cur = redis.call('HMGET', KEYS[1], 'v', 'd', 'x')
if not cur[1] then return {1} end
if cur[1] ~= ARGV[2] then return {2, cur[2]} end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[2]) + 1), 'd', ARGV[1], 'x', ARGV[3])
if ARGV[4] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif cur[3] ~= ARGV[3] then redis.call('PERSIST', KEYS[1]) end
redis.call('SPUBLISH', ARGV[5], ARGV[1])
redis.call('SET', KEYS[2], 's', 'PX', 60000)
if cur[3] == ARGV[3] then return {0} end
return {0, cur[3] or ''}
