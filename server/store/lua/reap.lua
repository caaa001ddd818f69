-- reap.lua -- claim dead instances. KEYS[1] instances, KEYS[2] reap_last,
-- KEYS[3] reap_grace (all {m}); ARGV[1] self, ARGV[2] stale ms, ARGV[3] max,
-- ARGV[4] gap ms -> {instance, ...}, each removed here, so it goes to exactly
-- one caller, which then takes its game set (take.lua, another slot). When
-- nobody reaped for longer than the gap, Redis (or every process) stalled and
-- all heartbeats with it: nobody is reaped until each had a stale period to beat.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('SET', KEYS[2], now)
if now - last > tonumber(ARGV[4]) then
  redis.call('SET', KEYS[3], now + tonumber(ARGV[2]))
  return {}
end
if now < tonumber(redis.call('GET', KEYS[3]) or '0') then return {} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, ARGV[3])
local out = {}
for _, i in ipairs(dead) do
  if i ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], i)
    out[#out + 1] = i
  end
end
return out
