package consult_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// TestAtBreached checks the SLA's breached flag as seen at a moment: the clock runs until a
// specialist takes the consult or it closes. The requests here are due at t0+30m.
func TestAtBreached(t *testing.T) {
	t.Parallel()
	acceptBy := t0.Add(acceptSLA)
	lateAccept := accepted(onc1)
	lateAccept.At = acceptBy.Add(time.Minute)
	lateCancel := cancelled(refID)
	lateCancel.At = acceptBy.Add(time.Second)
	lateAssign := assigned(onc3)
	lateAssign.At = acceptBy.Add(time.Hour)
	onTimeAccept := accepted(onc1)
	onTimeAccept.At = acceptBy // at the deadline is on time
	noSLA := requested()
	noSLA.Request.AcceptBy = time.Time{}

	tests := []struct {
		name  string
		steps []event.Event
		now   time.Time
		want  bool
	}{
		{"waiting, before accept_by", hRequested, acceptBy.Add(-time.Second), false},
		{"waiting, at accept_by", hRequested, acceptBy, false},
		{"waiting, after accept_by", hRequested, acceptBy.Add(time.Second), true},
		{"offered, after accept_by", hOffered, acceptBy.Add(time.Hour), true},
		{"escalated, after accept_by", hEscalated, acceptBy.Add(time.Minute), true},
		{"escalated, before accept_by", hEscalated, acceptBy.Add(-time.Minute), false},
		{"accepted in time, seen long after", hAccepted, acceptBy.Add(48 * time.Hour), false},
		{"accepted at the deadline", then(hOffered, onTimeAccept), acceptBy.Add(time.Hour), false},
		{"accepted late", then(hOffered, lateAccept), acceptBy.Add(2 * time.Minute), true},
		{"accepted late, seen before the deadline", then(hOffered, lateAccept), acceptBy.Add(-time.Minute), true},
		{"assigned late after escalation", then(hEscalated, lateAssign), acceptBy.Add(2 * time.Hour), true},
		{"completed after an in-time acceptance", hCompleted, acceptBy.Add(24 * time.Hour), false},
		{"cancelled early, seen long after", hCancelled, acceptBy.Add(24 * time.Hour), false},
		{"cancelled after the deadline", then(hOffered, lateCancel), acceptBy.Add(24 * time.Hour), true},
		{"no deadline", []event.Event{noSLA}, t0.Add(1000 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			twin := fold(t, tt.steps...)
			got := c.At(tt.now)
			assert.Equal(t, tt.want, got.SLA.Breached, "got breached %v at %v, want %v", got.SLA.Breached, tt.now, tt.want)
			assert.Equal(t, c.SLA.AcceptBy, got.SLA.AcceptBy, "got accept_by %v, want %v", got.SLA.AcceptBy, c.SLA.AcceptBy)
			assert.NotSame(t, c, got, "got the same pointer, want a copy")
			assert.Equal(t, twin, c, "At changed the state it was asked of")
		})
	}
}

// Breached is not sticky: a copy taken at one moment does not leak into the state.
func TestAtIsPerMoment(t *testing.T) {
	t.Parallel()
	c := fold(t, hRequested...)
	late := c.At(t0.Add(time.Hour))
	early := c.At(t0)
	assert.True(t, late.SLA.Breached, "got not breached an hour later, want breached")
	assert.False(t, early.SLA.Breached, "got breached at submission, want not")
	assert.False(t, c.SLA.Breached, "got the state itself marked breached, want it untouched")
	var zero consult.SLA
	assert.NotEqual(t, zero, c.SLA, "got a zero SLA, want accept_by set")
}

