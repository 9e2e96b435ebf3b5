package consult

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/problem"
)

// Limits on what a referrer may submit.
const (
	MaxQuestion  = 2000
	MaxSummary   = 20000
	MaxReference = 64
	MaxAge       = 130
	MaxText      = 20000 // messages, reasons and recommendations
)

// Sexes lists the accepted values of patient.sex.
var Sexes = []string{"female", "male", "other", "unknown"}

// languageTag is a well-formed BCP 47 tag in the common shapes (language, script, region, variants).
var languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// LanguageTag reports whether tag is a BCP 47 language tag such as ar, he or pt-BR.
func LanguageTag(tag string) bool { return len(tag) <= 35 && languageTag.MatchString(tag) }

// Draft is a consult as the referrer submits it. Pointer fields tell "absent" from zero.
type Draft struct {
	Urgency   string        `json:"urgency"`
	Specialty string        `json:"specialty"`
	Patient   *DraftPatient `json:"patient"`
	Question  string        `json:"question"`
	Summary   string        `json:"summary"`
	Language  string        `json:"language"`
	// Details answers the specialty's form, keyed by field.
	Details map[string]any `json:"details"`
}

// DraftPatient is the patient part of a Draft.
type DraftPatient struct {
	AgeYears  *int   `json:"age_years"`
	Sex       string `json:"sex"`
	Reference string `json:"reference"`
}

// Policy is what a submission is checked against and timed by.
type Policy struct {
	// KnownSpecialty reports whether a slug is in the roster.
	KnownSpecialty func(slug string) bool
	// CheckDetails checks answers against the specialty's form, returning them cleaned and the
	// fields at fault ("details.<key>") with their problems. Nil accepts no details.
	CheckDetails func(specialty string, details map[string]any) (map[string]any, map[string]problem.Problem)
	// Triage applies the red-flag rules: the urgency they raise the consult to, and why, each
	// reason by language ("en" always). Nil raises nothing.
	Triage func(specialty, urgency string, details map[string]any) (string, []map[string]string)
	// AcceptWithin is the SLA for a specialist to accept, per urgency.
	AcceptWithin map[string]time.Duration
	// RecommendWithin is the SLA for the recommendation, per urgency, counted from the request.
	RecommendWithin map[string]time.Duration
}

// Submit checks a referrer's draft and returns the Requested event that opens consult id.
// Every field at fault is named in the returned *Error's Problems (and Fields).
func Submit(a Actor, d Draft, id, idempotencyKey string, p Policy, now time.Time) (event.Event, error) {
	if a.Role != RoleReferrer || a.ClinicID == "" {
		return event.Event{}, Errorf(Forbidden, "only a referring physician of a clinic may request a consult")
	}
	f := map[string]problem.Problem{}
	if d.Urgency == "" {
		f["urgency"] = problem.Required()
	} else if !slices.Contains(Urgencies, d.Urgency) {
		f["urgency"] = problem.OneOf(Urgencies...)
	}
	if d.Specialty == "" {
		f["specialty"] = problem.Required()
	} else if !p.KnownSpecialty(d.Specialty) {
		f["specialty"] = problem.Unknown("unknown specialty")
	}
	var patient event.Patient
	if d.Patient == nil {
		f["patient"] = problem.Required()
	} else {
		switch age := d.Patient.AgeYears; {
		case age == nil:
			f["patient.age_years"] = problem.Required()
		case *age < 0 || *age > MaxAge:
			f["patient.age_years"] = problem.OutOfRange(0, MaxAge)
		default:
			patient.AgeYears = *age
		}
		if d.Patient.Sex == "" {
			f["patient.sex"] = problem.Required()
		} else if !slices.Contains(Sexes, d.Patient.Sex) {
			f["patient.sex"] = problem.OneOf(Sexes...)
		}
		patient.Sex = d.Patient.Sex
		patient.Reference = strings.TrimSpace(d.Patient.Reference)
		checkText(f, "patient.reference", patient.Reference, 0, MaxReference)
	}
	question := strings.TrimSpace(d.Question)
	checkText(f, "question", question, 1, MaxQuestion)
	summary := strings.TrimSpace(d.Summary)
	checkText(f, "summary", summary, 0, MaxSummary)
	if d.Language != "" && !LanguageTag(d.Language) {
		f["language"] = problem.Malformed("must be a BCP 47 language tag such as ar, he or en")
	}
	var details map[string]any
	if len(d.Details) > 0 {
		if _, badSpecialty := f["specialty"]; p.CheckDetails == nil || badSpecialty {
			f["details"] = problem.NotAllowed("this specialty takes no details")
		} else {
			clean, bad := p.CheckDetails(d.Specialty, d.Details)
			for k, v := range bad {
				f[k] = v
			}
			details = clean
		}
	}
	if len(f) > 0 {
		return event.Event{}, InvalidFields("the consult request has invalid fields", f)
	}
	now = now.UTC()
	r := &event.Request{
		Urgency: d.Urgency, Specialty: d.Specialty, ClinicID: a.ClinicID, Patient: patient,
		Question: question, Summary: summary, Language: d.Language, IdempotencyKey: idempotencyKey, Details: details,
	}
	if p.Triage != nil {
		if raised, reasons := p.Triage(d.Specialty, d.Urgency, details); raised != d.Urgency && len(reasons) > 0 {
			r.RequestedUrgency, r.Urgency, r.RedFlagReasons = d.Urgency, raised, reasons
			for _, reason := range reasons {
				r.RedFlags = append(r.RedFlags, reason["en"])
			}
		}
	}
	r.AcceptBy, r.RecommendBy = SLAFor(r.Urgency, now, p.AcceptWithin, p.RecommendWithin)
	e := event.Event{Type: event.Requested, ConsultID: id, Position: 1, At: now, ActorID: a.ID, Request: r}
	if len(r.RedFlags) > 0 {
		e.Reason = fmt.Sprintf("urgency raised from %s to %s by red flags: %s", r.RequestedUrgency, r.Urgency, strings.Join(r.RedFlags, "; "))
	}
	return e, nil
}

// SLAFor returns the accept-by and recommend-by deadlines of a consult of urgency requested at
// from; a zero window leaves that deadline unset.
func SLAFor(urgency string, from time.Time, acceptWithin, recommendWithin map[string]time.Duration) (acceptBy, recommendBy time.Time) {
	if w := acceptWithin[urgency]; w > 0 {
		acceptBy = from.Add(w).UTC()
	}
	if w := recommendWithin[urgency]; w > 0 {
		recommendBy = from.Add(w).UTC()
	}
	return acceptBy, recommendBy
}

// CheckText validates free text for a field: its length in characters between least and most,
// valid UTF-8 and no control characters other than line breaks and tabs. It returns the problem
// and true, or false when there is none.
func CheckText(s string, least, most int) (problem.Problem, bool) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return problem.InvalidText("must be valid UTF-8 text"), true
	case n < least && n == 0:
		return problem.Required(), true
	case n < least:
		return problem.TooShort(least), true
	case n > most:
		return problem.TooLong(most), true
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return problem.InvalidText("must not contain control characters"), true
		}
	}
	return problem.Problem{}, false
}

func checkText(f map[string]problem.Problem, field, s string, least, most int) {
	if p, bad := CheckText(s, least, most); bad {
		f[field] = p
	}
}
