package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/services/intake/api"
)

// Wrong passwords slow whoever sends them, from where they send them, and never lock the owner
// out: ten wrong passwords for hem1 from one address, then hem1 signs in at once from another.
func TestLoginIsPacedNotLockedOut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	deps, _ := openDeps(t, ctx)
	// The clock stands still unless the test moves it: how long bcrypt takes does not count.
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	srv := httptest.NewServer(api.New(api.Config{TrustForwardedFor: true, Now: now}, deps, testenv.Logger(t)).Handler())
	t.Cleanup(srv.Close)
	login := func(from, username, password string) (int, time.Duration) {
		t.Helper()
		body := `{"username":"` + username + `","password":"` + password + `"}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/session", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return resp.StatusCode, time.Duration(after) * time.Second
	}

	const attacker, owner = "203.0.113.9", "198.51.100.7"
	for i := range 5 {
		status, _ := login(attacker, "hem1", "guess")
		require.Equal(t, http.StatusUnauthorized, status, "wrong password %d", i+1)
	}
	status, wait := login(attacker, "hem1", "guess")
	assert.Equal(t, http.StatusTooManyRequests, status, "got %d for a 6th wrong password at once, want 429", status)
	assert.GreaterOrEqual(t, wait, time.Second, "got Retry-After %s, want at least 1s", wait)

	status, _ = login(owner, "hem1", "demo")
	assert.Equal(t, http.StatusOK, status, "got %d for hem1's own password from another address during the attack, want 200", status)

	// After the wait the attacker may try again, and the next wait doubles.
	advance(wait)
	status, _ = login(attacker, "hem1", "guess")
	assert.Equal(t, http.StatusUnauthorized, status, "got %d after waiting, want the attempt heard (401)", status)
	status, next := login(attacker, "hem1", "guess")
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Greater(t, next, wait, "got Retry-After %s after %s, want it to grow", next, wait)

	// Guessing from many addresses is slowed, never refused: hem1's own password still works.
	for i := range 6 { // beyond hem1's 10 free wrong passwords, wherever they come from
		status, _ := login("192.0.2."+strconv.Itoa(i+1), "hem1", "guess")
		require.Equal(t, http.StatusUnauthorized, status, "wrong password from address %d", i+1)
	}
	status, _ = login("192.0.2.200", "hem1", "demo")
	assert.Equal(t, http.StatusOK, status, "got %d for hem1's own password from a new address, want 200", status)
}
