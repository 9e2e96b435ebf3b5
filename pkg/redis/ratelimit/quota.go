package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Quota is a named budget every user has on their own: at most Limit per Window. Its Name is
// what a refusal reports, to the client, to the coordinators and as a metric label; it never
// names the user.
type Quota struct {
	Name   string
	Limit  int
	Window time.Duration
}

// For is user's budget under q.
func (q Quota) For(user string) Budget {
	return Budget{Key: "quota:" + q.Name + ":" + user, Limit: q.Limit, Window: q.Window}
}

// Spend charges one use to user under every quota, atomically: all or none. When one is spent it
// charges nothing and returns that quota's name and how long until its window ends; otherwise
// spent is "".
func (l *Limiter) Spend(ctx context.Context, user string, quotas ...Quota) (spent string, wait time.Duration, err error) {
	budgets := make([]Budget, len(quotas))
	for i, q := range quotas {
		budgets[i] = q.For(user)
	}
	full, wait, err := l.Charge(ctx, budgets...)
	if err != nil || full < 0 {
		return "", 0, err
	}
	return quotas[full].Name, wait, nil
}

// Refund gives back one use charged to user under every quota, for one that did not happen
// after all (nothing was stored).
func (l *Limiter) Refund(ctx context.Context, user string, quotas ...Quota) error {
	budgets := make([]Budget, len(quotas))
	for i, q := range quotas {
		budgets[i] = q.For(user)
	}
	return l.Return(ctx, budgets...)
}

// Throttled is one user held back by one budget, as the coordinators see it: since when (First,
// the start of this run of refusals), until when (Last) and how often it refused them.
type Throttled struct {
	UserID   string    `json:"user_id"`
	Budget   string    `json:"budget"`
	First    time.Time `json:"first_at"`
	Last     time.Time `json:"last_at"`
	Refusals int       `json:"refusals"`
}

// The refusals kept for the coordinators: each user and budget's run of refusals for a day after
// its last one, and at most this many runs at once (the newest).
const (
	throttleKeep = 24 * time.Hour
	throttleMax  = 500
)

// refused records one refusal under the index KEYS[1] (user and budget by time of the last
// refusal) and KEYS[2] (that pair's run: first, last, count). A refusal more than a window
// after the run's last one starts a new run. The index keeps runs for a day and at most cap of
// them (the newest). It answers the run's count. It sends only commands the API's Redis user
// may (ZRANGE and ZREM to trim, no range removals).
var refused = redis.NewScript(`
local now, window, keep, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
if now - last > window then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'first', now)
end
local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('HSET', KEYS[2], 'last', now)
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('ZADD', KEYS[1], now, ARGV[5])
local old = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. (now - keep), 'BYSCORE')
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
local extra = redis.call('ZCARD', KEYS[1]) - cap
if extra > 0 then redis.call('ZREM', KEYS[1], unpack(redis.call('ZRANGE', KEYS[1], 0, extra - 1))) end
redis.call('PEXPIRE', KEYS[1], keep)
return n
`)

func (l *Limiter) throttleIndex() string { return l.prefix + "throttled" }

func (l *Limiter) throttleRun(member string) string { return l.prefix + "throttled:" + member }

// member names a user and a budget in the index: the budget first (names have no "|").
func member(user, budget string) string { return budget + "|" + user }

// Refused records that user was refused at now by the budget named budget, whose window is
// window, so that coordinators see who is being held back (Throttled). It reports whether this
// refusal starts a new run, which is worth one audit record; the others only count.
func (l *Limiter) Refused(ctx context.Context, now time.Time, user, budget string, window time.Duration) (first bool, err error) {
	m := member(user, budget)
	n, err := refused.Run(ctx, l.rdb, []string{l.throttleIndex(), l.throttleRun(m)},
		now.UnixMilli(), window.Milliseconds(), throttleKeep.Milliseconds(), throttleMax, m).Int64()
	if err != nil {
		return false, fmt.Errorf("record a refusal: %w", err)
	}
	return n == 1, nil
}

// ThrottledSince returns the runs of refusals whose last refusal came after since, newest first,
// at most max of them.
func (l *Limiter) ThrottledSince(ctx context.Context, since time.Time, max int) ([]Throttled, error) {
	members, err := l.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: l.throttleIndex(), Start: "+inf",
		Stop: "(" + strconv.FormatInt(since.UnixMilli(), 10), ByScore: true, Rev: true, Count: int64(max)}).Result()
	if err != nil {
		return nil, fmt.Errorf("read refusals: %w", err)
	}
	pipe := l.rdb.Pipeline()
	runs := make([]*redis.SliceCmd, len(members))
	for i, m := range members {
		runs[i] = pipe.HMGet(ctx, l.throttleRun(m), "n", "first", "last")
	}
	if len(members) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read refusals: %w", err)
		}
	}
	out := make([]Throttled, 0, len(members))
	for i, m := range members {
		budget, user, ok := strings.Cut(m, "|")
		h := runs[i].Val()
		field := func(j int) int64 {
			v, _ := h[j].(string) // nil when the run lapsed
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
		n, first, last := int(field(0)), field(1), field(2)
		if !ok || n == 0 {
			continue // the run lapsed between the two reads
		}
		out = append(out, Throttled{UserID: user, Budget: budget, First: time.UnixMilli(first).UTC(),
			Last: time.UnixMilli(last).UTC(), Refusals: n})
	}
	return out, nil
}
