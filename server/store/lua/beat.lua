-- beat.lua -- heartbeat, and the first contact's epoch step. Every key is {m}.
-- KEYS[1] epoch, KEYS[2] id counter, KEYS[3] instance counter, KEYS[4] instances
-- ARGV[1] instance (0 at first contact: one is taken from the counter here),
-- ARGV[2] the epoch this process knows ('' at first), ARGV[3] a fresh epoch to
-- write when there is none, ARGV[4] the highest game id seen
-- -> {listed anew, lost, epoch, instance}. The epoch is written once
-- per data set: missing or changed under a process that knew one means the
-- data was lost; every live process then raises the counters above what it saw.
local lost = 0
local e = redis.call('GET', KEYS[1])
if not e then
  redis.call('SET', KEYS[1], ARGV[3])
  e = ARGV[3]
  if ARGV[2] ~= '' then lost = 1 end
elseif ARGV[2] ~= '' and e ~= ARGV[2] then lost = 1 end
local floor = tonumber(ARGV[4]) - 99
if floor > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') < floor then
  redis.call('SET', KEYS[2], floor)
end
local i = tonumber(ARGV[1])
if i == 0 then
  i = redis.call('INCR', KEYS[3])
elseif tonumber(redis.call('GET', KEYS[3]) or '0') < i then
  redis.call('SET', KEYS[3], i)
end
local t = redis.call('TIME')
local added = redis.call('ZADD', KEYS[4], t[1] * 1000 + math.floor(t[2] / 1000), tostring(i))
if ARGV[1] == '0' then added = 0 end
return {added, lost, e, i}
