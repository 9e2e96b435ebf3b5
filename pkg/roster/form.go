package roster

import (
	"encoding/json"
	"fmt"
	"github.com/regionalconsult/broker/pkg/problem"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field types a specialty form may ask.
const (
	FieldText     = "text"
	FieldLongText = "longtext"
	FieldNumber   = "number"
	FieldBoolean  = "boolean"
	FieldDate     = "date"
	FieldSelect   = "select"
)

// DefaultMaxLength bounds a text answer whose field sets no max_length.
const DefaultMaxLength = 2000

// Bounds on forms and answers.
const (
	maxMaxLength  = 20000
	maxFormFields = 60
	maxOptions    = 100
)

// Field is one structured question of a specialty's form, labelled in English, Arabic and
// Hebrew. Min and Max bound a number; MaxLength a text (DefaultMaxLength when 0); a select's
// answer is the Value of one of its Options.
type Field struct {
	Key       string            `json:"key"`
	Type      string            `json:"type"`
	Label     map[string]string `json:"label"`
	Unit      string            `json:"unit,omitempty"`
	Min       *float64          `json:"min,omitempty"`
	Max       *float64          `json:"max,omitempty"`
	MaxLength int               `json:"max_length,omitempty"`
	Options   []Option          `json:"options,omitempty"`
	Required  bool              `json:"required,omitempty"`
}

// Option is one answer a select field offers.
type Option struct {
	Value string            `json:"value"`
	Label map[string]string `json:"label"`
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func checkForm(path string, form []Field) error {
	if len(form) > maxFormFields {
		return invalid(path, problem.TooMany(maxFormFields, "fields"))
	}
	keys := map[string]bool{}
	for i, f := range form {
		fp := fmt.Sprintf("%s[%d]", path, i)
		if !keyPattern.MatchString(f.Key) {
			return invalid(fp+".key", problem.InvalidValue(fmt.Sprintf("must be lowercase letters, digits and underscores, starting with a letter (got %q)", f.Key)))
		}
		if keys[f.Key] {
			return invalid(fp+".key", problem.Duplicate(fmt.Sprintf("duplicate field %s", f.Key)))
		}
		keys[f.Key] = true
		if f.Label["en"] == "" {
			return invalid(fp+".label.en", problem.Required())
		}
		number := f.Type == FieldNumber
		text := f.Type == FieldText || f.Type == FieldLongText
		switch f.Type {
		case FieldText, FieldLongText, FieldNumber, FieldBoolean, FieldDate, FieldSelect:
		default:
			return invalid(fp+".type", problem.NotAllowed("must be one of text, longtext, number, boolean, date, select"))
		}
		switch {
		case !number && (f.Min != nil || f.Max != nil):
			return invalid(fp+".min", problem.InvalidValue("only a number field has min and max"))
		case f.Min != nil && f.Max != nil && *f.Min > *f.Max:
			return invalid(fp+".max", problem.InvalidValue("must not be below min"))
		case !text && f.MaxLength != 0:
			return invalid(fp+".max_length", problem.InvalidValue("only a text field has max_length"))
		case f.MaxLength < 0 || f.MaxLength > maxMaxLength:
			return invalid(fp+".max_length", problem.Between(fmt.Sprintf("must be 1 to %d", maxMaxLength), 1, maxMaxLength))
		case f.Type != FieldSelect && len(f.Options) > 0:
			return invalid(fp+".options", problem.InvalidValue("only a select field has options"))
		case f.Type == FieldSelect && (len(f.Options) == 0 || len(f.Options) > maxOptions):
			return invalid(fp+".options", problem.Between(fmt.Sprintf("a select field has 1 to %d options", maxOptions), 1, maxOptions))
		case len(f.Unit) > 32:
			return invalid(fp+".unit", problem.InvalidValue("at most 32 characters"))
		}
		values := map[string]bool{}
		for j, o := range f.Options {
			if o.Value == "" || len(o.Value) > 64 || values[o.Value] {
				return invalid(fmt.Sprintf("%s.options[%d].value", fp, j), problem.InvalidValue("required, unique, at most 64 characters"))
			}
			values[o.Value] = true
			if o.Label["en"] == "" {
				return invalid(fmt.Sprintf("%s.options[%d].label.en", fp, j), problem.Required())
			}
		}
	}
	return nil
}

// maxDetails bounds how many answers one consult carries.
const maxDetails = 100

// CheckDetails checks a referrer's answers to the form of specialty. problems names each field
// at fault as "details.<key>" (nil when there is none); when there is none, clean holds the
// answers given, strings trimmed and numbers as float64 (nil when no answer is given). A null or
// blank answer is treated as not given.
func (r *Roster) CheckDetails(specialty string, details map[string]any) (clean map[string]any, problems map[string]problem.Problem) {
	var form []Field
	if s, ok := r.bySlug[specialty]; ok {
		form = s.Form
	}
	problems = map[string]problem.Problem{}
	if len(details) > maxDetails {
		problems["details"] = problem.TooMany(maxDetails, "answers")
		return nil, problems
	}
	clean = map[string]any{}
	for key, v := range details {
		i := slices.IndexFunc(form, func(f Field) bool { return f.Key == key })
		if i < 0 {
			problems["details."+key] = problem.UnknownField()
			continue
		}
		got, p := form[i].check(v)
		switch {
		case p.Code != "":
			problems["details."+key] = p
		case got != nil:
			clean[key] = got
		}
	}
	for _, f := range form {
		if _, given := clean[f.Key]; f.Required && !given {
			if _, bad := problems["details."+f.Key]; !bad {
				problems["details."+f.Key] = problem.Required()
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if len(clean) == 0 {
		return nil, nil
	}
	return clean, nil
}

// check returns the clean answer v to f (nil when not given), or the problem with it (a zero
// Problem when there is none).
func (f Field) check(v any) (any, problem.Problem) {
	if v == nil {
		return nil, problem.Problem{}
	}
	switch f.Type {
	case FieldNumber:
		n, ok := number(v)
		switch {
		case !ok:
			return nil, problem.NotANumber("must be a number")
		case math.IsNaN(n) || math.IsInf(n, 0):
			return nil, problem.NotANumber("must be a finite number")
		case f.Min != nil && n < *f.Min:
			return nil, problem.AtLeast(*f.Min)
		case f.Max != nil && n > *f.Max:
			return nil, problem.AtMost(*f.Max)
		}
		return n, problem.Problem{}
	case FieldBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, problem.Malformed("must be true or false")
		}
		return b, problem.Problem{}
	}
	s, ok := v.(string)
	if !ok {
		return nil, problem.Malformed("must be a string")
	}
	if !utf8.ValidString(s) {
		return nil, problem.InvalidText("must be valid UTF-8 text")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, problem.Problem{}
	}
	switch f.Type {
	case FieldDate:
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
			return nil, problem.NotADate("must be a date as YYYY-MM-DD")
		}
	case FieldSelect:
		if !slices.ContainsFunc(f.Options, func(o Option) bool { return o.Value == s }) {
			values := make([]string, len(f.Options))
			for i, o := range f.Options {
				values[i] = o.Value
			}
			return nil, problem.OneOf(values...)
		}
	default:
		limit := f.MaxLength
		if limit == 0 {
			limit = DefaultMaxLength
		}
		if utf8.RuneCountInString(s) > limit {
			return nil, problem.TooLong(limit)
		}
		multiline := f.Type == FieldLongText
		if strings.ContainsFunc(s, func(c rune) bool {
			return unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t' || c == '\r'))
		}) {
			return nil, problem.InvalidText("must not contain control characters")
		}
	}
	return s, problem.Problem{}
}

// number reads a JSON number, whichever Go type carries it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
