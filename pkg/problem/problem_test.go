package problem_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/problem"
)

// TestProblemConstructors pins each constructor's code, bounds and sentence, and its JSON form:
// the code and the bounds, never the sentence.
func TestProblemConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		got     problem.Problem
		code    string
		message string
		json    string
	}{
		{"required", problem.Required(), "required", "required", `{"code":"required"}`},
		{"required with a note", problem.RequiredNote("an empty list removes every rule"), "required",
			"required (an empty list removes every rule)", `{"code":"required"}`},
		{"unknown field", problem.UnknownField(), "unknown_field", "unknown field", `{"code":"unknown_field"}`},
		{"unknown", problem.Unknown("unknown status"), "unknown", "unknown status", `{"code":"unknown"}`},
		{"one of", problem.OneOf("available", "busy", "away"), "not_allowed", "must be one of available, busy, away",
			`{"code":"not_allowed","allowed":["available","busy","away"]}`},
		{"not allowed", problem.NotAllowed("names a disabled account"), "not_allowed", "names a disabled account", `{"code":"not_allowed"}`},
		{"malformed", problem.Malformed("must be a duration such as 2m, 90s or 4h"), "malformed",
			"must be a duration such as 2m, 90s or 4h", `{"code":"malformed"}`},
		{"invalid text", problem.InvalidText("must not contain control characters"), "invalid_text",
			"must not contain control characters", `{"code":"invalid_text"}`},
		{"not a number", problem.NotANumber("must be a finite number"), "not_a_number", "must be a finite number", `{"code":"not_a_number"}`},
		{"not a whole number", problem.NotAWholeNumber(), "not_a_whole_number", "must be a whole number", `{"code":"not_a_whole_number"}`},
		{"not a date", problem.NotADate("must be a date as YYYY-MM-DD"), "not_a_date", "must be a date as YYYY-MM-DD", `{"code":"not_a_date"}`},
		{"too short", problem.TooShort(3), "too_short", "too short", `{"code":"too_short","min":3}`},
		{"too long", problem.TooLong(4000), "too_long", "must be at most 4000 characters", `{"code":"too_long","max":4000}`},
		{"too many", problem.TooMany(10, "attachments"), "too_many", "at most 10 attachments", `{"code":"too_many","max":10}`},
		{"at least", problem.AtLeast(30), "too_small", "must be at least 30", `{"code":"too_small","min":30}`},
		{"at least a fraction", problem.AtLeast(-0.5), "too_small", "must be at least -0.5", `{"code":"too_small","min":-0.5}`},
		{"at most", problem.AtMost(100), "too_large", "must be at most 100", `{"code":"too_large","max":100}`},
		{"out of range from zero", problem.OutOfRange(0, 130), "out_of_range", "must be between 0 and 130",
			`{"code":"out_of_range","min":0,"max":130}`},
		{"whole number from", problem.WholeNumberFrom(1, 31), "out_of_range", "must be a whole number from 1 to 31",
			`{"code":"out_of_range","min":1,"max":31}`},
		{"between", problem.Between("a policy has 1 to 8 steps", 1, 8), "out_of_range", "a policy has 1 to 8 steps",
			`{"code":"out_of_range","min":1,"max":8}`},
		{"duplicate", problem.Duplicate("duplicate user id u-a"), "duplicate", "duplicate user id u-a", `{"code":"duplicate"}`},
		{"invalid value", problem.InvalidValue("must be after from"), "invalid", "must be after from", `{"code":"invalid"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.code, tt.got.Code, "got code %q, want %q", tt.got.Code, tt.code)
			assert.Contains(t, problem.Codes, tt.got.Code, "got code %q, want one of Codes", tt.got.Code)
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
	for _, c := range problem.Codes {
		assert.False(t, seen[c], "got %q twice in Codes, want each once", c)
		assert.Regexp(t, `^[a-z]+(_[a-z]+)*$`, c, "got code %q, want lower_snake_case", c)
		seen[c] = true
	}
}
