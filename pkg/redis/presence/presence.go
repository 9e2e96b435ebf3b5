// Package presence records in Redis which users have a live stream connection on any gateway
// instance. Each connection is an entry with an expiry that its gateway keeps pushing forward,
// so a crashed gateway leaves no ghosts: its entries simply lapse. The same entries bound how
// many connections a user, and one of their sessions, may have open at once (Admit).
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

// ConnID names a connection conn (unique among every gateway's connections) of the session
// whose key is session, so that Admit can count a session's connections. Connections admitted
// with Admit are named so.
func ConnID(conn, session string) string { return conn + "." + sessionTag(session) }

// sessionTag is a short stand-in for a session key in connection ids (a hash already; a
// collision would only count two sessions as one).
func sessionTag(session string) string { return session[:min(len(session), 16)] }

// admit drops KEYS[1]'s lapsed entries and, when the user has fewer than ARGV[4] live ones and
// the session (the ids ending in ARGV[3]) fewer than ARGV[5], adds ARGV[2] live until ARGV[6].
// It answers "" when admitted, else "user" or "session".
var admit = redis.NewScript(`
local now = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
if #live >= tonumber(ARGV[4]) then return 'user' end
local suffix, mine = ARGV[3], 0
for _, m in ipairs(live) do
  if string.sub(m, -#suffix) == suffix then mine = mine + 1 end
end
if mine >= tonumber(ARGV[5]) then return 'session' end
redis.call('ZADD', KEYS[1], ARGV[6], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return ''
`)

// Full says which bound refused a connection.
const (
	// FullUser: the user has as many connections open as a user may, on all gateways together.
	FullUser = "user"
	// FullSession: this session of the user has as many open as one session may.
	FullSession = "session"
)

// Admit records a new connection conn (named by ConnID) of user's session, live until now+TTL
// like Connected, unless the user already has perUser live connections on all gateways together
// or the session perSession: then it records nothing and answers FullUser or FullSession.
// Counting and adding are one step, so concurrent upgrades cannot overdraw either bound, and
// connections of a crashed gateway stop counting once they lapse.
func (t *Tracker) Admit(ctx context.Context, user, session, conn string, perUser, perSession int) (full string, err error) {
	now := time.Now()
	full, err = admit.Run(ctx, t.rdb, []string{t.key(user)}, score(now), ConnID(conn, session), "."+sessionTag(session),
		perUser, perSession, score(now.Add(t.ttl)), t.ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("admit a connection: %w", err)
	}
	return full, nil
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
