// Package readmodel keeps the broker's working state in Redis: the consult snapshots and scope
// indexes behind the list endpoint, and the idempotency keys of submissions. All of it is
// derived from the consult stream: the Projector keeps it current and rebuilds it by replaying
// the stream when Redis comes back empty (flushed, failed over, new).
//
// Scripts touch index keys they read from the snapshot hash, so this needs a single Redis (or a
// Sentinel-managed primary), not Redis Cluster.
package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/regionalconsult/broker/pkg/consult"
)

// Dial opens a client for the Redis at url (redis://host:port/db), traced without command values:
// they can hold clinical text.
func Dial(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	opt.MaxRetries = 2
	c := redis.NewClient(opt)
	if err := redisotel.InstrumentTracing(c, redisotel.WithDBStatement(false)); err != nil {
		return nil, fmt.Errorf("redis tracing: %w", err)
	}
	return c, nil
}

// Store reads and writes the read model under one key prefix.
type Store struct {
	rdb    *redis.Client
	prefix string
}

// New returns a Store whose keys all start with prefix (for example "consult:").
func New(rdb *redis.Client, prefix string) *Store { return &Store{rdb: rdb, prefix: prefix} }

func (s *Store) docKey(id string) string        { return s.prefix + "c:" + id }
func (s *Store) allKey() string                 { return s.prefix + "idx:all" }
func (s *Store) clinicKey(clinic string) string { return s.prefix + "idx:clinic:" + clinic }
func (s *Store) userKey(user string) string     { return s.prefix + "idx:user:" + user }
func (s *Store) epochKey() string               { return s.prefix + "epoch" }
func (s *Store) openKey(user string) string     { return s.prefix + "idx:open:" + user }
func (s *Store) heldKey(user string) string     { return s.prefix + "idx:held:" + user }
func (s *Store) activeKey() string              { return s.prefix + "active" }
func (s *Store) idemKey(user, key string) string {
	return s.prefix + "idem:" + strconv.Itoa(len(user)) + ":" + user + ":" + key
}

// Ready reports whether Redis answers.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// project stores a snapshot only if it is newer than the stored one, and moves the consult
// between scope indexes to match, atomically. Newer means a later position in its history,
// so projectors may run in any order and any number of times. It also moves the owner's last
// activity forward (KEYS[2], a hash of user id → Unix milliseconds), never back.
var project = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'pos') or '0')
if cur >= tonumber(ARGV[1]) then return 0 end
local old = redis.call('HGET', KEYS[1], 'idx')
if old then
  for k in string.gmatch(old, '%S+') do redis.call('ZREM', k, ARGV[2]) end
end
if ARGV[4] ~= '' then
  local last = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0')
  if tonumber(ARGV[5]) > last then redis.call('HSET', KEYS[2], ARGV[4], ARGV[5]) end
