// Package profile keeps each user's own preferences durably in a JetStream key-value bucket: the
// language of the interface and, for specialists, whether new offers should reach them now. A
// Cache follows the bucket in memory for readers that must not wait on the network (routing
// asks it about every candidate of every offer).
package profile

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/problem"
)

// Availabilities of a specialist for new offers.
const (
	// Available specialists get offers as the schedule says. It is everyone's default.
	Available = "available"
	// Busy specialists are on call but occupied: routing may prefer others.
	Busy = "busy"
	// Away specialists should get no new offers.
	Away = "away"
)

// Availabilities lists the accepted availabilities.
var Availabilities = []string{Available, Busy, Away}

// Locales lists the accepted interface languages; "" (also accepted) follows the browser.
var Locales = []string{"ar", "he", "en"}

// Profile is one user's preferences. Its JSON form is the API's.
type Profile struct {
	// Locale is the interface language: "ar", "he", "en", or "" for the browser's.
	Locale string `json:"locale"`
	// Availability is one of Availabilities; only specialists change it.
	Availability string `json:"availability"`
}

// Default is the profile of a user who has set nothing.
var Default = Profile{Availability: Available}

func (p Profile) normal() Profile {
	if p.Availability == "" {
		p.Availability = Available
	}
	return p
}

// Check returns, per field, why p's value is not accepted; nil when all are.
func (p Profile) Check() map[string]problem.Problem {
	f := map[string]problem.Problem{}
	if p.Locale != "" && !slices.Contains(Locales, p.Locale) {
		f["locale"] = problem.NotAllowed("must be one of ar, he, en, or empty for the browser's language")
	}
	if p.Availability != "" && !slices.Contains(Availabilities, p.Availability) {
		f["availability"] = problem.OneOf(Availabilities...)
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// ErrConflict means the profile changed since the revision the caller read.
var ErrConflict = errors.New("profile changed concurrently")

// ErrInvalid means a profile holds a value outside its field's list (see Check).
var ErrInvalid = errors.New("invalid profile")

// Store reads and writes profiles.
type Store struct {
	kv jetstream.KeyValue
}

// Bucket is the key-value bucket of profiles.
const Bucket = "profiles"

// Open declares the profiles bucket on b and returns its Store.
func Open(ctx context.Context, b *bus.Bus) (*Store, error) {
	kv, err := b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "user preferences", History: 5,
		Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open profiles: %w", err)
	}
	return &Store{kv: kv}, nil
}

// plainID is a user id usable as a key as it is.
var plainID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// key is the bucket key of userID: "u.<id>", or "x.<base64url id>" for ids with other characters.
func key(userID string) string {
	if plainID.MatchString(userID) {
		return "u." + userID
	}
	return "x." + base64.RawURLEncoding.EncodeToString([]byte(userID))
}

// userID is the inverse of key; ok is false for a key that key does not make.
func userID(k string) (string, bool) {
	switch {
	case strings.HasPrefix(k, "u."):
		return k[2:], true
	case strings.HasPrefix(k, "x."):
		id, err := base64.RawURLEncoding.DecodeString(k[2:])
		return string(id), err == nil
	}
	return "", false
}

func decode(data []byte) (Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return Profile{}, fmt.Errorf("decode profile: %w", err)
	}
	return p.normal(), nil
}

// Get returns userID's profile (Default when none is stored) and its revision (0 when none is).
func (s *Store) Get(ctx context.Context, userID string) (Profile, uint64, error) {
	e, err := s.kv.Get(ctx, key(userID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Default, 0, nil
	}
	if err != nil {
		return Profile{}, 0, fmt.Errorf("profile %s: %w", userID, err)
	}
	p, err := decode(e.Value())
	if err != nil {
		return Profile{}, 0, fmt.Errorf("profile %s: %w", userID, err)
	}
	return p, e.Revision(), nil
}

// Set stores p as userID's profile if its stored revision is still revision (0: none stored),
// and returns the new revision. Otherwise it stores nothing and returns ErrConflict. A profile
// that Check refuses is ErrInvalid.
func (s *Store) Set(ctx context.Context, userID string, p Profile, revision uint64) (uint64, error) {
	if f := p.Check(); f != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, consult.InvalidFields("", f).Fields)
	}
	data, err := json.Marshal(p.normal())
	if err != nil {
		return 0, fmt.Errorf("encode profile: %w", err)
	}
	var rev uint64
	if revision == 0 {
		rev, err = s.kv.Create(ctx, key(userID), data)
	} else {
		rev, err = s.kv.Update(ctx, key(userID), data, revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("store profile %s: %w", userID, err)
	}
	return rev, nil
}

// maxAttempts bounds how often Update reads again after losing a race.
const maxAttempts = 5

// Update applies change to userID's newest profile and stores the result unless it is the same,
// reading again and retrying if another change got there first. It returns the profile before
// and after. An error from change is returned as it is, and nothing is stored.
func (s *Store) Update(ctx context.Context, userID string, change func(*Profile) error) (before, after Profile, err error) {
	for range maxAttempts {
		cur, rev, err := s.Get(ctx, userID)
		if err != nil {
			return Profile{}, Profile{}, err
		}
		next := cur
		if err := change(&next); err != nil {
			return Profile{}, Profile{}, err
		}
		next = next.normal()
		if next == cur {
			return cur, cur, nil
		}
		if _, err := s.Set(ctx, userID, next, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return Profile{}, Profile{}, err
		}
		return cur, next, nil
	}
	return Profile{}, Profile{}, ErrConflict
}
