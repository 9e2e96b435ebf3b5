package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/pkg/problem"
)

// apiError is an error answer as a client reads it, `problems` included (apiclient.Error reads
// the code, the message and `fields` only). Problem sentences are not in `problems`: a decoded
// Problem's Message is empty.
type apiError struct {
	Status int
	Body   struct {
		Error struct {
			Code     string                     `json:"code"`
			Message  string                     `json:"message"`
			Fields   map[string]string          `json:"fields"`
			Problems map[string]problem.Problem `json:"problems"`
		} `json:"error"`
	}
}

func (e *apiError) String() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("HTTP %d %s: %s %v %v", e.Status, e.Body.Error.Code, e.Body.Error.Message, e.Body.Error.Fields, e.codes())
}

// codes returns each field's problem code (nil when the answer names no field).
func (e *apiError) codes() map[string]string {
	if e == nil || e.Body.Error.Problems == nil {
		return nil
	}
	out := make(map[string]string, len(e.Body.Error.Problems))
	for field, p := range e.Body.Error.Problems {
		out[field] = p.Code
	}
	return out
}

// send makes a request as c (its session cookie) with body as JSON (nil for none), decodes a
// 2xx answer into out (when not nil) and returns the status and, for any other answer, the error
// body. Every error body is checked for what the API promises of `problems`: the same fields
// as `fields`, each with one of the API's codes.
func send(t *testing.T, c *apiclient.Client, method, path string, body, out any) (int, *apiError) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.Base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode/100 == 2 {
		if out != nil && len(data) > 0 {
			require.NoError(t, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
		}
		return resp.StatusCode, nil
	}
	e := &apiError{Status: resp.StatusCode}
	require.NoError(t, json.Unmarshal(data, &e.Body), "%s %s: got a body that is no error envelope: %s", method, path, data)
	checkProblems(t, e)
	return resp.StatusCode, e
}

// checkProblems checks that an error body gives each field of `fields` a problem with one of
// the API's codes, and names no other field in `problems`.
func checkProblems(t *testing.T, e *apiError) {
	t.Helper()
	fields, problems := e.Body.Error.Fields, e.Body.Error.Problems
	assert.Len(t, problems, len(fields), "got problems %v, want one per field of %v", problems, fields)
	for field := range fields {
		p, ok := problems[field]
		if assert.True(t, ok, "got no problem for %s, want one beside its sentence", field) {
			assert.True(t, slices.Contains(problem.Codes, p.Code), "%s: got code %q, want one of %v", field, p.Code, problem.Codes)
			assert.Empty(t, p.Message, "%s: got the sentence in problems, want it in fields only", field)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestErrorEnvelope checks the JSON of an invalid answer as the API documents it: `fields` as
// before, and beside it `problems` with each field's code and bounds.
func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	ref := s.login("referrer1")
	body := map[string]any{"urgency": "whenever", "specialty": "pediatric-oncology",
		"patient": map[string]any{"age_years": 131, "sex": "female"}, "question": "q",
		"details": map[string]any{"anc": 150, "modality": "pet"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/api/v1/consults", bytes.NewReader(mustJSON(t, body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ref.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var raw struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	assert.JSONEq(t, `{"urgency": "must be one of emergent, urgent, routine", "patient.age_years": "must be between 0 and 130",
		"details.anc": "must be at most 100", "details.diagnosis": "required", "details.modality": "unknown field"}`, string(raw.Error["fields"]), "got fields %s", raw.Error["fields"])
	assert.JSONEq(t, `{"urgency": {"code": "not_allowed", "allowed": ["emergent", "urgent", "routine"]},
		"patient.age_years": {"code": "out_of_range", "min": 0, "max": 130},
		"details.anc": {"code": "too_large", "max": 100}, "details.diagnosis": {"code": "required"},
		"details.modality": {"code": "unknown_field"}}`,
		string(raw.Error["problems"]), "got problems %s", raw.Error["problems"])
}

// TestLoginProblems: a missing or over-long credential keeps the one sentence the API has always
// given, with the code of what is actually wrong.
func TestLoginProblems(t *testing.T) {
	t.Parallel()
	s := startIntake(t)
	tests := []struct {
		name     string
		body     map[string]string
		fields   map[string]string
		problems map[string]problem.Problem
	}{
		{"both missing", map[string]string{"username": "", "password": ""},
			map[string]string{"username": "required, at most 128 characters", "password": "required, at most 256 characters"},
			map[string]problem.Problem{"username": {Code: "required"}, "password": {Code: "required"}}},
		{"both too long", map[string]string{"username": strings.Repeat("u", 129), "password": strings.Repeat("p", 257)},
			map[string]string{"username": "required, at most 128 characters", "password": "required, at most 256 characters"},
			map[string]problem.Problem{"username": {Code: "too_long", Max: ptr(128.0)}, "password": {Code: "too_long", Max: ptr(256.0)}}},
		{"a password too long", map[string]string{"username": "referrer1", "password": strings.Repeat("p", 257)},
			map[string]string{"password": "required, at most 256 characters"},
			map[string]problem.Problem{"password": {Code: "too_long", Max: ptr(256.0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, apiErr := send(t, apiclient.New(s.url), http.MethodPost, "/api/v1/session", tt.body, nil)
			require.Equal(t, http.StatusBadRequest, status, "got %d %v, want 400", status, apiErr)
			assert.Equal(t, tt.fields, apiErr.Body.Error.Fields, "got fields %v, want %v", apiErr.Body.Error.Fields, tt.fields)
			assert.Equal(t, tt.problems, apiErr.Body.Error.Problems, "got problems %v, want %v", apiErr.Body.Error.Problems, tt.problems)
		})
	}
}
