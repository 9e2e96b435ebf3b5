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

// take reserves one attempt under every key or none. ARGV holds a limit and a window (ms) per
// key. When any key is at its limit it reserves nothing and answers {ms until the fullest key's
// window ends, that key's index (1-based)}; otherwise {0, 0}.
var take = redis.NewScript(`
local wait, full = 0, 0
for i, k in ipairs(KEYS) do
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, ARGV[2 * i]) end
  if n > tonumber(ARGV[2 * i - 1]) then
    local t = redis.call('PTTL', k)
    if t < 1 then t = 1 end
    if t > wait then wait, full = t, i end
  end
end
if wait > 0 then
  for _, k in ipairs(KEYS) do redis.call('DECR', k) end
end
return {wait, full}
`)

// giveBack returns one attempt to every key that still counts it.
var giveBack = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if tonumber(redis.call('GET', k) or '0') > 0 then redis.call('DECR', k) end
end
return 0
`)

// Budget is one key and how many attempts it allows per window. Window, when set, is the
// budget's own window; otherwise the one Take is given.
type Budget struct {
	Key    string
	Limit  int
	Window time.Duration
}

// Take reserves one attempt under every budget, atomically. When any is spent it reserves
// nothing and returns false and the time until that budget's window ends.
func (l *Limiter) Take(ctx context.Context, window time.Duration, budgets ...Budget) (bool, time.Duration, error) {
	windowed := make([]Budget, len(budgets))
	for i, b := range budgets {
		if b.Window <= 0 {
			b.Window = window
		}
		windowed[i] = b
	}
	full, wait, err := l.Charge(ctx, windowed...)
	return full < 0, wait, err
}

// Charge reserves one attempt under every budget (each with its own Window), atomically. When
// any is spent it reserves nothing and returns that budget's index and the time until its
// window ends; otherwise full is -1.
func (l *Limiter) Charge(ctx context.Context, budgets ...Budget) (full int, wait time.Duration, err error) {
	keys := make([]string, len(budgets))
	args := make([]any, 0, 2*len(budgets))
	for i, b := range budgets {
		if b.Window <= 0 {
			return -1, 0, fmt.Errorf("rate limit %s: no window", b.Key)
		}
		keys[i] = l.prefix + b.Key
		args = append(args, b.Limit, b.Window.Milliseconds())
	}
	res, err := take.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return -1, 0, fmt.Errorf("rate limit: %v %w", res, err)
	}
	if res[0] > 0 {
		return int(res[1]) - 1, time.Duration(res[0]) * time.Millisecond, nil
	}
	return -1, 0, nil
}

// Return gives an attempt back to every budget, for attempts that should not count (a login
// that succeeded, a submission that was not stored).
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
