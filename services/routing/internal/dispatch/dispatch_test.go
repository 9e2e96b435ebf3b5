package dispatch_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)

// testRoster has one schedule per shape routing meets:
//   - onc: primary p1, secondary s1
//   - same: p1 is both primary and secondary
//   - off-primary: the primary is disabled
//   - off-both: both are disabled
//   - solo: no secondary rotation
//   - empty: rotations without members
//   - rotating: primary p1, p2 in turn daily at 08:00 Jerusalem time from 1 January 2026, secondary s1
//   - unscheduled: a specialty with no schedule
func testRoster(t *testing.T) *roster.Roster {
	t.Helper()
	rot := func(members ...string) roster.Rotation {
		return roster.Rotation{Anchor: "2026-01-01", Handoff: "08:00", ShiftDays: 1, Members: members}
	}
	doc := roster.Roster{
		Users: []roster.User{
			{ID: "p1", Username: "p1", Role: consult.RoleSpecialist},
			{ID: "p2", Username: "p2", Role: consult.RoleSpecialist},
			{ID: "s1", Username: "s1", Role: consult.RoleSpecialist},
			{ID: "off", Username: "off", Role: consult.RoleSpecialist, Disabled: true},
			{ID: "coord", Username: "coord", Role: consult.RoleCoordinator},
		},
		Specialties: []roster.Specialty{{Slug: "onc"}, {Slug: "same"}, {Slug: "off-primary"}, {Slug: "off-both"},
			{Slug: "solo"}, {Slug: "empty"}, {Slug: "rotating"}, {Slug: "unscheduled"}},
		Schedules: []roster.Schedule{
			{Specialty: "onc", Primary: rot("p1"), Secondary: rot("s1")},
			{Specialty: "same", Primary: rot("p1"), Secondary: rot("p1")},
			{Specialty: "off-primary", Primary: rot("off"), Secondary: rot("s1")},
			{Specialty: "off-both", Primary: rot("off"), Secondary: rot("off")},
			{Specialty: "solo", Primary: rot("p1")},
			{Specialty: "empty"},
			{Specialty: "rotating", Primary: rot("p1", "p2"), Secondary: rot("s1")},
		},
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	r, err := roster.Parse(data)
	require.NoError(t, err, "parse the test roster")
	return r
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	loc, err := time.LoadLocation(roster.Zone)
	require.NoError(t, err)
	jan1 := time.Date(2026, 1, 1, 12, 0, 0, 0, loc) // p1's day on the rotating schedule
	jan2 := time.Date(2026, 1, 2, 12, 0, 0, 0, loc) // p2's day

	tests := []struct {
		name      string
		specialty string
		at        time.Time
		want      []string
	}{
		{"primary then secondary", "onc", jan1, []string{"p1", "s1"}},
		{"the same person once", "same", jan1, []string{"p1"}},
		{"disabled primary is left out", "off-primary", jan1, []string{"s1"}},
		{"nobody when both are disabled", "off-both", jan1, nil},
		{"no blank id for a missing secondary", "solo", jan1, []string{"p1"}},
		{"nobody from empty rotations", "empty", jan1, nil},
		{"who is on call now: first day", "rotating", jan1, []string{"p1", "s1"}},
		{"who is on call now: second day", "rotating", jan2, []string{"p2", "s1"}},
		{"nobody for a specialty without schedule", "unscheduled", jan1, nil},
		{"nobody for an unknown specialty", "astrology", jan1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := dispatch.Candidates(r, tt.specialty, tt.at)
			if tt.want == nil {
				assert.Empty(t, got, "got candidates %v, want none", got)
				return
			}
			assert.Equal(t, tt.want, got, "got candidates %v, want %v", got, tt.want)
		})
	}
}

// hist numbers steps into the history of one consult, a minute apart from t0; offers run five minutes.
func hist(urgency string, steps ...event.Event) []event.Event {
	req := event.Event{Type: event.Requested, ActorID: "u-ref", Request: &event.Request{
		Urgency: urgency, Specialty: "pediatric-oncology", ClinicID: "hebron",
		Patient: event.Patient{AgeYears: 4, Sex: "male"}, Question: "q", AcceptBy: t0.Add(time.Hour),
	}}
	out := make([]event.Event, 0, len(steps)+1)
	for i, e := range append([]event.Event{req}, steps...) {
		e.ID, e.ConsultID, e.Position = fmt.Sprintf("ev-%d", i+1), "c-1", i+1
		e.At = t0.Add(time.Duration(i) * time.Minute)
		if e.Type == event.Offered {
			e.ExpiresAt = e.At.Add(5 * time.Minute)
		}
		out = append(out, e)
	}
	return out
}

