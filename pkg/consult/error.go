package consult

import (
	"errors"
	"fmt"

	"github.com/regionalconsult/broker/pkg/problem"
)

// Code classifies an outcome that is not a success. The strings are the API's error codes; the
// one mapping from code to HTTP status lives in the intake API.
type Code string

// The error codes of the API.
const (
	Invalid         Code = "invalid"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	TooLarge        Code = "too_large"
	RateLimited     Code = "rate_limited"
	// KeyReused: an Idempotency-Key already named a different request of the same user.
	KeyReused   Code = "idempotency_key_reused"
	Unavailable Code = "unavailable"
	Internal    Code = "internal"
)

// Error is a domain outcome with a code, a sentence for a person, and for Invalid the fields at
// fault: Problems says what is wrong with each one, for programs; Fields says it in English, as
// the API always has. InvalidFields fills both; Fields alone (an Error built by hand) still
// reaches the client, with the code problem.CodeInvalid (see FieldProblems).
type Error struct {
	Code     Code
	Message  string
	Fields   map[string]string
	Problems map[string]problem.Problem
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with code c.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an Invalid *Error that names each field at fault with its problem.
func InvalidFields(message string, problems map[string]problem.Problem) *Error {
	fields := make(map[string]string, len(problems))
	for field, p := range problems {
		fields[field] = p.Message
	}
	return &Error{Code: Invalid, Message: message, Fields: fields, Problems: problems}
}

// FieldMessages returns the English sentence of each field e names (nil when it names none):
// the API's `fields`.
func (e *Error) FieldMessages() map[string]string {
	if len(e.Fields) == 0 && len(e.Problems) == 0 {
		return nil
	}
	out := make(map[string]string, len(e.Fields)+len(e.Problems))
	for field, msg := range e.Fields {
		out[field] = msg
	}
	for field, p := range e.Problems {
		out[field] = p.Message
	}
	return out
}

// FieldProblems returns the problem of each field e names (nil when it names none): the API's
// `problems`, with the same fields as FieldMessages. A field named in Fields alone gets the
// code problem.CodeInvalid with its sentence.
func (e *Error) FieldProblems() map[string]problem.Problem {
	if len(e.Fields) == 0 && len(e.Problems) == 0 {
		return nil
	}
	out := make(map[string]problem.Problem, len(e.Fields)+len(e.Problems))
	for field, msg := range e.Fields {
		out[field] = problem.InvalidValue(msg)
	}
	for field, p := range e.Problems {
		out[field] = p
	}
	return out
}

// ErrorCode returns the code of err: its *Error's code, or Internal for any other error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