// TestRecordBreach checks when an SLA clock's breach goes on the timeline: once, when the clock
// ran out unmet. The requests here must be accepted by t0+30m and answered by t0+2h.
func TestRecordBreach(t *testing.T) {
	t.Parallel()
	acceptBy, recommendBy := t0.Add(acceptSLA), t0.Add(recommendSLA)
	record := func(clock string, now time.Time) func(*consult.Consult) (event.Event, error) {
		return func(c *consult.Consult) (event.Event, error) { return c.RecordBreach(clock, now.In(idt)) }
	}
	records := func(clock string, due time.Time) func(*testing.T, *consult.Consult, event.Event, *consult.Consult) {
		return func(t *testing.T, c *consult.Consult, e event.Event, after *consult.Consult) {
			assert.Equal(t, event.SLABreached, e.Type, "got type %s, want sla_breached", e.Type)
			assert.Equal(t, "routing", e.ActorID, "got actor %q, want routing", e.ActorID)
			assert.Equal(t, clock, e.Clock, "got clock %q, want %q", e.Clock, clock)
			assert.Equal(t, due, e.ExpiresAt, "got due %v, want %v", e.ExpiresAt, due)
			assert.Equal(t, c.Status, after.Status, "got status %s, want %s unchanged", after.Status, c.Status)
			assert.Contains(t, after.SLA.Recorded, clock, "got recorded %v, want it to hold %s", after.SLA.Recorded, clock)
			// Recorded once: asking again is a Conflict.
			_, err := after.RecordBreach(clock, e.At.Add(time.Hour))
			requireCode(t, err, consult.Conflict)
		}
	}
	lateAccept := stamped(accepted(onc1), acceptBy.Add(time.Minute))
	onTimeAccept := stamped(accepted(onc1), acceptBy)
	lateComplete := stamped(completed(onc1), recommendBy.Add(time.Minute))
	onTimeComplete := stamped(completed(onc1), recommendBy)
	lateCancel := stamped(cancelled(refID), recommendBy.Add(time.Hour))
	noDeadlines := requested()
	noDeadlines.Request.AcceptBy, noDeadlines.Request.RecommendBy = time.Time{}, time.Time{}
	// A later urgency change moves both deadlines and forgets the breaches recorded under the old.
	relaxed := urgencyChanged("routine", t0.Add(72*time.Hour), t0.Add(96*time.Hour))
	relaxed.At = acceptBy.Add(2 * time.Hour)
	relaxedAfterBreach := then(hRequested, stamped(breached(consult.ClockAccept), acceptBy.Add(time.Minute)), relaxed)
	recordedBoth := then(hAccepted, stamped(breached(consult.ClockAccept), acceptBy.Add(time.Minute)),
		stamped(breached(consult.ClockRecommend), recommendBy.Add(time.Minute)))

	runDecisions(t, []decision{
		// the accept clock
		{name: "accept: waiting after the deadline", steps: hRequested, do: record(consult.ClockAccept, acceptBy.Add(time.Second)),
			check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: offered to several after the deadline", steps: hMulti, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: escalated after the deadline", steps: hEscalated, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: snoozed after the deadline", steps: hSnoozed, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: accepted late", steps: then(hOffered, lateAccept), do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: the recommend clock recorded", steps: then(hRequested, stamped(breached(consult.ClockRecommend), recommendBy)),
			do: record(consult.ClockAccept, recommendBy.Add(time.Minute)), check: records(consult.ClockAccept, acceptBy)},
		{name: "accept: recorded before an urgency change, past the new deadline", steps: relaxedAfterBreach,
			do: record(consult.ClockAccept, t0.Add(73*time.Hour)), want: consult.Conflict},
		{name: "accept: before the deadline", steps: hRequested, do: record(consult.ClockAccept, acceptBy.Add(-time.Second)),
			want: consult.Conflict},
		{name: "accept: at the deadline itself", steps: hRequested, do: record(consult.ClockAccept, acceptBy), want: consult.Conflict},
		{name: "recommend: at the deadline itself", steps: hAccepted, do: record(consult.ClockRecommend, recommendBy), want: consult.Conflict},
		{name: "accept: accepted in time", steps: hAccepted, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)), want: consult.Conflict},
		{name: "accept: accepted at the deadline", steps: then(hOffered, onTimeAccept), do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "accept: assigned in time after several offers", steps: then(hMulti, assigned(onc4)),
			do: record(consult.ClockAccept, acceptBy.Add(time.Hour)), want: consult.Conflict},
		{name: "accept: completed", steps: hCompleted, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)), want: consult.Conflict},
		{name: "accept: recorded already", steps: then(hRequested, stamped(breached(consult.ClockAccept), acceptBy.Add(time.Minute))),
			do: record(consult.ClockAccept, acceptBy.Add(time.Hour)), want: consult.Conflict},
		{name: "accept: cancelled before the deadline", steps: hCancelled, do: record(consult.ClockAccept, acceptBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "accept: cancelled after the deadline", steps: then(hOffered, lateCancel), do: record(consult.ClockAccept, acceptBy.Add(3*time.Hour)),
			want: consult.Conflict},
		{name: "accept: no deadline", steps: []event.Event{noDeadlines}, do: record(consult.ClockAccept, t0.Add(1000*time.Hour)),
			want: consult.Conflict},
		{name: "accept: after an urgency change, before the new deadline", steps: relaxedAfterBreach,
			do: record(consult.ClockAccept, acceptBy.Add(3*time.Hour)), want: consult.Conflict},

		// the recommend clock
		{name: "recommend: accepted, open after the deadline", steps: hAccepted, do: record(consult.ClockRecommend, recommendBy.Add(time.Second)),
			check: records(consult.ClockRecommend, recommendBy)},
		{name: "recommend: waiting on the referrer after the deadline", steps: hInfo,
			do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)), check: records(consult.ClockRecommend, recommendBy)},
		{name: "recommend: never accepted", steps: hEscalated, do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)),
			check: records(consult.ClockRecommend, recommendBy)},
		{name: "recommend: completed late", steps: then(hAccepted, lateComplete), do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)),
			check: records(consult.ClockRecommend, recommendBy)},
		{name: "recommend: the accept clock recorded", steps: then(hRequested, stamped(breached(consult.ClockAccept), acceptBy.Add(time.Minute))),
			do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)), check: records(consult.ClockRecommend, recommendBy)},
		{name: "recommend: before the deadline", steps: hAccepted, do: record(consult.ClockRecommend, recommendBy.Add(-time.Second)),
			want: consult.Conflict},
		{name: "recommend: completed in time", steps: hCompleted, do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "recommend: completed at the deadline", steps: then(hAccepted, onTimeComplete),
			do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)), want: consult.Conflict},
		{name: "recommend: recorded already", steps: recordedBoth, do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "accept: recorded already beside recommend", steps: recordedBoth, do: record(consult.ClockAccept, recommendBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "recommend: cancelled after the deadline", steps: then(hAccepted, lateCancel),
			do: record(consult.ClockRecommend, recommendBy.Add(2*time.Hour)), want: consult.Conflict},
		{name: "recommend: cancelled early", steps: hCancelledAc, do: record(consult.ClockRecommend, recommendBy.Add(time.Hour)),
			want: consult.Conflict},
		{name: "recommend: no deadline", steps: []event.Event{noDeadlines}, do: record(consult.ClockRecommend, t0.Add(1000*time.Hour)),
			want: consult.Conflict},

		// not a clock
		{name: "unknown clock", steps: hRequested, do: record("offer", t0.Add(1000*time.Hour)), want: consult.Invalid},
		{name: "no clock", steps: hRequested, do: record("", t0.Add(1000*time.Hour)), want: consult.Invalid},
		{name: "clock in capitals", steps: hCancelled, do: record("Accept", t0.Add(1000*time.Hour)), want: consult.Invalid},
	})
}

