-- The call state machine (CallStore.transition): exactly applyTransition in
-- src/calls/state-machine.ts. Progress only moves forward, the first terminal status wins, and
-- nothing moves a call after it; late or duplicated events change nothing (bar a missing providerCallId).
-- KEYS: 1 call hash, 2 provider-call mapping (used only when ARGV 7 is set)
-- ARGV: 1 status, 2 at (ISO), 3 at in epoch ms ('' if unparseable), 4 cause ('' = none),
--       5 providerCallId ('' = none), 6 durationSec ('' = none), 7 call id to map the provider's
--       call id to ('' = none: the dial answer links and moves the call in one step)
-- Reply: {'none'} or {'ok', applied 0|1, hgetall...}
local to, at, atMs, cause, pcid, dur = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local rank = { queued = 0, dialing = 1, ringing = 2, answered = 3, completed = 4, failed = 4, busy = 4, ['no-answer'] = 4, canceled = 4 }
if redis.call('EXISTS', KEYS[1]) == 0 then return {'none'} end
if ARGV[7] ~= '' and pcid ~= '' then redis.call('SET', KEYS[2], ARGV[7]) end
if pcid ~= '' and not redis.call('HGET', KEYS[1], 'providerCallId') then
  redis.call('HSET', KEYS[1], 'providerCallId', pcid)
end
local cur = redis.call('HGET', KEYS[1], 'status')
local applied = 0
if rank[to] and rank[cur] and rank[cur] < 4 and rank[to] > rank[cur] then
  applied = 1
  redis.call('HSET', KEYS[1], 'status', to, 'updatedAt', at)
  local item = { status = to, at = at }
  if cause ~= '' then item.cause = cause end
  local entry = cjson.encode(item)
  local h = redis.call('HGET', KEYS[1], 'history')
  if not h or h == '[]' or h == '' then
    h = '[' .. entry .. ']'
  else
    h = string.sub(h, 1, -2) .. ',' .. entry .. ']'
  end
  redis.call('HSET', KEYS[1], 'history', h)
  if to == 'answered' then redis.call('HSET', KEYS[1], 'answeredAt', at, 'answeredAtMs', atMs) end
  if rank[to] == 4 then
    redis.call('HSET', KEYS[1], 'endedAt', at)
    if dur ~= '' then
      redis.call('HSET', KEYS[1], 'durationSec', dur)
    elseif to == 'completed' then
      local ams = tonumber(redis.call('HGET', KEYS[1], 'answeredAtMs') or '')
      local ms = tonumber(atMs)
      if ams and ms then
        -- Math.max(0, Math.round(x)) as in JS: round half up
        local d = math.floor((ms - ams) / 1000 + 0.5)
        if d < 0 then d = 0 end
        redis.call('HSET', KEYS[1], 'durationSec', string.format('%d', d))
      end
    end
  end
end
return append({'ok', applied}, redis.call('HGETALL', KEYS[1]))
