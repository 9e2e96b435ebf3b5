package consult_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// The tests build consult states by folding histories of events, as the services do. A history
// is written as a list of steps without positions; hist numbers them, stamps them one minute
// apart from t0 and gives every offer, and every step that alerts the coordinators, offerWindow
// to run.

var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)

const (
	cid          = "01JTESTCONSULT"
	offerWindow  = 5 * time.Minute
	acceptSLA    = 30 * time.Minute
	recommendSLA = 2 * time.Hour

	refID   = "u-referrer1"
	onc1    = "u-onc1"
	onc2    = "u-onc2"
	onc3    = "u-onc3"
	onc4    = "u-onc4"
	coordID = "u-coord1"
)

var (
	referrer      = consult.Actor{ID: refID, Role: consult.RoleReferrer, ClinicID: "hebron"}
	colleague     = consult.Actor{ID: "u-referrer3", Role: consult.RoleReferrer, ClinicID: "hebron"}
	otherReferrer = consult.Actor{ID: "u-referrer2", Role: consult.RoleReferrer, ClinicID: "gaza-city"}
	clinicless    = consult.Actor{ID: "u-referrer9", Role: consult.RoleReferrer}
	spec1         = consult.Actor{ID: onc1, Role: consult.RoleSpecialist}
	spec2         = consult.Actor{ID: onc2, Role: consult.RoleSpecialist}
	spec3         = consult.Actor{ID: onc3, Role: consult.RoleSpecialist}
	spec4         = consult.Actor{ID: onc4, Role: consult.RoleSpecialist}
	coordinator   = consult.Actor{ID: coordID, Role: consult.RoleCoordinator}
	admin         = consult.Actor{ID: "u-admin1", Role: consult.RoleAdmin}
)

// at is when the event at position pos of a hist happened.
func at(pos int) time.Time { return t0.Add(time.Duration(pos-1) * time.Minute) }

// hist numbers steps into a consult history.
func hist(steps ...event.Event) []event.Event {
	out := make([]event.Event, len(steps))
	for i, e := range steps {
		pos := i + 1
		e.ID = fmt.Sprintf("ev-%02d", pos)
		e.ConsultID = cid
		e.Position = pos
		if e.At.IsZero() {
			e.At = at(pos)
		}
		if (e.Type == event.Offered || e.Type == event.CoordinatorsAlerted) && e.ExpiresAt.IsZero() {
			e.ExpiresAt = e.At.Add(offerWindow)
		}
		e.StreamSeq = uint64(100 + pos)
		out[i] = e
	}
	return out
}

// fold returns the state after steps.
func fold(t *testing.T, steps ...event.Event) *consult.Consult {
	t.Helper()
	c, err := consult.Fold(hist(steps...))
	require.NoError(t, err, "fold the test history")
	return c
}

// then returns base followed by more, leaving base alone.
func then(base []event.Event, more ...event.Event) []event.Event {
	return append(slices.Clone(base), more...)
}

func requested() event.Event {
	return event.Event{Type: event.Requested, ActorID: refID, Request: &event.Request{
		Urgency: "emergent", Specialty: "pediatric-oncology", ClinicID: "hebron",
		Patient:  event.Patient{AgeYears: 7, Sex: "female", Reference: "HEB-2231"},
		Question: "هل نبدأ العلاج الكيميائي؟", Summary: "ALL, relapse suspected", Language: "ar",
		IdempotencyKey: "key-1", AcceptBy: t0.Add(acceptSLA), RecommendBy: t0.Add(recommendSLA),
	}}
}

func offered(spec string) event.Event {
	return event.Event{Type: event.Offered, ActorID: "routing", SpecialistID: spec}
}

// offeredTo is routing offering the consult at a step of its escalation policy to one or more
// specialists at once, as OfferTo records it.
func offeredTo(round, step int, ids ...string) event.Event {
	e := event.Event{Type: event.Offered, ActorID: "routing", SpecialistID: ids[0], Round: round, Step: step}
	if len(ids) > 1 {
		e.SpecialistIDs = ids
	}
	return e
}

// expiredAll is the expiry of the offers held by ids, made together.
func expiredAll(ids ...string) event.Event {
	e := expired(ids[0])
	if len(ids) > 1 {
		e.SpecialistIDs = ids
	}
	return e
}

// acceptedOver is spec accepting while others held offers made with its own.
func acceptedOver(spec string, withdrawn ...string) event.Event {
	e := accepted(spec)
	e.Withdrawn = withdrawn
	return e
}

func seen(spec string) event.Event {
	return event.Event{Type: event.Seen, ActorID: spec}
}

