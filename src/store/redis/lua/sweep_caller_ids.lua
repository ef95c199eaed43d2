-- Drops expired sticky caller ids (ComplianceStore.sweepCallerIds). One HSCAN page per run, so
-- a million destinations are swept in short steps between clicks. No index is kept beside the
-- hash: a sorted set by expiry would cost every click a ZADD (and as much memory again) to save
-- the housekeeper a scan it does off the call path.
-- KEYS: 1 cid
-- ARGV: 1 now, 2 HSCAN cursor, 3 page size
-- Reply: {next cursor ('0' when done), entries dropped}
local now = tonumber(ARGV[1])
local r = redis.call('HSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local flat = r[2]
local gone = {}
for i = 1, #flat, 2 do
  local exp = tonumber(string.match(flat[i + 1], '|([^|]*)$'))
  if not exp or exp <= now then gone[#gone + 1] = flat[i] end
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
return {r[1], #gone}
