package consult_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/problem"
)

// TestErrorFields checks that `fields` and `problems` name the same fields, whether the error
// was built from problems or, by hand, from sentences alone.
func TestErrorFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      *consult.Error
		fields   map[string]string
		problems map[string]problem.Problem
	}{
		{"from problems", consult.InvalidFields("the request has invalid fields", map[string]problem.Problem{
			"question": problem.Required(), "summary": problem.TooLong(20000)}),
			map[string]string{"question": "required", "summary": "must be at most 20000 characters"},
			map[string]problem.Problem{"question": problem.Required(), "summary": problem.TooLong(20000)}},
		{"sentences alone", &consult.Error{Code: consult.Invalid, Message: "after must be a sequence number",
			Fields: map[string]string{"after": "must be a whole number"}},
			map[string]string{"after": "must be a whole number"},
			map[string]problem.Problem{"after": {Code: "invalid", Message: "must be a whole number"}}},
		{"no fields", consult.Errorf(consult.Invalid, "the request body is not valid JSON"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.fields, tt.err.FieldMessages(), "got fields %v, want %v", tt.err.FieldMessages(), tt.fields)
			assert.Equal(t, tt.problems, tt.err.FieldProblems(), "got problems %v, want %v", tt.err.FieldProblems(), tt.problems)
		})
	}
	e := consult.InvalidFields("x", map[string]problem.Problem{"a": problem.Required()})
	assert.Equal(t, map[string]string{"a": "required"}, e.Fields, "got Fields %v, want the problems' sentences", e.Fields)
	assert.Equal(t, consult.Invalid, e.Code, "got code %s, want invalid", e.Code)
}
