package hosts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/pkg/http/hosts"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		list    hosts.List
		allowed []string
		refused []string
	}{
		{"loopback listener", hosts.New("127.0.0.1:8080", nil),
			[]string{"127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"},
			[]string{"evil.example", "evil.example:8080", "127.0.0.1:8081", "localhost", ""}},
		{"behind a proxy", hosts.New("0.0.0.0:8080", []string{"intake:8080"}, "https://consult.example.org", "https://consult.example.org:443"),
			[]string{"consult.example.org", "consult.example.org:443", "intake:8080", "consult.example.org."},
			[]string{"0.0.0.0:8080", "10.0.0.7:8080", "evil.example", "consult.example.org.evil.example"}},
		{"an origin with a port", hosts.New("", nil, "http://127.0.0.1:8080", "not a url", "http://"),
			[]string{"127.0.0.1:8080"}, []string{"127.0.0.1", "not a url"}},
		{"nothing configured", hosts.New("", nil), []string{"anything:1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, h := range tt.allowed {
				assert.True(t, tt.list.Allows(h), "got %q refused by %v, want allowed", h, tt.list)
			}
			for _, h := range tt.refused {
				assert.False(t, tt.list.Allows(h), "got %q allowed by %v, want refused", h, tt.list)
			}
		})
	}
}
