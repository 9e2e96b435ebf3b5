package consult_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/problem"
)

var policy = consult.Policy{
	KnownSpecialty: func(slug string) bool { return slug == "pediatric-oncology" || slug == "pediatric-hematology" },
	AcceptWithin:   map[string]time.Duration{"emergent": 15 * time.Minute, "urgent": 2 * time.Hour, "routine": 72 * time.Hour},
}

// arabic returns n characters of Arabic text: two bytes each in UTF-8, so a limit counted in
// bytes would refuse it at half the length.
func arabic(n int) string {
	const letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
	r := []rune(letters)
	var b strings.Builder
	for i := range n {
		b.WriteRune(r[i%len(r)])
	}
	return b.String()
}

func validDraft() consult.Draft {
	return consult.Draft{
		Urgency:   "urgent",
		Specialty: "pediatric-oncology",
		Patient:   &consult.DraftPatient{AgeYears: ptr(7), Sex: "female", Reference: "HEB-2231"},
		Question:  "هل يحتاج الطفل إلى خزعة نخاع العظم؟",
		Summary:   "Pancytopenia, fever for 10 days.",
		Language:  "ar",
	}
}

func TestSubmitValid(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 27, 4, 30, 0, 0, idt)
	d := validDraft()
	d.Question = "  \n" + d.Question + "\t "
	d.Patient.Reference = " HEB-2231 "
	e, err := consult.Submit(referrer, d, cid, "idem-1", policy, now)
	require.NoError(t, err)

	assert.Equal(t, event.Requested, e.Type, "got type %s, want requested", e.Type)
	assert.Equal(t, cid, e.ConsultID, "got consult id %q, want %q", e.ConsultID, cid)
	assert.Equal(t, 1, e.Position, "got position %d, want 1", e.Position)
	assert.Equal(t, refID, e.ActorID, "got actor %q, want %q", e.ActorID, refID)
	assert.True(t, now.Equal(e.At), "got at %v, want %v", e.At, now)
	assert.Equal(t, time.UTC, e.At.Location(), "got at in %v, want UTC", e.At.Location())
	require.NotNil(t, e.Request, "got no request, want one")
	want := event.Request{
		Urgency: "urgent", Specialty: "pediatric-oncology", ClinicID: "hebron",
		Patient:  event.Patient{AgeYears: 7, Sex: "female", Reference: "HEB-2231"},
		Question: "هل يحتاج الطفل إلى خزعة نخاع العظم؟", Summary: "Pancytopenia, fever for 10 days.",
		Language: "ar", IdempotencyKey: "idem-1", AcceptBy: now.UTC().Add(2 * time.Hour),
	}
	assert.Equal(t, want, *e.Request, "got request %+v, want %+v", *e.Request, want)

	c, err := consult.Fold([]event.Event{e})
	require.NoError(t, err, "the request must open a consult")
	assert.Equal(t, consult.StatusRequested, c.Status, "got %s, want requested", c.Status)
}

func TestSubmitAcceptByPerUrgency(t *testing.T) {
	t.Parallel()
	for urgency, within := range policy.AcceptWithin {
		t.Run(urgency, func(t *testing.T) {
			t.Parallel()
			d := validDraft()
			d.Urgency = urgency
			e, err := consult.Submit(referrer, d, cid, "", policy, t0)
			require.NoError(t, err)
			want := t0.Add(within)
			assert.Equal(t, want, e.Request.AcceptBy, "got accept_by %v, want %v", e.Request.AcceptBy, want)
		})
	}
}

func TestSubmitWho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		actor consult.Actor
		want  consult.Code // "" when allowed
	}{
		{"referrer of a clinic", referrer, ""},
		{"referrer without a clinic", clinicless, consult.Forbidden},
		{"specialist", spec1, consult.Forbidden},
		{"specialist with a clinic id", consult.Actor{ID: onc1, Role: consult.RoleSpecialist, ClinicID: "hebron"}, consult.Forbidden},
		{"coordinator", coordinator, consult.Forbidden},
		{"admin", admin, consult.Forbidden},
		{"no role", consult.Actor{ID: "u-x", ClinicID: "hebron"}, consult.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := consult.Submit(tt.actor, validDraft(), cid, "", policy, t0)
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.actor.ClinicID, e.Request.ClinicID, "got clinic %q, want the referrer's %q", e.Request.ClinicID, tt.actor.ClinicID)
				return
			}
			requireCode(t, err, tt.want)
			assert.Zero(t, e, "got event %+v beside the error, want none", e)
		})
	}
}

func TestSubmitFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(d *consult.Draft)
		fields map[string]string // nil when the draft is valid
	}{
		// urgency
		{"urgency missing", func(d *consult.Draft) { d.Urgency = "" }, map[string]string{"urgency": "required"}},
		{"urgency unknown", func(d *consult.Draft) { d.Urgency = "critical" }, map[string]string{"urgency": "must be one of emergent, urgent, routine"}},
		{"urgency in capitals", func(d *consult.Draft) { d.Urgency = "Urgent" }, map[string]string{"urgency": "must be one of emergent, urgent, routine"}},
		{"urgency emergent", func(d *consult.Draft) { d.Urgency = "emergent" }, nil},
		{"urgency routine", func(d *consult.Draft) { d.Urgency = "routine" }, nil},

		// specialty
		{"specialty missing", func(d *consult.Draft) { d.Specialty = "" }, map[string]string{"specialty": "required"}},
		{"specialty unknown", func(d *consult.Draft) { d.Specialty = "astrology" }, map[string]string{"specialty": "unknown specialty"}},
		{"another known specialty", func(d *consult.Draft) { d.Specialty = "pediatric-hematology" }, nil},

		// patient
		{"patient missing", func(d *consult.Draft) { d.Patient = nil }, map[string]string{"patient": "required"}},
		{"age missing", func(d *consult.Draft) { d.Patient.AgeYears = nil }, map[string]string{"patient.age_years": "required"}},
		{"age negative", func(d *consult.Draft) { d.Patient.AgeYears = ptr(-1) }, map[string]string{"patient.age_years": "must be between 0 and 130"}},
		{"age 131", func(d *consult.Draft) { d.Patient.AgeYears = ptr(131) }, map[string]string{"patient.age_years": "must be between 0 and 130"}},
		{"age 0", func(d *consult.Draft) { d.Patient.AgeYears = ptr(0) }, nil},
		{"age 130", func(d *consult.Draft) { d.Patient.AgeYears = ptr(130) }, nil},
		{"sex missing", func(d *consult.Draft) { d.Patient.Sex = "" }, map[string]string{"patient.sex": "required"}},
		{"sex unknown value", func(d *consult.Draft) { d.Patient.Sex = "f" }, map[string]string{"patient.sex": "must be one of female, male, other, unknown"}},
		{"sex male", func(d *consult.Draft) { d.Patient.Sex = "male" }, nil},
		{"sex other", func(d *consult.Draft) { d.Patient.Sex = "other" }, nil},
		{"sex unknown", func(d *consult.Draft) { d.Patient.Sex = "unknown" }, nil},
		{"reference absent", func(d *consult.Draft) { d.Patient.Reference = "" }, nil},
		{"reference of 64 Arabic characters", func(d *consult.Draft) { d.Patient.Reference = arabic(64) }, nil},
		{"reference of 65 characters", func(d *consult.Draft) { d.Patient.Reference = arabic(65) },
			map[string]string{"patient.reference": "must be at most 64 characters"}},
		{"reference with a control character", func(d *consult.Draft) { d.Patient.Reference = "HEB\x1b2231" },
			map[string]string{"patient.reference": "must not contain control characters"}},

		// question
		{"question missing", func(d *consult.Draft) { d.Question = "" }, map[string]string{"question": "required"}},
		{"question only whitespace", func(d *consult.Draft) { d.Question = " \t\r\n\u00a0\u3000 " }, map[string]string{"question": "required"}},
		{"question of one character", func(d *consult.Draft) { d.Question = "؟" }, nil},
		{"question of 2000 Arabic characters", func(d *consult.Draft) { d.Question = arabic(2000) }, nil},
		{"question of 2000 characters padded with spaces", func(d *consult.Draft) { d.Question = "  " + arabic(2000) + "  " }, nil},
		{"question of 2001 Arabic characters", func(d *consult.Draft) { d.Question = arabic(2001) },
			map[string]string{"question": "must be at most 2000 characters"}},
		{"question with line breaks and tabs", func(d *consult.Draft) { d.Question = "line one\nline two\r\n\tindented" }, nil},
		{"question with NUL", func(d *consult.Draft) { d.Question = "why\x00not" },
			map[string]string{"question": "must not contain control characters"}},
		{"question with bell", func(d *consult.Draft) { d.Question = "ring\x07" + " me" },
			map[string]string{"question": "must not contain control characters"}},
		{"question with DEL", func(d *consult.Draft) { d.Question = "a\x7fb" },
			map[string]string{"question": "must not contain control characters"}},
		{"question with a C1 control", func(d *consult.Draft) { d.Question = "a\u009bb" },
			map[string]string{"question": "must not contain control characters"}},
		{"question not UTF-8", func(d *consult.Draft) { d.Question = "bad \xff byte" },
			map[string]string{"question": "must be valid UTF-8 text"}},

		// summary
		{"summary absent", func(d *consult.Draft) { d.Summary = "" }, nil},
		{"summary of 20000 Arabic characters", func(d *consult.Draft) { d.Summary = arabic(20000) }, nil},
		{"summary of 20001 characters", func(d *consult.Draft) { d.Summary = arabic(20001) },
			map[string]string{"summary": "must be at most 20000 characters"}},
		{"summary with a control character", func(d *consult.Draft) { d.Summary = "Hb 6.1\x0c g/dL" },
			map[string]string{"summary": "must not contain control characters"}},

		// language
		{"language absent", func(d *consult.Draft) { d.Language = "" }, nil},
		{"language en", func(d *consult.Draft) { d.Language = "en" }, nil},
		{"language he-IL", func(d *consult.Draft) { d.Language = "he-IL" }, nil},
		{"language with script and region", func(d *consult.Draft) { d.Language = "zh-Hant-TW" }, nil},
		{"language of three letters", func(d *consult.Draft) { d.Language = "apc" }, nil},
		{"language with an underscore", func(d *consult.Draft) { d.Language = "ar_EG" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},
		{"language as a word", func(d *consult.Draft) { d.Language = "Arabic" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},
		{"language of one letter", func(d *consult.Draft) { d.Language = "a" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},
		{"language with a trailing hyphen", func(d *consult.Draft) { d.Language = "ar-" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},
		{"language with a newline", func(d *consult.Draft) { d.Language = "ar\n" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},
		{"language over 35 characters", func(d *consult.Draft) { d.Language = "en-" + strings.Repeat("abcdefgh-", 4) + "x" },
			map[string]string{"language": "must be a BCP 47 language tag such as ar, he or en"}},

		// several at once: every field at fault is named
		{"everything wrong", func(d *consult.Draft) {
			*d = consult.Draft{Urgency: "now", Patient: &consult.DraftPatient{AgeYears: ptr(200), Sex: "x", Reference: arabic(65)},
				Question: "   ", Summary: arabic(20001), Language: "??"}
		}, map[string]string{
			"urgency": "must be one of emergent, urgent, routine", "specialty": "required",
			"patient.age_years": "must be between 0 and 130", "patient.sex": "must be one of female, male, other, unknown",
			"patient.reference": "must be at most 64 characters", "question": "required",
			"summary": "must be at most 20000 characters", "language": "must be a BCP 47 language tag such as ar, he or en",
		}},
		{"empty draft", func(d *consult.Draft) { *d = consult.Draft{} }, map[string]string{
			"urgency": "required", "specialty": "required", "patient": "required", "question": "required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := validDraft()
			tt.edit(&d)
			e, err := consult.Submit(referrer, d, cid, "", policy, t0)
			if tt.fields == nil {
				require.NoError(t, err, "got %v, want the draft accepted", err)
				require.NotNil(t, e.Request)
				assert.Equal(t, strings.TrimSpace(d.Question), e.Request.Question, "got question %q, want it trimmed", e.Request.Question)
				return
			}
			requireCode(t, err, consult.Invalid)
			var ce *consult.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.fields, ce.Fields, "got fields %v, want %v", ce.Fields, tt.fields)
			assertProblemsMatchFields(t, ce)
			assert.Zero(t, e, "got event %+v beside the error, want none", e)
		})
	}
}

// assertProblemsMatchFields checks that an Invalid error gives each field it names a problem
// whose code is one of the API's and whose sentence is the field's.
func assertProblemsMatchFields(t *testing.T, ce *consult.Error) {
	t.Helper()
	require.Len(t, ce.Problems, len(ce.Fields), "got problems %v, want one per field of %v", ce.Problems, ce.Fields)
	for field, msg := range ce.Fields {
		p, ok := ce.Problems[field]
		if assert.True(t, ok, "got no problem for %s, want one", field) {
			assert.Contains(t, problem.Codes, p.Code, "%s: got code %q, want one of the API's", field, p.Code)
			assert.Equal(t, msg, p.Message, "%s: got problem sentence %q, want the field's %q", field, p.Message, msg)
		}
	}
}

// TestSubmitProblems pins the code and bounds a client reads for each kind of bad field.
func TestSubmitProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(d *consult.Draft)
		field string
		want  problem.Problem
	}{
		{"urgency missing", func(d *consult.Draft) { d.Urgency = "" }, "urgency",
			problem.Problem{Code: "required", Message: "required"}},
		{"urgency unknown", func(d *consult.Draft) { d.Urgency = "critical" }, "urgency",
			problem.Problem{Code: "not_allowed", Message: "must be one of emergent, urgent, routine", Allowed: []string{"emergent", "urgent", "routine"}}},
		{"specialty unknown", func(d *consult.Draft) { d.Specialty = "astrology" }, "specialty",
			problem.Problem{Code: "unknown", Message: "unknown specialty"}},
		{"age 131", func(d *consult.Draft) { d.Patient.AgeYears = ptr(131) }, "patient.age_years",
			problem.Problem{Code: "out_of_range", Message: "must be between 0 and 130", Min: ptr(0.0), Max: ptr(130.0)}},
		{"sex unknown value", func(d *consult.Draft) { d.Patient.Sex = "f" }, "patient.sex",
			problem.Problem{Code: "not_allowed", Message: "must be one of female, male, other, unknown",
				Allowed: []string{"female", "male", "other", "unknown"}}},
		{"reference of 65 characters", func(d *consult.Draft) { d.Patient.Reference = arabic(65) }, "patient.reference",
			problem.Problem{Code: "too_long", Message: "must be at most 64 characters", Max: ptr(64.0)}},
		{"question with NUL", func(d *consult.Draft) { d.Question = "why\x00not" }, "question",
			problem.Problem{Code: "invalid_text", Message: "must not contain control characters"}},
		{"question not UTF-8", func(d *consult.Draft) { d.Question = "bad \xff byte" }, "question",
			problem.Problem{Code: "invalid_text", Message: "must be valid UTF-8 text"}},
		{"language as a word", func(d *consult.Draft) { d.Language = "Arabic" }, "language",
			problem.Problem{Code: "malformed", Message: "must be a BCP 47 language tag such as ar, he or en"}},
		{"details without a form", func(d *consult.Draft) { d.Details = map[string]any{"anc": 1} }, "details",
			problem.Problem{Code: "not_allowed", Message: "this specialty takes no details"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := validDraft()
			tt.edit(&d)
			_, err := consult.Submit(referrer, d, cid, "", policy, t0)
			requireCode(t, err, consult.Invalid)
			var ce *consult.Error
			require.ErrorAs(t, err, &ce)
			got := ce.Problems[tt.field]
			assert.Equal(t, tt.want, got, "%s: got problem %+v, want %+v", tt.field, got, tt.want)
		})
	}
}

// The limits count characters, not bytes: the Arabic texts at the limit are twice as long in bytes.
func TestArabicIsTwoBytesPerCharacter(t *testing.T) {
	t.Parallel()
	s := arabic(2000)
	assert.Equal(t, 2000, utf8.RuneCountInString(s), "got %d characters, want 2000", utf8.RuneCountInString(s))
	assert.Equal(t, 4000, len(s), "got %d bytes, want 4000", len(s))
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		s           string
		least, most int
		want        string // the sentence; "" when the text is fine
		code        string
		min, max    *float64
	}{
		{"within", "שלום", 1, 4, "", "", nil, nil},
		{"empty and required", "", 1, 10, "required", "required", nil, nil},
		{"empty and optional", "", 0, 10, "", "", nil, nil},
		{"too short", "ab", 3, 10, "too short", "too_short", ptr(3.0), nil},
		{"too long by one character", "שלום!", 1, 4, "must be at most 4 characters", "too_long", nil, ptr(4.0)},
		{"exactly max in multibyte", "مرحبا", 1, 5, "", "", nil, nil},
		{"invalid UTF-8", "\xc3\x28", 0, 10, "must be valid UTF-8 text", "invalid_text", nil, nil},
		{"escape", "a\x1b[31m", 0, 10, "must not contain control characters", "invalid_text", nil, nil},
		{"tab newline carriage return", "a\tb\nc\rd", 0, 10, "", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, bad := consult.CheckText(tt.s, tt.least, tt.most)
			assert.Equal(t, tt.want != "", bad, "got a problem %v, want %v", bad, tt.want != "")
			assert.Equal(t, tt.want, got.Message, "got %q, want %q", got.Message, tt.want)
			assert.Equal(t, tt.code, got.Code, "got code %q, want %q", got.Code, tt.code)
			assert.Equal(t, tt.min, got.Min, "got min %v, want %v", got.Min, tt.min)
			assert.Equal(t, tt.max, got.Max, "got max %v, want %v", got.Max, tt.max)
		})
	}
}

