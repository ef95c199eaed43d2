-- Where a call's log stands (CallStore.setCrmLog). A settled log leaves the outbox, and an ended
-- call with a settled log is scheduled for purging after the retention period.
-- KEYS: 1 call, 2 outbox, 3 expiry
-- ARGV: 1 crmLog JSON, 2 '1' when settled, 3 purge time (ms), 4 call id
-- Reply: 1, or 0 when the call does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'crmLog_j', ARGV[1])
if ARGV[2] == '1' then
  local callId = ARGV[4]
  redis.call('ZREM', KEYS[2], callId)
  if RANK[redis.call('HGET', KEYS[1], 'status')] == 4 then redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), callId) end
end
return 1
