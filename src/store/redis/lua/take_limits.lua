-- Takes call limits on their own (RateLimiter.take: a provider's calls-per-second budget).
-- KEYS / ARGV: those of take_limits in lib.lua, from the first.
-- Reply: {1} taken, or {0, index of the refusing limit, retryAfterMs}
local refused = take_limits(0, 0)
if refused then return {0, refused[1], refused[2]} end
return {1}
