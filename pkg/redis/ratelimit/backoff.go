package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backoff paces attempts under one key: after Free attempts that were not forgiven, the next one
// must wait Base, then twice as long after each further one, up to Max, counted from the last
// attempt. Attempts are forgotten Forget after the last one. With Refuse an attempt that comes
// too early is refused; without, it goes ahead after the wait (the caller sleeps), so that pacing
// an account never locks its owner out.
type Backoff struct {
	Key       string
	Free      int
	Base, Max time.Duration
	Forget    time.Duration
	Refuse    bool
}

// attempt counts one attempt under every key (KEYS[i] with ARGV base, max, forget, free, refuse
// per key after ARGV[1] = now in ms), unless a refusing key must still wait: then it counts
// nothing. It returns {refuse wait, pacing wait} in ms.
var attempt = redis.NewScript(`
local now = tonumber(ARGV[1])
local refuse, pace = 0, 0
local waits = {}
for i, k in ipairs(KEYS) do
  local o = 1 + (i - 1) * 5
  local base, max, free, refusing = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 4]), ARGV[o + 5] == '1'
  local n = tonumber(redis.call('HGET', k, 'n') or '0')
  local last = tonumber(redis.call('HGET', k, 'last') or '0')
  local wait = 0
  if n >= free then
    local d = base * (2 ^ math.min(n - free, 30))
    if d > max then d = max end
    wait = last + d - now
    if wait < 0 then wait = 0 end
    if wait > max then wait = max end
  end
  if refusing then
    if wait > refuse then refuse = wait end
  elseif wait > pace then
    pace = wait
  end
end
if refuse > 0 then return {refuse, 0} end
for i, k in ipairs(KEYS) do
  local o = 1 + (i - 1) * 5
  redis.call('HINCRBY', k, 'n', 1)
  redis.call('HSET', k, 'last', now + pace)
  redis.call('PEXPIRE', k, ARGV[o + 3])
end
return {0, pace}
`)

// forgive takes one attempt back under every key that still counts one.
var forgive = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if tonumber(redis.call('HGET', k, 'n') or '0') > 0 then redis.call('HINCRBY', k, 'n', -1) end
end
return 0
`)

// Attempt counts one attempt under every backoff, atomically, before the caller finds out
// whether it succeeds (so concurrent attempts cannot slip past the count). When a refusing
// backoff must still wait it counts nothing and returns that wait as refused; otherwise it
// returns how long the caller must pace the attempt (0 for none).
func (l *Limiter) Attempt(ctx context.Context, now time.Time, backoffs ...Backoff) (refused, pace time.Duration, err error) {
	keys := make([]string, len(backoffs))
	args := []any{now.UnixMilli()}
	for i, b := range backoffs {
		keys[i] = l.prefix + b.Key
		refuse := 0
		if b.Refuse {
			refuse = 1
		}
		args = append(args, b.Base.Milliseconds(), b.Max.Milliseconds(), b.Forget.Milliseconds(), b.Free, refuse)
	}
	res, err := attempt.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, 0, fmt.Errorf("backoff: %v %w", res, err)
	}
	return time.Duration(res[0]) * time.Millisecond, time.Duration(res[1]) * time.Millisecond, nil
}

// Forgive takes the attempt back under every backoff, for one that succeeded.
func (l *Limiter) Forgive(ctx context.Context, backoffs ...Backoff) error {
	keys := make([]string, len(backoffs))
	for i, b := range backoffs {
		keys[i] = l.prefix + b.Key
	}
	if err := forgive.Run(ctx, l.rdb, keys).Err(); err != nil {
		return fmt.Errorf("backoff: %w", err)
	}
	return nil
}

// Clear forgets every attempt under the backoffs (the owner of an account signed in from that
// address: its earlier mistakes there no longer count).
func (l *Limiter) Clear(ctx context.Context, backoffs ...Backoff) error {
	keys := make([]string, len(backoffs))
	for i, b := range backoffs {
		keys[i] = l.prefix + b.Key
	}
	if err := l.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("backoff: %w", err)
	}
	return nil
}
