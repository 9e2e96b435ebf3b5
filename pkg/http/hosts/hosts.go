// Package hosts decides which Host names a public listener answers for. A page of another site
// whose name an attacker points at the broker's address (DNS rebinding) sends its own name in
// Host and Origin alike, so a same-origin check passes; refusing every Host not configured is
// what stops it.
package hosts

import (
	"net"
	"net/url"
	"slices"
	"strings"
)

// List is the Host values (host:port, or host alone for the scheme's default port) a listener
// answers for, in lower case.
type List []string

// New returns the hosts a listener on addr answers for: the extra ones configured
// (ALLOWED_HOSTS), the hosts of the origins whose pages may use it (ALLOWED_ORIGINS, PUBLIC_URL),
// and addr itself when it names a host (on loopback also as localhost, 127.0.0.1 and [::1]). An
// origin or address that does not parse adds nothing.
func New(addr string, extra []string, origins ...string) List {
	var l List
	add := func(h string) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && !slices.Contains(l, h) {
			l = append(l, h)
		}
	}
	for _, h := range extra {
		add(h)
	}
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			add(u.Host)
			if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
				add(u.Hostname())
			}
		}
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && host != "" && port != "0" {
		ip := net.ParseIP(host)
		switch {
		case host == "localhost" || (ip != nil && ip.IsLoopback()):
			for _, h := range []string{"localhost", "127.0.0.1", "[::1]"} {
				add(h + ":" + port)
			}
		case ip == nil || !ip.IsUnspecified():
			add(net.JoinHostPort(host, port))
		}
	}
	return l
}

// Allows reports whether a request with Host host is for this listener. An empty List allows
// every host: a listener whose name nobody configured (a test server on a random port).
func (l List) Allows(host string) bool {
	if len(l) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return slices.Contains(l, host)
}
