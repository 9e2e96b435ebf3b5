package roster_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// formRoster has one specialty, "onc", whose form asks one field of every type.
func formRoster(t *testing.T) *roster.Roster {
	t.Helper()
	zero, hundred, thirty, fortyFive := 0.0, 100.0, 30.0, 45.0
	label := func(en string) map[string]string { return map[string]string{"en": en} }
	return build(t, roster.Roster{
		Users: specialists,
		Specialties: []roster.Specialty{{Slug: "onc", Form: []roster.Field{
			{Key: "diagnosis", Type: "text", Label: label("Diagnosis"), Required: true, MaxLength: 20},
			{Key: "note", Type: "text", Label: label("Note")},
			{Key: "history", Type: "longtext", Label: label("History")},
			{Key: "anc", Type: "number", Label: label("ANC"), Unit: "×10⁹/L", Min: &zero, Max: &hundred},
			{Key: "temperature_c", Type: "number", Label: label("Temperature"), Min: &thirty, Max: &fortyFive},
			{Key: "cycle", Type: "number", Label: label("Cycle")},
			{Key: "fever", Type: "boolean", Label: label("Fever")},
			{Key: "counts_date", Type: "date", Label: label("Date")},
			{Key: "modality", Type: "select", Label: label("Modality"), Options: []roster.Option{
				{Value: "xray", Label: label("X-ray")}, {Value: "ct", Label: label("CT")}}},
		}}, {Slug: "plain"}},
	})
}