func fold(t *testing.T, urgency string, steps ...event.Event) *consult.Consult {
	t.Helper()
	c, err := consult.Fold(hist(urgency, steps...))
	require.NoError(t, err, "fold the test history")
	return c
}

func offered(id string) event.Event {
	return event.Event{Type: event.Offered, ActorID: "routing", SpecialistID: id}
}
func expired(id string) event.Event {
	return event.Event{Type: event.OfferExpired, ActorID: "routing", SpecialistID: id}
}
func declined(id string) event.Event {
	return event.Event{Type: event.Declined, ActorID: id, SpecialistID: id}
}
func accepted(id string) event.Event { return event.Event{Type: event.Accepted, ActorID: id} }

func TestNext(t *testing.T) {
	t.Parallel()
	both := []string{"p1", "s1"}
	tests := []struct {
		name       string
		steps      []event.Event
		candidates []string
		wantType   event.Type // "" when routing has nothing to do
		wantTo     string
		wantReason string
	}{
		{"offers the primary first", nil, both, event.Offered, "p1", ""},
		{"offers the secondary after the primary declined", []event.Event{offered("p1"), declined("p1")}, both, event.Offered, "s1", ""},
		{"offers the secondary after the primary's offer expired", []event.Event{offered("p1"), expired("p1")}, both, event.Offered, "s1", ""},
		{"offers the next shift's primary after the last shift's declined", []event.Event{offered("p1"), declined("p1")},
			[]string{"p2", "s1"}, event.Offered, "p2", ""},
		{"escalates when both declined", []event.Event{offered("p1"), declined("p1"), offered("s1"), declined("s1")},
			both, event.Escalated, "", "nobody on call accepted in time"},
		{"escalates when both were offered and let it expire", []event.Event{offered("p1"), expired("p1"), offered("s1"), expired("s1")},
			both, event.Escalated, "", "nobody on call accepted in time"},
		{"escalates when the only candidate declined", []event.Event{offered("p1"), declined("p1")},
			[]string{"p1"}, event.Escalated, "", "nobody on call accepted in time"},
		{"escalates when nobody is on call", nil, nil, event.Escalated, "", "nobody is on call for pediatric-oncology"},
		{"escalates when the candidate list is empty", nil, []string{}, event.Escalated, "", "nobody is on call for pediatric-oncology"},
		{"nothing while offered", []event.Event{offered("p1")}, both, "", "", ""},
		{"nothing once accepted", []event.Event{offered("p1"), accepted("p1")}, both, "", "", ""},
		{"nothing while waiting on the referrer", []event.Event{offered("p1"), accepted("p1"),
			{Type: event.InfoRequested, ActorID: "p1", Body: "?"}}, both, "", "", ""},
		{"nothing once escalated", []event.Event{offered("p1"), declined("p1"), offered("s1"), declined("s1"),
			{Type: event.Escalated, ActorID: "routing"}}, both, "", "", ""},
		{"nothing once completed", []event.Event{offered("p1"), accepted("p1"), {Type: event.Completed, ActorID: "p1"}}, both, "", "", ""},
		{"nothing once cancelled", []event.Event{{Type: event.Cancelled, ActorID: "u-ref"}}, both, "", "", ""},
		{"nothing once cancelled, even without candidates", []event.Event{{Type: event.Cancelled, ActorID: "u-ref"}}, nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, "emergent", tt.steps...)
			now := t0.Add(time.Hour).In(time.FixedZone("IDT", 3*60*60))
			e, ok, err := dispatch.Next(c, tt.candidates, dispatch.DefaultPolicy(), now)
			require.NoError(t, err)
			if tt.wantType == "" {
				assert.False(t, ok, "got ok, want nothing to do")
				assert.Zero(t, e, "got event %+v, want none", e)
				return
			}
			require.True(t, ok, "got nothing to do, want a %s", tt.wantType)
			assert.Equal(t, tt.wantType, e.Type, "got %s, want %s", e.Type, tt.wantType)
			assert.Equal(t, tt.wantTo, e.SpecialistID, "got specialist %q, want %q", e.SpecialistID, tt.wantTo)
			assert.Equal(t, tt.wantReason, e.Reason, "got reason %q, want %q", e.Reason, tt.wantReason)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, c.ID, e.ConsultID, "got consult %q, want %q", e.ConsultID, c.ID)
			assert.Equal(t, c.Position()+1, e.Position, "got position %d, want %d", e.Position, c.Position()+1)
			assert.True(t, now.Equal(e.At), "got at %v, want %v", e.At, now)
			assert.Equal(t, time.UTC, e.At.Location(), "got at in %v, want UTC", e.At.Location())
			if e.Type == event.Offered {
				want := now.Add(2 * time.Minute)
				assert.True(t, want.Equal(e.ExpiresAt), "got expiry %v, want %v", e.ExpiresAt, want)
			}
			_, err = consult.Apply(c, e)
			assert.NoError(t, err, "got the decided event refused by the fold, want it to apply")
		})
	}
}

