package dispatch_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// t0 is noon in Jerusalem on a Sunday: the day layer has p1 on call as primary, s1 is secondary.
var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)

// heme13May is noon in Jerusalem on 13 May, when an override puts c, an oncologist, on call as
// hematology's primary.
var heme13May = time.Date(2026, 5, 13, 9, 0, 0, 0, time.UTC)

// testDoc is the roster the tests route over, in the document shape operators write.
//
//   - onc: specialists p1, s1, a, b, c (c holds 2 consults at most) and the disabled off. The
//     primary is p1 by day (08:00-20:00), c at night, and b on 12 May by override; the secondary
//     is s1. Its emergent policy offers to the whole specialty at once (the tests read candidate
//     order off it), urgent goes primary, secondary, specialty one at a time, coordinators, twice,
//     and routine does the same with a parallel specialty step, once.
//   - heme: p1, s1, a, b; primary p1, secondary s1, but c (of onc only) by override as primary on
//     13 May; no policy of its own (the defaults apply).
//   - offcall: the disabled off is primary, s1 secondary; primary, secondary, coordinators.
//   - solo: p1 alone on call; the policy asks a by name, then the primary.
//   - bare: nobody and no schedule; primary, secondary, specialty, three rounds.
//   - cross: nobody of its own; its layers put c on call as primary and a as secondary; the
//     default policies.
const testDoc = `{
  "users": [
    {"id": "ref-ar", "username": "ref-ar", "name": "R A", "role": "referrer", "clinic_id": "hebron", "languages": ["ar"]},
    {"id": "ref-he", "username": "ref-he", "name": "R H", "role": "referrer", "clinic_id": "hebron", "languages": ["he-IL"]},
    {"id": "ref-none", "username": "ref-none", "name": "R N", "role": "referrer", "clinic_id": "hebron", "languages": []},
    {"id": "p1", "username": "p1", "name": "P1", "role": "specialist", "specialties": ["onc", "heme", "solo"], "languages": ["he", "en"]},
    {"id": "s1", "username": "s1", "name": "S1", "role": "specialist", "specialties": ["onc", "heme", "offcall"], "languages": ["he", "en"]},
    {"id": "a", "username": "a", "name": "A", "role": "specialist", "specialties": ["onc", "heme", "offcall"], "languages": ["en"]},
    {"id": "b", "username": "b", "name": "B", "role": "specialist", "specialties": ["onc", "heme"], "languages": ["ar", "he"]},
    {"id": "c", "username": "c", "name": "C", "role": "specialist", "specialties": ["onc"], "languages": ["he"], "max_consults": 2},
    {"id": "off", "username": "off", "name": "Off", "role": "specialist", "specialties": ["onc", "offcall"], "languages": ["ar"], "disabled": true},
    {"id": "coord", "username": "coord", "name": "Co", "role": "coordinator", "languages": ["he"]}
  ],
  "clinics": [{"id": "hebron", "name": "Hebron"}],
  "specialties": [
    {"slug": "onc", "name": {"en": "Oncology"}},
    {"slug": "heme", "name": {"en": "Hematology"}},
    {"slug": "offcall", "name": {"en": "Off call"}},
    {"slug": "solo", "name": {"en": "Solo"}},
    {"slug": "bare", "name": {"en": "Bare"}},
    {"slug": "cross", "name": {"en": "Cross"}}
  ],
  "schedules": [
    {"specialty": "onc",
     "primary": {
       "layers": [
         {"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["p1"],
          "restrict": {"from": "08:00", "to": "20:00"}},
         {"name": "night", "start": "2026-01-04", "handoff": "20:00", "shift": "daily", "members": ["c"]}
       ],
       "overrides": [{"id": "o1", "user_id": "b", "from": "2026-05-12T06:00:00Z", "to": "2026-05-12T18:00:00Z", "reason": "swap"}]
     },
     "secondary": {"layers": [{"name": "week", "start": "2026-01-04", "handoff": "08:00", "shift": "weekly", "members": ["s1"]}]}},
    {"specialty": "heme",
     "primary": {
       "layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["p1"]}],
       "overrides": [{"id": "o2", "user_id": "c", "from": "2026-05-13T06:00:00Z", "to": "2026-05-13T18:00:00Z", "reason": "cover"}]
     },
     "secondary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["s1"]}]}},
    {"specialty": "offcall",
     "primary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["off"]}]},
     "secondary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["s1"]}]}},
    {"specialty": "solo",
     "primary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "custom", "shift_hours": 12, "members": ["p1"]}]},
     "secondary": {}},
    {"specialty": "cross",
     "primary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["c"]}]},
     "secondary": {"layers": [{"name": "day", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["a"]}]}}
  ],
  "policies": [
    {"specialty": "onc", "urgency": "emergent", "steps": [{"target": "specialty", "wait": "5m", "parallel": true}]},
    {"specialty": "onc", "urgency": "urgent", "repeat": 1, "steps": [
      {"target": "primary", "wait": "2m"}, {"target": "secondary", "wait": "2m"},
      {"target": "specialty", "wait": "3m"}, {"target": "coordinators", "wait": "5m"}]},
    {"specialty": "onc", "urgency": "routine", "steps": [
      {"target": "primary", "wait": "2m"}, {"target": "secondary", "wait": "2m"},
      {"target": "specialty", "wait": "3m", "parallel": true}, {"target": "coordinators", "wait": "5m"}]},
    {"specialty": "offcall", "steps": [
      {"target": "primary", "wait": "2m"}, {"target": "secondary", "wait": "2m"}, {"target": "coordinators", "wait": "5m"}]},
    {"specialty": "solo", "steps": [{"target": "person", "user_id": "a", "wait": "2m"}, {"target": "primary", "wait": "2m"}]},
    {"specialty": "bare", "repeat": 2, "steps": [
      {"target": "primary", "wait": "2m"}, {"target": "secondary", "wait": "2m"}, {"target": "specialty", "wait": "3m"}]}
  ]
}`

