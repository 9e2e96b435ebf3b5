package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
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
