-- Drops token buckets that are full again (LimitStore.sweep): a full bucket holds nothing a
-- missing one would not. One HSCAN page per run.
-- KEYS: 1 rl
-- ARGV: 1 now, 2 HSCAN cursor
-- Reply: {next cursor ('0' when done), buckets dropped}
local now = tonumber(ARGV[1])
local r = redis.call('HSCAN', KEYS[1], ARGV[2], 'COUNT', 500)
local n = 0
local flat = r[2]
for i = 1, #flat, 2 do
  local t, ts, cap, rate = string.match(flat[i + 1], '^([^:]+):([^:]+):([^:]+):([^:]+)$')
  t, ts, cap, rate = tonumber(t), tonumber(ts), tonumber(cap), tonumber(rate)
  if t and ts and cap and rate and t + math.max(0, now - ts) * rate >= cap then
    redis.call('HDEL', KEYS[1], flat[i])
    n = n + 1
  end
end
return {r[1], n}