func TestCheckDetails(t *testing.T) {
	t.Parallel()
	r := formRoster(t)
	tests := []struct {
		name      string
		specialty string
		details   string // JSON, decoded as a request body is
		clean     map[string]any
		fields    map[string]string
	}{
		{"every type, trimmed", "onc",
			`{"diagnosis": "  ALL  ", "note": "day 12", "history": "line one\nline two\twith a tab", "anc": 0.2,
			  "temperature_c": 39.1, "cycle": -2, "fever": true, "counts_date": "2026-03-27", "modality": "ct"}`,
			map[string]any{"diagnosis": "ALL", "note": "day 12", "history": "line one\nline two\twith a tab", "anc": 0.2,
				"temperature_c": 39.1, "cycle": -2.0, "fever": true, "counts_date": "2026-03-27", "modality": "ct"}, nil},
		{"only what is required", "onc", `{"diagnosis": "AML"}`, map[string]any{"diagnosis": "AML"}, nil},
		{"false and zero are answers", "onc", `{"diagnosis": "AML", "fever": false, "anc": 0}`,
			map[string]any{"diagnosis": "AML", "fever": false, "anc": 0.0}, nil},
		{"bounds are inclusive", "onc", `{"diagnosis": "AML", "anc": 100, "temperature_c": 30}`,
			map[string]any{"diagnosis": "AML", "anc": 100.0, "temperature_c": 30.0}, nil},
		{"null and blank answers are not given", "onc", `{"diagnosis": "AML", "note": null, "anc": null, "counts_date": "  "}`,
			map[string]any{"diagnosis": "AML"}, nil},
		{"no details and nothing required", "plain", `{}`, nil, nil},
		{"no details when something is required", "onc", `{}`, nil, map[string]string{"details.diagnosis": "required"}},
		{"a blank required answer", "onc", `{"diagnosis": " \t "}`, nil, map[string]string{"details.diagnosis": "required"}},
		{"a null required answer", "onc", `{"diagnosis": null}`, nil, map[string]string{"details.diagnosis": "required"}},
		{"unknown key", "onc", `{"diagnosis": "AML", "rash": true}`, nil, map[string]string{"details.rash": "unknown field"}},
		{"any key of a specialty without a form", "plain", `{"anc": 1}`, nil, map[string]string{"details.anc": "unknown field"}},
		{"any key of an unknown specialty", "astrology", `{"anc": 1}`, nil, map[string]string{"details.anc": "unknown field"}},
		{"number as a string", "onc", `{"diagnosis": "AML", "anc": "0.2"}`, nil, map[string]string{"details.anc": "must be a number"}},
		{"boolean as a string", "onc", `{"diagnosis": "AML", "fever": "yes"}`, nil, map[string]string{"details.fever": "must be true or false"}},
		{"text as a number", "onc", `{"diagnosis": 5}`, nil, map[string]string{"details.diagnosis": "must be a string"}},
		{"text as an object", "onc", `{"diagnosis": {"x": 1}}`, nil, map[string]string{"details.diagnosis": "must be a string"}},
		{"number as a list", "onc", `{"diagnosis": "AML", "anc": [1]}`, nil, map[string]string{"details.anc": "must be a number"}},
		{"number above max", "onc", `{"diagnosis": "AML", "anc": 150}`, nil, map[string]string{"details.anc": "must be at most 100"}},
		{"number below min", "onc", `{"diagnosis": "AML", "temperature_c": 29.9}`, nil, map[string]string{"details.temperature_c": "must be at least 30"}},
		{"text over its max_length", "onc", `{"diagnosis": "` + strings.Repeat("x", 21) + `"}`, nil,
			map[string]string{"details.diagnosis": "must be at most 20 characters"}},
		{"text at its max_length in letters, not bytes", "onc", `{"diagnosis": "` + strings.Repeat("ح", 20) + `"}`,
			map[string]any{"diagnosis": strings.Repeat("ح", 20)}, nil},
		{"text over the default max_length", "onc", `{"diagnosis": "AML", "note": "` + strings.Repeat("x", 2001) + `"}`, nil,
			map[string]string{"details.note": "must be at most 2000 characters"}},
		{"text at the default max_length", "onc", `{"diagnosis": "AML", "note": "` + strings.Repeat("x", 2000) + `"}`,
			map[string]any{"diagnosis": "AML", "note": strings.Repeat("x", 2000)}, nil},
		{"a newline in a one-line text", "onc", `{"diagnosis": "AML\nrelapse"}`, nil,
			map[string]string{"details.diagnosis": "must not contain control characters"}},
		{"a NUL in a long text", "onc", `{"diagnosis": "AML", "history": "a\u0000b"}`, nil,
			map[string]string{"details.history": "must not contain control characters"}},
		{"an escape in a long text", "onc", `{"diagnosis": "AML", "history": "a\u001b[31m"}`, nil,
			map[string]string{"details.history": "must not contain control characters"}},
		{"an impossible date", "onc", `{"diagnosis": "AML", "counts_date": "2026-02-30"}`, nil,
			map[string]string{"details.counts_date": "must be a date as YYYY-MM-DD"}},
		{"a date the other way round", "onc", `{"diagnosis": "AML", "counts_date": "27/03/2026"}`, nil,
			map[string]string{"details.counts_date": "must be a date as YYYY-MM-DD"}},
		{"a date with a time", "onc", `{"diagnosis": "AML", "counts_date": "2026-03-27T10:00:00Z"}`, nil,
			map[string]string{"details.counts_date": "must be a date as YYYY-MM-DD"}},
		{"a select value not offered", "onc", `{"diagnosis": "AML", "modality": "mri"}`, nil,
			map[string]string{"details.modality": "must be one of xray, ct"}},
		{"a select value in capitals", "onc", `{"diagnosis": "AML", "modality": "CT"}`, nil,
			map[string]string{"details.modality": "must be one of xray, ct"}},
		{"every problem at once", "onc", `{"anc": -1, "fever": 1, "modality": "pet", "rash": "yes"}`, nil,
			map[string]string{"details.diagnosis": "required", "details.anc": "must be at least 0", "details.fever": "must be true or false",
				"details.modality": "must be one of xray, ct", "details.rash": "unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var details map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.details), &details))
			clean, problems := r.CheckDetails(tt.specialty, details)
			fields := sentences(problems)
			assert.Equal(t, tt.fields, fields, "got problems %v, want %v", fields, tt.fields)
			if tt.fields == nil {
				assert.Equal(t, tt.clean, clean, "got clean %v, want %v", clean, tt.clean)
			}
		})
	}
}

