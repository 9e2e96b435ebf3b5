// Package ratelimit counts attempts (logins, say) per key in fixed windows kept in Redis, so that
// every instance of a service shares one budget per key, and concurrent attempts cannot
// overdraw it.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter counts in Redis under one key prefix.
type Limiter struct {
	rdb    *redis.Client
	prefix string
}

// New returns a Limiter whose keys start with prefix.
func New(rdb *redis.Client, prefix string) *Limiter { return &Limiter{rdb: rdb, prefix: prefix} }

// take reserves one attempt under every key or none: it answers how long until the fullest
// key's window ends when any key is at its limit (ARGV[i+1]), else 0.
var take = redis.NewScript(`
local wait = 0
for i, k in ipairs(KEYS) do
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, ARGV[1]) end
  if n > tonumber(ARGV[i + 1]) then
    local t = redis.call('PTTL', k)
    if t > wait then wait = t end
  end
end
if wait > 0 then
  for _, k in ipairs(KEYS) do redis.call('DECR', k) end
end
return wait
`)

// giveBack returns one attempt to every key that still counts it.
var giveBack = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if tonumber(redis.call('GET', k) or '0') > 0 then redis.call('DECR', k) end
end
return 0
`)

// Budget is one key and how many attempts it allows per window.
type Budget struct {
	Key   string
	Limit int
}

// Take reserves one attempt under every budget, atomically. When any is spent it reserves
// nothing and returns false and the time until that budget's window ends.
func (l *Limiter) Take(ctx context.Context, window time.Duration, budgets ...Budget) (bool, time.Duration, error) {
	keys := make([]string, len(budgets))
	args := []any{window.Milliseconds()}
	for i, b := range budgets {
		keys[i] = l.prefix + b.Key
		args = append(args, b.Limit)
	}
	wait, err := take.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Millisecond, nil
	}
	return true, 0, nil
}

// Return gives an attempt back to every budget, for attempts that should not count (a login
// that succeeded).
func (l *Limiter) Return(ctx context.Context, budgets ...Budget) error {
	keys := make([]string, len(budgets))
	for i, b := range budgets {
		keys[i] = l.prefix + b.Key
	}
	if err := giveBack.Run(ctx, l.rdb, keys).Err(); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}
