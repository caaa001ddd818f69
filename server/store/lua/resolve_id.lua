-- resolve_id.lua -- did an alloc_id whose reply was lost run? KEYS[1] its
-- marker ({m}); ARGV[1] fence ttl ms -> {0} it did not, and now never will
-- (the marker is written as a fence, and alloc_id refuses to run when it
-- finds it); {1, 'a<id>'} it did and took that id.
local m = redis.call('GET', KEYS[1])
if not m then
  redis.call('SET', KEYS[1], 'x', 'PX', ARGV[1])
  return {0}
end
if m == 'x' then return {0} end
return {1, m}
