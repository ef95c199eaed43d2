-- An ended call's cost (CostStore.record): on the call, if it still exists, and in the ledger;
-- then up to 100 entries that ended before the cutoff leave the ledger.
-- KEYS: 1 call, 2 costs, 3 costIdx
-- ARGV: 1 call id, 2 entry JSON, 3 cost JSON ('' = none), 4 ended at ms, 5 drop-before ms
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'cost_j', ARGV[3]) else redis.call('HDEL', KEYS[1], 'cost_j') end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]), ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5], 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[3], unpack(old))
end
return 1
