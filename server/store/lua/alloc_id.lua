-- alloc_id.lua -- hand out the next game id (create and quick, first step).
-- KEYS[1] the id counter, KEYS[2] the epoch, KEYS[3] this write's marker
-- (all {m}); ARGV[1] the epoch this process knows, ARGV[2] the highest game
-- id it has seen -> the new id (counter + 99: a fresh store hands out 100,
-- 101, ...). A store that lost its data (no epoch, or another one) hands out
-- nothing, so the caller learns of the loss first; the counter is raised above
-- the highest id seen, so an id is never handed out twice. The marker
-- 'a<id>' lets a caller whose reply was lost find its id (resolve.lua).
if redis.call('EXISTS', KEYS[3]) == 1 then return redis.error_reply('TTTFENCED') end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return redis.error_reply('TTTLOST') end
local floor = tonumber(ARGV[2]) - 99
if floor > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') < floor then
  redis.call('SET', KEYS[1], floor)
end
local id = redis.call('INCR', KEYS[1]) + 99
redis.call('SET', KEYS[3], 'a' .. id, 'PX', 60000)
return id
