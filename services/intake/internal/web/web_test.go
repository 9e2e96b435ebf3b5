package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
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

// firstLoadBudget bounds what index.html makes the browser fetch (JS and CSS), gzipped as
// served: the app must open quickly on a clinic's slow link.
const firstLoadBudget = 150 * 1000

var (
	importRe  = regexp.MustCompile(`(?m)^\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]`)
	assetRefs = regexp.MustCompile(`<(?:script|link)\b[^>]*?(?:src|href)="(/static/[^"]+)"[^>]*>`)
)

// firstLoad returns the static files index.html loads, following the modules' static imports.
func firstLoad(t *testing.T) (loaded []string, preloaded map[string]bool) {
	t.Helper()
	index, err := content.ReadFile("static/index.html")
	require.NoError(t, err)
	preloaded = map[string]bool{}
	seen := map[string]bool{}
	var queue []string
	for _, m := range assetRefs.FindAllStringSubmatch(string(index), -1) {
		p := strings.TrimPrefix(m[1], "/")
		if strings.Contains(m[0], "modulepreload") {
			preloaded[p] = true
		}
		if !seen[p] {
			seen[p] = true
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		body, err := content.ReadFile(p)
		require.NoError(t, err, "index.html or an import names %s", p)
		loaded = append(loaded, p)
		if path.Ext(p) != ".js" {
			continue
		}
		for _, m := range importRe.FindAllStringSubmatch(string(body), -1) {
			dep := path.Join(path.Dir(p), m[1])
			if !seen[dep] {
				seen[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	return loaded, preloaded
}

func TestFirstLoadBudget(t *testing.T) {
	t.Parallel()
	loaded, preloaded := firstLoad(t)
	raw, compressed := 0, 0
	for _, p := range loaded {
		if ext := path.Ext(p); ext != ".js" && ext != ".css" {
			continue
		}
		body, err := content.ReadFile(p)
		require.NoError(t, err)
		raw += len(body)
		compressed += len(gzipped(body))
	}
	t.Logf("first load: %d files, JS+CSS %d bytes, %d bytes gzipped (budget %d)", len(loaded), raw, compressed, firstLoadBudget)
	assert.LessOrEqual(t, compressed, firstLoadBudget, "JS+CSS gzipped: got %d bytes, want at most %d", compressed, firstLoadBudget)

	// Every module of the first load is preloaded, so a slow link fetches them in parallel
	// instead of one import level at a time.
	for _, p := range loaded {
		if path.Ext(p) == ".js" && p != "static/app.js" {
			assert.True(t, preloaded[p], "%s is imported but index.html has no modulepreload for it", p)
		}
	}
	for p := range preloaded {
		assert.Contains(t, loaded, p, "index.html preloads %s, which nothing imports", p)
	}
}

// TestStringTables checks that the Arabic, Hebrew and English tables have the same keys,
// no empty text and the same placeholders for each key.
func TestStringTables(t *testing.T) {
	t.Parallel()
	placeholder := regexp.MustCompile(`\{\w+\}`)
	tables := map[string]map[string]string{}
	for _, lang := range []string{"en", "ar", "he"} {
		b, err := content.ReadFile("static/js/i18n/" + lang + ".js")
		require.NoError(t, err)
		src := strings.TrimSpace(string(b))
		require.True(t, strings.HasPrefix(src, "export default {") && strings.HasSuffix(src, "};"),
			"%s.js must be `export default {JSON};`", lang)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(src, "export default "), ";")), &v), "%s.js", lang)
		flat := map[string]string{}
		flatten("", v, flat)
		tables[lang] = flat
	}
	for _, lang := range []string{"ar", "he"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			for k, en := range tables["en"] {
				got, ok := tables[lang][k]
				if !assert.True(t, ok, "%s.js lacks %s", lang, k) {
					continue
				}
				assert.NotEmpty(t, strings.TrimSpace(got), "%s.js: %s is empty", lang, k)
				want := placeholder.FindAllString(en, -1)
				have := placeholder.FindAllString(got, -1)
				assert.ElementsMatch(t, want, have, "%s.js: %s has placeholders %v, want %v", lang, k, have, want)
			}
			for k := range tables[lang] {
				_, ok := tables["en"][k]
				assert.True(t, ok, "%s.js has %s, which en.js lacks", lang, k)
			}
		})
	}
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, v := range x {
			flatten(prefix+k+".", v, out)
		}
	case string:
		out[strings.TrimSuffix(prefix, ".")] = x
	default:
		out[strings.TrimSuffix(prefix, ".")] = ""
	}
}

func TestHandlerGzip(t *testing.T) {
	t.Parallel()
	h := Handler()
	plain, err := content.ReadFile("static/app.js")
	require.NoError(t, err)

	tests := []struct {
		name     string
		accept   string
		rangeHdr string
		wantGzip bool
	}{
		{name: "gzip accepted", accept: "gzip, deflate, br", wantGzip: true},
		{name: "gzip with a weight", accept: "br;q=1.0, gzip;q=0.8", wantGzip: true},
		{name: "gzip refused", accept: "gzip;q=0, identity", wantGzip: false},
		{name: "no header", accept: "", wantGzip: false},
		{name: "range asks for plain bytes", accept: "gzip", rangeHdr: "bytes=0-9", wantGzip: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/static/app.js", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Contains(t, rec.Header().Get("Vary"), "Accept-Encoding")
			assert.Contains(t, rec.Header().Get("Content-Type"), "javascript")
			if !tt.wantGzip {
				assert.Empty(t, rec.Header().Get("Content-Encoding"))
				return
			}
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
			zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
			require.NoError(t, err)
			got, err := io.ReadAll(zr)
			require.NoError(t, err)
			assert.Equal(t, plain, got, "gunzipped body")

			// The compressed form revalidates against its own ETag.
			again := httptest.NewRequest(http.MethodGet, "/static/app.js", nil)
			again.Header.Set("Accept-Encoding", tt.accept)
			again.Header.Set("If-None-Match", rec.Header().Get("ETag"))
			rec2 := httptest.NewRecorder()
			h.ServeHTTP(rec2, again)
			assert.Equal(t, http.StatusNotModified, rec2.Code)
		})
	}
}
