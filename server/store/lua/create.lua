-- create.lua -- write a new game's record (create and quick, second step).
-- KEYS[1] the game hash, KEYS[2] this write's marker (both {ID})
-- ARGV[1] the record, ARGV[2] its index signature, ARGV[3] ttl ms or 0
-- -> 1. The marker says what the write did, for in-doubt resolution
-- (resolve.lua); a write that finds its marker there already was fenced.
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('TTTFENCED') end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('TTTEXISTS') end
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[1], 'x', ARGV[2])
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
redis.call('SET', KEYS[2], 'c', 'PX', 60000)
return 1
