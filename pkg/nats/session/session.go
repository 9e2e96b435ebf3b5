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

// Store creates, checks and revokes sessions.
type Store struct {
	kv    jetstream.KeyValue
	users Users
}

// Bucket is the key-value bucket of login sessions; a session's lifetime is the bucket's TTL.
const Bucket = "sessions"

// DefaultTTL is how long a login session lives unless the deployment says otherwise.
const DefaultTTL = 12 * time.Hour

// Open declares the session bucket on b, with ttl as the lifetime of a session (DefaultTTL
// when 0; an existing bucket keeps the TTL it was created with), and returns its Store.
func Open(ctx context.Context, b *bus.Bus, users Users, ttl time.Duration) (*Store, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	kv, err := b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "login sessions", TTL: ttl,
		Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	return &Store{kv: kv, users: users}, nil
}

// Login checks the password and, when it matches, starts a session and returns its token.
func (s *Store) Login(ctx context.Context, username, password string) (string, roster.User, error) {
	r := s.users.Roster()
	u, ok := r.ByUsername(username)
	var hash []byte
	if ok && !u.Disabled && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	} else {
		hash = dummyHash(storedCost(r))
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok || u.Disabled {
		return "", roster.User{}, ErrBadCredentials
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", roster.User{}, fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if _, err := s.kv.Create(ctx, key(token), []byte(u.ID+"\n"+time.Now().UTC().Format(time.RFC3339))); err != nil {
		return "", roster.User{}, fmt.Errorf("store session: %w", err)
	}
	return token, u.Public(), nil
}

// Lookup returns the user whose live session token is.
func (s *Store) Lookup(ctx context.Context, token string) (roster.User, error) {
	if token == "" || len(token) > 128 {
		return roster.User{}, ErrNoSession
	}
	entry, err := s.kv.Get(ctx, key(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return roster.User{}, ErrNoSession
	}
	if err != nil {
		return roster.User{}, fmt.Errorf("read session: %w", err)
	}
	id, _, _ := strings.Cut(string(entry.Value()), "\n")
	u, ok := s.users.Roster().User(id)
	if !ok || u.Disabled {
		return roster.User{}, ErrNoSession
	}
	return u.Public(), nil
}

// Revoke ends the session, on every instance.
func (s *Store) Revoke(ctx context.Context, token string) error {
	if err := s.kv.Purge(ctx, key(token)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// WatchRevoked calls revoked with the Key of every session revoked on any instance, as it
// happens, until ctx ends.
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
			if e != nil && (e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge) {
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
