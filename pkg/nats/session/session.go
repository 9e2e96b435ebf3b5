// Package session owns logins: checking a password against the roster's slow hash, and login
// sessions stored in a JetStream key-value bucket so that any instance can check them and a
// logout revokes them everywhere.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/roster"
)

// ErrNoSession means the token names no live session, or its user is gone or disabled.
var ErrNoSession = errors.New("no valid session")

// ErrBadCredentials means the username or the password is wrong.
var ErrBadCredentials = errors.New("wrong username or password")

// dummyHashes are compared against when the username is unknown, disabled or has no password,
// one per bcrypt cost: made with the cost of the roster's own hashes, the answer for an unknown
// name takes as long as for a known one. Each is made on first use, not at start-up.
var dummyHashes sync.Map // cost → []byte

// defaultCost is the cost assumed when the roster holds no hash to take it from.
const defaultCost = 11

func dummyHash(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("not a password"), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword([]byte("not a password"), defaultCost)
	}
	dummyHashes.Store(cost, h)
	return h
}

// storedCost is the bcrypt cost of the roster's password hashes (the first one found).
func storedCost(r *roster.Roster) int {
	for _, u := range r.Users {
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			return c
		}
	}
	return defaultCost
}

// Users is where sessions look up the people they belong to.
type Users interface {
	Roster() *roster.Roster
}

// Store creates, checks, lists and revokes sessions.
type Store struct {
	kv     jetstream.KeyValue
	users  Users
	limits Limits
	now    func() time.Time
}

// Limits bound a session: Lifetime from sign-in whatever happens (DefaultTTL when 0), and Idle
// without a request from its user (none when 0) for the roles in IdleRoles, so that a clinic
// computer left signed in does not stay open to the next person. Roles not listed (a specialist
// on call, whose open app waits for offers at night) are not ended for being idle. PerUser
// bounds the live sessions of one user (DefaultPerUser when 0): a sign-in beyond it ends the
// oldest.
type Limits struct {
	Lifetime, Idle time.Duration
	IdleRoles      []string
	PerUser        int
}

// DefaultPerUser is how many live sessions one user may have unless the deployment says
// otherwise: a phone, a clinic computer and a few browsers, with room to spare.
const DefaultPerUser = 20

// DefaultIdle is how long a session may go without a request unless the deployment says
// otherwise.
const DefaultIdle = 30 * time.Minute

// touchEvery is how often a session in use records that it is: often enough for Idle, seldom
// enough not to write on every request.
func (l Limits) touchEvery() time.Duration {
	return min(time.Minute, max(l.Idle/10, time.Second))
}

// Bucket is the key-value bucket of login sessions; a session's lifetime is the bucket's TTL.
const Bucket = "sessions"

// DefaultTTL is how long a login session lives unless the deployment says otherwise.
const DefaultTTL = 12 * time.Hour

// maxBucketBytes bounds the whole bucket (set when it is created): a few hundred bytes per
// session and its index entry, so some hundred thousand sessions. A sign-in beyond it fails
// instead of filling the NATS server's disk.
const maxBucketBytes = 128 << 20

// Open declares the session bucket on b and returns its Store, enforcing limits. The bucket's
// TTL, the lifetime (set when the bucket is created), only removes entries nobody uses; the
// limits are checked on every lookup, whatever TTL an existing bucket has.
func Open(ctx context.Context, b *bus.Bus, users Users, limits Limits) (*Store, error) {
	if limits.Lifetime <= 0 {
		limits.Lifetime = DefaultTTL
	}
	if limits.PerUser <= 0 {
		limits.PerUser = DefaultPerUser
	}
	kv, err := b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "login sessions", TTL: limits.Lifetime,
		Storage: jetstream.FileStorage, MaxBytes: maxBucketBytes, MaxValueSize: 1024})
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	return &Store{kv: kv, users: users, limits: limits, now: time.Now}, nil
}

// Login checks the password and, when it matches, starts a session and returns its token. It is
// Start without a description of the client.
func (s *Store) Login(ctx context.Context, username, password string) (string, roster.User, error) {
	st, err := s.Start(ctx, username, password, Client{})
	return st.Token, st.User, err
}

// Started is a session just begun: its token, its user, and the ids of the user's oldest
// sessions it ended to stay within Limits.PerUser.
type Started struct {
	Token string
	User  roster.User
	Ended []string
}

