-- A click-to-call in one round trip (CallStore.click). Node decided it on in-process snapshots
-- (the org's config, the user); this script checks them and, if they still hold, commits it:
-- the Idempotency-Key, the provider's health (claiming a half-open trial), the limits (token
-- buckets and the live-call slot), the call with its listings, and the call.created event. A
-- refusal writes nothing (a claimed trial is given back). The do-not-call list is checked here,
-- so a number listed before the click commits is never dialled; the caller id the customer
-- sees is chosen here too, sticky per destination (one script: no extra round trip).
-- KEYS: 1 ver, 2 uver, 3 prov, 4 health, 5 idem, 6 idemExp, 7 rl, 8 live, 9 call, 10 calls,
--       11 ucalls, 12 livecalls, 13 pc, 14 events channel, 15 profile, 16 dnc, 17 cid
-- ARGV: 1 now, 2 org version, 3 user id, 4 user version, 5 assigned provider id ('' = none),
--       6 idempotency key ('' = none), 7 fingerprint, 8 idempotency TTL (ms), 9 call id,
--       10 sort key, 11 chain length C, then C (providerId, kind) pairs, then the number F of
--       call field/value arguments and the F arguments, then take_limits' arguments, then per
--       chain provider its caller id (the pool's best match, or its configured one; '' = none)
--       and its pool (",n1,n2,", '' = no pool), then the destination and the stickiness (ms)
-- Reply: {'stale', orgVersion, profile|false, providerId|false, version|false}
--      | {'replay', record JSON}
--      | {'unavailable', providerId, retryAfterMs}
--      | {'limited', limit index, retryAfterMs}
--      | {'dnc'}
--      | {'created', picked index (1-based), trial 0|1, breaker failures, caller id ('' = none)}
local now = tonumber(ARGV[1])
local uid, assigned, ikey = ARGV[3], ARGV[5], ARGV[6]
local ver = redis.call('GET', KEYS[1]) or '0'
local uv = redis.call('HGET', KEYS[2], uid) or '0'
local prov = redis.call('HGET', KEYS[3], uid) or ''
if ver ~= ARGV[2] or uv ~= ARGV[4] or prov ~= assigned or redis.call('HEXISTS', KEYS[15], uid) == 0 then
  return {'stale', ver, redis.call('HGET', KEYS[15], uid), redis.call('HGET', KEYS[3], uid), redis.call('HGET', KEYS[2], uid)}
end
if ikey ~= '' then
  local rec = redis.call('HGET', KEYS[5], ikey)
  local exp = tonumber(redis.call('ZSCORE', KEYS[6], ikey) or '0')
  if rec and exp > now then
    -- the replayed call is read by Node afterwards: its key is not this script's to touch
    return {'replay', rec}
  end
end
local c = tonumber(ARGV[11])
local cid0 = #ARGV - 2 - c * 2
local dest = ARGV[#ARGV - 1]
if redis.call('SISMEMBER', KEYS[16], dest) == 1 then return {'dnc'} end
local picked, trial, failures = 0, 0, 0
for i = 1, c do
  local pid = ARGV[11 + (i - 1) * 2 + 1]
  local ok, isTrial, r = breaker_claim(KEYS[4], pid, now)
  if ok then
    picked, failures = i, r[1]
    if isTrial then trial = 1 end
    break
  end
end
if picked == 0 then
  local first = c > 0 and ARGV[12] or assigned
  local r = breaker_get(KEYS[4], first)
  local wait = 0
  if r[2] > now then wait = r[2] - now elseif r[4] > now then wait = r[4] - now end
  return {'unavailable', first, wait}
end
local pid = ARGV[11 + (picked - 1) * 2 + 1]
local kind = ARGV[11 + (picked - 1) * 2 + 2]
local f0 = 12 + c * 2
local nf = tonumber(ARGV[f0])
local refused = take_limits(KEYS[7], KEYS[8], f0 + nf, now)
if refused then
  if trial == 1 then
    local r = breaker_get(KEYS[4], pid)
    r[4] = 0
    breaker_put(KEYS[4], pid, r)
  end
  return {'limited', refused[1], refused[2]}
end
local fields = {}
for i = f0 + 1, f0 + nf do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'providerId'
fields[#fields + 1] = pid
fields[#fields + 1] = 'providerKind'
fields[#fields + 1] = kind
if assigned ~= '' and pid ~= assigned then
  fields[#fields + 1] = 'failedOverFrom'
  fields[#fields + 1] = assigned
end
local callId = ARGV[9]
-- local presence: the picked provider's pool number for the destination (sticky)
local callerId = sticky_caller_id(KEYS[17], pid, dest, ARGV[cid0 + (picked - 1) * 2 + 1], ARGV[cid0 + (picked - 1) * 2 + 2], now, tonumber(ARGV[#ARGV]))
if callerId ~= '' then
  fields[#fields + 1] = 'callerId'
  fields[#fields + 1] = callerId
end
if tonumber(ARGV[f0 + nf + 2 + tonumber(ARGV[f0 + nf + 1]) * 3]) > 0 then
  -- it took a live-call slot: its terminal status gives it back
  fields[#fields + 1] = '_live'
  fields[#fields + 1] = '1'
end
if ikey ~= '' then
  fields[#fields + 1] = '_idem'
  fields[#fields + 1] = ikey
end
store_call(KEYS[9], KEYS[10], KEYS[11], KEYS[13], KEYS[12], fields, ARGV[10], uid, '', callId, now)
if ikey ~= '' then
  redis.call('HSET', KEYS[5], ikey, '{"fingerprint":"' .. ARGV[7] .. '","callId":"' .. callId .. '"}')
  redis.call('ZADD', KEYS[6], now + tonumber(ARGV[8]), ikey)
end
publish_call(KEYS[14], 'call.created', KEYS[9])
-- the caller knows the call it sent and the provider picked: no need to send it back
return {'created', picked, trial, failures, callerId}
