-- One slice of a filtered listing over a score-0 index (users by id, calls by "<ms>:<id>").
-- Read-only; the Node side calls it again from the returned position until the page is full.
-- KEYS: 1 index zset
-- ARGV: 1 item key prefix (e.g. "<org>c:"), 2 'asc'|'desc', 3 exclusive start member ('' = from the start),
--       4 matches wanted, 5 members to examine at most, 6 '1' when members are "<sortkey>:<id>",
--       7.. conditions as triples (where, name, value), every one must hold:
--          where 'h': field `name` of the item's own hash; where 'o': field <id> of the org hash `name`;
--          value '' means absent or empty
-- Reply: {resume member ('' when the index is exhausted), matching members...}
local prefix, dir, cur, want, maxScan, sorted = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local conds = {}
for i = 7, #ARGV, 3 do conds[#conds + 1] = { ARGV[i], ARGV[i + 1], ARGV[i + 2] } end
local chunk = 500
local out = {''}
local scanned = 0
while true do
  local batch
  if dir == 'asc' then
    batch = redis.call('ZRANGEBYLEX', KEYS[1], cur == '' and '-' or '(' .. cur, '+', 'LIMIT', 0, chunk)
  else
    batch = redis.call('ZREVRANGEBYLEX', KEYS[1], cur == '' and '+' or '(' .. cur, '-', 'LIMIT', 0, chunk)
  end
  for _, m in ipairs(batch) do
    cur = m
    scanned = scanned + 1
    local id = m
    if sorted then id = string.match(m, '^%d+:(.*)$') or m end
    local ok = true
    for _, c in ipairs(conds) do
      local v
      if c[1] == 'o' then v = redis.call('HGET', c[2], id) else v = redis.call('HGET', prefix .. id, c[2]) end
      if c[3] == '' then
        if v and v ~= '' then ok = false end
      elseif v ~= c[3] then
        ok = false
      end
      if not ok then break end
    end
    if ok then
      out[#out + 1] = m
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
