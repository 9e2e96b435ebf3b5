package consult

import (
	"errors"
	"fmt"
	"strings"
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
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

// Error is a domain outcome with a code, a sentence for a person, and for Invalid the fields at
// fault: Problems says what is wrong with each one, for programs; Fields says it in English, as
// the API always has. InvalidFields fills both; Fields alone (an Error built by hand) still
// reaches the client, with the code ProblemInvalid (see FieldProblems).
type Error struct {
	Code     Code
	Message  string
	Fields   map[string]string
	Problems map[string]Problem
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with code c.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an Invalid *Error that names each field at fault with its problem.
func InvalidFields(message string, problems map[string]Problem) *Error {
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
// code ProblemInvalid with its sentence.
func (e *Error) FieldProblems() map[string]Problem {
	if len(e.Fields) == 0 && len(e.Problems) == 0 {
		return nil
	}
	out := make(map[string]Problem, len(e.Fields)+len(e.Problems))
	for field, msg := range e.Fields {
		out[field] = InvalidValue(msg)
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

// Problem is what is wrong with one field of a request, for a program and for a person. Code is
// one of ProblemCodes, fixed and machine-readable; Min, Max and Allowed are its bounds where the
// code has them (see each constructor); Message is the English sentence for the field, as the
// API's `fields` has always given it. Its JSON form is the API's `problems` entry: the code and
// the bounds, without the sentence. Build one with a constructor below, never by hand.
//
// Problem is an alias of an unnamed struct type, on purpose: such a type is identical wherever
// it is spelled with the same fields and tags. The roster checks a specialty form's answers but
// does not import this package (domain packages import the standard library and pkg/event
// only), so it spells the same struct as roster.AnswerProblem; its CheckDetails then plugs into
// Policy.CheckDetails as it is, and should the two spellings ever differ, that wiring (in the
// intake API and the routing simulator) stops compiling.
type Problem = struct {
	Code    string   `json:"code"`
	Message string   `json:"-"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

// The problem codes: what a client may act on, or word in its own language.
const (
	// ProblemRequired: the field is missing or blank.
	ProblemRequired = "required"
	// ProblemUnknownField: the request has no such field.
	ProblemUnknownField = "unknown_field"
	// ProblemUnknown: the value names nothing known (a specialty, status, attachment, user...).
	ProblemUnknown = "unknown"
	// ProblemNotAllowed: the value is not one the field allows here; Allowed lists the values
	// when the list is short and public.
	ProblemNotAllowed = "not_allowed"
	// ProblemMalformed: the value has the wrong shape (a JSON type, a tag, a duration...).
	ProblemMalformed = "malformed"
	// ProblemInvalidText: the text is not valid UTF-8 or holds control characters.
	ProblemInvalidText = "invalid_text"
	// ProblemNotANumber: the value is not a (finite) number.
	ProblemNotANumber = "not_a_number"
	// ProblemNotAWholeNumber: the value is not a whole number.
	ProblemNotAWholeNumber = "not_a_whole_number"
	// ProblemNotADate: the value is not a date, or a time, in the form the sentence gives.
	ProblemNotADate = "not_a_date"
	// ProblemTooShort: the text has fewer than Min characters.
	ProblemTooShort = "too_short"
	// ProblemTooLong: the text has more than Max characters.
	ProblemTooLong = "too_long"
	// ProblemTooMany: the list has more than Max entries.
	ProblemTooMany = "too_many"
	// ProblemTooSmall: the number is below Min.
	ProblemTooSmall = "too_small"
	// ProblemTooLarge: the number is above Max.
	ProblemTooLarge = "too_large"
	// ProblemOutOfRange: the number is not from Min to Max.
	ProblemOutOfRange = "out_of_range"
	// ProblemInvalid: not accepted for the reason the sentence gives; no finer code applies.
	ProblemInvalid = "invalid"
)

// ProblemCodes lists every problem code the API reports. The browser app's copy
// (static/js/codes.js) is checked against it.
var ProblemCodes = []string{
	ProblemRequired, ProblemUnknownField, ProblemUnknown, ProblemNotAllowed, ProblemMalformed,
	ProblemInvalidText, ProblemNotANumber, ProblemNotAWholeNumber, ProblemNotADate, ProblemTooShort,
	ProblemTooLong, ProblemTooMany, ProblemTooSmall, ProblemTooLarge, ProblemOutOfRange, ProblemInvalid,
}

func bound(n float64) *float64 { return &n }

// Required is a missing or blank field: "required".
func Required() Problem { return Problem{Code: ProblemRequired, Message: "required"} }

// RequiredNote is a missing field with a note on what it means: "required (note)".
func RequiredNote(note string) Problem {
	return Problem{Code: ProblemRequired, Message: "required (" + note + ")"}
}

// UnknownField is a field the request does not take: "unknown field".
func UnknownField() Problem { return Problem{Code: ProblemUnknownField, Message: "unknown field"} }

// Unknown is a value that names nothing known, such as "unknown specialty".
func Unknown(message string) Problem { return Problem{Code: ProblemUnknown, Message: message} }

// OneOf is a value outside values: "must be one of a, b, c", with Allowed.
func OneOf(values ...string) Problem {
	return Problem{Code: ProblemNotAllowed, Message: "must be one of " + strings.Join(values, ", "),
		Allowed: append([]string(nil), values...)}
}

// NotAllowed is a value the field does not allow here, where the sentence says why (the
// allowed values are not listed: they are many, private, or not a list).
func NotAllowed(message string) Problem { return Problem{Code: ProblemNotAllowed, Message: message} }

// Malformed is a value of the wrong shape, such as "must be a duration such as 2m, 90s or 4h".
func Malformed(message string) Problem { return Problem{Code: ProblemMalformed, Message: message} }

// InvalidText is text that is not valid UTF-8 or holds control characters.
func InvalidText(message string) Problem { return Problem{Code: ProblemInvalidText, Message: message} }

// NotANumber is a value that is not a number, or not a finite one.
func NotANumber(message string) Problem { return Problem{Code: ProblemNotANumber, Message: message} }

// NotAWholeNumber is a value that is not a whole number: "must be a whole number".
func NotAWholeNumber() Problem {
	return Problem{Code: ProblemNotAWholeNumber, Message: "must be a whole number"}
}

// NotADate is a value that is not a date or time, such as "must be a date as YYYY-MM-DD".
func NotADate(message string) Problem { return Problem{Code: ProblemNotADate, Message: message} }

// TooShort is text under least characters: "too short", with Min.
func TooShort(least int) Problem {
	return Problem{Code: ProblemTooShort, Message: "too short", Min: bound(float64(least))}
}

// TooLong is text over most characters: "must be at most 4000 characters", with Max.
func TooLong(most int) Problem {
	return Problem{Code: ProblemTooLong, Message: fmt.Sprintf("must be at most %d characters", most), Max: bound(float64(most))}
}

// TooMany is a list over most entries of things: "at most 10 attachments", with Max.
func TooMany(most int, things string) Problem {
	return Problem{Code: ProblemTooMany, Message: fmt.Sprintf("at most %d %s", most, things), Max: bound(float64(most))}
}

// AtLeast is a number below least: "must be at least 30", with Min.
func AtLeast(least float64) Problem {
	return Problem{Code: ProblemTooSmall, Message: fmt.Sprintf("must be at least %g", least), Min: bound(least)}
}

// AtMost is a number above most: "must be at most 100", with Max.
func AtMost(most float64) Problem {
	return Problem{Code: ProblemTooLarge, Message: fmt.Sprintf("must be at most %g", most), Max: bound(most)}
}

// OutOfRange is a number outside least to most: "must be between 0 and 130", with Min and Max.
func OutOfRange(least, most int) Problem {
	return Problem{Code: ProblemOutOfRange, Message: fmt.Sprintf("must be between %d and %d", least, most),
		Min: bound(float64(least)), Max: bound(float64(most))}
}

// WholeNumberFrom is a query value that is not a whole number from least to most: "must be a whole
// number from 1 to 31", with Min and Max.
func WholeNumberFrom(least, most int) Problem {
	return Problem{Code: ProblemOutOfRange, Message: fmt.Sprintf("must be a whole number from %d to %d", least, most),
		Min: bound(float64(least)), Max: bound(float64(most))}
}

// InvalidValue is a value not accepted for the reason message gives, when no finer code applies.
func InvalidValue(message string) Problem { return Problem{Code: ProblemInvalid, Message: message} }
