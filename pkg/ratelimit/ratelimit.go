// Package ratelimit counts events (failed logins, say) per key in fixed windows kept in Redis, so that every
// instance of a service shares one budget per key.
package ratelimit

import (
	"context"
	"errors"
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

// Hit counts one event for key in the current window of length window.
func (l *Limiter) Hit(ctx context.Context, key string, window time.Duration) error {
	if err := hit.Run(ctx, l.rdb, []string{l.prefix + key}, window.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("rate limit %s: %w", key, err)
	}
	return nil
}

// Blocked reports whether key has reached limit in its current window, and if so how long until
// the window ends.
func (l *Limiter) Blocked(ctx context.Context, key string, limit int) (bool, time.Duration, error) {
	pipe := l.rdb.Pipeline()
	n := pipe.Get(ctx, l.prefix+key)
	ttl := pipe.PTTL(ctx, l.prefix+key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	count, _ := n.Int()
	if count < limit {
		return false, 0, nil
	}
	wait := ttl.Val()
	if wait <= 0 {
		wait = time.Second
	}
	return true, wait, nil
}