func testRoster(t *testing.T) *roster.Roster {
	t.Helper()
	r, err := roster.Parse([]byte(testDoc))
	require.NoError(t, err, "parse the test roster")
	return r
}

// newConsult is a consult just requested by referrer at at.
func newConsult(t *testing.T, specialty, urgency, language, referrer string, at time.Time) *consult.Consult {
	t.Helper()
	c, err := consult.Apply(nil, event.Event{ID: "e1", Type: event.Requested, ConsultID: "c1", Position: 1, At: at,
		ActorID: referrer, Request: &event.Request{Urgency: urgency, Specialty: specialty, ClinicID: "hebron",
			Patient: event.Patient{AgeYears: 7, Sex: "female"}, Question: "q", Language: language}})
	require.NoError(t, err)
	return c
}

// offeredTo lists who an Offered event offers the consult to.
func offeredTo(e event.Event) []string {
	if len(e.SpecialistIDs) > 0 {
		return e.SpecialistIDs
	}
	return []string{e.SpecialistID}
}

func TestCandidateOrder(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	night := time.Date(2026, 5, 10, 22, 0, 0, 0, time.UTC)   // 01:00 in Jerusalem: c's night layer
	override := time.Date(2026, 5, 12, 9, 0, 0, 0, time.UTC) // b's override beats p1's day layer
	ready := dispatch.Person{Availability: dispatch.Available, Online: true}

	tests := []struct {
		name     string
		at       time.Time
		language string
		referrer string
		facts    dispatch.Facts
		want     []string
	}{
		{name: "on call first, then by id when nothing else differs", want: []string{"p1", "s1", "a", "b", "c"}},
		{name: "the night layer's primary is on call", at: night, want: []string{"c", "s1", "a", "b", "p1"}},
		{name: "an override's primary is on call", at: override, want: []string{"b", "s1", "a", "c", "p1"}},
		{name: "within the on-call pair the one who can answer now first",
			facts: dispatch.Facts{"p1": {Availability: dispatch.Busy, Online: true}, "s1": ready, "a": ready, "b": ready, "c": ready},
			want:  []string{"s1", "p1", "a", "b", "c"}},
		{name: "available and online before busy or offline",
			facts: dispatch.Facts{"a": {Availability: dispatch.Busy, Online: true}, "b": {Availability: dispatch.Available}, "c": {Online: true}},
			want:  []string{"p1", "s1", "c", "a", "b"}},
		{name: "the consult's language, by its primary subtag", language: "ar-PS", referrer: "ref-he",
			want: []string{"p1", "s1", "b", "a", "c"}},
		{name: "the referrer's languages when the consult names none", referrer: "ref-ar",
			want: []string{"p1", "s1", "b", "a", "c"}},
		{name: "the referrer's regional tag matches a bare language", referrer: "ref-he",
			want: []string{"p1", "s1", "b", "c", "a"}},
		{name: "fewest open consults",
			facts: dispatch.Facts{"a": {Open: 2}, "b": {Open: 1}},
			want:  []string{"p1", "s1", "c", "b", "a"}},
		{name: "longest idle, never active the idlest",
			facts: dispatch.Facts{"a": {LastActive: t0.Add(-time.Hour)}, "b": {LastActive: t0.Add(-3 * time.Hour)}},
			want:  []string{"p1", "s1", "c", "b", "a"}},
		{name: "being ready outranks the language", language: "ar",
			facts: dispatch.Facts{"a": ready},
			want:  []string{"p1", "s1", "a", "b", "c"}},
		{name: "the language outranks the load", language: "ar",
			facts: dispatch.Facts{"b": {Open: 2}},
			want:  []string{"p1", "s1", "b", "a", "c"}},
		{name: "the load outranks idleness",
			facts: dispatch.Facts{"b": {LastActive: t0.Add(-time.Minute)}, "c": {Open: 1}},
			want:  []string{"p1", "s1", "a", "b", "c"}},
		{name: "away specialists are never offered, even on call",
			facts: dispatch.Facts{"p1": {Availability: dispatch.Away}, "b": {Availability: dispatch.Away, Online: true}},
			want:  []string{"s1", "a", "c"}},
		{name: "a specialty step leaves out whoever is at capacity, on call or not",
			facts: dispatch.Facts{"p1": {Open: 3}, "a": {Open: 4}, "c": {Open: 2}, "b": {Open: 2}},
			want:  []string{"s1", "b"}},
		{name: "live offers held count toward capacity",
			facts: dispatch.Facts{"p1": {Open: 2, Held: 1}, "a": {Held: 3}, "c": {Open: 1, Held: 1}, "b": {Open: 1, Held: 1}},
			want:  []string{"s1", "b"}},
		{name: "offers held do not order the candidates, open consults do",
			facts: dispatch.Facts{"a": {Held: 2}, "b": {Open: 1}},
			want:  []string{"p1", "s1", "a", "c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := tt.at
			if at.IsZero() {
				at = t0
			}
			referrer := tt.referrer
			if referrer == "" {
				referrer = "ref-none"
			}
			c := newConsult(t, "onc", "emergent", tt.language, referrer, at)
			e, ok, err := dispatch.Next(c, r, tt.facts, dispatch.DefaultSettings(), at)
			require.NoError(t, err)
			require.True(t, ok, "got no decision, want an offer")
			require.Equal(t, event.Offered, e.Type)
			assert.Equal(t, tt.want, offeredTo(e), "got offered to %v, want %v", offeredTo(e), tt.want)
			assert.NotContains(t, offeredTo(e), "off", "got the disabled specialist offered, want never")
		})
	}
}

