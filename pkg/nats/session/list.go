package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Info is what a user is shown of one of their live sessions: never its token, never where it
// was used beyond the network it signed in from.
type Info struct {
	// ID names the session in the API; it is a hash of the token's hash, so it cannot be used
	// as a cookie or to find the stored session without the user's index.
	ID string `json:"id"`
	// Current marks the session the request itself came with.
	Current bool `json:"current"`
	// Created is when the session was signed in; Active when its user last made a request
	// (recorded at most every minute or so).
	Created time.Time `json:"created_at"`
	Active  time.Time `json:"last_active_at"`
	Client
}

// ID is the id under which the session of token is listed and ended.
func ID(token string) string { return idOfKey(key(token)) }

func idOfKey(k string) string {
	sum := sha256.Sum256([]byte("session id\x00" + k))
	return hex.EncodeToString(sum[:16])
}

// ValidID reports whether id has the form of a session id (32 lowercase hexadecimal digits).
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// The bucket keeps, beside each session under the hash of its token, an entry in its user's
// index under u.<hash of the user id>.<session id>, so that one user's sessions are found by a
// filtered read of that prefix and never by scanning every session. The user id is hashed
// because roster ids may hold characters a key may not.
const indexPrefix = "u."

func userPrefix(user string) string {
	sum := sha256.Sum256([]byte("user\x00" + user))
	return indexPrefix + hex.EncodeToString(sum[:16]) + "."
}

func indexKey(user, id string) string { return userPrefix(user) + id }

func isIndexKey(k string) bool { return strings.HasPrefix(k, indexPrefix) }

// indexEntry is one session in its user's index: where the session is stored, when it began and
// what signed in.
type indexEntry struct {
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
	Client
}

func (e indexEntry) encode() []byte {
	data, _ := json.Marshal(e) // strings and a time always encode
	return data
}

// indexed is an index entry with its id.
type indexed struct {
	id string
	indexEntry
}

// index reads user's index: one filtered read of its prefix, whatever the number of sessions of
// other users.
func (s *Store) index(ctx context.Context, user string) ([]indexed, error) {
	prefix := userPrefix(user)
	w, err := s.kv.Watch(ctx, prefix+"*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read sessions of a user: %w", err)
	}
	defer w.Stop()
	var out []indexed
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read sessions of a user: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("read sessions of a user: the watch ended")
			}
			if e == nil { // every stored entry has been read
				return out, nil
			}
			var ie indexEntry
			if json.Unmarshal(e.Value(), &ie) != nil || ie.Key == "" {
				continue // not an entry this version wrote; it lapses with the bucket's TTL
			}
			out = append(out, indexed{id: strings.TrimPrefix(e.Key(), prefix), indexEntry: ie})
		}
	}
}

// List returns userID's live sessions, the most recently used first. A session that has ended
// meanwhile (past its lifetime, idle too long) is ended everywhere and not listed.
func (s *Store) List(ctx context.Context, userID string) ([]Info, error) {
	entries, err := s.index(ctx, userID)
	if err != nil {
		return nil, err
	}
	u, ok := s.users.Roster().User(userID)
	if !ok || u.Disabled {
		return nil, ErrNoSession
	}
	now := s.now()
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		entry, err := s.kv.Get(ctx, e.Key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			// Revoked while the index entry was being removed: finish the job.
			if err := s.kv.Purge(ctx, indexKey(userID, e.id)); err != nil {
				return nil, fmt.Errorf("tidy the sessions of a user: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read a session: %w", err)
		}
		rec := decodeRecord(entry.Value(), entry.Created())
		if rec.user != userID {
			continue // never written so; nothing of another user is shown
		}
		if s.over(rec, u, now) {
			if err := s.revokeKey(ctx, e.Key, userID); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, Info{ID: e.id, Created: rec.created, Active: rec.active, Client: e.Client})
	}
	slices.SortFunc(out, func(a, b Info) int { return b.Active.Compare(a.Active) })
	return out, nil
}

// End ends userID's session with id, on every instance, exactly as a logout does. A session id
// that is malformed, unknown, or another user's is ErrNoSession, and nothing changes.
func (s *Store) End(ctx context.Context, userID, id string) error {
	if !ValidID(id) {
		return ErrNoSession
	}
	entry, err := s.kv.Get(ctx, indexKey(userID, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNoSession
	}
	if err != nil {
		return fmt.Errorf("read a session: %w", err)
	}
	var ie indexEntry
	if json.Unmarshal(entry.Value(), &ie) != nil || ie.Key == "" || idOfKey(ie.Key) != id {
		return ErrNoSession
	}
	return s.revokeKey(ctx, ie.Key, userID)
}

// EndOthers ends every session of userID but the one of token, on every instance, and returns
// the ids it ended.
func (s *Store) EndOthers(ctx context.Context, userID, token string) ([]string, error) {
	entries, err := s.index(ctx, userID)
	if err != nil {
		return nil, err
	}
	keep := key(token)
	var ended []string
	for _, e := range entries {
		if e.Key == keep {
			continue
		}
		if err := s.revokeKey(ctx, e.Key, userID); err != nil {
			return ended, err
		}
		ended = append(ended, e.id)
	}
	return ended, nil
}

// makeRoom ends the oldest sessions of user until one more fits within Limits.PerUser, and
// returns their ids. Two sign-ins at the same moment may both fit; the next one trims again.
func (s *Store) makeRoom(ctx context.Context, user string) ([]string, error) {
	entries, err := s.index(ctx, user)
	if err != nil {
		return nil, err
	}
	extra := len(entries) - s.limits.PerUser + 1
	if extra <= 0 {
		return nil, nil
	}
	slices.SortFunc(entries, func(a, b indexed) int { return a.Created.Compare(b.Created) })
	ended := make([]string, 0, extra)
	for _, e := range entries[:extra] {
		if err := s.revokeKey(ctx, e.Key, user); err != nil {
			return ended, err
		}
		ended = append(ended, e.id)
	}
	return ended, nil
}