// reminded is the n-th re-alert of the live offers, sent to ids.
func reminded(n int, ids ...string) event.Event {
	e := event.Event{Type: event.OfferReminder, ActorID: "routing", SpecialistID: ids[0], Reminder: n}
	if len(ids) > 1 {
		e.SpecialistIDs = ids
	}
	return e
}

func alerted(round, step int) event.Event {
	return event.Event{Type: event.CoordinatorsAlerted, ActorID: "routing", Round: round, Step: step, Reason: "nobody accepted"}
}

func snoozed(until time.Time) event.Event {
	return event.Event{Type: event.Snoozed, ActorID: coordID, Until: until, Reason: "calling the ward"}
}

func urgencyChanged(urgency string, acceptBy, recommendBy time.Time) event.Event {
	return event.Event{Type: event.UrgencyChanged, ActorID: coordID, Urgency: urgency, AcceptBy: acceptBy,
		RecommendBy: recommendBy, Reason: "triaged again"}
}

func specialtyChanged(slug string) event.Event {
	return event.Event{Type: event.SpecialtyChanged, ActorID: coordID, Specialty: slug, Reason: "wrong service"}
}

func breached(clock string) event.Event {
	return event.Event{Type: event.SLABreached, ActorID: "routing", Clock: clock}
}

// stamped returns e happening at when instead of its place in the history.
func stamped(e event.Event, when time.Time) event.Event {
	e.At = when
	return e
}

func expired(spec string) event.Event {
	return event.Event{Type: event.OfferExpired, ActorID: "routing", SpecialistID: spec}
}

func declined(spec string) event.Event {
	return event.Event{Type: event.Declined, ActorID: spec, SpecialistID: spec, Reason: "in theatre"}
}

func accepted(spec string) event.Event {
	return event.Event{Type: event.Accepted, ActorID: spec}
}

func assigned(spec string) event.Event {
	return event.Event{Type: event.Assigned, ActorID: coordID, SpecialistID: spec}
}

func message(actor, body string) event.Event {
	return event.Event{Type: event.Message, ActorID: actor, ActorRole: roleOf(actor), MessageID: "m-" + body, Body: body}
}

// roleOf names the role of the fixtures' actors, as PostMessage records it.
func roleOf(actor string) string {
	switch {
	case strings.HasPrefix(actor, "u-referrer"):
		return consult.RoleReferrer
	case strings.HasPrefix(actor, "u-coord"):
		return consult.RoleCoordinator
	}
	return consult.RoleSpecialist
}

func infoRequested(actor, body string) event.Event {
	return event.Event{Type: event.InfoRequested, ActorID: actor, MessageID: "m-" + body, Body: body}
}

func completed(actor string) event.Event {
	return event.Event{Type: event.Completed, ActorID: actor, Recommendation: "start protocol B"}
}

func escalated() event.Event {
	return event.Event{Type: event.Escalated, ActorID: "routing", Reason: "nobody on call accepted in time"}
}

func cancelled(actor string) event.Event {
	return event.Event{Type: event.Cancelled, ActorID: actor, Reason: "transferred"}
}

// Histories the tests share.
var (
	hRequested   = []event.Event{requested()}
	hOffered     = []event.Event{requested(), offered(onc1)}
	hDeclined    = then(hOffered, declined(onc1))
	hExpired     = then(hOffered, expired(onc1))
	hReoffered   = then(hDeclined, offered(onc2))
	hAccepted    = then(hOffered, accepted(onc1))
	hInfo        = then(hAccepted, infoRequested(onc1, "weight?"))
	hReassigned  = then(hAccepted, assigned(onc2))
	hEscalated   = then(hReoffered, expired(onc2), escalated())
	hCompleted   = then(hAccepted, completed(onc1))
	hCancelled   = then(hOffered, cancelled(refID))
	hCancelledAc = then(hAccepted, cancelled(coordID))

	// An emergent consult offered to three specialists at once (position 2), and onc2 taking it.
	hMulti         = []event.Event{requested(), offeredTo(1, 1, onc1, onc2, onc3)}
	hMultiAccepted = then(hMulti, acceptedOver(onc2, onc1, onc3))
	// hSnoozed mutes hEscalated (escalated at position 6) until ten minutes after the snooze.
	hSnoozed = then(hEscalated, snoozed(at(7).Add(10*time.Minute)))
)

// requireCode checks that err is a *consult.Error with code want.
func requireCode(t *testing.T, err error, want consult.Code) {
	t.Helper()
	require.Error(t, err, "got no error, want code %s", want)
	var ce *consult.Error
	require.ErrorAs(t, err, &ce, "got error %T (%v), want *consult.Error", err, err)
	assert.Equal(t, want, ce.Code, "got code %s (%v), want %s", ce.Code, err, want)
}

func ptr[T any](v T) *T { return &v }
