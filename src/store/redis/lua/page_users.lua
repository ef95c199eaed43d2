-- One slice of a filtered user listing over a score-0 index: the org's users, or one provider's
-- ("<providerId> <userId>" members, by lexicographic range). Read-only; Node calls it again from
-- the returned position until the page is full.
-- KEYS: 1 index (users | pu), 2 region, 3 prov
-- ARGV: 1 exclusive start member ('' = from the start), 2 matches wanted, 3 members to examine
--       at most, 4 range min ('-' or "[<pid> "), 5 range max ('+' or "(<pid>!"), 6 member prefix
--       length to strip (0 for users), 7 region filter ('' = none), 8 '1' = unassigned only
-- Reply: {resume member ('' when the index is exhausted), matching user ids...}
local cur, want, maxScan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lo, hi, strip, region, unassigned = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8] == '1'
local chunk = 500
local out = {''}
local scanned = 0
while true do
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], cur == '' and lo or '(' .. cur, hi, 'LIMIT', 0, chunk)
  for _, m in ipairs(batch) do
    cur = m
    scanned = scanned + 1
    local id = strip > 0 and string.sub(m, strip + 1) or m
    local ok = true
    if region ~= '' and redis.call('HGET', KEYS[2], id) ~= region then ok = false end
    if ok and unassigned and redis.call('HEXISTS', KEYS[3], id) == 1 then ok = false end
    if ok then
      out[#out + 1] = id
      if #out - 1 >= want then
        out[1] = cur
        return out
      end
    end
  end
  if #batch < chunk then return out end
  if scanned >= maxScan then
    out[1] = cur
    return out
  end
end
