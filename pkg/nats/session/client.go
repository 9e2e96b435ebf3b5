package session

import (
	"net/netip"
	"slices"
	"strings"
)

// Client is a coarse description of what signed in, for its user to recognise the session by:
// the browser's and the operating system's family, from fixed lists (never the User-Agent
// itself), and the network of the address it came from. Empty fields are unknown.
type Client struct {
	Browser string `json:"browser"`
	OS      string `json:"os"`
	// Network is the address's network: a /24 for IPv4, a /48 for IPv6.
	Network string `json:"network"`
}

// uaScan bounds how much of a User-Agent is looked at.
const uaScan = 512

// browsers are matched in order: a browser's User-Agent names the browsers it descends from too
// (Edge says Chrome and Safari), so the more specific come first.
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"HeadlessChrome/", "Chrome"}, {"Chrome/", "Chrome"},
	{"Version/", "Safari"},
}

// systems are matched in order: Android's User-Agent says Linux, iOS's says Mac OS X.
var systems = []struct{ token, name string }{
	{"Windows", "Windows"},
	{"iPhone", "iOS"}, {"iPad", "iOS"}, {"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// DescribeClient describes the client of a sign-in from its User-Agent header and its address
// (host only, as the API decides it: the peer, or the last X-Forwarded-For hop behind a trusted
// proxy). The description holds only names from fixed lists and a network prefix, so it is
// bounded whatever the client sends.
func DescribeClient(userAgent, addr string) Client {
	ua := userAgent[:min(len(userAgent), uaScan)]
	var c Client
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			if b.name == "Safari" && !strings.Contains(ua, "Safari/") {
				continue
			}
			c.Browser = b.name
			break
		}
	}
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			c.OS = s.name
			break
		}
	}
	c.Network = network(addr)
	return c
}

// network is the /24 (IPv4) or /48 (IPv6) around addr, or "" when addr is no IP address.
func network(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// bounded keeps only what DescribeClient could have produced, whatever a caller filled in.
func (c Client) bounded() Client {
	if !slices.ContainsFunc(browsers, func(b struct{ token, name string }) bool { return b.name == c.Browser }) {
		c.Browser = ""
	}
	if !slices.ContainsFunc(systems, func(s struct{ token, name string }) bool { return s.name == c.OS }) {
		c.OS = ""
	}
	if p, err := netip.ParsePrefix(c.Network); err != nil || p.String() != c.Network {
		c.Network = ""
	}
	return c
}
