package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
)

type sessionInfo struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Created string `json:"created_at"`
	Active  string `json:"last_active_at"`
	Browser string `json:"browser"`
	OS      string `json:"os"`
	Network string `json:"network"`
}

// loginAs signs in as username from a browser described by userAgent.
func (s *intake) loginAs(username, userAgent string) *apiclient.Client {
	s.t.Helper()
	c := apiclient.New(s.url)
	_, err := c.Do(s.ctx, http.MethodPost, "/api/v1/session", map[string]string{"username": username, "password": "demo"},
		http.Header{"User-Agent": {userAgent}}, nil)
	require.NoError(s.t, err, "login %s", username)
	return c
}

func sessionsOf(t *testing.T, c *apiclient.Client) []sessionInfo {
	t.Helper()
	var out struct {
		Sessions []sessionInfo `json:"sessions"`
	}
	status, apiErr := send(t, c, http.MethodGet, "/api/v1/me/sessions", nil, &out)
	require.Equal(t, http.StatusOK, status, "GET /me/sessions: got %d %v, want 200", status, apiErr)
	return out.Sessions
}

func cookieOf(c *apiclient.Client) string {
	u, _ := url.Parse(c.Base)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		return ck.Value
	}
	return ""
}

// A user sees their own sessions (the current one marked, described coarsely, never by token)
// and ends one of them or all others; the ended ones get 401 at once. Another user's session id
// is 404 and ends nothing. Every list and end is audited.
func TestSessionsListedAndEndedByTheirUser(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	desk := s.loginAs("referrer1", firefox)
	phone := s.loginAs("referrer1", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
	tablet := s.login("referrer1")
	colleague := s.login("referrer3")

	list := sessionsOf(t, desk)
	require.Len(t, list, 3, "got %d sessions, want referrer1's 3", len(list))
	assert.True(t, list[0].Current, "got %+v first, want the current session first", list[0])
	byID := map[string]sessionInfo{}
	current := 0
	for _, si := range list {
		byID[si.ID] = si
		if si.Current {
			current++
			assert.Equal(t, "Firefox", si.Browser, "got the current session's browser %q, want Firefox", si.Browser)
			assert.Equal(t, "Linux", si.OS)
			assert.Equal(t, "127.0.0.0/24", si.Network, "got network %q, want the loopback /24", si.Network)
		}
		assert.Len(t, si.ID, 32, "got id %q, want 32 hex digits", si.ID)
		assert.NotEmpty(t, si.Created)
		assert.NotEmpty(t, si.Active)
	}
	assert.Equal(t, 1, current, "got %d sessions marked current, want 1", current)
	phoneID := ""
	for _, si := range sessionsOf(t, phone) {
		if si.Current {
			phoneID = si.ID
		}
	}
	require.NotEmpty(t, phoneID)
	assert.Equal(t, "Safari", byID[phoneID].Browser)
	assert.Equal(t, "iOS", byID[phoneID].OS)

	// The body names no token.
	resp, err := desk.HTTP.Get(desk.Base + "/api/v1/me/sessions")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, c := range []*apiclient.Client{desk, phone, tablet} {
		assert.NotContains(t, string(raw), cookieOf(c), "the list carries a session token")
	}

	// Another user names referrer1's phone: 404, and the phone stays signed in.
	status, apiErr := send(t, colleague, http.MethodDelete, "/api/v1/me/sessions/"+phoneID, nil, nil)
	require.Equal(t, http.StatusNotFound, status, "got %d %v for another user's session, want 404", status, apiErr)
	assert.Equal(t, "not_found", apiErr.Body.Error.Code)
	status, _ = send(t, phone, http.MethodGet, "/api/v1/session", nil, nil)
	assert.Equal(t, http.StatusOK, status, "got %d for the phone after another user named it, want it still signed in", status)
	assert.Len(t, sessionsOf(t, desk), 3, "another user's attempt changed referrer1's sessions")
	assert.Len(t, sessionsOf(t, colleague), 1, "referrer3 sees sessions that are not theirs")
	rec := awaitAudit(t, s.b, "session.end")
	assert.Equal(t, "u-referrer3", rec["actor_id"])
	assert.Equal(t, map[string]any{"session_id": phoneID, "outcome": "not_found"}, rec["detail"])

	// referrer1 ends the phone from the desk.
	status, apiErr = send(t, desk, http.MethodDelete, "/api/v1/me/sessions/"+phoneID, nil, nil)
	require.Equal(t, http.StatusNoContent, status, "got %d %v, want 204", status, apiErr)
	status, _ = send(t, phone, http.MethodGet, "/api/v1/session", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "got %d for the ended phone session, want 401", status)
	status, _ = send(t, desk, http.MethodDelete, "/api/v1/me/sessions/"+phoneID, nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "got %d ending the phone twice, want 404", status)

	// All others: the tablet ends, the desk and the colleague stay.
	var ended struct {
		Ended int `json:"ended"`
	}
	status, apiErr = send(t, desk, http.MethodDelete, "/api/v1/me/sessions", nil, &ended)
	require.Equal(t, http.StatusOK, status, "got %d %v, want 200", status, apiErr)
	assert.Equal(t, 1, ended.Ended, "got %d ended, want the tablet only", ended.Ended)
	status, _ = send(t, tablet, http.MethodGet, "/api/v1/session", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "got %d for the tablet after 'all others', want 401", status)
	for name, c := range map[string]*apiclient.Client{"desk": desk, "colleague": colleague} {
		status, _ = send(t, c, http.MethodGet, "/api/v1/session", nil, nil)
		assert.Equal(t, http.StatusOK, status, "got %d for the %s, want it still signed in", status, name)
	}
	rec = awaitAudit(t, s.b, "session.end_others")
	assert.Equal(t, "u-referrer1", rec["actor_id"])
	rec = awaitAudit(t, s.b, "session.list")
	assert.Contains(t, []any{"u-referrer1", "u-referrer3"}, rec["actor_id"])

	// Ending the current session is a logout: 204, the cookie cleared, then 401.
	list = sessionsOf(t, desk)
	require.Len(t, list, 1)
	req, err := http.NewRequest(http.MethodDelete, desk.Base+"/api/v1/me/sessions/"+list[0].ID, nil)
	require.NoError(t, err)
	resp, err = desk.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0", "got Set-Cookie %q, want the cookie cleared", resp.Header.Get("Set-Cookie"))
	status, _ = send(t, desk, http.MethodGet, "/api/v1/me/sessions", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "got %d after ending the current session, want 401", status)
}

// Malformed session ids are 404 in the API's error envelope, as other malformed ids are, and
// end nothing; without a session every sessions endpoint is 401.
func TestSessionEndpointsRefuseBadInput(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	onc := s.login("onc1")
	own := sessionsOf(t, onc)[0].ID
	for _, id := range []string{"x", strings.ToUpper(own), own + "0", own[:31], strings.Repeat("g", 32), url.PathEscape("../" + own), "%2A", cookieOf(onc)} {
		status, apiErr := send(t, onc, http.MethodDelete, "/api/v1/me/sessions/"+id, nil, nil)
		require.Equal(t, http.StatusNotFound, status, "id %q: got %d %v, want 404", id, status, apiErr)
		assert.Equal(t, "not_found", apiErr.Body.Error.Code, "id %q", id)
	}
	status, _ := send(t, onc, http.MethodGet, "/api/v1/session", nil, nil)
	assert.Equal(t, http.StatusOK, status, "a malformed id ended the session")

	anon := apiclient.New(s.url)
	for _, call := range [][2]string{{http.MethodGet, "/api/v1/me/sessions"}, {http.MethodDelete, "/api/v1/me/sessions"}, {http.MethodDelete, "/api/v1/me/sessions/" + own}} {
		status, apiErr := send(t, anon, call[0], call[1], nil, nil)
		assert.Equal(t, http.StatusUnauthorized, status, "%s %s without a session: got %d %v, want 401", call[0], call[1], status, apiErr)
	}
	// A page of another site cannot end sessions.
	status, _ = onc.Do(s.ctx, http.MethodDelete, "/api/v1/me/sessions", nil, http.Header{"Origin": {"https://evil.example"}}, nil)
	assert.Equal(t, http.StatusForbidden, status, "got %d for a foreign Origin, want 403", status)
}
