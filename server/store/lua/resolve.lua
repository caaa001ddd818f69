-- resolve.lua -- did a write whose reply was lost run? KEYS[1] its marker;
-- ARGV[1] fence ttl ms -> {0} it did not, and now never will (the marker is
-- written as a fence, and the write refuses to run when it finds it);
-- {1, marker} it did ('a<id>' id taken, 'c' created, 's' saved, 'r' reset).
local m = redis.call('GET', KEYS[1])
if not m then
  redis.call('SET', KEYS[1], 'x', 'PX', ARGV[1])
  return {0}
end
if m == 'x' then return {0} end
return {1, m}
