-- Retention (CallStore.purge): the calls given, whose purge time has come, go with their listings,
-- provider link, idempotency key and pending CRM updates; then expired idempotency keys go too.
-- KEYS: 1 calls, 2 ucalls, 3 pc, 4 idem, 5 idemExp, 6 expiry, 7 outbox, 8 livecalls, 9 update
--       outbox, 10.. call keys
-- ARGV: 1 now, 2 idempotency keys to expire at most, then the call ids (in KEYS order from 10)
-- Reply: calls purged
local now = tonumber(ARGV[1])
local n = 0
for i = 10, #KEYS do
  local id = ARGV[i - 7]
  local due = tonumber(redis.call('ZSCORE', KEYS[6], id) or '-1')
  if due >= 0 and due <= now then
    local h = redis.call('HMGET', KEYS[i], '_sk', 'userId', '_pcl', '_idem', '_u')
    if h[1] then
      redis.call('ZREM', KEYS[1], h[1])
      if h[2] and h[2] ~= '' then redis.call('ZREM', KEYS[2], h[2] .. ' ' .. h[1]) end
    end
    for _, link in ipairs(split(h[3] or '')) do
      if redis.call('HGET', KEYS[3], link) == id then redis.call('HDEL', KEYS[3], link) end
    end
    if h[4] then
      redis.call('HDEL', KEYS[4], h[4])
      redis.call('ZREM', KEYS[5], h[4])
    end
    redis.call('ZREM', KEYS[6], id)
    redis.call('ZREM', KEYS[7], id)
    redis.call('ZREM', KEYS[8], id)
    if h[5] and h[5] ~= '' then
      for g, c in pairs(cjson.decode(h[5])) do redis.call('ZREM', KEYS[9], id .. ':' .. g .. ':' .. string.format('%d', c)) end
    end
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(expired) do
  redis.call('HDEL', KEYS[4], k)
  redis.call('ZREM', KEYS[5], k)
end
return n
