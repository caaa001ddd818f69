-- resolve.lua -- did a write of a game whose reply was lost run? KEYS[1] the
-- game hash; ARGV[1] the write's nonce, ARGV[2] fence ttl ms
-- -> {0} it did not, and now never will: '<nonce>:x' is added to field m, and
--    the write refuses to run when it finds its nonce there (a game that does
--    not exist gets a hash with only m, expiring after the fence ttl);
--    {1, what} it did ('c' created, 's' saved, 'r' reset).
local m = redis.call('HGET', KEYS[1], 'm')
local at = m and string.find(m, ARGV[1], 1, true)
if at then
  local what = string.sub(m, at + #ARGV[1] + 1, at + #ARGV[1] + 1)
  if what == 'x' then return {0} end
  return {1, what}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'm', ARGV[1] .. ':x')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0}
end
m = (m and (m .. ' ') or '') .. ARGV[1] .. ':x'
if #m > 16 * 35 - 1 then m = string.sub(m, -(16 * 35 - 1)) end
redis.call('HSET', KEYS[1], 'm', m)
return {0}
