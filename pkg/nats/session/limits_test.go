package session

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/roster"
)

type demoUsers struct{ r *roster.Roster }

func (d demoUsers) Roster() *roster.Roster { return d.r }

// store opens a session store with limits over a fresh embedded NATS, with a clock the test moves.
func store(t *testing.T, limits Limits) (*Store, *time.Time) {
	t.Helper()
	b, _ := testenv.Bus(t)
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	s, err := Open(context.Background(), b, demoUsers{r}, limits)
	require.NoError(t, err)
	now := time.Now()
	s.now = func() time.Time { return now }
	return s, &now
}

func TestSessionLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("requests keep a session from going idle", func(t *testing.T) {
		s, now := store(t, Limits{Lifetime: 12 * time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer", "specialist"}})
		token, _, err := s.Login(ctx, "referrer1", "demo")
		require.NoError(t, err)
		for range 4 { // two hours of a request every 29 minutes
			*now = now.Add(29 * time.Minute)
			_, err := s.Use(ctx, token)
			require.NoError(t, err, "a session used every 29 minutes went idle")
		}
		*now = now.Add(31 * time.Minute)
		_, err = s.Use(ctx, token)
		assert.ErrorIs(t, err, ErrNoSession, "got a session 31 minutes idle, want it ended")
		*now = now.Add(-30 * time.Minute)
		_, err = s.Lookup(ctx, token)
		assert.ErrorIs(t, err, ErrNoSession, "an ended session came back")
	})
	t.Run("the stream's checks are no activity", func(t *testing.T) {
		s, now := store(t, Limits{Lifetime: 12 * time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer", "specialist"}})
		token, _, err := s.Login(ctx, "onc1", "demo")
		require.NoError(t, err)
		*now = now.Add(20 * time.Minute)
		_, err = s.Lookup(ctx, token)
		require.NoError(t, err)
		*now = now.Add(15 * time.Minute)
		_, err = s.Lookup(ctx, token)
		assert.ErrorIs(t, err, ErrNoSession, "got a session kept alive by lookups alone, want it idle after 35 minutes")
	})
	t.Run("roles not listed are not ended for being idle", func(t *testing.T) {
		s, now := store(t, Limits{Lifetime: 12 * time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer"}})
		token, _, err := s.Login(ctx, "onc1", "demo")
		require.NoError(t, err)
		*now = now.Add(3 * time.Hour) // the night on call, the app open and untouched
		_, err = s.Lookup(ctx, token)
		assert.NoError(t, err, "got the on-call specialist's session ended after 3 idle hours, want it kept")
		*now = now.Add(10 * time.Hour)
		_, err = s.Lookup(ctx, token)
		assert.ErrorIs(t, err, ErrNoSession, "got a session past its 12-hour lifetime, want it ended")
	})
	t.Run("no session outlives its lifetime", func(t *testing.T) {
		s, now := store(t, Limits{Lifetime: time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer", "specialist", "coordinator"}})
		token, _, err := s.Login(ctx, "coord1", "demo")
		require.NoError(t, err)
		for range 3 {
			*now = now.Add(20 * time.Minute)
			_, err = s.Use(ctx, token)
			require.NoError(t, err)
		}
		*now = now.Add(time.Minute)
		_, err = s.Use(ctx, token)
		assert.ErrorIs(t, err, ErrNoSession, "got a session in use 61 minutes after sign-in, want its 1-hour lifetime enforced")
	})
	t.Run("sessions stored before activity was recorded still work", func(t *testing.T) {
		s, _ := store(t, Limits{Lifetime: 12 * time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer", "specialist"}})
		_, err := s.kv.Create(ctx, key("old-token"), []byte("u-referrer1\n"+time.Now().UTC().Format(time.RFC3339)))
		require.NoError(t, err)
		u, err := s.Use(ctx, "old-token")
		require.NoError(t, err)
		assert.Equal(t, "u-referrer1", u.ID)
	})
}

func TestTokenFromEitherCookie(t *testing.T) {
	for _, name := range []string{CookieName, SecureCookieName} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", name+"=abc")
		assert.Equal(t, "abc", Token(r), "cookie %s", name)
	}
	assert.Equal(t, "__Host-consult_session", Cookie(true))
	assert.Equal(t, "consult_session", Cookie(false))
}
