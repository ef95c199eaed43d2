-- The org's routing configuration at one instant (DirectoryStore.orgConfig): the config version,
-- the providers, the settings and the regions of its users.
-- KEYS: 1 ver, 2 providers, 3 settings, 4 regions
-- Reply: {version, HGETALL providers, HGETALL settings, HKEYS regions}
return {
  tonumber(redis.call('GET', KEYS[1]) or '0'),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
  redis.call('HKEYS', KEYS[4]),
}
