-- resolve.lua -- did a write of a game whose reply was lost run? KEYS[1] the
-- game hash; ARGV[1] the write's nonce, ARGV[2] fence ttl ms
-- -> {1, what} it ran ('c' created, 's' saved, 'r' reset: found in field m);
--    {0} it did not, and now never will: the nonce is added to field f
--    (fenced; the last 16 kept), and a write that finds its nonce in f
--    refuses. A game that does not exist gets a hash holding only f, which
--    expires after the fence ttl. A fenced write whose fence fell off f's end
--    needs 16 more fences on that game with no save in between to run.
local cur = redis.call('HMGET', KEYS[1], 'm', 'f')
local at = cur[1] and string.find(cur[1], ARGV[1], 1, true)
if at then return {1, string.sub(cur[1], at + #ARGV[1] + 1, at + #ARGV[1] + 1)} end
if cur[2] and string.find(cur[2], ARGV[1], 1, true) then return {0} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'f', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0}
end
local f = (cur[2] and (cur[2] .. ' ') or '') .. ARGV[1]
if #f > 16 * 33 - 1 then f = string.sub(f, -(16 * 33 - 1)) end
redis.call('HSET', KEYS[1], 'f', f)
return {0}
