package dispatch_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// acceptBy and recommendBy are the SLA clocks of the consults the deadline tests build.
var (
	acceptBy    = t0.Add(time.Hour)
	recommendBy = t0.Add(24 * time.Hour)
)

// history is one consult built event by event through its own decisions, as they are stored.
type history struct {
	t *testing.T
	c *consult.Consult
}

// requested starts a history with an urgent oncology consult requested at t0, its clocks
// running to acceptBy and recommendBy.
func requested(t *testing.T) (*history, event.Event) {
	t.Helper()
	e := event.Event{ID: "e1", Type: event.Requested, ConsultID: "c1", Position: 1, At: t0, ActorID: "ref-none",
		Request: &event.Request{Urgency: "urgent", Specialty: "onc", ClinicID: "hebron", Patient: event.Patient{AgeYears: 7, Sex: "female"},
			Question: "q", AcceptBy: acceptBy, RecommendBy: recommendBy}}
	c, err := consult.Apply(nil, e)
	require.NoError(t, err)
	return &history{t: t, c: c}, e
}

// add stores the event a decision returned and returns it as stored.
func (h *history) add(e event.Event, err error) event.Event {
	h.t.Helper()
	require.NoError(h.t, err)
	e.ID = fmt.Sprintf("e%d", e.Position)
	c, err := consult.Apply(h.c, e)
	require.NoError(h.t, err, "fold %s", e.Type)
	h.c = c
	return e
}

// offer offers the consult to ids at at, for d.
func (h *history) offer(at time.Time, d time.Duration, ids ...string) event.Event {
	h.t.Helper()
	return h.add(h.c.OfferTo(ids, 1, 1, at.Add(d), at))
}

// remind re-alerts the live offer for the n-th time at at.
func (h *history) remind(n int, at time.Time) event.Event {
	h.t.Helper()
	require.NotEmpty(h.t, h.c.Offers, "remind: got no live offer, want one")
	return h.add(h.c.Remind(h.c.Offers[0].Position, n, at))
}

func (h *history) seen(id string, at time.Time) event.Event {
	h.t.Helper()
	e, ok, err := h.c.MarkSeen(specialist(id), at)
	require.True(h.t, ok, "mark seen: got nothing to record, want a receipt")
	return h.add(e, err)
}

// escalated runs the consult out of candidates: nobody is on call for it.
func (h *history) escalated(at time.Time) event.Event {
	h.t.Helper()
	return h.add(h.c.Escalate("nobody", at))
}