// A path drives one consult through routing the way the worker does: something happens (a
// decline, an expiry, time passing), the event is folded in, and routing decides again.
type path struct {
	name      string
	specialty string
	urgency   string
	facts     dispatch.Facts
	settings  *dispatch.Settings
	roster    *roster.Roster
	start     time.Time // t0 when zero
	moves     []move
}

// move is what happens, and what routing decides right after, as summary writes it ("-" for
// nothing). What happens is one of:
//
//	submit          the referrer submits the consult
//	decline ID      ID declines the live offer
//	accept ID       ID accepts the live offer
//	assign ID       a coordinator assigns the consult to ID
//	snooze D        a coordinator snoozes the escalation for D
//	expire          the clock reaches the live offers' deadline and they expire
//	step ends       the clock reaches the end of the current step
//	wait D          the clock moves on by D
type move struct {
	do   string
	want string
}

// summary writes an event routing decided: "offer a,b 1/3 3m" (who, round/step, for how long),
// "coordinators 1/4 5m", "escalated: reason".
func summary(e event.Event, now time.Time) string {
	switch e.Type {
	case event.Offered:
		return fmt.Sprintf("offer %s %d/%d %s", strings.Join(offeredTo(e), ","), e.Round, e.Step, short(e.ExpiresAt.Sub(now)))
	case event.CoordinatorsAlerted:
		return fmt.Sprintf("coordinators %d/%d %s", e.Round, e.Step, short(e.ExpiresAt.Sub(now)))
	case event.Escalated:
		return "escalated: " + e.Reason
	}
	return string(e.Type)
}

