-- reset.lua -- deadline_reset's check: is the stored version still the one the
-- caller handled? KEYS[1] the game hash, KEYS[2] this write's marker (both {ID})
-- ARGV[1] the version -> 0 it is (the caller re-arms the deadline index),
-- 2 it moved on (the save that moved it did), 1 the game is gone
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('TTTFENCED') end
redis.call('SET', KEYS[2], 'r', 'PX', 60000)
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 1 end
if v == ARGV[1] then return 0 end
return 2
