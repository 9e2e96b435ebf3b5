package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/process/telemetry"
	"github.com/regionalconsult/broker/services/intake/api"
)

// Every answer, the app's pages and refusals alike, carries the headers that keep other sites
// and unused browser features away from it.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	h := api.New(api.Config{}, api.Deps{}, testenv.Logger(t)).Handler()
	for _, tc := range []struct {
		name, method, path, origin string
		status                     int
	}{
		{"the app", http.MethodGet, "/", "", http.StatusOK},
		{"an unknown endpoint", http.MethodGet, "/api/v1/nothing", "", http.StatusNotFound},
		{"a foreign page's post", http.MethodPost, "/api/v1/session", "https://evil.example", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			for name, want := range map[string]string{
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
				"X-Frame-Options":              "DENY",
				"X-Content-Type-Options":       "nosniff",
			} {
				assert.Equal(t, want, rec.Header().Get(name), "%s: got %s %q, want %q", tc.name, name, rec.Header().Get(name), want)
			}
			assert.Contains(t, rec.Header().Get("Permissions-Policy"), "camera=()", "%s: got Permissions-Policy %q", tc.name, rec.Header().Get("Permissions-Policy"))
		})
	}
}

// A page of another site that points its name at the broker (DNS rebinding) sends its own name as
// Host and as Origin: refused, as is every Host the listener was not configured for.
func TestUnknownHostsAreRefused(t *testing.T) {
	t.Parallel()
	h := api.New(api.Config{Hosts: hosts.New("127.0.0.1:8080", nil, "https://consult.example.org")}, api.Deps{}, testenv.Logger(t)).Handler()
	for _, tc := range []struct {
		host, origin string
		status       int
	}{
		{"127.0.0.1:8080", "", http.StatusOK},
		{"localhost:8080", "", http.StatusOK},
		{"consult.example.org", "", http.StatusOK},
		{"evil.example", "", http.StatusForbidden},
		{"evil.example:8080", "http://evil.example:8080", http.StatusForbidden},
	} {
		method := http.MethodGet
		if tc.origin != "" {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "/", nil)
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, tc.status, rec.Code, "Host %s, Origin %q: got %d, want %d", tc.host, tc.origin, rec.Code, tc.status)
	}
}

// No metric label comes from what a client sends: requests with a thousand different Host
// headers add no series to /metrics.
func TestHostHeadersAddNoMetricSeries(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "intake-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	h := api.New(api.Config{ServerName: "127.0.0.1:8080"}, api.Deps{}, testenv.Logger(t)).Handler()
	series := func() int {
		rec := httptest.NewRecorder()
		tel.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		n := 0
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, "http_server_") {
				n++
			}
		}
		return n
	}
	send := func(host string) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/nothing", nil)
		req.Host = host
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("127.0.0.1:8080")
	before := series()
	require.NotZero(t, before, "got no http_server_ series, want the request counted")
	for i := range 1000 {
		send(fmt.Sprintf("h%d.example:%d", i, 1000+i))
	}
	assert.Equal(t, before, series(), "got %d lines of http_server_ series after 1000 Host names, want %d", series(), before)
}