// Start checks the password and, when it matches, starts a session from client (described for
// the user's list of sessions) and returns it. When the user already has Limits.PerUser live
// sessions, the oldest are ended, on every instance, to make room.
func (s *Store) Start(ctx context.Context, username, password string, client Client) (Started, error) {
	r := s.users.Roster()
	u, ok := r.ByUsername(username)
	var hash []byte
	if ok && !u.Disabled && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	} else {
		hash = dummyHash(storedCost(r))
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok || u.Disabled {
		return Started{}, ErrBadCredentials
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Started{}, fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	ended, err := s.makeRoom(ctx, u.ID)
	if err != nil {
		return Started{}, err
	}
	now := s.now()
	k := key(token)
	// The index entry first: a session that exists is always listed, and an index entry whose
	// session is missing is skipped (and removed) when listed.
	if _, err := s.kv.Create(ctx, indexKey(u.ID, ID(token)), indexEntry{Key: k, Created: now, Client: client.bounded()}.encode()); err != nil {
		return Started{}, fmt.Errorf("store session index: %w", err)
	}
	if _, err := s.kv.Create(ctx, k, record{user: u.ID, created: now, active: now}.encode()); err != nil {
		return Started{}, fmt.Errorf("store session: %w", err)
	}
	return Started{Token: token, User: u.Public(), Ended: ended}, nil
}

// Lookup returns the user whose live session token is. A session past its lifetime or idle
// too long is ended (on every instance) and is ErrNoSession. Lookup itself is no activity: the
// stream's periodic checks use it.
func (s *Store) Lookup(ctx context.Context, token string) (roster.User, error) {
	u, _, err := s.lookup(ctx, token, false)
	return u, err
}

// Use is Lookup for a request of the session's user: it also records the activity (at most
// every touchEvery), which keeps the session from going idle.
func (s *Store) Use(ctx context.Context, token string) (roster.User, error) {
	u, _, err := s.lookup(ctx, token, true)
	return u, err
}

func (s *Store) lookup(ctx context.Context, token string, use bool) (roster.User, record, error) {
	if token == "" || len(token) > 128 {
		return roster.User{}, record{}, ErrNoSession
	}
	entry, err := s.kv.Get(ctx, key(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return roster.User{}, record{}, ErrNoSession
	}
	if err != nil {
		return roster.User{}, record{}, fmt.Errorf("read session: %w", err)
	}
	rec := decodeRecord(entry.Value(), entry.Created())
	u, ok := s.users.Roster().User(rec.user)
	if !ok || u.Disabled {
		return roster.User{}, record{}, ErrNoSession
	}
	now := s.now()
	if s.over(rec, u, now) {
		if err := s.revokeKey(ctx, key(token), rec.user); err != nil {
			return roster.User{}, record{}, err
		}
		return roster.User{}, record{}, ErrNoSession
	}
	if use && now.Sub(rec.active) >= s.limits.touchEvery() {
		rec.active = now
		// A lost race means another request recorded the activity just now.
		if _, err := s.kv.Update(ctx, key(token), rec.encode(), entry.Revision()); err != nil && !isWrongRevision(err) {
			return roster.User{}, record{}, fmt.Errorf("record session activity: %w", err)
		}
	}
	return u.Public(), rec, nil
}

// over reports whether the session rec of u is past its lifetime or idle too long at now.
func (s *Store) over(rec record, u roster.User, now time.Time) bool {
	idle := s.limits.Idle > 0 && slices.Contains(s.limits.IdleRoles, u.Role) && now.Sub(rec.active) > s.limits.Idle
	return now.Sub(rec.created) > s.limits.Lifetime || idle
}

// record is what the bucket keeps of a session: whose it is, when it began and when its user
// last made a request. Sessions stored before activity was recorded hold the first two only.
type record struct {
	user            string
	created, active time.Time
}

func (r record) encode() []byte {
	return []byte(r.user + "\n" + r.created.UTC().Format(time.RFC3339Nano) + "\n" + r.active.UTC().Format(time.RFC3339Nano))
}

func decodeRecord(data []byte, stored time.Time) record {
	parts := strings.SplitN(string(data), "\n", 3)
	r := record{user: parts[0], created: stored, active: stored}
	if len(parts) > 1 {
		if t, err := time.Parse(time.RFC3339Nano, parts[1]); err == nil {
			r.created, r.active = t, t
		}
	}
	if len(parts) > 2 {
		if t, err := time.Parse(time.RFC3339Nano, parts[2]); err == nil {
			r.active = t
		}
	}
	return r
}

func isWrongRevision(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Revoke ends the session, on every instance.
func (s *Store) Revoke(ctx context.Context, token string) error {
	user := ""
	if entry, err := s.kv.Get(ctx, key(token)); err == nil {
		user = decodeRecord(entry.Value(), entry.Created()).user
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return s.revokeKey(ctx, key(token), user)
}

// revokeKey ends the session stored under k, of user (when known, its entry in the user's index
// goes too). The session itself goes first: that is what every instance acts on.
func (s *Store) revokeKey(ctx context.Context, k, user string) error {
	if err := s.kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	if user == "" {
		return nil // an index entry left behind is removed when the list finds its session gone
	}
	if err := s.kv.Purge(ctx, indexKey(user, idOfKey(k))); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// WatchRevoked calls revoked with the Key of every session revoked on any instance, as it
// happens, until ctx ends. Changes to the users' indexes of sessions are not reported.
func (s *Store) WatchRevoked(ctx context.Context, revoked func(key string)) error {
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch sessions: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch sessions: the watch ended")
			}
			if e != nil && !isIndexKey(e.Key()) && (e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge) {
				revoked(e.Key())
			}
		}
	}
}

// Key identifies a session without revealing its token.
func Key(token string) string { return key(token) }

// key stores only a hash of the token, so the bucket's contents cannot be replayed as cookies.
func key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
