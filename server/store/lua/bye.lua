-- bye.lua -- a clean close. KEYS[1] instances ({m}); ARGV[1] instance,
-- ARGV[2] '1' when it still holds seats (its set was not empty): it is then left
-- with score 0, so a survivor marks those seats away at once.
if ARGV[2] == '1' then redis.call('ZADD', KEYS[1], 0, ARGV[1])
else redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
