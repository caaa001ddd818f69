-- reset.lua -- deadline_reset's check: is the stored version still the one the
-- caller handled? KEYS[1] the game hash ({ID}); ARGV[1] the version, ARGV[2]
-- this write's nonce -> 0 it is (the caller re-arms the deadline index), 2 it
-- moved on (the save that moved it did), 1 the game is gone
local cur = redis.call('HMGET', KEYS[1], 'v', 'm', 'f')
local m = cur[2]
if cur[3] and string.find(cur[3], ARGV[2], 1, true) then return redis.error_reply('TTTFENCED') end
if not cur[1] then return 1 end
m = (m and (m .. ' ') or '') .. ARGV[2] .. ':r'
if #m > 16 * 35 - 1 then m = string.sub(m, -(16 * 35 - 1)) end
redis.call('HSET', KEYS[1], 'm', m)
if cur[1] == ARGV[1] then return 0 end
return 2
