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
