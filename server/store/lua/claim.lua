-- claim.lua -- claim due games of one deadline bucket ({dN}).
-- KEYS[1] the bucket; ARGV[1] now ms, ARGV[2] lease ms, ARGV[3] max
-- -> {id, deadline, id, deadline, ...}; each claimed id is re-scored to the
-- lease end, so nobody else gets it meanwhile. Whether the game still exists
-- is the caller's check (the game lives in another slot).
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local lease_end = tonumber(ARGV[1]) + tonumber(ARGV[2])
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], lease_end, due[i]) end
return due
