package consult_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
)

// TestProblemConstructors pins each constructor's code, bounds and sentence, and its JSON form:
// the code and the bounds, never the sentence.
func TestProblemConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		got     consult.Problem
		code    string
		message string
		json    string
	}{
		{"required", consult.Required(), "required", "required", `{"code":"required"}`},
		{"required with a note", consult.RequiredNote("an empty list removes every rule"), "required",
			"required (an empty list removes every rule)", `{"code":"required"}`},
		{"unknown field", consult.UnknownField(), "unknown_field", "unknown field", `{"code":"unknown_field"}`},
		{"unknown", consult.Unknown("unknown status"), "unknown", "unknown status", `{"code":"unknown"}`},
		{"one of", consult.OneOf("available", "busy", "away"), "not_allowed", "must be one of available, busy, away",
			`{"code":"not_allowed","allowed":["available","busy","away"]}`},
		{"not allowed", consult.NotAllowed("names a disabled account"), "not_allowed", "names a disabled account", `{"code":"not_allowed"}`},
		{"malformed", consult.Malformed("must be a duration such as 2m, 90s or 4h"), "malformed",
			"must be a duration such as 2m, 90s or 4h", `{"code":"malformed"}`},
		{"invalid text", consult.InvalidText("must not contain control characters"), "invalid_text",
			"must not contain control characters", `{"code":"invalid_text"}`},
		{"not a number", consult.NotANumber("must be a finite number"), "not_a_number", "must be a finite number", `{"code":"not_a_number"}`},
		{"not a whole number", consult.NotAWholeNumber(), "not_a_whole_number", "must be a whole number", `{"code":"not_a_whole_number"}`},
		{"not a date", consult.NotADate("must be a date as YYYY-MM-DD"), "not_a_date", "must be a date as YYYY-MM-DD", `{"code":"not_a_date"}`},
		{"too short", consult.TooShort(3), "too_short", "too short", `{"code":"too_short","min":3}`},
		{"too long", consult.TooLong(4000), "too_long", "must be at most 4000 characters", `{"code":"too_long","max":4000}`},
		{"too many", consult.TooMany(10, "attachments"), "too_many", "at most 10 attachments", `{"code":"too_many","max":10}`},
		{"at least", consult.AtLeast(30), "too_small", "must be at least 30", `{"code":"too_small","min":30}`},
		{"at least a fraction", consult.AtLeast(-0.5), "too_small", "must be at least -0.5", `{"code":"too_small","min":-0.5}`},
		{"at most", consult.AtMost(100), "too_large", "must be at most 100", `{"code":"too_large","max":100}`},
		{"out of range from zero", consult.OutOfRange(0, 130), "out_of_range", "must be between 0 and 130",
			`{"code":"out_of_range","min":0,"max":130}`},
		{"whole number from", consult.WholeNumberFrom(1, 31), "out_of_range", "must be a whole number from 1 to 31",
			`{"code":"out_of_range","min":1,"max":31}`},
		{"invalid value", consult.InvalidValue("must be after from"), "invalid", "must be after from", `{"code":"invalid"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.code, tt.got.Code, "got code %q, want %q", tt.got.Code, tt.code)
			assert.Contains(t, consult.ProblemCodes, tt.got.Code, "got code %q, want one of ProblemCodes", tt.got.Code)
			assert.Equal(t, tt.message, tt.got.Message, "got sentence %q, want %q", tt.got.Message, tt.message)
			data, err := json.Marshal(tt.got)
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(data), "got JSON %s, want %s", data, tt.json)
		})
	}
}

func TestProblemCodesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range consult.ProblemCodes {
		assert.False(t, seen[c], "got %q twice in ProblemCodes, want each once", c)
		assert.Regexp(t, `^[a-z]+(_[a-z]+)*$`, c, "got code %q, want lower_snake_case", c)
		seen[c] = true
	}
}

// TestErrorFields checks that `fields` and `problems` name the same fields, whether the error
// was built from problems or, by hand, from sentences alone.
func TestErrorFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      *consult.Error
		fields   map[string]string
		problems map[string]consult.Problem
	}{
		{"from problems", consult.InvalidFields("the request has invalid fields", map[string]consult.Problem{
			"question": consult.Required(), "summary": consult.TooLong(20000)}),
			map[string]string{"question": "required", "summary": "must be at most 20000 characters"},
			map[string]consult.Problem{"question": consult.Required(), "summary": consult.TooLong(20000)}},
		{"sentences alone", &consult.Error{Code: consult.Invalid, Message: "after must be a sequence number",
			Fields: map[string]string{"after": "must be a whole number"}},
			map[string]string{"after": "must be a whole number"},
			map[string]consult.Problem{"after": {Code: "invalid", Message: "must be a whole number"}}},
		{"no fields", consult.Errorf(consult.Invalid, "the request body is not valid JSON"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.fields, tt.err.FieldMessages(), "got fields %v, want %v", tt.err.FieldMessages(), tt.fields)
			assert.Equal(t, tt.problems, tt.err.FieldProblems(), "got problems %v, want %v", tt.err.FieldProblems(), tt.problems)
		})
	}
	e := consult.InvalidFields("x", map[string]consult.Problem{"a": consult.Required()})
	assert.Equal(t, map[string]string{"a": "required"}, e.Fields, "got Fields %v, want the problems' sentences", e.Fields)
	assert.Equal(t, consult.Invalid, e.Code, "got code %s, want invalid", e.Code)
}
