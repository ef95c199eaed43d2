-- Users by id, each read at one instant with its assignment and version (DirectoryStore reads).
-- KEYS: 1 profile, 2 prov, 3 uver
-- ARGV: user ids
-- Reply: per id {profile JSON|false, providerId|false, version|false}, flattened
local out = {}
for i = 1, #ARGV do
  out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  out[#out + 1] = redis.call('HGET', KEYS[2], ARGV[i])
  out[#out + 1] = redis.call('HGET', KEYS[3], ARGV[i])
end
return out
