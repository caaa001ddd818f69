-- take.lua -- a dead instance's game set, taken whole by the one process that
-- reaped it. KEYS[1] the set ({i<n>}); ARGV[1] the instance -> {instance, ids...}
local ids = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
table.insert(ids, 1, tonumber(ARGV[1]))
return ids