end
local idx = {}
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], 0, ARGV[2])
  idx[#idx + 1] = KEYS[i]
end
redis.call('HSET', KEYS[1], 'pos', ARGV[1], 'doc', ARGV[3], 'idx', table.concat(idx, ' '))
return 1
`)

// Project stores c's snapshot, unless a newer one is stored already.
func (s *Store) Project(ctx context.Context, c *consult.Consult) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("project %s: %w", c.ID, err)
	}
	keys := []string{s.docKey(c.ID), s.activeKey(), s.allKey(), s.clinicKey(c.ClinicID)}
	a := c.Assignee()
	if a != "" {
		keys = append(keys, s.userKey(a))
		if c.Status == consult.StatusAccepted || c.Status == consult.StatusInfoRequested {
			keys = append(keys, s.openKey(a))
		}
	}
	for _, h := range c.Holders() {
		keys = append(keys, s.heldKey(h))
		if h != a {
			keys = append(keys, s.userKey(h))
		}
	}
	if err := project.Run(ctx, s.rdb, keys, c.Position(), c.ID, doc, a, c.UpdatedAt.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("project %s: %w", c.ID, err)
	}
	return nil
}

// Load is how loaded a specialist is.
type Load struct {
	// Open counts the consults they own that are not closed; Held the live offers they hold.
	Open, Held int
	// LastActive is when they last took or worked on a consult; zero when never.
	LastActive time.Time
}

// Load returns the load of each of ids.
func (s *Store) Load(ctx context.Context, ids []string) (map[string]Load, error) {
	if len(ids) == 0 {
		return map[string]Load{}, nil
	}
	pipe := s.rdb.Pipeline()
	open, held := make([]*redis.IntCmd, len(ids)), make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		open[i], held[i] = pipe.ZCard(ctx, s.openKey(id)), pipe.ZCard(ctx, s.heldKey(id))
	}
	active := pipe.HMGet(ctx, s.activeKey(), ids...)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read load: %w", err)
	}
	out := make(map[string]Load, len(ids))
	for i, id := range ids {
		l := Load{Open: int(open[i].Val()), Held: int(held[i].Val())}
		if v, ok := active.Val()[i].(string); ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				l.LastActive = time.UnixMilli(ms)
			}
		}
		out[id] = l
	}
	return out, nil
}

// Filter narrows a list; empty fields match everything.
type Filter struct {
	Status    consult.Status
	Specialty string
	Urgency   string
}

func (f Filter) match(c *consult.Consult) bool {
	return (f.Status == "" || c.Status == f.Status) && (f.Specialty == "" || c.Specialty == f.Specialty) &&
		(f.Urgency == "" || c.Urgency == f.Urgency)
}

// scanBudget bounds how many snapshots one list request reads, so a rare filter over a long
// history answers promptly with a cursor instead of scanning everything.
const scanBudget = 2000

// List returns up to limit consults that a may see and that match f, newest first, starting
// after cursor (an id; "" for the first page), and the cursor of the next page ("" at the end).
func (s *Store) List(ctx context.Context, a consult.Actor, f Filter, cursor string, limit int) ([]*consult.Consult, string, error) {
	var key string
	switch a.Role {
	case consult.RoleCoordinator:
		key = s.allKey()
	case consult.RoleReferrer:
		key = s.clinicKey(a.ClinicID)
	case consult.RoleSpecialist:
		key = s.userKey(a.ID)
	default:
		return []*consult.Consult{}, "", nil
	}
	out := []*consult.Consult{}
	upper := "+"
	if cursor != "" {
		upper = "(" + cursor
	}
	scanned := 0
	for scanned < scanBudget {
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: upper, Stop: "-", ByLex: true, Rev: true, Count: int64(min(limit*2, 500))}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list: %w", err)
		}
		if len(ids) == 0 {
			return out, "", nil
		}
		docs, err := s.docs(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		for i, c := range docs {
			scanned++
			// The index may be a step ahead of or behind a snapshot; the snapshot decides.
			if c != nil && c.CanView(a) && f.match(c) {
				out = append(out, c)
			}
			if len(out) == limit || scanned == scanBudget {
				if i == len(ids)-1 && len(ids) < int(min(limit*2, 500)) {
					return out, "", nil
				}
				return out, ids[i], nil
			}
		}
		upper = "(" + ids[len(ids)-1]
	}
	return out, "", nil
}

func (s *Store) docs(ctx context.Context, ids []string) ([]*consult.Consult, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.docKey(id), "doc")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	out := make([]*consult.Consult, len(ids))
	for i, cmd := range cmds {
		raw, err := cmd.Bytes()
		if err != nil {
			continue
		}
		var c consult.Consult
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decode snapshot %s: %w", ids[i], err)
		}
		out[i] = &c
	}
	return out, nil
}

// Complete reports whether the read model is whole: false after Redis lost it and until the
// projector has rebuilt it from the stream.
func (s *Store) Complete(ctx context.Context) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.epochKey()).Result()
	if err != nil {
		return false, fmt.Errorf("read model state: %w", err)
	}
	return n == 1, nil
}

// IdempotencyWindow is how long a submission's Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

const pending = "pending:"

// pendingTTL bounds a claim whose request died before it stored anything, so a retry can go on.
const pendingTTL = 30 * time.Second

// Claim is the outcome of claiming an idempotency key.
type Claim struct {
	// Claimed is true when the key was free and now belongs to the caller's consult.
	Claimed bool
	// ExistingID names the consult the key already belongs to, when not Claimed.
	ExistingID string
	// Pending is true while the first request with the key has not confirmed it stored its consult.
	Pending bool
}

// Claim reserves user's idempotency key for consult id, or says which consult holds it.
func (s *Store) Claim(ctx context.Context, user, key, id string) (Claim, error) {
	k := s.idemKey(user, key)
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, k, pending+id, pendingTTL).Result()
		if err != nil {
			return Claim{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		if ok {
			return Claim{Claimed: true}, nil
		}
		v, err := s.rdb.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue // expired between the two calls
		}
		if err != nil {
			return Claim{}, fmt.Errorf("read idempotency key: %w", err)
		}
		if rest, ok := strings.CutPrefix(v, pending); ok {
			return Claim{ExistingID: rest, Pending: true}, nil
		}
		return Claim{ExistingID: v}, nil
	}
	return Claim{}, errors.New("claim idempotency key: key keeps expiring")
}

// Confirm records that the claimed key's consult was stored at created.
func (s *Store) Confirm(ctx context.Context, user, key, id string, created time.Time) error {
	ttl := time.Until(created.Add(IdempotencyWindow))
	if ttl <= 0 {
		return nil
	}
	if err := s.rdb.Set(ctx, s.idemKey(user, key), id, ttl).Err(); err != nil {
		return fmt.Errorf("confirm idempotency key: %w", err)
	}
	return nil
}

// release frees a claim whose consult was not stored, if it still holds that claim.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release frees user's key claimed for id, so that a retry can store the consult.
func (s *Store) Release(ctx context.Context, user, key, id string) error {
	if err := release.Run(ctx, s.rdb, []string{s.idemKey(user, key)}, pending+id).Err(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// restore remembers a stored consult's key, if it is still within the window and unclaimed.
func (s *Store) restore(ctx context.Context, c *consult.Consult) error {
	if c.IdempotencyKey == "" {
		return nil
	}
	ttl := time.Until(c.CreatedAt.Add(IdempotencyWindow))
	if ttl <= 0 {
		return nil
	}
	k := s.idemKey(c.ReferrerID, c.IdempotencyKey)
	// A pending claim for this consult becomes its confirmation; anything else stays.
	v, err := s.rdb.Get(ctx, k).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("restore idempotency key: %w", err)
	}
	if v == "" || v == pending+c.ID {
		if err := s.rdb.Set(ctx, k, c.ID, ttl).Err(); err != nil {
			return fmt.Errorf("restore idempotency key: %w", err)
		}
	}
	return nil
}
