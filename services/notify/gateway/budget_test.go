package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

// tryDial opens a stream or returns the refusal's status, Retry-After (seconds) and budget.
func tryDial(t *testing.T, url, token string) (*websocket.Conn, int, int, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, http.Header{"Cookie": {session.CookieName + "=" + token}})
	if err == nil {
		t.Cleanup(func() { conn.Close() })
		return conn, http.StatusSwitchingProtocols, 0, ""
	}
	require.NotNil(t, resp, "dial failed without an answer: %v", err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct {
			Code   string `json:"code"`
			Budget string `json:"budget"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(data, &body), "got a refusal that is no error envelope: %s", data)
	if resp.StatusCode == http.StatusTooManyRequests {
		assert.Equal(t, "rate_limited", body.Error.Code)
	}
	after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return nil, resp.StatusCode, after, body.Error.Budget
}

type refusals struct {
	mu  sync.Mutex
	got []string
}

func (r *refusals) hook(_ context.Context, user, budget string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, user+" "+budget)
}

func (r *refusals) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// A user's open streams are bounded per session and per user on every gateway together: the
// upgrade beyond either is refused with 429 before it happens, naming the budget, and closing a
// stream frees its place.
func TestStreamSocketsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var heard refusals
	cfg := gateway.Config{SocketsPerUser: 4, SocketsPerSession: 2, Refused: heard.hook}
	url1, gw1 := e.gateway(t, cfg)
	url2, gw2 := e.gateway(t, cfg)
	a, b, c := e.login(t, "onc1"), e.login(t, "onc1"), e.login(t, "onc1")

	first, status, _, _ := tryDial(t, url1, a)
	require.Equal(t, http.StatusSwitchingProtocols, status)
	_, status, _, _ = tryDial(t, url2, a)
	require.Equal(t, http.StatusSwitchingProtocols, status, "the session's second stream, on the other gateway, was refused")
	_, status, after, budget := tryDial(t, url1, a)
	assert.Equal(t, http.StatusTooManyRequests, status, "got %d for the session's 3rd stream, want 429", status)
	assert.Equal(t, gateway.BudgetSocketsPerSession, budget)
	assert.Positive(t, after, "got no Retry-After on a refused upgrade")

	for i, url := range []string{url1, url2} {
		_, status, _, _ = tryDial(t, url, b)
		require.Equal(t, http.StatusSwitchingProtocols, status, "session b's stream %d refused within the user's bound", i+1)
	}
	for _, url := range []string{url1, url2} {
		_, status, _, budget = tryDial(t, url, c)
		assert.Equal(t, http.StatusTooManyRequests, status, "got %d for the user's 5th stream, want 429 on either gateway", status)
		assert.Equal(t, gateway.BudgetSockets, budget)
	}
	assert.Equal(t, 4, gw1.Clients()+gw2.Clients(), "got %d streams registered, want the 4 admitted only", gw1.Clients()+gw2.Clients())
	assert.Equal(t, []string{"u-onc1 stream_sockets_per_session", "u-onc1 stream_sockets", "u-onc1 stream_sockets"}, heard.list())

	// Other users have their own bounds.
	_, status, _, _ = tryDial(t, url1, e.login(t, "onc2"))
	assert.Equal(t, http.StatusSwitchingProtocols, status, "another user was refused by onc1's streams")

	// Closing a stream frees its place (once the gateway has seen it close).
	require.NoError(t, first.Close())
	require.Eventually(t, func() bool {
		conn, status, _, _ := tryDial(t, url2, c)
		return conn != nil && status == http.StatusSwitchingProtocols
	}, 5*time.Second, 20*time.Millisecond, "a closed stream's place was never freed")
}

// A refused upgrade costs nothing of the user's other bounds: the refusals of a flood leave
// the user's open streams working.
func TestRefusedUpgradesLeaveOpenStreamsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, _ := e.gateway(t, gateway.Config{SocketsPerUser: 3, SocketsPerSession: 3})
	token := e.login(t, "coord1")
	var open []*websocket.Conn
	for range 3 {
		conn, status, _, _ := tryDial(t, url, token)
		require.Equal(t, http.StatusSwitchingProtocols, status)
		open = append(open, conn)
	}
	for range 50 {
		_, status, _, _ := tryDial(t, url, token)
		require.Equal(t, http.StatusTooManyRequests, status)
	}
	id := e.submit(t)
	for i, conn := range open {
		f, err := read(conn, 5*time.Second)
		require.NoError(t, err, "open stream %d broke under the refused flood", i+1)
		assert.Equal(t, id, f.ConsultID)
	}
}
