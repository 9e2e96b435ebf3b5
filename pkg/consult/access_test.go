package consult_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

func TestCanView(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []event.Event
		actor consult.Actor
		want  bool
	}{
		{"requesting referrer", hRequested, referrer, true},
		{"referrer of the same clinic", hRequested, colleague, true},
		{"referrer of another clinic", hRequested, otherReferrer, false},
		{"referrer without a clinic", hRequested, clinicless, false},
		{"referrer without a clinic, consult without a clinic", []event.Event{clinicFree()}, clinicless, false},
		{"referrer of another clinic after acceptance", hAccepted, otherReferrer, false},
		{"coordinator while requested", hRequested, coordinator, true},
		{"coordinator after completion", hCompleted, coordinator, true},
		{"admin while requested", hRequested, admin, false},
		{"admin while accepted", hAccepted, admin, false},
		{"admin while escalated", hEscalated, admin, false},
		{"unknown role", hRequested, consult.Actor{ID: "u-x", Role: "nurse", ClinicID: "hebron"}, false},
		{"specialist before any offer", hRequested, spec1, false},
		{"specialist offered", hOffered, spec1, true},
		{"other specialist while offered", hOffered, spec2, false},
		{"specialist who declined", hDeclined, spec1, false},
		{"specialist whose offer expired", hExpired, spec1, false},
		{"specialist offered earlier, now offered to another", hReoffered, spec1, false},
		{"specialist offered now after another declined", hReoffered, spec2, true},
		{"assignee", hAccepted, spec1, true},
		{"assignee asking for info", hInfo, spec1, true},
		{"assignee after completion", hCompleted, spec1, true},
		{"assignee after cancellation", hCancelledAc, spec1, true},
		{"specialist whose offer was cancelled", hCancelled, spec1, false},
		{"specialist reassigned away", hReassigned, spec1, false},
		{"specialist reassigned to", hReassigned, spec2, true},
		{"stranger specialist while accepted", hAccepted, spec3, false},
		{"specialist whose offers ran out before escalation", hEscalated, spec2, false},
		{"first of several offered", hMulti, spec1, true},
		{"last of several offered", hMulti, spec3, true},
		{"stranger while offered to several", hMulti, spec4, false},
		{"one of several who declined", then(hMulti, declined(onc2)), spec2, false},
		{"one of several still holding after another declined", then(hMulti, declined(onc2)), spec3, true},
		{"one of several withdrawn by another's acceptance", hMultiAccepted, spec1, false},
		{"one of several who accepted", hMultiAccepted, spec2, true},
		{"one of several whose offers expired", then(hMulti, expiredAll(onc1, onc2, onc3)), spec3, false},
		{"one of several withdrawn by an urgency change", then(hMulti, urgencyChanged("urgent", time.Time{}, time.Time{})), spec1, false},
		{"assignee after a specialty change", then(hAccepted, specialtyChanged("pediatric-hematology")), spec1, false},
		{"assignee after an urgency change", then(hAccepted, urgencyChanged("urgent", time.Time{}, time.Time{})), spec1, true},
		{"specialist sharing the clinic id of the consult", hRequested,
			consult.Actor{ID: onc1, Role: consult.RoleSpecialist, ClinicID: "hebron"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			got := c.CanView(tt.actor)
			assert.Equal(t, tt.want, got, "got CanView(%+v) %v, want %v", tt.actor, got, tt.want)
		})
	}
}

// clinicFree is a request that somehow lost its clinic: no referrer without a clinic may see it.
func clinicFree() event.Event {
	e := requested()
	r := *e.Request
	r.ClinicID = ""
	e.Request = &r
	return e
}