// TestCheckDetailsFromGo checks answers that come from Go rather than JSON: integers and
// json.Number read as numbers, non-finite numbers are refused, and a nil map is no answers.
func TestCheckDetailsFromGo(t *testing.T) {
	t.Parallel()
	r := formRoster(t)
	tests := []struct {
		name    string
		details map[string]any
		clean   map[string]any
		fields  map[string]string
	}{
		{"nil", nil, nil, map[string]string{"details.diagnosis": "required"}},
		{"an int", map[string]any{"diagnosis": "AML", "anc": 3}, map[string]any{"diagnosis": "AML", "anc": 3.0}, nil},
		{"a json.Number", map[string]any{"diagnosis": "AML", "anc": json.Number("0.4")}, map[string]any{"diagnosis": "AML", "anc": 0.4}, nil},
		{"NaN", map[string]any{"diagnosis": "AML", "cycle": math.NaN()}, nil, map[string]string{"details.cycle": "must be a finite number"}},
		{"infinity", map[string]any{"diagnosis": "AML", "cycle": math.Inf(1)}, nil, map[string]string{"details.cycle": "must be a finite number"}},
		{"invalid UTF-8", map[string]any{"diagnosis": "A\xffML"}, nil, map[string]string{"details.diagnosis": "must be valid UTF-8 text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clean, problems := r.CheckDetails("onc", tt.details)
			fields := sentences(problems)
			assert.Equal(t, tt.fields, fields, "got problems %v, want %v", fields, tt.fields)
			assert.Equal(t, tt.clean, clean, "got clean %v, want %v", clean, tt.clean)
		})
	}
	many := map[string]any{}
	for i := range 101 {
		many[strings.Repeat("k", i+1)] = 1
	}
	_, problems := r.CheckDetails("onc", many)
	want := problem.Problem{Code: "too_many", Message: "at most 100 answers", Max: ptr(100.0)}
	assert.Equal(t, map[string]problem.Problem{"details": want}, problems, "got %v for 101 answers", problems)
}