func short(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// driver holds the consult a path drives and the clock.
type driver struct {
	t   *testing.T
	p   path
	r   *roster.Roster
	c   *consult.Consult
	now time.Time
}

func (d *driver) apply(e event.Event, err error) {
	d.t.Helper()
	require.NoError(d.t, err)
	e.ID = fmt.Sprintf("e%d", e.Position)
	c, err := consult.Apply(d.c, e)
	require.NoError(d.t, err, "fold %s", e.Type)
	d.c = c
}

func specialist(id string) consult.Actor { return consult.Actor{ID: id, Role: consult.RoleSpecialist} }

var coordinator = consult.Actor{ID: "coord", Role: consult.RoleCoordinator}

// do makes what happens happen.
func (d *driver) do(what string) {
	d.t.Helper()
	verb, arg, _ := strings.Cut(what, " ")
	dur := func() time.Duration {
		v, err := time.ParseDuration(arg)
		require.NoError(d.t, err, "move %q", what)
		return v
	}
	switch verb {
	case "submit":
		d.c = newConsult(d.t, d.p.specialty, d.p.urgency, "", "ref-none", d.now)
	case "decline":
		d.apply(d.c.Decline(specialist(arg), "busy", d.now))
	case "accept":
		d.apply(d.c.Accept(specialist(arg), d.now))
	case "assign":
		d.apply(d.c.Assign(coordinator, arg, d.now))
	case "snooze":
		d.apply(d.c.Snooze(coordinator, d.now.Add(dur()), "on the phone with the clinic", d.now))
	case "expire":
		require.NotEmpty(d.t, d.c.Offers, "move %q: got no live offer, want one", what)
		d.now = d.c.Offers[0].ExpiresAt
		d.apply(d.c.ExpireOffer(d.c.Offers[0].Position, d.now))
	case "step":
		require.NotNil(d.t, d.c.Escalation, "move %q: got no escalation step, want one", what)
		d.now = d.c.Escalation.StepEndsAt
	case "wait":
		d.now = d.now.Add(dur())
	default:
		d.t.Fatalf("unknown move %q", what)
	}
}

// decide asks routing what happens next, folds it in and summarizes it.
func (d *driver) decide() string {
	d.t.Helper()
	s := dispatch.DefaultSettings()
	if d.p.settings != nil {
		s = *d.p.settings
	}
	e, ok, err := dispatch.Next(d.c, d.r, d.p.facts, s, d.now)
	require.NoError(d.t, err)
	if !ok {
		return "-"
	}
	d.apply(e, nil)
	return summary(e, d.now)
}

func TestEscalationPaths(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	stepless := r.Clone() // Parse rejects a policy without steps; an edited copy can still carry one
	stepless.Policies = []roster.Policy{{Urgency: "urgent"}}
	halfMinute := dispatch.Settings{Waits: map[string]time.Duration{"urgent": 30 * time.Second}}
	exhausted := func(rounds int) string {
		return fmt.Sprintf("escalated: nobody accepted in time after %d round(s) of the escalation policy", rounds)
	}

	paths := []path{
		{name: "primary, secondary, the specialty one at a time, coordinators, a second round, escalated",
			specialty: "onc", urgency: "urgent", moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"decline s1", "offer a 1/3 3m"}, // p1 and s1 had their turn this round
				{"expire", "offer b 1/3 3m"},     // the same step's next candidate
				{"decline b", "offer c 1/3 3m"},
				{"wait 1m", "-"},
				{"expire", "coordinators 1/4 5m"},
				{"wait 4m", "-"}, // the coordinators have until the step ends
				{"step ends", "offer p1 2/1 2m"},
				{"expire", "offer a 2/3 3m"}, // s1 declined: the secondary step is passed over
				{"expire", "offer c 2/3 3m"}, // b declined: never again
				{"expire", "coordinators 2/4 5m"},
				{"step ends", exhausted(2)},
				{"wait 1h", "-"},
			}},
		{name: "a parallel specialty step is one offer to everyone eligible",
			specialty: "onc", urgency: "routine", moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"expire", "offer a,b,c 1/3 3m"},
				{"decline a", "-"}, // b and c still hold it
				{"expire", "coordinators 1/4 5m"},
				{"step ends", exhausted(1)},
			}},
		{name: "a parallel step everyone declines moves on at once",
			specialty: "onc", urgency: "routine", moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"decline p1", "offer s1 1/2 2m"},
				{"decline s1", "offer a,b,c 1/3 3m"},
				{"decline c", "-"},
				{"decline a", "-"},
				{"decline b", "coordinators 1/4 5m"},
			}},
		{name: "the built-in emergent policy when the roster has none",
			specialty: "heme", urgency: "emergent", moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"expire", "offer a,b 1/3 3m"},
				{"expire", "coordinators 1/4 3m"},
				{"step ends", "offer p1 2/1 2m"},
				{"decline p1", "offer s1 2/2 2m"},
				{"expire", "offer a,b 2/3 3m"}, // offered again in the new round
				{"expire", "coordinators 2/4 3m"},
				{"step ends", exhausted(2)},
			}},
		{name: "a disabled primary is passed over",
			specialty: "offcall", urgency: "urgent", moves: []move{
				{"submit", "offer s1 1/2 2m"},
				{"expire", "coordinators 1/3 5m"},
				{"step ends", exhausted(1)},
			}},
		{name: "steps with nobody eligible are passed over, down to the coordinators",
			specialty: "offcall", urgency: "urgent", facts: dispatch.Facts{"s1": {Availability: dispatch.Away}}, moves: []move{
				{"submit", "coordinators 1/3 5m"},
				{"step ends", "escalated: nobody could be offered the consult: no eligible specialist is on call for offcall"},
			}},
		{name: "nobody anywhere escalates at once",
			specialty: "bare", urgency: "emergent", moves: []move{
				{"submit", "escalated: nobody could be offered the consult: no eligible specialist is on call for bare"},
			}},
		{name: "a person step, then the primary",
			specialty: "solo", urgency: "routine", moves: []move{
				{"submit", "offer a 1/1 2m"},
				{"decline a", "offer p1 1/2 2m"},
				{"expire", exhausted(1)},
			}},
		{name: "capacity leaves out only in the specialty step",
			specialty: "onc", urgency: "urgent", facts: dispatch.Facts{"p1": {Open: 9}, "s1": {Open: 3}, "a": {Open: 3}, "c": {Open: 2}},
			moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"expire", "offer b 1/3 3m"},
				{"expire", "coordinators 1/4 5m"},
			}},
		{name: "offers held count toward capacity only in the specialty step",
			specialty: "onc", urgency: "urgent", facts: dispatch.Facts{"p1": {Held: 5}, "s1": {Open: 2, Held: 1}, "a": {Held: 3}, "c": {Open: 1, Held: 1}},
			moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"expire", "offer b 1/3 3m"},
				{"expire", "coordinators 1/4 5m"},
			}},
		{name: "an on-call primary from another specialty by override",
			specialty: "heme", urgency: "emergent", start: heme13May, moves: []move{
				{"submit", "offer c 1/1 2m"},
				{"expire", "offer s1 1/2 2m"},
				{"expire", "offer a,b,p1 1/3 3m"}, // c is no hematologist: not in the specialty step
			}},
		{name: "an on-call primary from another specialty by override is passed over when away",
			specialty: "heme", urgency: "emergent", start: heme13May, facts: dispatch.Facts{"c": {Availability: dispatch.Away}},
			moves: []move{
				{"submit", "offer s1 1/2 2m"},
				{"expire", "offer a,b,p1 1/3 3m"},
			}},
		{name: "on call from another specialty by layer, the primary away",
			specialty: "cross", urgency: "emergent", facts: dispatch.Facts{"c": {Availability: dispatch.Away}},
			moves: []move{
				{"submit", "offer a 1/2 2m"},
				{"expire", "coordinators 1/4 3m"}, // the specialty has nobody of its own
			}},
		{name: "away specialists are passed over in every step",
			specialty: "onc", urgency: "urgent", facts: dispatch.Facts{"p1": {Availability: dispatch.Away}, "a": {Availability: dispatch.Away}},
			moves: []move{
				{"submit", "offer s1 1/2 2m"},
				{"expire", "offer b 1/3 3m"},
				{"expire", "offer c 1/3 3m"},
				{"expire", "coordinators 1/4 5m"},
			}},
		{name: "Settings.Waits replaces every step's wait of its urgency",
			specialty: "onc", urgency: "urgent", settings: &halfMinute, moves: []move{
				{"submit", "offer p1 1/1 30s"},
				{"expire", "offer s1 1/2 30s"},
				{"expire", "offer a 1/3 30s"},
				{"decline a", "offer b 1/3 30s"},
				{"decline b", "offer c 1/3 30s"},
				{"decline c", "coordinators 1/4 30s"},
			}},
		{name: "Settings.Waits leaves other urgencies alone",
			specialty: "onc", urgency: "routine", settings: &halfMinute, moves: []move{
				{"submit", "offer p1 1/1 2m"},
			}},
		{name: "a live offer or an owner leaves nothing to do",
			specialty: "onc", urgency: "urgent", moves: []move{
				{"submit", "offer p1 1/1 2m"},
				{"wait 1m", "-"},
				{"accept p1", "-"},
				{"wait 1h", "-"},
			}},
		{name: "a consult a coordinator assigned during their step stays assigned",
			specialty: "offcall", urgency: "urgent", facts: dispatch.Facts{"s1": {Availability: dispatch.Away}}, moves: []move{
				{"submit", "coordinators 1/3 5m"},
				{"assign a", "-"},
				{"step ends", "-"},
			}},
		{name: "an escalation sounds again when its snooze ends, not before",
			specialty: "bare", urgency: "urgent", moves: []move{
				{"submit", "escalated: nobody could be offered the consult: no eligible specialist is on call for bare"},
				{"wait 1h", "-"},
				{"snooze 30m", "-"},
				{"wait 29m", "-"},
				{"wait 1m", "escalated: the snooze ended and nobody has taken the consult"},
				{"wait 2h", "-"},
			}},
		{name: "no policy steps escalates", roster: stepless,
			specialty: "onc", urgency: "urgent", moves: []move{
				{"submit", "escalated: no escalation policy applies to onc"},
			}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			d := &driver{t: t, p: p, r: r, now: t0}
			if !p.start.IsZero() {
				d.now = p.start
			}
			if p.roster != nil {
				d.r = p.roster
			}
			for i, m := range p.moves {
				d.do(m.do)
				got := d.decide()
				require.Equal(t, m.want, got, "move %d (%s): got %q, want %q", i+1, m.do, got, m.want)
			}
		})
	}
}