// TestSees checks who receives the event that moved a consult from one state to the next:
// everyone who could see it on either side.
func TestSees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before []event.Event // nil for the first event
		after  []event.Event
		want   map[string]bool // actor name → receives
	}{
		{"request", nil, hRequested, map[string]bool{
			"referrer": true, "colleague": true, "otherReferrer": false, "spec1": false, "spec2": false,
			"coordinator": true, "admin": false}},
		{"offer", hRequested, hOffered, map[string]bool{
			"referrer": true, "colleague": true, "otherReferrer": false, "spec1": true, "spec2": false,
			"coordinator": true, "admin": false}},
		{"decline tells the specialist whose offer ended", hOffered, hDeclined, map[string]bool{
			"referrer": true, "otherReferrer": false, "spec1": true, "spec2": false, "coordinator": true, "admin": false}},
		{"expiry tells the specialist whose offer ended", hOffered, hExpired, map[string]bool{
			"spec1": true, "spec2": false, "admin": false}},
		{"next offer is not sent to the one who declined", hDeclined, hReoffered, map[string]bool{
			"spec1": false, "spec2": true, "spec3": false, "referrer": true, "admin": false}},
		{"accept", hOffered, hAccepted, map[string]bool{
			"spec1": true, "spec2": false, "referrer": true, "otherReferrer": false, "admin": false}},
		{"reassignment tells both specialists", hAccepted, hReassigned, map[string]bool{
			"spec1": true, "spec2": true, "spec3": false, "referrer": true, "admin": false}},
		{"after reassignment the old assignee hears nothing", hReassigned, then(hReassigned, message(refID, "x")),
			map[string]bool{"spec1": false, "spec2": true, "coordinator": true, "admin": false}},
		{"cancel of an offer tells the holder", hOffered, hCancelled, map[string]bool{
			"spec1": true, "spec2": false, "referrer": true, "coordinator": true, "admin": false}},
		{"escalation is for coordinators and the clinic", then(hReoffered, expired(onc2)), hEscalated, map[string]bool{
			"spec1": false, "spec2": false, "referrer": true, "coordinator": true, "admin": false}},
		{"offer to several goes to each of them", hRequested, hMulti, map[string]bool{
			"spec1": true, "spec2": true, "spec3": true, "spec4": false, "referrer": true, "admin": false}},
		{"accept of one of several tells those withdrawn", hMulti, hMultiAccepted, map[string]bool{
			"spec1": true, "spec2": true, "spec3": true, "spec4": false, "referrer": true, "coordinator": true, "admin": false}},
		{"after the accept those withdrawn hear nothing", hMultiAccepted, then(hMultiAccepted, message(refID, "x")), map[string]bool{
			"spec1": false, "spec2": true, "spec3": false, "spec4": false, "referrer": true, "coordinator": true}},
		{"expiry of several tells each of them", hMulti, then(hMulti, expiredAll(onc1, onc2, onc3)), map[string]bool{
			"spec1": true, "spec2": true, "spec3": true, "spec4": false}},
		{"urgency change tells those withdrawn", hMulti, then(hMulti, urgencyChanged("urgent", time.Time{}, time.Time{})),
			map[string]bool{"spec1": true, "spec2": true, "spec3": true, "spec4": false, "referrer": true}},
		{"specialty change tells the assignee it lost the consult", hAccepted, then(hAccepted, specialtyChanged("pediatric-hematology")),
			map[string]bool{"spec1": true, "spec2": false, "referrer": true, "coordinator": true}},
	}
	actors := map[string]consult.Actor{
		"referrer": referrer, "colleague": colleague, "otherReferrer": otherReferrer, "spec1": spec1,
		"spec2": spec2, "spec3": spec3, "spec4": spec4, "coordinator": coordinator, "admin": admin,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before *consult.Consult
			if tt.before != nil {
				before = fold(t, tt.before...)
			}
			after := fold(t, tt.after...)
			for name, want := range tt.want {
				got := consult.Sees(actors[name], before, after)
				assert.Equal(t, want, got, "got Sees(%s) %v, want %v", name, got, want)
			}
		})
	}
}
