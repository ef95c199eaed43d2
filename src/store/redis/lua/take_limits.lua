-- Token buckets outside the click (LimitStore.take: a provider's calls per second).
-- KEYS: 1 rl, 2 live
-- ARGV: 1 now, then take_limits' arguments
-- Reply: nil when taken, else {index of the refusing bucket, retryAfterMs}
return take_limits(KEYS[1], KEYS[2], 1, tonumber(ARGV[1]))
