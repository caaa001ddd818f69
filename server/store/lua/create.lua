-- create.lua -- write a new game's record (create and quick, second step).
-- KEYS[1] the game hash ({ID}); ARGV[1] the record, ARGV[2] its index
-- signature, ARGV[3] ttl ms or 0, ARGV[4] this write's nonce -> 1.
-- Field m keeps the last writes' nonces with what they did ('<nonce>:c'), for
-- in-doubt resolution (resolve.lua); field f the fenced ones: a write that
-- finds its nonce in f refuses. Keeping them in the hash, not in keys of their own, keeps every
-- write a one-key script: it runs on a slot being migrated as long as the
-- game is there, and follows it (ASK) once it moved.
local f = redis.call('HGET', KEYS[1], 'f')
if f and string.find(f, ARGV[4], 1, true) then return redis.error_reply('TTTFENCED') end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('TTTEXISTS') end
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[1], 'x', ARGV[2], 'm', ARGV[4] .. ':c')
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
