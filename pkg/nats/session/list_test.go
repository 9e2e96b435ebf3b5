package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	chromeAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

func ids(list []Info) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// A user's sessions are listed from their own index, described coarsely, and ended one by one
// or all but the current one; another user's are neither listed nor ended.
func TestSessionsListedAndEnded(t *testing.T) {
	ctx := context.Background()
	s, now := store(t, Limits{Lifetime: 12 * time.Hour})
	start := func(user, ua, addr string) string {
		t.Helper()
		st, err := s.Start(ctx, user, "demo", DescribeClient(ua, addr))
		require.NoError(t, err)
		return st.Token
	}
	desk := start("onc1", firefoxLinux, "198.51.100.23")
	*now = now.Add(time.Minute)
	phone := start("onc1", chromeAndroid, "2001:db8:1234:5678::9")
	*now = now.Add(time.Minute)
	coord := start("coord1", firefoxLinux, "203.0.113.4")

	*now = now.Add(2 * time.Minute)
	_, err := s.Use(ctx, desk) // the desk is used last: it comes first
	require.NoError(t, err)
	list, err := s.List(ctx, "u-onc1")
	require.NoError(t, err)
	require.Len(t, list, 2, "got %d sessions of onc1, want 2", len(list))
	assert.Equal(t, []string{ID(desk), ID(phone)}, ids(list), "got %v, want the desk (used last), then the phone", ids(list))
	assert.Equal(t, Client{Browser: "Firefox", OS: "Linux", Network: "198.51.100.0/24"}, list[0].Client)
	assert.Equal(t, Client{Browser: "Chrome", OS: "Android", Network: "2001:db8:1234::/48"}, list[1].Client)
	assert.True(t, list[0].Active.Equal(*now), "got the desk last active %s, want %s", list[0].Active, *now)
	for _, info := range list {
		assert.NotContains(t, []string{desk, phone, Key(desk), Key(phone)}, info.ID, "a session id is its token or its stored key")
	}

	// Another user's session id ends nothing, and says no more than a wrong id.
	err = s.End(ctx, "u-onc1", ID(coord))
	assert.ErrorIs(t, err, ErrNoSession, "got %v ending coord1's session as onc1, want ErrNoSession", err)
	_, err = s.Lookup(ctx, coord)
	assert.NoError(t, err, "coord1's session ended when onc1 named it")

	require.NoError(t, s.End(ctx, "u-onc1", ID(phone)))
	_, err = s.Lookup(ctx, phone)
	assert.ErrorIs(t, err, ErrNoSession, "got %v for the ended phone session, want ErrNoSession", err)
	list, err = s.List(ctx, "u-onc1")
	require.NoError(t, err)
	assert.Equal(t, []string{ID(desk)}, ids(list))
	assert.ErrorIs(t, s.End(ctx, "u-onc1", ID(phone)), ErrNoSession, "ending an ended session again")

	// All others: every other session of the user ends, the current one and other users' stay.
	tablet := start("onc1", chromeAndroid, "198.51.100.80")
	laptop := start("onc1", firefoxLinux, "198.51.100.81")
	ended, err := s.EndOthers(ctx, "u-onc1", desk)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{ID(tablet), ID(laptop)}, ended)
	for _, tok := range []string{tablet, laptop} {
		_, err = s.Lookup(ctx, tok)
		assert.ErrorIs(t, err, ErrNoSession, "got %v for a session ended with the others, want ErrNoSession", err)
	}
	for _, tok := range []string{desk, coord} {
		_, err = s.Lookup(ctx, tok)
		assert.NoError(t, err, "a session that should stay ended")
	}
}

func TestEndRefusesMalformedIDs(t *testing.T) {
	ctx := context.Background()
	s, _ := store(t, Limits{})
	token, _, err := s.Login(ctx, "onc1", "demo")
	require.NoError(t, err)
	for _, id := range []string{"", "x", strings.ToUpper(ID(token)), ID(token) + "0", ID(token)[:31], Key(token), token,
		"../" + ID(token)[3:], "*", ">", strings.Repeat("a", 1000)} {
		assert.ErrorIs(t, s.End(ctx, "u-onc1", id), ErrNoSession, "End(%q)", id)
	}
	_, err = s.Lookup(ctx, token)
	assert.NoError(t, err, "a malformed id ended a session")
}

// Ending a session, by any route, is a revocation every gateway hears about: the session's
// Key, never an index entry.
func TestEndedSessionsAreRevokedEverywhere(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _ := store(t, Limits{})
	var mu sync.Mutex
	var heard []string
	go func() {
		_ = s.WatchRevoked(ctx, func(k string) { mu.Lock(); heard = append(heard, k); mu.Unlock() })
	}()
	got := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), heard...) }
	// The watch reports what happens once it has started: revoke probes until one is heard.
	probes := map[string]bool{}
	require.Eventually(t, func() bool {
		p, _, err := s.Login(ctx, "coord1", "demo")
		require.NoError(t, err)
		probes[Key(p)] = true
		require.NoError(t, s.Revoke(ctx, p))
		return len(got()) > 0
	}, 5*time.Second, 20*time.Millisecond, "the watch heard no revocation")
	a, _, err := s.Login(ctx, "hem1", "demo")
	require.NoError(t, err)
	b, _, err := s.Login(ctx, "hem1", "demo")
	require.NoError(t, err)
	c, _, err := s.Login(ctx, "hem1", "demo")
	require.NoError(t, err)
	require.NoError(t, s.End(ctx, "u-hem1", ID(a)))
	_, err = s.EndOthers(ctx, "u-hem1", c)
	require.NoError(t, err)
	require.NoError(t, s.Revoke(ctx, c))
	want := []string{Key(a), Key(b), Key(c)}
	hem1 := func() []string {
		var out []string
		for _, k := range got() {
			if !probes[k] {
				out = append(out, k)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(hem1()) >= len(want) }, 5*time.Second, 10*time.Millisecond, "got revocations %v, want %v", hem1(), want)
	assert.Equal(t, want, hem1(), "got revocations %v, want the three sessions' keys and nothing else", hem1())
	list, err := s.List(ctx, "u-hem1")
	require.NoError(t, err)
	assert.Empty(t, list, "got %d sessions after all were ended, want none", len(list))
}

