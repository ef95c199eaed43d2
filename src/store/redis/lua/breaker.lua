-- One provider's breaker (HealthStore): claim, failure, success, release of a trial, reset.
-- KEYS: 1 health
-- ARGV: 1 op, 2 provider id, 3 now, 4 threshold, 5 openMs, 6 closeAfter
-- Reply: {failures, openUntil, successes, trialUntil, ok 0|1, trial 0|1}
local op, pid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local r, ok, trial = nil, 1, 0
if op == 'claim' then
  local o, t, rec = breaker_claim(KEYS[1], pid, now)
  r, ok, trial = rec, o and 1 or 0, t and 1 or 0
elseif op == 'failure' then
  r = breaker_failure(KEYS[1], pid, now, tonumber(ARGV[4]), tonumber(ARGV[5]))
elseif op == 'success' then
  r = breaker_success(KEYS[1], pid, now, tonumber(ARGV[6]))
elseif op == 'release' then
  r = breaker_get(KEYS[1], pid)
  if r[4] > 0 then
    r[4] = 0
    breaker_put(KEYS[1], pid, r)
  end
elseif op == 'reset' then
  redis.call('HDEL', KEYS[1], pid)
  r = { 0, 0, 0, 0 }
else
  r = breaker_get(KEYS[1], pid)
end
return { tostring(r[1]), tostring(r[2]), tostring(r[3]), tostring(r[4]), ok, trial }
