package session

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CookieName is the session cookie over plain HTTP (a loopback install, tests).
const CookieName = "consult_session"

// SecureCookieName is the session cookie when it is Secure: the __Host- prefix makes the browser
// refuse one set by a sibling subdomain or for another path, or without Secure.
const SecureCookieName = "__Host-" + CookieName

// Cookie returns the cookie name for a site served securely or not.
func Cookie(secure bool) string {
	if secure {
		return SecureCookieName
	}
	return CookieName
}

// Token returns the session token r carries, or "".
func Token(r *http.Request) string {
	for _, name := range []string{SecureCookieName, CookieName} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// OriginAllowed reports whether r may act with the user's session: its Origin header is absent
// (a script), the origin r was served on, or one of allowed (origins of other pages that may,
// such as the public name in front of a proxy). With SameSite=Strict cookies this is the
// broker's defence against cross-site requests.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if slices.Contains(allowed, strings.TrimSuffix(origin, "/")) {
		return true
	}
	serving := "http"
	if r.TLS != nil {
		serving = "https"
	}
	// Behind a proxy that ends TLS the request arrives over plain HTTP; the host must match.
	return strings.EqualFold(u.Host, r.Host) && (u.Scheme == serving || r.TLS == nil)
}