// A user has at most PerUser live sessions: a sign-in beyond it ends the oldest.
func TestSessionsPerUserAreBounded(t *testing.T) {
	ctx := context.Background()
	s, now := store(t, Limits{PerUser: 3})
	var tokens []string
	for i := range 5 {
		*now = now.Add(time.Second)
		st, err := s.Start(ctx, "referrer1", "demo", Client{})
		require.NoError(t, err)
		if i < 3 {
			assert.Empty(t, st.Ended, "sign-in %d ended %v, want nothing within the bound", i+1, st.Ended)
		} else {
			assert.Equal(t, []string{ID(tokens[i-3])}, st.Ended, "sign-in %d: got %v ended, want the oldest", i+1, st.Ended)
		}
		tokens = append(tokens, st.Token)
	}
	list, err := s.List(ctx, "u-referrer1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{ID(tokens[2]), ID(tokens[3]), ID(tokens[4])}, ids(list))
	for i, tok := range tokens {
		_, err := s.Lookup(ctx, tok)
		if i < 2 {
			assert.ErrorIs(t, err, ErrNoSession, "session %d outlived the bound", i+1)
		} else {
			assert.NoError(t, err, "session %d within the bound ended", i+1)
		}
	}
	// Other users are not counted against referrer1.
	_, _, err = s.Login(ctx, "referrer3", "demo")
	require.NoError(t, err)
	_, err = s.Lookup(ctx, tokens[2])
	assert.NoError(t, err, "another user's sign-in ended referrer1's session")
}

// The list ends what is over its limits instead of showing it, and forgets index entries whose
// session is gone.
func TestListDropsEndedSessions(t *testing.T) {
	ctx := context.Background()
	s, now := store(t, Limits{Lifetime: time.Hour, Idle: 30 * time.Minute, IdleRoles: []string{"referrer"}})
	old, _, err := s.Login(ctx, "referrer1", "demo")
	require.NoError(t, err)
	*now = now.Add(40 * time.Minute)
	fresh, _, err := s.Login(ctx, "referrer1", "demo")
	require.NoError(t, err)
	// A session purged without its index entry (an older version's logout, a crash between).
	gone, _, err := s.Login(ctx, "referrer1", "demo")
	require.NoError(t, err)
	require.NoError(t, s.kv.Purge(ctx, Key(gone)))

	list, err := s.List(ctx, "u-referrer1")
	require.NoError(t, err)
	assert.Equal(t, []string{ID(fresh)}, ids(list), "got %v, want only the session neither idle nor gone", ids(list))
	_, err = s.Lookup(ctx, old)
	assert.ErrorIs(t, err, ErrNoSession)
	_, err = s.kv.Get(ctx, indexKey("u-referrer1", ID(gone)))
	assert.True(t, errors.Is(err, jetstream.ErrKeyNotFound), "got %v for the index entry of a gone session, want it removed", err)
}

func TestDescribeClient(t *testing.T) {
	for _, tc := range []struct {
		ua, addr string
		want     Client
	}{
		{firefoxLinux, "10.1.2.3", Client{"Firefox", "Linux", "10.1.2.0/24"}},
		{chromeAndroid, "::ffff:192.0.2.77", Client{"Chrome", "Android", "192.0.2.0/24"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "", Client{"Edge", "Windows", ""}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "fe80::1%eth0", Client{"Safari", "iOS", "fe80::/48"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "", Client{"Safari", "macOS", ""}},
		{"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "", Client{"Samsung Internet", "Android", ""}},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "", Client{"Opera", "ChromeOS", ""}},
		{"Go-http-client/1.1", "not an address", Client{}},
		{"", "", Client{}},
		{strings.Repeat("x", 1<<20) + "Firefox/1", "300.1.1.1", Client{}},
	} {
		got := DescribeClient(tc.ua, tc.addr)
		assert.Equal(t, tc.want, got, "DescribeClient(%.60q, %q)", tc.ua, tc.addr)
	}
	// Whatever a caller stores is cut down to what a description can hold.
	assert.Equal(t, Client{Browser: "Firefox"}, Client{Browser: "Firefox", OS: strings.Repeat("x", 300), Network: "10.0.0.1"}.bounded())
}

func FuzzDescribeClient(f *testing.F) {
	f.Add(firefoxLinux, "10.1.2.3")
	f.Add(chromeAndroid, "2001:db8::1")
	f.Fuzz(func(t *testing.T, ua, addr string) {
		c := DescribeClient(ua, addr)
		if c != c.bounded() {
			t.Fatalf("DescribeClient(%q, %q) = %+v, which is not within the bounds of a description", ua, addr, c)
		}
	})
}