// formCheck is a specialty form's check as the roster provides it: it records what it was asked
// and answers with clean and problems.
type formCheck struct {
	called    int
	specialty string
	details   map[string]any
	clean     map[string]any
	problems  map[string]problem.Problem
}

func (f *formCheck) check(specialty string, details map[string]any) (map[string]any, map[string]problem.Problem) {
	f.called++
	f.specialty, f.details = specialty, details
	return f.clean, f.problems
}

func TestSubmitDetails(t *testing.T) {
	t.Parallel()
	answers := map[string]any{"anc": "0.4", "fever": true}
	cleaned := map[string]any{"anc": 0.4, "fever": true}
	tests := []struct {
		name    string
		edit    func(d *consult.Draft)
		noCheck bool              // Policy.CheckDetails is nil
		form    formCheck         // what the form's check answers
		called  bool              // whether the form's check must be asked
		fields  map[string]string // nil when the draft is valid
		want    map[string]any    // the details the request carries
	}{
		{"answers checked and cleaned", func(d *consult.Draft) { d.Details = answers }, false,
			formCheck{clean: cleaned}, true, nil, cleaned},
		{"no answers", func(d *consult.Draft) { d.Details = nil }, false, formCheck{clean: cleaned}, false, nil, nil},
		{"empty answers", func(d *consult.Draft) { d.Details = map[string]any{} }, false, formCheck{clean: cleaned}, false, nil, nil},
		{"no answers and no forms", func(d *consult.Draft) { d.Details = nil }, true, formCheck{}, false, nil, nil},
		{"a field at fault", func(d *consult.Draft) { d.Details = answers }, false,
			formCheck{clean: map[string]any{"fever": true}, problems: map[string]problem.Problem{"details.anc": problem.NotANumber("must be a number")}}, true,
			map[string]string{"details.anc": "must be a number"}, nil},
		{"fields at fault beside others", func(d *consult.Draft) {
			d.Details, d.Question, d.Patient.Sex = answers, "", "f"
		}, false,
			formCheck{problems: map[string]problem.Problem{"details.anc": problem.NotANumber("must be a number"), "details.weight": problem.Required()}}, true,
			map[string]string{"details.anc": "must be a number", "details.weight": "required", "question": "required",
				"patient.sex": "must be one of female, male, other, unknown"}, nil},
		{"an unknown specialty", func(d *consult.Draft) { d.Specialty, d.Details = "astrology", answers }, false,
			formCheck{clean: cleaned}, false,
			map[string]string{"specialty": "unknown specialty", "details": "this specialty takes no details"}, nil},
		{"no specialty", func(d *consult.Draft) { d.Specialty, d.Details = "", answers }, false,
			formCheck{clean: cleaned}, false,
			map[string]string{"specialty": "required", "details": "this specialty takes no details"}, nil},
		{"no forms", func(d *consult.Draft) { d.Details = answers }, true, formCheck{}, false,
			map[string]string{"details": "this specialty takes no details"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := tt.form
			p := policy
			if !tt.noCheck {
				p.CheckDetails = form.check
			}
			d := validDraft()
			tt.edit(&d)
			e, err := consult.Submit(referrer, d, cid, "", p, t0)

			wantCalls := 0
			if tt.called {
				wantCalls = 1
			}
			assert.Equal(t, wantCalls, form.called, "got the form checked %d times, want %d", form.called, wantCalls)
			if tt.called {
				assert.Equal(t, d.Specialty, form.specialty, "got the form of %q checked, want %q", form.specialty, d.Specialty)
				assert.Equal(t, d.Details, form.details, "got answers %v checked, want %v", form.details, d.Details)
			}
			if tt.fields != nil {
				requireCode(t, err, consult.Invalid)
				var ce *consult.Error
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.fields, ce.Fields, "got fields %v, want %v", ce.Fields, tt.fields)
				assertProblemsMatchFields(t, ce)
				for field, p := range form.problems { // the form's problems reach the client as the form gave them
					assert.Equal(t, p, ce.Problems[field], "%s: got %+v, want the form's %+v", field, ce.Problems[field], p)
				}
				return
			}
			require.NoError(t, err, "got %v, want the draft accepted", err)
			assert.Equal(t, tt.want, e.Request.Details, "got details %v, want %v", e.Request.Details, tt.want)
			c, err := consult.Fold([]event.Event{e})
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Details, "got consult details %v, want %v", c.Details, tt.want)
		})
	}
}

