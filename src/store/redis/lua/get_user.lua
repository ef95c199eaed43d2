-- One user and its provider assignment, read at one instant in one round trip (Store.getUser;
-- the click-to-call hot path reads a user per click).
-- KEYS: 1 user hash, 2 org assignment hash
-- ARGV: 1 user id
-- Reply: {} when the user does not exist, else {providerId or '', hgetall...}
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return {} end
return append({redis.call('HGET', KEYS[2], ARGV[1]) or ''}, h)
