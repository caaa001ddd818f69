-- qpush.lua -- quick, after creating its own waiting game: take the oldest
-- queued game if another caller queued one meanwhile, else queue ours.
-- Atomic in the queue's slot ({q}), so two callers racing on an empty queue
-- end in one game. KEYS[1] the queue; ARGV[1] our new game's id
-- -> the id taken (ours is then dropped), or 0 when ours was queued.
local p = redis.call('ZPOPMIN', KEYS[1])
if #p > 0 then return tonumber(p[1]) end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
return 0