func TestDeadlines(t *testing.T) {
	t.Parallel()
	every2m := dispatch.Settings{RemindEvery: 2 * time.Minute}
	tests := []struct {
		name     string
		settings *dispatch.Settings // every2m when nil
		// story builds the history and returns the stored event whose deadlines are set; the
		// consult's newest state may be past it.
		story func(h *history, req event.Event) event.Event
		want  []deadline.Deadline
	}{
		{name: "a request starts both SLA clocks",
			story: func(h *history, req event.Event) event.Event { return req },
			want: []deadline.Deadline{
				{Kind: deadline.SLAAccept, Position: 1, At: acceptBy},
				{Kind: deadline.SLARecommend, Position: 1, At: recommendBy}}},
		{name: "a request without a recommend-by sets only the accept clock",
			story: func(h *history, req event.Event) event.Event {
				req.Request.RecommendBy = time.Time{}
				return req
			},
			want: []deadline.Deadline{{Kind: deadline.SLAAccept, Position: 1, At: acceptBy}}},
		{name: "a request without clocks sets nothing",
			story: func(h *history, req event.Event) event.Event {
				req.Request.AcceptBy, req.Request.RecommendBy = time.Time{}, time.Time{}
				return req
			},
			want: nil},
		{name: "a change of urgency restarts the clocks from the event",
			story: func(h *history, req event.Event) event.Event {
				return h.add(h.c.ChangeUrgency(coordinator, "emergent", "worse", t0.Add(10*time.Minute), t0.Add(4*time.Hour), t0))
			},
			want: []deadline.Deadline{
				{Kind: deadline.SLAAccept, Position: 2, At: t0.Add(10 * time.Minute)},
				{Kind: deadline.SLARecommend, Position: 2, At: t0.Add(4 * time.Hour)}}},
		{name: "an offer expires and is first re-alerted after RemindEvery",
			story: func(h *history, req event.Event) event.Event { return h.offer(t0, 10*time.Minute, "p1") },
			want: []deadline.Deadline{
				{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)},
				{Kind: deadline.Remind, Position: 2, N: 1, At: t0.Add(2 * time.Minute)}}},
		{name: "a parallel offer has one expiry and one reminder",
			story: func(h *history, req event.Event) event.Event { return h.offer(t0, 10*time.Minute, "a", "b", "c") },
			want: []deadline.Deadline{
				{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)},
				{Kind: deadline.Remind, Position: 2, N: 1, At: t0.Add(2 * time.Minute)}}},
		{name: "a parallel offer one holder opened is still re-alerted",
			story: func(h *history, req event.Event) event.Event {
				e := h.offer(t0, 10*time.Minute, "a", "b")
				h.seen("a", t0.Add(time.Minute))
				return e
			},
			want: []deadline.Deadline{
				{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)},
				{Kind: deadline.Remind, Position: 2, N: 1, At: t0.Add(2 * time.Minute)}}},
		{name: "no reminder of an offer every holder opened",
			story: func(h *history, req event.Event) event.Event {
				e := h.offer(t0, 10*time.Minute, "a", "b")
				h.seen("a", t0.Add(time.Minute))
				h.seen("b", t0.Add(time.Minute))
				return e
			},
			want: []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)}}},
		{name: "no reminder of an offer declined since",
			story: func(h *history, req event.Event) event.Event {
				e := h.offer(t0, 10*time.Minute, "p1")
				h.add(h.c.Decline(specialist("p1"), "busy", t0.Add(time.Minute)))
				return e
			},
			want: []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)}}},
		{name: "no reminder of an offer replaced since: only the live offer's own event sets one",
			story: func(h *history, req event.Event) event.Event {
				e := h.offer(t0, 10*time.Minute, "p1")
				h.add(h.c.Decline(specialist("p1"), "busy", t0.Add(time.Minute)))
				h.offer(t0.Add(time.Minute), 10*time.Minute, "s1")
				return e
			},
			want: []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)}}},
		{name: "the replacing offer's own event sets its reminder",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 10*time.Minute, "p1")
				h.add(h.c.Decline(specialist("p1"), "busy", t0.Add(time.Minute)))
				return h.offer(t0.Add(time.Minute), 10*time.Minute, "s1")
			},
			want: []deadline.Deadline{
				{Kind: deadline.Expire, Position: 4, At: t0.Add(11 * time.Minute)},
				{Kind: deadline.Remind, Position: 4, N: 1, At: t0.Add(3 * time.Minute)}}},
		{name: "no reminder that would fall at the expiry",
			story: func(h *history, req event.Event) event.Event { return h.offer(t0, 2*time.Minute, "p1") },
			want:  []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(2 * time.Minute)}}},
		{name: "a reminder just before the expiry",
			story: func(h *history, req event.Event) event.Event { return h.offer(t0, 2*time.Minute+time.Second, "p1") },
			want: []deadline.Deadline{
				{Kind: deadline.Expire, Position: 2, At: t0.Add(2*time.Minute + time.Second)},
				{Kind: deadline.Remind, Position: 2, N: 1, At: t0.Add(2 * time.Minute)}}},
		{name: "no reminders when they are off", settings: &dispatch.Settings{},
			story: func(h *history, req event.Event) event.Event { return h.offer(t0, 10*time.Minute, "p1") },
			want:  []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(10 * time.Minute)}}},
		{name: "a reminder sets the next, twice as far",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 10*time.Minute, "p1")
				return h.remind(1, t0.Add(2*time.Minute))
			},
			want: []deadline.Deadline{{Kind: deadline.Remind, Position: 2, N: 2, At: t0.Add(6 * time.Minute)}}},
		{name: "a reminder of an offer opened since sets none",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 10*time.Minute, "p1")
				e := h.remind(1, t0.Add(2*time.Minute))
				h.seen("p1", t0.Add(3*time.Minute))
				return e
			},
			want: nil},
		{name: "a reminder whose next would fall after the expiry sets none",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 5*time.Minute, "p1")
				return h.remind(1, t0.Add(2*time.Minute))
			},
			want: nil},
		{name: "a coordinators step ends",
			story: func(h *history, req event.Event) event.Event {
				return h.add(h.c.AlertCoordinators(1, 4, t0.Add(5*time.Minute), "step 4", t0))
			},
			want: []deadline.Deadline{{Kind: deadline.Expire, Position: 2, At: t0.Add(5 * time.Minute)}}},
		{name: "a snooze ends",
			story: func(h *history, req event.Event) event.Event {
				h.escalated(t0)
				return h.add(h.c.Snooze(coordinator, t0.Add(30*time.Minute), "calling", t0.Add(time.Minute)))
			},
			want: []deadline.Deadline{{Kind: deadline.SnoozeEnd, Position: 3, At: t0.Add(30 * time.Minute)}}},
		{name: "an acceptance sets nothing",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 10*time.Minute, "p1")
				return h.add(h.c.Accept(specialist("p1"), t0.Add(time.Minute)))
			},
			want: nil},
		{name: "an expiry sets nothing",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 2*time.Minute, "p1")
				return h.add(h.c.ExpireOffer(2, t0.Add(2*time.Minute)))
			},
			want: nil},
		{name: "an escalation sets nothing",
			story: func(h *history, req event.Event) event.Event { return h.escalated(t0) },
			want:  nil},
		{name: "a read receipt sets nothing, even of a live unseen parallel offer",
			story: func(h *history, req event.Event) event.Event {
				h.offer(t0, 10*time.Minute, "a", "b")
				return h.seen("a", t0.Add(time.Minute))
			},
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := every2m
			if tt.settings != nil {
				s = *tt.settings
			}
			h, req := requested(t)
			e := tt.story(h, req)
			got := s.Deadlines(h.c, e)
			for i := range tt.want {
				tt.want[i].ConsultID = h.c.ID // every deadline names its consult
			}
			assert.Equal(t, tt.want, got, "got %+v, want %+v", got, tt.want)
		})
	}
}

