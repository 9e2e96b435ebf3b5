// Package problem is the vocabulary of what can be wrong with one field of a request: a code a
// program can act on (required, too_long, out_of_range, not_allowed...), the bounds that go with
// it, and the English sentence the API has always given beside it. The consult lifecycle and the
// roster report field problems with it, the API writes them as an error's `problems`, and the
// browser app words them from the code in the reader's language. It imports the standard library
// only.
package problem

import (
	"fmt"
	"strings"
)

// Problem is what is wrong with one field of a request, for a program and for a person. Code is
// one of Codes, fixed and machine-readable; Min, Max and Allowed are its bounds where the
// code has them (see each constructor); Message is the English sentence for the field, as the
// API's `fields` has always given it. Its JSON form is the API's `problems` entry: the code and
// the bounds, without the sentence. Build one with a constructor below, never by hand.

type Problem struct {
	Code    string   `json:"code"`
	Message string   `json:"-"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

// The problem codes: what a client may act on, or word in its own language.
const (
	// CodeRequired: the field is missing or blank.
	CodeRequired = "required"
	// CodeUnknownField: the request has no such field.
	CodeUnknownField = "unknown_field"
	// CodeUnknown: the value names nothing known (a specialty, status, attachment, user...).
	CodeUnknown = "unknown"
	// CodeNotAllowed: the value is not one the field allows here; Allowed lists the values
	// when the list is short and public.
	CodeNotAllowed = "not_allowed"
	// CodeMalformed: the value has the wrong shape (a JSON type, a tag, a duration...).
	CodeMalformed = "malformed"
	// CodeInvalidText: the text is not valid UTF-8 or holds control characters.
	CodeInvalidText = "invalid_text"
	// CodeNotANumber: the value is not a (finite) number.
	CodeNotANumber = "not_a_number"
	// CodeNotAWholeNumber: the value is not a whole number.
	CodeNotAWholeNumber = "not_a_whole_number"
	// CodeNotADate: the value is not a date, or a time, in the form the sentence gives.
	CodeNotADate = "not_a_date"
	// CodeTooShort: the text has fewer than Min characters.
	CodeTooShort = "too_short"
	// CodeTooLong: the text has more than Max characters.
	CodeTooLong = "too_long"
	// CodeTooMany: the list has more than Max entries.
	CodeTooMany = "too_many"
	// CodeTooSmall: the number is below Min.
	CodeTooSmall = "too_small"
	// CodeTooLarge: the number is above Max.
	CodeTooLarge = "too_large"
	// CodeOutOfRange: the number is not from Min to Max.
	CodeOutOfRange = "out_of_range"
	// CodeDuplicate: another entry of the same list already has this value (an id, a name).
	CodeDuplicate = "duplicate"
	// CodeInvalid: not accepted for the reason the sentence gives; no finer code applies.
	CodeInvalid = "invalid"
)

// Codes lists every problem code the API reports. The browser app's copy
// (static/js/codes.js) is checked against it.
var Codes = []string{
	CodeRequired, CodeUnknownField, CodeUnknown, CodeNotAllowed, CodeMalformed,
	CodeInvalidText, CodeNotANumber, CodeNotAWholeNumber, CodeNotADate, CodeTooShort,
	CodeTooLong, CodeTooMany, CodeTooSmall, CodeTooLarge, CodeOutOfRange, CodeDuplicate, CodeInvalid,
}

func bound(n float64) *float64 { return &n }

// Required is a missing or blank field: "required".
func Required() Problem { return Problem{Code: CodeRequired, Message: "required"} }

// RequiredNote is a missing field with a note on what it means: "required (note)".
func RequiredNote(note string) Problem {
	return Problem{Code: CodeRequired, Message: "required (" + note + ")"}
}

// UnknownField is a field the request does not take: "unknown field".
func UnknownField() Problem { return Problem{Code: CodeUnknownField, Message: "unknown field"} }

// Unknown is a value that names nothing known, such as "unknown specialty".
func Unknown(message string) Problem { return Problem{Code: CodeUnknown, Message: message} }

// OneOf is a value outside values: "must be one of a, b, c", with Allowed.
func OneOf(values ...string) Problem {
	return Problem{Code: CodeNotAllowed, Message: "must be one of " + strings.Join(values, ", "),
		Allowed: append([]string(nil), values...)}
}

// NotAllowed is a value the field does not allow here, where the sentence says why (the
// allowed values are not listed: they are many, private, or not a list).
func NotAllowed(message string) Problem { return Problem{Code: CodeNotAllowed, Message: message} }

// Malformed is a value of the wrong shape, such as "must be a duration such as 2m, 90s or 4h".
func Malformed(message string) Problem { return Problem{Code: CodeMalformed, Message: message} }

// InvalidText is text that is not valid UTF-8 or holds control characters.
func InvalidText(message string) Problem { return Problem{Code: CodeInvalidText, Message: message} }

// NotANumber is a value that is not a number, or not a finite one.
func NotANumber(message string) Problem { return Problem{Code: CodeNotANumber, Message: message} }

// NotAWholeNumber is a value that is not a whole number: "must be a whole number".
func NotAWholeNumber() Problem {
	return Problem{Code: CodeNotAWholeNumber, Message: "must be a whole number"}
}

// NotADate is a value that is not a date or time, such as "must be a date as YYYY-MM-DD".
func NotADate(message string) Problem { return Problem{Code: CodeNotADate, Message: message} }

// TooShort is text under least characters: "too short", with Min.
func TooShort(least int) Problem {
	return Problem{Code: CodeTooShort, Message: "too short", Min: bound(float64(least))}
}

// TooLong is text over most characters: "must be at most 4000 characters", with Max.
func TooLong(most int) Problem {
	return Problem{Code: CodeTooLong, Message: fmt.Sprintf("must be at most %d characters", most), Max: bound(float64(most))}
}

// TooMany is a list over most entries of things: "at most 10 attachments", with Max.
func TooMany(most int, things string) Problem {
	return Problem{Code: CodeTooMany, Message: fmt.Sprintf("at most %d %s", most, things), Max: bound(float64(most))}
}

// AtLeast is a number below least: "must be at least 30", with Min.
func AtLeast(least float64) Problem {
	return Problem{Code: CodeTooSmall, Message: fmt.Sprintf("must be at least %g", least), Min: bound(least)}
}

// AtMost is a number above most: "must be at most 100", with Max.
func AtMost(most float64) Problem {
	return Problem{Code: CodeTooLarge, Message: fmt.Sprintf("must be at most %g", most), Max: bound(most)}
}

// OutOfRange is a number outside least to most: "must be between 0 and 130", with Min and Max.
func OutOfRange(least, most int) Problem {
	return Problem{Code: CodeOutOfRange, Message: fmt.Sprintf("must be between %d and %d", least, most),
		Min: bound(float64(least)), Max: bound(float64(most))}
}

// WholeNumberFrom is a query value that is not a whole number from least to most: "must be a whole
// number from 1 to 31", with Min and Max.
func WholeNumberFrom(least, most int) Problem {
	return Problem{Code: CodeOutOfRange, Message: fmt.Sprintf("must be a whole number from %d to %d", least, most),
		Min: bound(float64(least)), Max: bound(float64(most))}
}

// Between is a number or a count outside least to most, worded by message (such as "a policy
// has 1 to 8 steps"), with Min and Max.
func Between(message string, least, most int) Problem {
	return Problem{Code: CodeOutOfRange, Message: message, Min: bound(float64(least)), Max: bound(float64(most))}
}

// Duplicate is a value another entry of the same list already has, such as "duplicate user id
// u-onc1".
func Duplicate(message string) Problem { return Problem{Code: CodeDuplicate, Message: message} }

// InvalidValue is a value not accepted for the reason message gives, when no finer code applies.
func InvalidValue(message string) Problem { return Problem{Code: CodeInvalid, Message: message} }
