package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()

	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantType    string // substring of Content-Type
		wantBodyHas string
	}{
		{name: "index at root", path: "/", wantStatus: http.StatusOK, wantType: "text/html", wantBodyHas: `<script type="module" src="/static/app.js">`},
		{name: "index for client route", path: "/inbox", wantStatus: http.StatusOK, wantType: "text/html", wantBodyHas: `id="app"`},
		{name: "index for nested client route", path: "/consults/01JABC", wantStatus: http.StatusOK, wantType: "text/html", wantBodyHas: `id="app"`},
		{name: "javascript asset", path: "/static/app.js", wantStatus: http.StatusOK, wantType: "javascript", wantBodyHas: "import"},
		{name: "style sheet", path: "/static/app.css", wantStatus: http.StatusOK, wantType: "text/css"},
		{name: "missing asset", path: "/static/x.js", wantStatus: http.StatusNotFound},
		{name: "static directory is not listed", path: "/static/js/", wantStatus: http.StatusNotFound},
		{name: "static root is not the app", path: "/static", wantStatus: http.StatusNotFound},
		{name: "no escape from static", path: "/static/../web.go", wantStatus: http.StatusNotFound},
		{name: "file-like path outside static", path: "/favicon.ico", wantStatus: http.StatusNotFound},
		{name: "api path is not the app", path: "/api/v1/nothing", wantStatus: http.StatusNotFound, wantType: "application/json", wantBodyHas: `"not_found"`},
		{name: "post is refused", method: http.MethodPost, path: "/", wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, tt.path, nil))

			require.Equal(t, tt.wantStatus, rec.Code, "status for %s %s", method, tt.path)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
			if tt.wantType != "" {
				assert.Contains(t, rec.Header().Get("Content-Type"), tt.wantType)
			}
			if tt.wantBodyHas != "" {
				assert.Contains(t, rec.Body.String(), tt.wantBodyHas)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	t.Parallel()
	h := Handler()

	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/static/app.css", nil))
	require.Equal(t, http.StatusOK, first.Code)
	etag := first.Header().Get("ETag")
	require.NotEmpty(t, etag, "ETag")

	req := httptest.NewRequest(http.MethodGet, "/static/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	again := httptest.NewRecorder()
	h.ServeHTTP(again, req)
	assert.Equal(t, http.StatusNotModified, again.Code)
}

func TestHandlerKeepsOuterCSP(t *testing.T) {
	t.Parallel()
	const outer = "default-src 'none'"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", outer)
		Handler().ServeHTTP(w, r)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, outer, rec.Header().Get("Content-Security-Policy"))
}

// TestAssets guards the app's promises: small, no inline code (the CSP forbids
// it), and clinical text never parsed as HTML.
func TestAssets(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	require.NoError(t, fs.WalkDir(content, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := content.ReadFile(p)
		files[p] = string(b)
		return err
	}))

	total := 0
	for p, body := range files {
		if ext := path.Ext(p); ext == ".js" || ext == ".css" {
			total += len(body)
		}
	}
	assert.Less(t, total, 80_000, "JS+CSS bytes: got %d, want under 80 KB", total)

	index := files["static/index.html"]
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(index, -1) {
		assert.Contains(t, tag, "src=", "inline script in index.html: %s", tag)
	}
	assert.NotRegexp(t, `(?i)<style|\sstyle=|\son[a-z]+=`, index, "inline style or handler in index.html")

	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|\.style\b|setAttribute\('on`)
	for p, body := range files {
		if strings.HasSuffix(p, ".js") {
			assert.Empty(t, sinks.FindAllString(body, -1), "%s: HTML sinks, eval or inline styles", p)
		}
	}
}
