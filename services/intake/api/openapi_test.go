package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OpenAPI document and the routes stay in step: every route is documented and every
// documented operation is served (the stream and the health endpoints by the process's mux).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "got openapi %q, want 3.x", doc.OpenAPI)

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	served := []string{"GET /api/v1/stream", "GET /healthz", "GET /readyz", "GET /metrics"}
	for _, r := range (&Server{}).routes() {
		served = append(served, r.pattern)
	}
	sort.Strings(documented)
	sort.Strings(served)
	assert.Equal(t, served, documented)
}
