// Package presence records in Redis which users have a live stream connection on any gateway
// instance. Each connection is an entry with an expiry that its gateway keeps pushing forward,
// so a crashed gateway leaves no ghosts: its entries simply lapse. The same entries bound how
// many connections a user, and one of their sessions, may have open at once (Admit).
package presence

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	bySession := map[string][]redis.Z{}
	for user, ids := range conns {
		members := make([]redis.Z, len(ids))
		for i, id := range ids {
			members[i] = redis.Z{Score: until, Member: id}
			if tag := tagOf(id); tag != "" {
				bySession[tag] = append(bySession[tag], members[i])
			}
		}
		pipe.ZAdd(ctx, t.key(user), members...)
		pipe.PExpire(ctx, t.key(user), t.ttl)
		pipe.ZRemRangeByScore(ctx, t.key(user), "-inf", "("+score(time.Now()))
	}
	for tag, members := range bySession {
		pipe.ZAdd(ctx, t.sessionKey(tag), members...)
		pipe.PExpire(ctx, t.sessionKey(tag), t.ttl)
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

// ConnID names a connection conn (unique among every gateway's connections) of the session
// whose key is session, so that Admit can count a session's connections. Connections admitted
// with Admit are named so.
func ConnID(conn, session string) string { return conn + "." + sessionTag(session) }

// sessionTag is a short stand-in for a session key in connection ids (a hash already; a
// collision would only count two sessions as one).
func sessionTag(session string) string { return session[:min(len(session), 16)] }

// tagOf is the session tag a connection id names (ConnID), or "".
func tagOf(conn string) string {
	if i := strings.LastIndexByte(conn, '.'); i >= 0 {
		return conn[i+1:]
	}
	return ""
}

// sessionKey holds the connections of one session, beside its user's.
func (t *Tracker) sessionKey(tag string) string { return t.prefix + "presence:~s:" + tag }

// Full says which bound refused a connection.
const (
	// FullUser: the user has as many connections open as a user may, on all gateways together.
	FullUser = "user"
	// FullSession: this session of the user has as many open as one session may.
	FullSession = "session"
)

// Admit records a new connection conn (named by ConnID) of user's session, live until now+TTL
// like Connected, unless that gives the user more than perUser live connections on all gateways
// together or the session more than perSession: then it takes the connection out again and
// answers FullSession or FullUser (the session's first, when both are over). Each connection is added before it is counted, so concurrent
// upgrades never overdraw a bound (in a burst some may be refused that would have fit, and try
// again); connections of a crashed gateway stop counting once they lapse. It sends only the
// commands a gateway's Redis user may (no scripts).
func (t *Tracker) Admit(ctx context.Context, user, session, conn string, perUser, perSession int) (full string, err error) {
	now := time.Now()
	id, uk, sk := ConnID(conn, session), t.key(user), t.sessionKey(sessionTag(session))
	until := float64(now.Add(t.ttl).UnixMilli())
	pipe := t.rdb.Pipeline()
	var counts [2]*redis.IntCmd
	for i, k := range []string{uk, sk} {
		pipe.ZRemRangeByScore(ctx, k, "-inf", score(now))
		pipe.ZAdd(ctx, k, redis.Z{Score: until, Member: id})
		pipe.PExpire(ctx, k, t.ttl)
		counts[i] = pipe.ZCount(ctx, k, "("+score(now), "+inf")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("admit a connection: %w", err)
	}
	switch { // the session's bound first: in a burst on one session, the user's fills with it
	case counts[1].Val() > int64(perSession):
		full = FullSession
	case counts[0].Val() > int64(perUser):
		full = FullUser
	default:
		return "", nil
	}
	pipe = t.rdb.Pipeline()
	pipe.ZRem(ctx, uk, id)
	pipe.ZRem(ctx, sk, id)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("admit a connection: %w", err)
	}
	return full, nil
}

// Disconnected forgets one connection of user.
func (t *Tracker) Disconnected(ctx context.Context, user, conn string) error {
	pipe := t.rdb.Pipeline()
	pipe.ZRem(ctx, t.key(user), conn)
	if tag := tagOf(conn); tag != "" {
		pipe.ZRem(ctx, t.sessionKey(tag), conn)
	}
	if _, err := pipe.Exec(ctx); err != nil {
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