func TestDeclinedNeverAgain(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	d := &driver{t: t, p: path{specialty: "onc", urgency: "urgent"}, r: r, now: t0}
	for _, m := range []string{"submit", "decline p1", "decline s1", "decline a", "expire", "expire", "step ends",
		"expire", "expire", "step ends"} {
		d.do(m)
		d.decide()
	}
	require.Equal(t, consult.StatusEscalated, d.c.Status, "got %s, want escalated", d.c.Status)
	for _, id := range []string{"p1", "s1", "a"} {
		n := 0
		for _, o := range d.c.Offered {
			if o == id {
				n++
			}
		}
		assert.Equal(t, 1, n, "got %s offered %d times, want once: nobody is offered a consult after declining it", id, n)
	}
	assert.Equal(t, []string{"p1", "s1", "a", "b", "c", "b", "c"}, d.c.Offered,
		"got offers to %v, want b and c again in round 2", d.c.Offered)
}

func TestRoundTried(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	d := &driver{t: t, p: path{specialty: "onc", urgency: "urgent"}, r: r, now: t0}
	for _, m := range []string{"submit", "expire", "expire"} {
		d.do(m)
		d.decide()
	}
	esc := d.c.Escalation
	require.NotNil(t, esc)
	assert.Equal(t, []string{"a"}, esc.Tried, "got step tried %v, want [a]", esc.Tried)
	assert.Equal(t, []string{"p1", "s1", "a"}, esc.RoundTried, "got round tried %v, want [p1 s1 a]", esc.RoundTried)
	assert.Equal(t, d.now.Add(3*time.Minute), esc.StepEndsAt, "got step end %s, want the offer's expiry", esc.StepEndsAt)
}

func TestPeople(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	tests := []struct {
		name      string
		specialty string
		at        time.Time
		want      []string
	}{
		{"the specialty's specialists, the on-call pair among them", "onc", t0, []string{"p1", "s1", "a", "b", "c"}},
		{"a person the policy names", "solo", t0, []string{"p1", "a"}},
		{"the on-call primary even when disabled (no step offers to them)", "offcall", t0, []string{"s1", "a", "off"}},
		{"no schedule and nobody", "bare", t0, nil},
		{"without the override", "heme", t0, []string{"p1", "s1", "a", "b"}},
		{"an override from another specialty", "heme", heme13May, []string{"p1", "s1", "a", "b", "c"}},
		{"layers from another specialty", "cross", t0, []string{"c", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := dispatch.People(newConsult(t, tt.specialty, "urgent", "", "ref-none", tt.at), r, tt.at)
			assert.Equal(t, tt.want, got, "got %v, want %v", got, tt.want)
		})
	}
}
