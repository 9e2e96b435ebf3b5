package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/problem"
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

// The document's problem codes are the ones the API reports (problem.Codes), and the
// error envelope describes `problems` beside `fields`.
func TestOpenAPIDescribesProblemCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
				Error struct {
					Properties struct {
						Error struct {
							Properties map[string]struct {
								AdditionalProperties struct {
									Ref string `json:"$ref"`
								} `json:"additionalProperties"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	got := doc.Components.Schemas.Problem.Properties.Code.Enum
	assert.ElementsMatch(t, problem.Codes, got, "got problem codes %v in the document, want %v", got, problem.Codes)
	problems, ok := doc.Components.Schemas.Error.Properties.Error.Properties["problems"]
	if assert.True(t, ok, "got no problems in the error envelope, want it beside fields") {
		assert.Equal(t, "#/components/schemas/Problem", problems.AdditionalProperties.Ref, "got problems of %q, want Problem", problems.AdditionalProperties.Ref)
	}
}
