// Package presence records in Redis which users have a live stream connection on any gateway
// instance. Each connection is an entry with an expiry that its gateway keeps pushing forward,
// so a crashed gateway leaves no ghosts: its entries simply lapse.
package presence

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tracker reads and writes presence under one key prefix.
type Tracker struct {
	rdb    *redis.Client
	prefix string
	ttl    time.Duration
}

// New returns a Tracker whose entries lapse ttl after their last refresh.
func New(rdb *redis.Client, prefix string, ttl time.Duration) *Tracker {
	return &Tracker{rdb: rdb, prefix: prefix, ttl: ttl}
}

// TTL is how long an entry lives without a refresh; gateways refresh well within it.
func (t *Tracker) TTL() time.Duration { return t.ttl }

func (t *Tracker) key(user string) string { return t.prefix + "presence:" + user }

func score(at time.Time) string { return strconv.FormatInt(at.UnixMilli(), 10) }

// Refresh marks every listed connection (user id → connection ids) live until now+TTL.
func (t *Tracker) Refresh(ctx context.Context, conns map[string][]string) error {
	if len(conns) == 0 {
		return nil
	}
	until := float64(time.Now().Add(t.ttl).UnixMilli())
	pipe := t.rdb.Pipeline()
	for user, ids := range conns {
		members := make([]redis.Z, len(ids))
		for i, id := range ids {
			members[i] = redis.Z{Score: until, Member: id}
		}
		pipe.ZAdd(ctx, t.key(user), members...)
		pipe.PExpire(ctx, t.key(user), t.ttl)
		pipe.ZRemRangeByScore(ctx, t.key(user), "-inf", "("+score(time.Now()))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("refresh presence: %w", err)
	}
	return nil
}

// Connected records one new connection of user.
func (t *Tracker) Connected(ctx context.Context, user, conn string) error {
	return t.Refresh(ctx, map[string][]string{user: {conn}})
}

// Disconnected forgets one connection of user.
func (t *Tracker) Disconnected(ctx context.Context, user, conn string) error {
	if err := t.rdb.ZRem(ctx, t.key(user), conn).Err(); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	return nil
}

// Online reports whether user has a live connection on any gateway.
func (t *Tracker) Online(ctx context.Context, user string) (bool, error) {
	n, err := t.rdb.ZCount(ctx, t.key(user), "("+score(time.Now()), "+inf").Result()
	if err != nil {
		return false, fmt.Errorf("presence: %w", err)
	}
	return n > 0, nil
}

// OnlineAmong reports which of users have a live connection on any gateway.
func (t *Tracker) OnlineAmong(ctx context.Context, users []string) (map[string]bool, error) {
	pipe := t.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(users))
	now := "(" + score(time.Now())
	for i, u := range users {
		cmds[i] = pipe.ZCount(ctx, t.key(u), now, "+inf")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	out := make(map[string]bool, len(users))
	for i, u := range users {
		out[u] = cmds[i].Val() > 0
	}
	return out, nil
}