// triage is a red-flag rule set that raises to urgency, giving reasons, and records what it was asked.
type triage struct {
	urgency   string
	reasons   []string
	called    int
	asked     string // the urgency it was asked about
	specialty string
	details   map[string]any
}

func (tr *triage) apply(specialty, urgency string, details map[string]any) (string, []map[string]string) {
	tr.called++
	tr.specialty, tr.asked, tr.details = specialty, urgency, details
	if tr.urgency == "" {
		return urgency, nil
	}
	return tr.urgency, byLanguage(tr.reasons)
}

// byLanguage gives each English reason an Arabic counterpart, as the rules do.
func byLanguage(reasons []string) []map[string]string {
	var out []map[string]string
	for _, r := range reasons {
		out = append(out, map[string]string{"en": r, "ar": "ar: " + r})
	}
	return out
}

func TestSubmitTriage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 27, 4, 30, 0, 0, idt)
	p := policy
	p.AcceptWithin = map[string]time.Duration{"emergent": 15 * time.Minute, "urgent": 2 * time.Hour, "routine": 72 * time.Hour}
	p.RecommendWithin = map[string]time.Duration{"emergent": 4 * time.Hour, "urgent": 24 * time.Hour, "routine": 7 * 24 * time.Hour}
	cleaned := map[string]any{"anc": 0.4, "fever": true}
	p.CheckDetails = func(string, map[string]any) (map[string]any, map[string]problem.Problem) { return cleaned, nil }
	flags := []string{"Febrile neutropenia", "ANC below 0.5"}

	tests := []struct {
		name      string
		urgency   string // the referrer's
		rules     triage
		want      string // the consult's urgency
		requested string
		redFlags  []string
	}{
		{"urgent raised to emergent", "urgent", triage{urgency: "emergent", reasons: flags}, "emergent", "urgent", flags},
		{"routine raised to urgent", "routine", triage{urgency: "urgent", reasons: flags[:1]}, "urgent", "routine", flags[:1]},
		{"routine raised to emergent", "routine", triage{urgency: "emergent", reasons: flags}, "emergent", "routine", flags},
		{"rules fired at the same urgency", "emergent", triage{urgency: "emergent", reasons: flags}, "emergent", "", nil},
		{"no rule fired", "urgent", triage{}, "urgent", "", nil},
		{"a raise without a reason", "urgent", triage{urgency: "emergent"}, "urgent", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules := tt.rules
			p := p
			p.Triage = rules.apply
			d := validDraft()
			d.Urgency, d.Details = tt.urgency, map[string]any{"anc": "0.4", "fever": "yes"}
			e, err := consult.Submit(referrer, d, cid, "", p, now)
			require.NoError(t, err)

			assert.Equal(t, 1, rules.called, "got the rules applied %d times, want once", rules.called)
			assert.Equal(t, tt.urgency, rules.asked, "got the rules asked about %q, want %q", rules.asked, tt.urgency)
			assert.Equal(t, d.Specialty, rules.specialty, "got the rules of %q, want %q", rules.specialty, d.Specialty)
			assert.Equal(t, cleaned, rules.details, "got the rules applied to %v, want the cleaned %v", rules.details, cleaned)

			if tt.requested == "" {
				assert.Empty(t, e.Reason, "got reason %q, want none when nothing was raised", e.Reason)
			} else {
				for _, f := range tt.redFlags {
					assert.Contains(t, e.Reason, f, "got reason %q, want it to name %q", e.Reason, f)
				}
			}
			r := e.Request
			assert.Equal(t, tt.want, r.Urgency, "got urgency %q, want %q", r.Urgency, tt.want)
			assert.Equal(t, tt.requested, r.RequestedUrgency, "got requested urgency %q, want %q", r.RequestedUrgency, tt.requested)
			assert.Equal(t, tt.redFlags, r.RedFlags, "got red flags %v, want %v", r.RedFlags, tt.redFlags)
			wantAccept := now.UTC().Add(p.AcceptWithin[tt.want])
			wantRecommend := now.UTC().Add(p.RecommendWithin[tt.want])
			assert.Equal(t, wantAccept, r.AcceptBy, "got accept_by %v, want %v (the %s window)", r.AcceptBy, wantAccept, tt.want)
			assert.Equal(t, wantRecommend, r.RecommendBy, "got recommend_by %v, want %v (the %s window)", r.RecommendBy, wantRecommend, tt.want)

			c, err := consult.Fold([]event.Event{e})
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Urgency, "got consult urgency %q, want %q", c.Urgency, tt.want)
			assert.Equal(t, tt.requested, c.RequestedUrgency, "got consult requested urgency %q, want %q", c.RequestedUrgency, tt.requested)
			assert.Equal(t, tt.redFlags, c.RedFlags, "got consult red flags %v, want %v", c.RedFlags, tt.redFlags)
			assert.Equal(t, byLanguage(tt.redFlags), c.RedFlagReasons, "got reasons by language %v, want %v", c.RedFlagReasons, byLanguage(tt.redFlags))
			assert.Equal(t, wantAccept, c.SLA.AcceptBy, "got consult accept_by %v, want %v", c.SLA.AcceptBy, wantAccept)
			assert.Equal(t, wantRecommend, c.SLA.RecommendBy, "got consult recommend_by %v, want %v", c.SLA.RecommendBy, wantRecommend)
		})
	}
}

// Red-flag rules judge only a valid draft.
func TestSubmitTriageOnlyValid(t *testing.T) {
	t.Parallel()
	rules := triage{urgency: "emergent", reasons: []string{"x"}}
	p := policy
	p.Triage = rules.apply
	d := validDraft()
	d.Question = ""
	_, err := consult.Submit(referrer, d, cid, "", p, t0)
	requireCode(t, err, consult.Invalid)
	assert.Zero(t, rules.called, "got the rules applied %d times to an invalid draft, want never", rules.called)
}
