// Package ratelimit counts requests per key in fixed windows kept in Redis, so that every
// instance of a service shares one budget per key.
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

var hit = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Allow counts one request for key and reports whether it is within limit per window; when it
// is not, it also returns how long until the window resets.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	res, err := hit.Run(ctx, l.rdb, []string{l.prefix + key}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if res[0] <= int64(limit) {
		return true, 0, nil
	}
	wait := time.Duration(res[1]) * time.Millisecond
	if wait <= 0 {
		wait = window
	}
	return false, wait, nil
}