func TestSLAFor(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 27, 4, 30, 0, 0, idt)
	accept := map[string]time.Duration{"emergent": 15 * time.Minute, "urgent": 2 * time.Hour, "routine": 0}
	recommend := map[string]time.Duration{"emergent": 4 * time.Hour, "urgent": -time.Hour}
	tests := []struct {
		name                  string
		urgency               string
		accept, recommend     map[string]time.Duration
		wantAccept, wantRecom time.Time
	}{
		{"both windows", "emergent", accept, recommend, from.Add(15 * time.Minute), from.Add(4 * time.Hour)},
		{"negative recommend window", "urgent", accept, recommend, from.Add(2 * time.Hour), time.Time{}},
		{"zero accept window, no recommend window", "routine", accept, recommend, time.Time{}, time.Time{}},
		{"urgency in neither", "someday", accept, recommend, time.Time{}, time.Time{}},
		{"no recommend windows", "emergent", accept, nil, from.Add(15 * time.Minute), time.Time{}},
		{"no windows at all", "emergent", nil, nil, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotAccept, gotRecom := consult.SLAFor(tt.urgency, from, tt.accept, tt.recommend)
			assert.True(t, tt.wantAccept.Equal(gotAccept), "got accept_by %v, want %v", gotAccept, tt.wantAccept)
			assert.True(t, tt.wantRecom.Equal(gotRecom), "got recommend_by %v, want %v", gotRecom, tt.wantRecom)
			if !gotAccept.IsZero() {
				assert.Equal(t, time.UTC, gotAccept.Location(), "got accept_by in %v, want UTC", gotAccept.Location())
			}
			if !gotRecom.IsZero() {
				assert.Equal(t, time.UTC, gotRecom.Location(), "got recommend_by in %v, want UTC", gotRecom.Location())
			}
		})
	}
}

