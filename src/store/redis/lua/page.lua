-- One slice of a filtered listing over a score-0 index (users by id, calls by "<ms>:<id>").
-- Read-only; the Node side calls it again from the returned position until the page is full.
-- KEYS: 1 index zset
-- ARGV: 1 item key prefix (e.g. "<org>u:"), 2 'asc'|'desc', 3 exclusive start member ('' = from the start),
--       4 matches wanted, 5 members to examine at most, 6 '1' when members are "<sortkey>:<id>",
--       7.. field/value pairs every item must match (value '' = field absent or empty)
-- Reply: {resume member ('' when the index is exhausted), matching members...}
local prefix, dir, cur, want, maxScan, sorted = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local fields, values = {}, {}
for i = 7, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  values[#values + 1] = ARGV[i + 1]
end
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
    local ok = true
    if #fields > 0 then
      local id = m
      if sorted then id = string.match(m, '^%d+:(.*)$') or m end
      local got = redis.call('HMGET', prefix .. id, unpack(fields))
      for i = 1, #fields do
        local v = got[i]
        if values[i] == '' then
          if v and v ~= '' then ok = false end
        elseif v ~= values[i] then
          ok = false
        end
      end
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