// TestReminderBackoff follows one long unseen offer through its reminders, each fired when
// due: the n-th comes RemindEvery·2^min(n-1, 3) after the event before it.
func TestReminderBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n   int
		gap time.Duration
		at  time.Duration // since the offer
	}{
		{1, 2 * time.Minute, 2 * time.Minute},
		{2, 4 * time.Minute, 6 * time.Minute},
		{3, 8 * time.Minute, 14 * time.Minute},
		{4, 16 * time.Minute, 30 * time.Minute},
		{5, 16 * time.Minute, 46 * time.Minute},
		{6, 16 * time.Minute, 62 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("reminder %d", tt.n), func(t *testing.T) {
			t.Parallel()
			s := dispatch.DefaultSettings()
			h, _ := requested(t)
			e := h.offer(t0, 4*time.Hour, "p1")
			for n := 1; ; n++ {
				ds := s.Deadlines(h.c, e)
				require.NotEmpty(t, ds, "got no deadline after %s, want reminder %d", e.Type, n)
				d := ds[len(ds)-1]
				require.Equal(t, deadline.Remind, d.Kind, "got %+v after %s, want reminder %d", d, e.Type, n)
				if n == tt.n {
					assert.Equal(t, deadline.Deadline{ConsultID: h.c.ID, Kind: deadline.Remind, Position: 2, N: tt.n, At: t0.Add(tt.at)}, d)
					assert.Equal(t, tt.gap, d.At.Sub(e.At), "got a gap of %s, want %s", d.At.Sub(e.At), tt.gap)
					return
				}
				o, err := dispatch.Fire(h.c, d, d.At)
				require.NoError(t, err)
				require.True(t, o.OK, "got no reminder event at %s, want reminder %d", d.At, n)
				e = h.add(o.Event, nil)
			}
		})
	}
}