// TestCheckDetailsDemo checks the demo oncology form with a realistic referral.
func TestCheckDetailsDemo(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	var details map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{"diagnosis": "B-cell ALL", "stage": "standard risk",
		"current_treatment": "AIEOP-BFM ALL 2017, induction", "cycle": 1, "wbc": 0.9, "anc": 0.2, "hemoglobin": 8.1,
		"platelets": 22, "counts_date": "2026-11-22", "fever": true, "temperature_c": 39.1}`), &details))
	clean, problems := r.CheckDetails("pediatric-oncology", details)
	assert.Nil(t, problems, "got problems %v, want none", problems)
	assert.Len(t, clean, 11, "got %d clean answers, want 11", len(clean))

	_, problems = r.CheckDetails("pediatric-oncology", map[string]any{"diagnosis": "ALL", "anc": 120.0, "temperature_c": 50.0})
	assert.Equal(t, map[string]string{"details.anc": "must be at most 100", "details.temperature_c": "must be at most 45"}, sentences(problems))
	assert.Equal(t, map[string]problem.Problem{
		"details.anc":           {Code: "too_large", Message: "must be at most 100", Max: ptr(100.0)},
		"details.temperature_c": {Code: "too_large", Message: "must be at most 45", Max: ptr(45.0)},
	}, problems)
	_, problems = r.CheckDetails("pediatric-radiology", map[string]any{"modality": "pet", "body_part": "chest"})
	assert.Equal(t, map[string]string{"details.modality": "must be one of xray, ultrasound, ct, mri"}, sentences(problems))
	assert.Equal(t, []string{"xray", "ultrasound", "ct", "mri"}, problems["details.modality"].Allowed,
		"got allowed %v, want the form's options", problems["details.modality"].Allowed)
}

// sentences returns the English sentence of each problem, as the API's `fields` gives them
// (nil for nil).
func sentences(problems map[string]problem.Problem) map[string]string {
	if problems == nil {
		return nil
	}
	out := make(map[string]string, len(problems))
	for field, p := range problems {
		out[field] = p.Message
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestCheckDetailsProblems pins the code and bounds a client reads for each kind of bad answer.
func TestCheckDetailsProblems(t *testing.T) {
	t.Parallel()
	r := formRoster(t)
	tests := []struct {
		name    string
		details string // JSON, with a valid diagnosis unless the case is about it
		field   string
		want    problem.Problem
	}{
		{"required", `{}`, "details.diagnosis", problem.Problem{Code: "required", Message: "required"}},
		{"unknown key", `{"diagnosis": "AML", "rash": true}`, "details.rash",
			problem.Problem{Code: "unknown_field", Message: "unknown field"}},
		{"number as a string", `{"diagnosis": "AML", "anc": "0.2"}`, "details.anc",
			problem.Problem{Code: "not_a_number", Message: "must be a number"}},
		{"number below min", `{"diagnosis": "AML", "temperature_c": 29.9}`, "details.temperature_c",
			problem.Problem{Code: "too_small", Message: "must be at least 30", Min: ptr(30.0)}},
		{"number at zero's bound", `{"diagnosis": "AML", "anc": -1}`, "details.anc",
			problem.Problem{Code: "too_small", Message: "must be at least 0", Min: ptr(0.0)}},
		{"number above max", `{"diagnosis": "AML", "anc": 150}`, "details.anc",
			problem.Problem{Code: "too_large", Message: "must be at most 100", Max: ptr(100.0)}},
		{"boolean as a string", `{"diagnosis": "AML", "fever": "yes"}`, "details.fever",
			problem.Problem{Code: "malformed", Message: "must be true or false"}},
		{"text as a number", `{"diagnosis": 5}`, "details.diagnosis", problem.Problem{Code: "malformed", Message: "must be a string"}},
		{"text over its max_length", `{"diagnosis": "` + strings.Repeat("x", 21) + `"}`, "details.diagnosis",
			problem.Problem{Code: "too_long", Message: "must be at most 20 characters", Max: ptr(20.0)}},
		{"a control character", `{"diagnosis": "AML\nrelapse"}`, "details.diagnosis",
			problem.Problem{Code: "invalid_text", Message: "must not contain control characters"}},
		{"an impossible date", `{"diagnosis": "AML", "counts_date": "2026-02-30"}`, "details.counts_date",
			problem.Problem{Code: "not_a_date", Message: "must be a date as YYYY-MM-DD"}},
		{"a select value not offered", `{"diagnosis": "AML", "modality": "mri"}`, "details.modality",
			problem.Problem{Code: "not_allowed", Message: "must be one of xray, ct", Allowed: []string{"xray", "ct"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var details map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.details), &details))
			_, problems := r.CheckDetails("onc", details)
			got, ok := problems[tt.field]
			require.True(t, ok, "got problems %v, want %s named", problems, tt.field)
			assert.Equal(t, tt.want, got, "%s: got %+v, want %+v", tt.field, got, tt.want)
		})
	}
	_, problems := r.CheckDetails("onc", map[string]any{"diagnosis": "A\xffML"})
	assert.Equal(t, problem.Problem{Code: "invalid_text", Message: "must be valid UTF-8 text"}, problems["details.diagnosis"])
	_, problems = r.CheckDetails("onc", map[string]any{"diagnosis": "AML", "cycle": math.Inf(-1)})
	assert.Equal(t, problem.Problem{Code: "not_a_number", Message: "must be a finite number"}, problems["details.cycle"])
}
