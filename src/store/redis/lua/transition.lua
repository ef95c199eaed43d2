-- One status event applied to a call (CallStore.transition), with everything that follows from
-- it in the same step: the provider link (a dial's answer), the caller id, the breaker's success,
-- the click's idempotency outcome, the call.status event, and on the terminal move the user's
-- live-call slot freed and the call handed to the call log (outbox; crmLog pending); an inbound
-- call that ends never answered is marked missed (and call.missed goes out after call.status); a
-- trial call, which is never logged, is scheduled for its purge at once.
-- KEYS: 1 call, 2 pc, 3 live, 4 livecalls, 5 outbox, 6 idem, 7 idemExp, 8 health, 9 events channel,
--       10 expiry
-- ARGV: 1 now, 2 status, 3 at (ISO), 4 at in epoch ms ('' if unparseable), 5 cause ('' = none),
--       6 providerCallId ('' = none), 7 durationSec ('' = none), 8 link field ('' = none),
--       9 from ('' = none), 10 idempotency key ('' = none), 11 '' | 'release' | pinned error JSON,
--       12 breaker provider id ('' = none), 13 closeAfter, 14 call id, 15 '1' to move a time
--       before the call's last transition up to it (notBefore; '' when Node put now for an
--       unparseable time), 16 provider id the call must be on ('' = any: a webhook names a call),
--       17 the status the caller holds the call in ('' = unknown), 18 the provider's price JSON
--       ('' = none; kept as providerPrice), 19 a trial call's purge time (ms)
-- Reply: {'none'} or {'ok', applied 0|1, became terminal 0|1, call hash...}; the hash is left
-- out when the call was in the caller's status and moved (the caller knows what it became)
local ck, now = KEYS[1], tonumber(ARGV[1])
-- the call is read once and written once (a status event is the hottest script there is)
local F = { '_base', 'providerId', '_pcl', 'from', 'status', 'providerCallId', 'history_j', '_hms', '_ams', 'userId', '_live', '_trial', 'crmLog_j' }
local got = redis.call('HMGET', ck, unpack(F))
local c = {}
for i = 1, #F do c[F[i]] = got[i] or nil end
if not c._base then return {'none'} end
if ARGV[16] ~= '' and c.providerId ~= ARGV[16] then return {'none'} end
local callId = ARGV[14]
local w = {}
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[8], callId)
  -- every link of the call is remembered ("\n"-joined), so its purge removes them all
  local links = c._pcl
  if not links or links == '' then
    set_field(c, w, '_pcl', ARGV[8])
  elseif not string.find('\n' .. links .. '\n', '\n' .. ARGV[8] .. '\n', 1, true) then
    set_field(c, w, '_pcl', links .. '\n' .. ARGV[8])
  end
end
if ARGV[9] ~= '' and not c.from then set_field(c, w, 'from', ARGV[9]) end
if ARGV[18] ~= '' then set_field(c, w, 'providerPrice_j', ARGV[18]) end
local before = c.status
local applied = apply_transition(c, w, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[15] == '1')
local terminal = 0
local missed = false
if applied == 1 and RANK[ARGV[2]] == 4 then
  terminal = 1
  if not c._ams and string.find(c._base, '"direction":"inbound"', 1, true) then
    set_field(c, w, 'missed_j', 'true')
    missed = true
  end
  redis.call('ZREM', KEYS[4], callId)
  if c._trial ~= '1' then
    redis.call('ZADD', KEYS[5], now, callId)
    if not c.crmLog_j then set_field(c, w, 'crmLog_j', '{"status":"pending","attempts":0}') end
  else
    redis.call('ZADD', KEYS[10], tonumber(ARGV[19]), callId)
  end
elseif redis.call('ZSCORE', KEYS[4], callId) then
  redis.call('ZADD', KEYS[4], now, callId)
end
if #w > 0 then redis.call('HSET', ck, unpack(w)) end
if terminal == 1 then release_live(KEYS[3], ck, c.userId, c._live) end
if ARGV[10] ~= '' then
  if ARGV[11] == 'release' then
    redis.call('HDEL', KEYS[6], ARGV[10])
    redis.call('ZREM', KEYS[7], ARGV[10])
  elseif ARGV[11] ~= '' then
    local rec = redis.call('HGET', KEYS[6], ARGV[10])
    if rec then redis.call('HSET', KEYS[6], ARGV[10], string.sub(rec, 1, -2) .. ',"error":' .. ARGV[11] .. '}') end
  end
end
if ARGV[12] ~= '' then breaker_success(KEYS[8], ARGV[12], now, tonumber(ARGV[13])) end
if applied == 1 then publish_call(KEYS[9], 'call.status', ck) end
if missed then publish_call(KEYS[9], 'call.missed', ck) end
if applied == 1 and ARGV[17] ~= '' and before == ARGV[17] then return {'ok', applied, terminal} end
return append({'ok', applied, terminal}, redis.call('HGETALL', ck))
