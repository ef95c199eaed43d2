-- Revokes one API key or agent token of the org. With ARGV[2] = '1', the org's last admin key
-- is kept: counted and deleted in one step, so two concurrent revocations of the last two admin
-- keys cannot both succeed. (The key's global lookup entry lives in another slot: the caller
-- deletes it after this.)
-- KEYS: 1 apikeys (hash key id → record JSON), 2 apikeyExp
-- ARGV: 1 key id, 2 keep the last admin key ('1' or '')
-- Returns 'deleted', 'missing' or 'last_admin'.
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 'missing' end
-- an admin key: scope "admin", or none (the org's first key); read keys and agent tokens are not
local function is_admin(json)
  local ok, r = pcall(cjson.decode, json)
  return ok and r.scope ~= 'read' and r.scope ~= 'agent'
end
if ARGV[2] == '1' and is_admin(rec) then
  local admins = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if is_admin(v) then admins = admins + 1 end
  end
  if admins <= 1 then return 'last_admin' end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 'deleted'
