// Package layout_test keeps the package layout honest: the domain packages import the standard
// library and the other domain vocabulary only, never an adapter, NATS, Redis or net/http.
package layout_test

import (
	"go/build"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/regionalconsult/broker/"

func TestDomainPackagesImportNoAdapter(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	tests := []struct {
		pkg   string
		ours  []string // packages of this module it may import
		other []string // non-standard packages it may import
	}{
		{"pkg/event", nil, nil},
		{"pkg/problem", nil, nil},
		{"pkg/deadline", nil, nil},
		{"pkg/attachment", nil, nil},
		{"pkg/consult", []string{"pkg/event", "pkg/problem"}, nil},
		{"pkg/roster", []string{"pkg/problem"}, []string{"go.yaml.in/yaml/v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			p, err := build.ImportDir(filepath.Join(root, tt.pkg), 0)
			require.NoError(t, err)
			for _, imp := range p.Imports {
				switch {
				case strings.HasPrefix(imp, module):
					assert.Contains(t, tt.ours, strings.TrimPrefix(imp, module), "got %s importing %s, want only %v of ours", tt.pkg, imp, tt.ours)
				case strings.Contains(strings.Split(imp, "/")[0], "."):
					assert.True(t, slices.Contains(tt.other, imp), "got %s importing %s, want the standard library only", tt.pkg, imp)
				default:
					assert.NotEqual(t, "net/http", imp, "got %s importing net/http, want no transport in the domain", tt.pkg)
				}
			}
		})
	}
}