func TestNextOfferWindow(t *testing.T) {
	t.Parallel()
	custom := dispatch.Policy{OfferFor: map[string]time.Duration{"emergent": 90 * time.Second, "urgent": time.Hour, "routine": 24 * time.Hour}}
	tests := []struct {
		urgency string
		policy  dispatch.Policy
		want    time.Duration
	}{
		{"emergent", dispatch.DefaultPolicy(), 2 * time.Minute},
		{"urgent", dispatch.DefaultPolicy(), 15 * time.Minute},
		{"routine", dispatch.DefaultPolicy(), 4 * time.Hour},
		{"emergent", custom, 90 * time.Second},
		{"urgent", custom, time.Hour},
		{"routine", custom, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.urgency, tt.want), func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.urgency)
			now := t0.Add(37 * time.Second)
			e, ok, err := dispatch.Next(c, []string{"p1", "s1"}, tt.policy, now)
			require.NoError(t, err)
			require.True(t, ok, "got nothing to do, want an offer")
			want := now.Add(tt.want)
			assert.True(t, want.Equal(e.ExpiresAt), "got expiry %v, want now + %v = %v", e.ExpiresAt, tt.want, want)
		})
	}
}

func TestNextWithoutWindowForUrgency(t *testing.T) {
	t.Parallel()
	c := fold(t, "routine")
	p := dispatch.Policy{OfferFor: map[string]time.Duration{"emergent": time.Minute}}
	e, ok, err := dispatch.Next(c, []string{"p1"}, p, t0)
	assert.Error(t, err, "got no error, want one for an urgency without an offer window")
	assert.False(t, ok, "got ok beside an error, want false")
	assert.Zero(t, e, "got event %+v beside an error, want none", e)
}

// TestRoutingRun drives one consult the way the routing worker does: offer, let it expire, offer
// the secondary, who declines, and escalate.
func TestRoutingRun(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	c := fold(t, "urgent")
	now := t0.Add(time.Second)
	step := func() event.Event {
		t.Helper()
		e, ok, err := dispatch.Next(c, dispatch.Candidates(r, "onc", now), dispatch.DefaultPolicy(), now)
		require.NoError(t, err)
		require.True(t, ok, "got nothing to do at %s, want an event", c.Status)
		return e
	}
	apply := func(e event.Event) {
		t.Helper()
		next, err := consult.Apply(c, e)
		require.NoError(t, err)
		c = next
	}

	e := step()
	require.Equal(t, event.Offered, e.Type, "got %s, want offered", e.Type)
	assert.Equal(t, "p1", e.SpecialistID, "got %q, want p1", e.SpecialistID)
	apply(e)
	_, ok, err := dispatch.Next(c, dispatch.Candidates(r, "onc", now), dispatch.DefaultPolicy(), now)
	require.NoError(t, err)
	assert.False(t, ok, "got a second event while the offer is live, want none")

	now = c.Offer.ExpiresAt
	e, err = c.ExpireOffer(c.Offer.Position, now)
	require.NoError(t, err)
	apply(e)

	e = step()
	require.Equal(t, event.Offered, e.Type, "got %s, want offered", e.Type)
	assert.Equal(t, "s1", e.SpecialistID, "got %q, want s1", e.SpecialistID)
	apply(e)
	now = now.Add(time.Minute)
	e, err = c.Decline(consult.Actor{ID: "s1", Role: consult.RoleSpecialist}, "busy", now)
	require.NoError(t, err)
	apply(e)

	e = step()
	require.Equal(t, event.Escalated, e.Type, "got %s, want escalated", e.Type)
	apply(e)
	assert.Equal(t, consult.StatusEscalated, c.Status, "got %s, want escalated", c.Status)
	assert.Equal(t, []string{"p1", "s1"}, c.Offered, "got offered-to %v, want [p1 s1]", c.Offered)
}
