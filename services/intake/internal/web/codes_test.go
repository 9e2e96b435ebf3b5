package web

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

// frozen matches codes.js's exports: `export const NAME = Object.freeze(<JSON>);`.
var frozen = regexp.MustCompile(`(?s)export const (\w+) = Object\.freeze\((.*?)\);`)

// jsCodes returns codes.js's exports, each as its JSON text.
func jsCodes(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	src, err := content.ReadFile("static/js/codes.js")
	require.NoError(t, err)
	out := map[string]json.RawMessage{}
	for _, m := range frozen.FindAllStringSubmatch(string(src), -1) {
		require.True(t, json.Valid([]byte(m[2])), "codes.js: %s is not JSON inside Object.freeze(...)", m[1])
		out[m[1]] = json.RawMessage(m[2])
	}
	return out
}

// TestCloseCodes checks that the app's close codes are the ones the notify gateway closes with.
func TestCloseCodes(t *testing.T) {
	t.Parallel()
	raw, ok := jsCodes(t)["CLOSE"]
	require.True(t, ok, "codes.js exports no CLOSE")
	var got map[string]int
	require.NoError(t, json.Unmarshal(raw, &got))
	tests := []struct {
		name string
		want int
	}{
		{"normal", websocket.CloseNormalClosure},
		{"restart", gateway.CloseRestart},
		{"slow", gateway.CloseSlow},
		{"sessionEnded", gateway.CloseSessionEnded},
		{"historyGone", gateway.CloseHistoryGone},
	}
	for _, tt := range tests {
		code, ok := got[tt.name]
		if assert.True(t, ok, "CLOSE.%s: got none, want %d", tt.name, tt.want) {
			assert.Equal(t, tt.want, code, "CLOSE.%s: got %d, want %d", tt.name, code, tt.want)
		}
	}
	assert.Len(t, got, len(tests), "got CLOSE %v, want only the codes above", got)

	// The store closes and reads the stream's codes by name, never as numbers.
	store, err := content.ReadFile("static/js/store.js")
	require.NoError(t, err)
	for _, tt := range tests {
		assert.NotRegexp(t, `\b`+strconv.Itoa(tt.want)+`\b`, string(store), "store.js: got the literal %d, want CLOSE.%s", tt.want, tt.name)
	}
}

// problemWords matches i18n.js's table of wordings, one `code: (v, p) => ...` per line.
var (
	problemWords = regexp.MustCompile(`(?s)\nconst problemWords = \{\n(.*?)\n\};`)
	wordKey      = regexp.MustCompile(`(?m)^  (\w+): `)
	stringRef    = regexp.MustCompile(`\bv\.(\w+)`)
)

// TestProblemCodes checks that the app knows exactly the API's problem codes, and words each
// one with strings the tables have.
func TestProblemCodes(t *testing.T) {
	t.Parallel()
	raw, ok := jsCodes(t)["PROBLEM_CODES"]
	require.True(t, ok, "codes.js exports no PROBLEM_CODES")
	var got []string
	require.NoError(t, json.Unmarshal(raw, &got))
	assert.ElementsMatch(t, problem.Codes, got, "got PROBLEM_CODES %v, want problem.Codes %v", got, problem.Codes)
	sorted := slices.Sorted(slices.Values(got))
	assert.Equal(t, len(sorted), len(slices.Compact(sorted)), "got PROBLEM_CODES %v, want each code once", got)

	src, err := content.ReadFile("static/js/i18n.js")
	require.NoError(t, err)
	m := problemWords.FindStringSubmatch(string(src))
	require.NotNil(t, m, "i18n.js has no `const problemWords = {...};` table")
	var worded []string
	for _, k := range wordKey.FindAllStringSubmatch(m[1], -1) {
		worded = append(worded, k[1])
	}
	assert.ElementsMatch(t, got, worded, "got problemWords for %v, want one per code of %v", worded, got)
	assert.NotContains(t, string(src), "must be", "i18n.js reads the server's English sentences, want codes only")

	en, err := content.ReadFile("static/js/i18n/en.js")
	require.NoError(t, err)
	var table struct {
		V map[string]string `json:"v"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(en)), "export default "), ";")), &table))
	for _, ref := range stringRef.FindAllStringSubmatch(m[1], -1) {
		assert.Contains(t, table.V, ref[1], "problemWords uses v.%s, which en.js lacks", ref[1])
	}
}
