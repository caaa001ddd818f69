-- save.lua -- compare-and-save one game, and publish it: the only script a move
-- runs. One key, the game's own hash ({ID}), so one slot on a cluster.
-- KEYS[1] the game hash; ARGV[1] the record, ARGV[2] the version the caller
-- read, ARGV[3] the new index signature, ARGV[4] ttl ms or 0 (persist),
-- ARGV[5] the game's channel, ARGV[6] this write's nonce
-- -> {0} saved, indexes unchanged; {0, old signature} saved, indexes to update
--    (by the caller, after this); {1} not found; {2, current record} conflict
-- Field m: the last 16 writes that ran, '<nonce>:<what>'; field f: fenced
-- nonces (see resolve.lua), absent but after an outage, so a move pays no
-- search.
local cur = redis.call('HMGET', KEYS[1], 'v', 'd', 'x', 'm', 'f')
local m = cur[4]
if cur[5] and string.find(cur[5], ARGV[6], 1, true) then return redis.error_reply('TTTFENCED') end
if not cur[1] then return {1} end
if cur[1] ~= ARGV[2] then return {2, cur[2]} end
m = (m and (m .. ' ') or '') .. ARGV[6] .. ':s'
if #m > 16 * 35 - 1 then m = string.sub(m, -(16 * 35 - 1)) end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[2]) + 1), 'd', ARGV[1], 'x', ARGV[3], 'm', m)
if ARGV[4] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif cur[3] ~= ARGV[3] then redis.call('PERSIST', KEYS[1]) end
redis.call('SPUBLISH', ARGV[5], ARGV[1])
if cur[3] == ARGV[3] then return {0} end
return {0, cur[3] or ''}
