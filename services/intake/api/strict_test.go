package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		path string // "" and code "" when the body passes
		code string
	}{
		{"a plain object", `{"question":"ANC 0.4 أمس","patient":{"age_years":7},"attachments":["a","b"]}`, "", ""},
		{"marks that only nudge neutrals", "{\"question\":\"\u200fWBC 1.2\u200e\"}", "", ""},
		{"not JSON", `{"question":`, "", ""},
		{"invalid UTF-8 in a value", "{\"question\":\"ok \xff\xfe\"}", "question", "invalid_text"},
		{"invalid UTF-8 deep", "{\"patient\":{\"reference\":\"\xc3\x28\"}}", "patient.reference", "invalid_text"},
		{"invalid UTF-8 in a key", "{\"qu\xffestion\":\"x\"}", "", "invalid_text"}, // named by the object that holds it
		{"a lone surrogate escape", `{"question":"x \ud800 y"}`, "question", "invalid_text"},
		{"a key twice", `{"question":"a","question":"b"}`, "question", "duplicate"},
		{"a key in two cases", `{"question":"a","Question":"b"}`, "Question", "duplicate"},
		{"a nested key twice", `{"patient":{"sex":"male","sex":"female"}}`, "patient.sex", "duplicate"},
		{"the same key in two objects", `{"patient":{"sex":"male"},"details":{"sex":"x"}}`, "", ""},
		{"a right-to-left override", "{\"question\":\"dose 5\u202e01 mg\"}", "question", "invalid_text"},
		{"an escaped left-to-right isolate", `{"summary":"x \u2066y\u2069"}`, "summary", "invalid_text"},
		{"an override in a list", "{\"attachments\":[\"a\",\"b\u202d\"]}", "attachments[1]", "invalid_text"},
		{"after a nested object", `{"patient":{"age_years":7},"question":"q","question":"r"}`, "question", "duplicate"},
		{"after a nested list", `{"attachments":[["a"]],"x":"\u202e"}`, "x", "invalid_text"},
		{"nested too deeply", `{"a":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}`, "a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, p, ok := checkJSON([]byte(tt.body))
			if tt.code == "" {
				assert.True(t, ok, "got %s at %q, want the body to pass", p.Code, path)
				return
			}
			assert.False(t, ok, "got the body passed, want %s at %q", tt.code, tt.path)
			assert.Equal(t, tt.path, path, "got the problem at %q, want %q", path, tt.path)
			assert.Equal(t, tt.code, p.Code, "got %s, want %s", p.Code, tt.code)
		})
	}
}

// FuzzCheckJSON feeds checkJSON arbitrary bodies: it never panics, a refusal always says what
// is wrong, and a body it passes decodes with no replacement character, no bidirectional
// control and no key that another key of its object equals without regard to case.
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{`{"question":"q","patient":{"age_years":7}}`, "{\"a\":\"\xff\"}", `{"a":1,"A":2}`,
		"{\"a\":[\"\u202e\"]}", `[[[[`, `{"a":{"b":[1,{"c":"d"}]}}`, `"x"`, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		path, p, ok := checkJSON(body)
		if !ok {
			if p.Code == "" || p.Message == "" {
				t.Fatalf("got a refusal at %q without a problem: %+v", path, p)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if strings.ContainsRune(v, utf8.RuneError) || strings.ContainsFunc(v, bidiControl) {
					t.Fatalf("passed %q, which decodes to %q", body, v)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for k, e := range v {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
		var counts func(raw json.RawMessage)
		counts = func(raw json.RawMessage) {
			d := json.NewDecoder(bytes.NewReader(raw))
			if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
				return
			}
			seen := map[string]bool{}
			for d.More() {
				tok, err := d.Token()
				if err != nil {
					return
				}
				k := strings.ToLower(tok.(string))
				if seen[k] {
					t.Fatalf("passed %q, in which an object has the key %q twice", body, k)
				}
				seen[k] = true
				var sub json.RawMessage
				if d.Decode(&sub) != nil {
					return
				}
				counts(sub)
			}
		}
		counts(body)
	})
}
