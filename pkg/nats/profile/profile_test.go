package profile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/problem"
)

func open(t *testing.T) *profile.Store {
	t.Helper()
	b, _ := testenv.Bus(t)
	s, err := profile.Open(context.Background(), b)
	require.NoError(t, err)
	return s
}

func TestCheck(t *testing.T) {
	locale := problem.Problem{Code: "not_allowed", Message: "must be one of ar, he, en, or empty for the browser's language"}
	availability := problem.Problem{Code: "not_allowed", Message: "must be one of available, busy, away",
		Allowed: []string{"available", "busy", "away"}}
	for _, tc := range []struct {
		name     string
		p        profile.Profile
		want     map[string]string
		problems map[string]problem.Problem
	}{
		{"empty", profile.Profile{}, nil, nil},
		{"default", profile.Default, nil, nil},
		{"every locale", profile.Profile{Locale: "he", Availability: profile.Away}, nil, nil},
		{"arabic busy", profile.Profile{Locale: "ar", Availability: profile.Busy}, nil, nil},
		{"unknown locale", profile.Profile{Locale: "fr"}, map[string]string{"locale": "must be one of ar, he, en, or empty for the browser's language"},
			map[string]problem.Problem{"locale": locale}},
		{"region tag", profile.Profile{Locale: "ar-PS"}, map[string]string{"locale": "must be one of ar, he, en, or empty for the browser's language"},
			map[string]problem.Problem{"locale": locale}},
		{"unknown availability", profile.Profile{Availability: "asleep"}, map[string]string{"availability": "must be one of available, busy, away"},
			map[string]problem.Problem{"availability": availability}},
		{"case matters", profile.Profile{Locale: "EN", Availability: "Busy"}, map[string]string{
			"locale": "must be one of ar, he, en, or empty for the browser's language", "availability": "must be one of available, busy, away"},
			map[string]problem.Problem{"locale": locale, "availability": availability}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Check()
			var sentences map[string]string
			if got != nil {
				sentences = consult.InvalidFields("", got).Fields
			}
			assert.Equal(t, tc.want, sentences, "got sentences %v, want %v", sentences, tc.want)
			assert.Equal(t, tc.problems, got, "got problems %v, want %v", got, tc.problems)
		})
	}
}

func TestGetSetWithRevisions(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()

	p, rev, err := s.Get(ctx, "u-onc1")
	require.NoError(t, err)
	assert.Equal(t, profile.Default, p, "got %+v, want the default", p)
	assert.Zero(t, rev)

	rev1, err := s.Set(ctx, "u-onc1", profile.Profile{Locale: "he", Availability: profile.Busy}, 0)
	require.NoError(t, err)
	_, err = s.Set(ctx, "u-onc1", profile.Profile{Locale: "en"}, 0)
	assert.ErrorIs(t, err, profile.ErrConflict, "creating over a stored profile")

	p, rev, err = s.Get(ctx, "u-onc1")
	require.NoError(t, err)
	assert.Equal(t, profile.Profile{Locale: "he", Availability: profile.Busy}, p)
	assert.Equal(t, rev1, rev)

	rev2, err := s.Set(ctx, "u-onc1", profile.Profile{Locale: "en"}, rev1)
	require.NoError(t, err)
	_, err = s.Set(ctx, "u-onc1", profile.Profile{Locale: "ar"}, rev1)
	assert.ErrorIs(t, err, profile.ErrConflict, "writing over a stale revision")
	p, rev, err = s.Get(ctx, "u-onc1")
	require.NoError(t, err)
	assert.Equal(t, profile.Profile{Locale: "en", Availability: profile.Available}, p, "an empty availability is stored as available")
	assert.Equal(t, rev2, rev)

	_, err = s.Set(ctx, "u-onc1", profile.Profile{Availability: "asleep"}, rev2)
	assert.ErrorIs(t, err, profile.ErrInvalid)

	// Ids with characters keys cannot hold have a profile of their own.
	for _, id := range []string{"user@example.org", "a.b", "a b", "u.onc1"} {
		_, err := s.Set(ctx, id, profile.Profile{Locale: "ar"}, 0)
		require.NoError(t, err, id)
		got, _, err := s.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "ar", got.Locale, id)
	}
	p, _, err = s.Get(ctx, "u-onc1")
	require.NoError(t, err)
	assert.Equal(t, "en", p.Locale, "another id's profile overwrote this one")
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()

	before, after, err := s.Update(ctx, "u-hem1", func(p *profile.Profile) error { p.Availability = profile.Away; return nil })
	require.NoError(t, err)
	assert.Equal(t, profile.Default, before)
	assert.Equal(t, profile.Profile{Availability: profile.Away}, after)

	_, rev, err := s.Get(ctx, "u-hem1")
	require.NoError(t, err)
	before, after, err = s.Update(ctx, "u-hem1", func(p *profile.Profile) error { p.Availability = profile.Away; return nil })
	require.NoError(t, err)
	assert.Equal(t, before, after)
	_, again, err := s.Get(ctx, "u-hem1")
	require.NoError(t, err)
	assert.Equal(t, rev, again, "a change to the same values was stored")

	refused := errors.New("refused")
	_, _, err = s.Update(ctx, "u-hem1", func(p *profile.Profile) error { p.Locale = "ar"; return refused })
	assert.ErrorIs(t, err, refused)
	p, _, err := s.Get(ctx, "u-hem1")
	require.NoError(t, err)
	assert.Empty(t, p.Locale, "a refused change was stored")

	// Concurrent changes of different fields all land: losers read again and retry.
	var wg sync.WaitGroup
	for _, change := range []func(*profile.Profile){
		func(p *profile.Profile) { p.Locale = "he" },
		func(p *profile.Profile) { p.Availability = profile.Busy },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Update(ctx, "u-hem1", func(p *profile.Profile) error { change(p); return nil })
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	p, _, err = s.Get(ctx, "u-hem1")
	require.NoError(t, err)
	assert.Equal(t, profile.Profile{Locale: "he", Availability: profile.Busy}, p)
}

func TestCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := s.Set(ctx, "u-onc2", profile.Profile{Availability: profile.Away}, 0) // stored before the cache starts
	require.NoError(t, err)
	_, err = s.Set(ctx, "odd id", profile.Profile{Availability: profile.Busy}, 0)
	require.NoError(t, err)

	c := profile.NewCache(s, testenv.Logger(t))
	changed := make(chan string, 10)
	c.OnChange(func(id string, p profile.Profile) { changed <- id + "=" + p.Availability })
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx) }()
	select {
	case <-c.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("the cache did not read the bucket within 10s")
	}
	assert.Equal(t, profile.Away, c.Availability("u-onc2"))
	assert.Equal(t, profile.Busy, c.Availability("odd id"))
	assert.Equal(t, profile.Available, c.Availability("u-onc1"), "a user without a profile")

	_, _, err = s.Update(ctx, "u-onc1", func(p *profile.Profile) error { p.Availability = profile.Busy; return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Availability("u-onc1") == profile.Busy }, 10*time.Second, 5*time.Millisecond,
		"got %q, want busy", c.Availability("u-onc1"))
	select {
	case got := <-changed:
		assert.Equal(t, "u-onc1=busy", got, "the first change reported")
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported within 10s")
	}
	assert.Empty(t, changed, "the profiles read at start were reported as changes")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10s of its context ending")
	}
}