// TestAtRecommendBreached checks the recommendation clock as seen at a moment: it runs until the
// consult is completed, and a cancelled consult never breaches it. The requests are due at t0+2h.
func TestAtRecommendBreached(t *testing.T) {
	t.Parallel()
	recommendBy := t0.Add(recommendSLA)
	lateComplete := stamped(completed(onc1), recommendBy.Add(time.Minute))
	onTimeComplete := stamped(completed(onc1), recommendBy)
	lateCancel := stamped(cancelled(refID), recommendBy.Add(time.Minute))
	noDeadline := requested()
	noDeadline.Request.RecommendBy = time.Time{}

	tests := []struct {
		name  string
		steps []event.Event
		now   time.Time
		want  bool
	}{
		{"waiting, before recommend_by", hRequested, recommendBy.Add(-time.Second), false},
		{"waiting, at recommend_by", hRequested, recommendBy, false},
		{"waiting, after recommend_by", hRequested, recommendBy.Add(time.Second), true},
		{"accepted in time, open after recommend_by", hAccepted, recommendBy.Add(time.Hour), true},
		{"waiting on the referrer after recommend_by", hInfo, recommendBy.Add(time.Hour), true},
		{"escalated after recommend_by", hEscalated, recommendBy.Add(time.Hour), true},
		{"completed in time, seen long after", hCompleted, recommendBy.Add(48 * time.Hour), false},
		{"completed at recommend_by", then(hAccepted, onTimeComplete), recommendBy.Add(time.Hour), false},
		{"completed late", then(hAccepted, lateComplete), recommendBy.Add(time.Hour), true},
		{"completed late, seen before recommend_by", then(hAccepted, lateComplete), recommendBy.Add(-time.Hour), true},
		{"cancelled after recommend_by", then(hAccepted, lateCancel), recommendBy.Add(time.Hour), false},
		{"cancelled early, seen long after", hCancelledAc, recommendBy.Add(48 * time.Hour), false},
		{"cancelled while offered, seen long after", hCancelled, recommendBy.Add(48 * time.Hour), false},
		{"no deadline", []event.Event{noDeadline}, t0.Add(1000 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fold(t, tt.steps...)
			twin := fold(t, tt.steps...)
			got := c.At(tt.now)
			assert.Equal(t, tt.want, got.SLA.RecommendBreached, "got recommend_breached %v at %v, want %v",
				got.SLA.RecommendBreached, tt.now, tt.want)
			assert.Equal(t, c.SLA.RecommendBy, got.SLA.RecommendBy, "got recommend_by %v, want %v", got.SLA.RecommendBy, c.SLA.RecommendBy)
			assert.Equal(t, twin, c, "At changed the state it was asked of")
		})
	}
}