func TestFire(t *testing.T) {
	t.Parallel()
	in := func(d time.Duration) time.Time { return t0.Add(d) }
	offer := func(h *history) { h.offer(t0, 10*time.Minute, "p1") }
	parallel := func(h *history) { h.offer(t0, 10*time.Minute, "a", "b", "c") }
	remind := func(n int) deadline.Deadline {
		return deadline.Deadline{Kind: deadline.Remind, Position: 2, N: n, At: in(2 * time.Minute)}
	}
	expire := func(pos int, at time.Time) deadline.Deadline {
		return deadline.Deadline{Kind: deadline.Expire, Position: pos, At: at}
	}
	slaAccept := deadline.Deadline{Kind: deadline.SLAAccept, Position: 1, At: acceptBy}
	slaRecommend := deadline.Deadline{Kind: deadline.SLARecommend, Position: 1, At: recommendBy}
	snoozeEnd := deadline.Deadline{Kind: deadline.SnoozeEnd, Position: 3, At: in(30 * time.Minute)}
	snoozed := func(h *history) {
		h.escalated(t0)
		h.add(h.c.Snooze(coordinator, in(30*time.Minute), "calling", in(time.Minute)))
	}
	nothing := "nothing"
	route := "route"
	tests := []struct {
		name  string
		story func(h *history)
		d     deadline.Deadline
		now   time.Time
		// want is "nothing", "route", "early <duration>" or the event's type and what it names.
		want string
	}{
		{"a reminder of an unseen offer", offer, remind(1), in(2 * time.Minute), "consult.offer_reminder 1 to p1"},
		{"a reminder goes to the holders who have not opened it", func(h *history) {
			parallel(h)
			h.seen("b", in(time.Minute))
		}, remind(1), in(2 * time.Minute), "consult.offer_reminder 1 to a,c"},
		{"a reminder of an offer opened since", func(h *history) {
			offer(h)
			h.seen("p1", in(time.Minute))
		}, remind(1), in(2 * time.Minute), nothing},
		{"a reminder of an offer answered since", func(h *history) {
			offer(h)
			h.add(h.c.Accept(specialist("p1"), in(time.Minute)))
		}, remind(1), in(2 * time.Minute), nothing},
		{"a reminder of an offer withdrawn since", func(h *history) {
			offer(h)
			h.add(h.c.Cancel(consult.Actor{ID: "ref-none", Role: consult.RoleReferrer, ClinicID: "hebron"}, "moved", in(time.Minute)))
		}, remind(1), in(2 * time.Minute), nothing},
		{"a reminder delivered twice", func(h *history) {
			offer(h)
			h.remind(1, in(2*time.Minute))
		}, remind(1), in(2*time.Minute + time.Second), nothing},
		{"a reminder delivered at the expiry", offer, remind(1), in(10 * time.Minute), nothing},
		{"a reminder of another offer", offer, deadline.Deadline{Kind: deadline.Remind, Position: 5, N: 1}, in(2 * time.Minute), nothing},

		{"the accept clock ran out", nil, slaAccept, acceptBy.Add(time.Second), "consult.sla_breached accept"},
		{"the accept clock at its deadline is early", nil, slaAccept, acceptBy, "early 10ms"},
		{"the accept clock seen early by this clock", nil, slaAccept, acceptBy.Add(-time.Minute), "early 1m0.01s"},
		{"the accept clock met", func(h *history) {
			offer(h)
			h.add(h.c.Accept(specialist("p1"), in(time.Minute)))
		}, slaAccept, acceptBy.Add(time.Second), nothing},
		{"the accept clock recorded already", func(h *history) {
			h.add(h.c.RecordBreach(consult.ClockAccept, acceptBy.Add(time.Second)))
		}, slaAccept, acceptBy.Add(2 * time.Second), nothing},
		{"the accept clock of a cancelled consult", func(h *history) {
			h.add(h.c.Cancel(consult.Actor{ID: "ref-none", Role: consult.RoleReferrer, ClinicID: "hebron"}, "moved", in(time.Minute)))
		}, slaAccept, acceptBy.Add(time.Second), nothing},
		{"the accept clock moved later by a change of urgency", func(h *history) {
			h.add(h.c.ChangeUrgency(coordinator, "routine", "stable", in(24*time.Hour), in(72*time.Hour), in(time.Minute)))
		}, slaAccept, acceptBy.Add(time.Second), nothing},
		{"the recommend clock ran out", func(h *history) {
			offer(h)
			h.add(h.c.Accept(specialist("p1"), in(time.Minute)))
		}, slaRecommend, recommendBy.Add(time.Second), "consult.sla_breached recommend"},
		{"the recommend clock met", func(h *history) {
			offer(h)
			h.add(h.c.Accept(specialist("p1"), in(time.Minute)))
			h.add(h.c.Complete(specialist("p1"), "rest", in(time.Hour)))
		}, slaRecommend, recommendBy.Add(time.Second), nothing},

		{"a snooze ends", snoozed, snoozeEnd, in(30*time.Minute + time.Second), route},
		{"a snooze's end seen early by this clock", snoozed, snoozeEnd, in(29 * time.Minute), "early 1m0.01s"},

		{"an unanswered offer expires", offer, expire(2, in(10*time.Minute)), in(10 * time.Minute), "consult.offer_expired p1"},
		{"an unanswered parallel offer expires for every holder left", func(h *history) {
			parallel(h)
			h.add(h.c.Decline(specialist("b"), "busy", in(time.Minute)))
		}, expire(2, in(10*time.Minute)), in(10 * time.Minute), "consult.offer_expired a,c"},
		{"an offer's expiry seen early by this clock", offer, expire(2, in(10*time.Minute)), in(9 * time.Minute),
			"early " + (time.Minute + 10*time.Millisecond).String()},
		{"an offer answered before its expiry: routing decides again", func(h *history) {
			offer(h)
			h.add(h.c.Decline(specialist("p1"), "busy", in(time.Minute)))
		}, expire(2, in(10*time.Minute)), in(10 * time.Minute), route},
		{"an offer replaced by the step's next: routing decides again", func(h *history) {
			offer(h)
			h.add(h.c.Decline(specialist("p1"), "busy", in(time.Minute)))
			h.offer(in(time.Minute), 10*time.Minute, "s1")
		}, expire(2, in(10*time.Minute)), in(10 * time.Minute), route},
		{"a coordinators step ends", func(h *history) {
			h.add(h.c.AlertCoordinators(1, 4, in(5*time.Minute), "step 4", t0))
		}, expire(2, in(5*time.Minute)), in(5 * time.Minute), route},
		{"a coordinators step's end seen early by this clock", func(h *history) {
			h.add(h.c.AlertCoordinators(1, 4, in(5*time.Minute), "step 4", t0))
		}, expire(2, in(5*time.Minute)), in(4 * time.Minute), "early " + (time.Minute + 10*time.Millisecond).String()},
		{"a coordinators step a coordinator answered", func(h *history) {
			h.add(h.c.AlertCoordinators(1, 4, in(5*time.Minute), "step 4", t0))
			h.add(h.c.Assign(coordinator, "a", in(time.Minute)))
		}, expire(2, in(5*time.Minute)), in(5 * time.Minute), route},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _ := requested(t)
			if tt.story != nil {
				tt.story(h)
			}
			o, err := dispatch.Fire(h.c, tt.d, tt.now)
			require.NoError(t, err)
			got := outcome(o)
			assert.Equal(t, tt.want, got, "got %q, want %q", got, tt.want)
			if o.OK {
				assert.Equal(t, tt.now.UTC(), o.Event.At, "got the event at %s, want at %s", o.Event.At, tt.now)
				h.add(o.Event, nil) // what Fire decides folds into the consult
			}
		})
	}
}

// outcome writes what a deadline led to: "nothing", "route", "early D", or the event's type
// and what it names.
func outcome(o dispatch.Outcome) string {
	switch {
	case o.Early > 0:
		return "early " + o.Early.String()
	case o.Route:
		return "route"
	case !o.OK:
		return "nothing"
	}
	e := o.Event
	switch e.Type {
	case event.OfferReminder:
		return fmt.Sprintf("%s %d to %s", e.Type, e.Reminder, strings.Join(offeredTo(e), ","))
	case event.OfferExpired:
		return fmt.Sprintf("%s %s", e.Type, strings.Join(offeredTo(e), ","))
	case event.SLABreached:
		return fmt.Sprintf("%s %s", e.Type, e.Clock)
	}
	return string(e.Type)
}
