// Package web serves the clinicians' browser app: static assets embedded in the binary.
//
// The app is one page (static/index.html) plus plain ES modules and a style sheet
// under /static/. Every path that does not name a file gets index.html, so the app's
// own routes (/inbox, /consults/{id}, ...) survive a reload; paths that look like a
// file (a dot in the last segment) or live under /static/ or /api/ get a 404 instead
// of the page. File names are not content-hashed, so every answer says no-cache and
// carries an ETag: the browser revalidates and usually gets a 304. Text assets are
// gzipped once at start and sent compressed to browsers that accept it: clinics are
// often on slow links.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var content embed.FS

// contentSecurityPolicy is what the app needs: everything from this origin, nothing
// inline. It is set only when the surrounding middleware has not already set one.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// asset is one embedded file, read once at start, with its gzip form when that is smaller.
type asset struct {
	body   []byte
	etag   string
	gz     []byte
	gzEtag string
}

// compressible lists the extensions worth gzipping; images and fonts are compressed already.
var compressible = map[string]bool{".html": true, ".js": true, ".css": true, ".json": true, ".svg": true, ".txt": true}

// gzipped returns b compressed at the best level.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(b)                                       // writes to memory do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// Handler serves the browser app: index.html at / and for client routes, the files
// of static/ under /static/.
func Handler() http.Handler {
	files := map[string]asset{}
	err := fs.WalkDir(content, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := content.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tag := base64.RawURLEncoding.EncodeToString(sum[:12])
		a := asset{body: b, etag: `"` + tag + `"`}
		if compressible[path.Ext(p)] {
			if gz := gzipped(b); len(gz) < len(b) {
				a.gz, a.gzEtag = gz, `"`+tag+`.gz"`
			}
		}
		files["/"+p] = a
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: read embedded assets: " + err.Error())
	}
	index, ok := files["/static/index.html"]
	if !ok {
		panic("web: static/index.html is not embedded")
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("Referrer-Policy", "same-origin")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}

		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/api" || strings.HasPrefix(p, "/api/"):
			h.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"No such API endpoint."}}` + "\n"))
		case p == "/static" || strings.HasPrefix(p, "/static/"):
			a, ok := files[p]
			if !ok {
				http.NotFound(w, r)
				return
			}
			serve(w, r, path.Base(p), a)
		case strings.Contains(path.Base(p), "."):
			// Looks like a file (favicon.ico, robots.txt): a page here would only confuse.
			http.NotFound(w, r)
		default:
			serve(w, r, "index.html", index)
		}
	})
}

// serve writes one asset, gzipped when the browser accepts it and no range is asked for;
// http.ServeContent picks the content type from the name and answers conditional
// requests against the ETag of the form sent.
func serve(w http.ResponseWriter, r *http.Request, name string, a asset) {
	h := w.Header()
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) && r.Header.Get("Range") == "" {
			body, etag = a.gz, a.gzEtag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (not refused with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
