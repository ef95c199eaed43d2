-- A change of a call's fields other than its status (CallStore.updateCall): wrap-up notes, a
-- recording, the screen pop's match... Unchanged values are not written; the change groups of the
-- fields that did change move their counters (`_u`, JSON) by one, so each change reaches the CRM
-- once; the unresolved index follows (candidates and no crmRecord); the event goes out when
-- anything changed. A change of an ended call (not a trial) is one CRM update to send: it goes into
-- the update outbox (`<callId>:<group>:<n>`, replacing the group's earlier one, which it
-- supersedes) in this same step, so an enqueue lost after it is re-driven by housekeeping.
-- KEYS: 1 call, 2 unresolved, 3 events channel, 4 update outbox
-- ARGV: 1 now, 2 wrap-up window in ms ('' = none), 3 event type ('' = none), 4 call id,
--       5 number of fields, then per field: hash field, value, '1' to remove it, group ('' = none)
-- Reply: {'none'} | {'closed', call hash...} | {'ok', changed 0|1, "group:n\n..." bumped, call hash...}
local ck, now = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', ck) == 0 then return {'none'} end
if ARGV[2] ~= '' and RANK[redis.call('HGET', ck, 'status')] == 4 then
  local ended = tonumber(redis.call('HGET', ck, '_hms') or '')
  if ended and now > ended + tonumber(ARGV[2]) then return append({'closed'}, redis.call('HGETALL', ck)) end
end
local changed = 0
local order, bumped = {}, {}
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local b = 6 + i * 4
  local f, v, del, g = ARGV[b], ARGV[b + 1], ARGV[b + 2] == '1', ARGV[b + 3]
  local cur = redis.call('HGET', ck, f)
  local did = false
  if del then
    if cur then
      redis.call('HDEL', ck, f)
      did = true
    end
  elseif cur ~= v then
    redis.call('HSET', ck, f, v)
    did = true
  end
  if did then
    changed = 1
    if g ~= '' and not bumped[g] then
      bumped[g] = true
      order[#order + 1] = g
    end
  end
end
local out = {}
if #order > 0 then
  local raw = redis.call('HGET', ck, '_u')
  local counts = (raw and raw ~= '') and cjson.decode(raw) or {}
  local pending = RANK[redis.call('HGET', ck, 'status')] == 4 and redis.call('HGET', ck, '_trial') ~= '1'
  for _, g in ipairs(order) do
    local was = tonumber(counts[g]) or 0
    counts[g] = was + 1
    out[#out + 1] = g .. ':' .. string.format('%d', counts[g])
    if pending then
      if was > 0 then redis.call('ZREM', KEYS[4], ARGV[4] .. ':' .. g .. ':' .. string.format('%d', was)) end
      redis.call('ZADD', KEYS[4], now, ARGV[4] .. ':' .. g .. ':' .. string.format('%d', counts[g]))
    end
  end
  redis.call('HSET', ck, '_u', cjson.encode(counts))
end
local callId = ARGV[4]
local cand = redis.call('HGET', ck, 'candidates_j')
if cand and cand ~= '[]' and not redis.call('HGET', ck, 'crmRecord_j') then
  if not redis.call('ZSCORE', KEYS[2], callId) then redis.call('ZADD', KEYS[2], now, callId) end
else
  redis.call('ZREM', KEYS[2], callId)
end
if changed == 1 and ARGV[3] ~= '' then publish_call(KEYS[3], ARGV[3], ck) end
return append({'ok', changed, table.concat(out, '\n')}, redis.call('HGETALL', ck))
