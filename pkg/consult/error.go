package consult

import (
	"errors"
	"fmt"
)

// Code classifies an outcome that is not a success. The strings are the API's error codes; the
// one mapping from code to HTTP status lives in the intake API.
type Code string

// The error codes of API.md.
const (
	Invalid         Code = "invalid"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	TooLarge        Code = "too_large"
	RateLimited     Code = "rate_limited"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

// Error is a domain outcome with a code, a sentence for a person, and for Invalid the fields at fault.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with code c.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: its *Error's code, or Internal for any other error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
