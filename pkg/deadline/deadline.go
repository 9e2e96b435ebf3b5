// Package deadline names the moments in a consult's life at which routing must look at it
// again: an offer's or an escalation step's end, a reminder to whoever has not opened an offer,
// a response-time clock running out, a snooze ending. Routing decides which deadlines a stored
// event sets and what a due one does; the scheduler keeps them durably until they are due.
// It imports the standard library only.
package deadline

import (
	"strconv"
	"time"
)

// Kind says what happens when a deadline is due. The strings are stored in the deadline stream.
type Kind = string

// The kinds of deadline.
const (
	// Expire ends an unanswered offer, or the wait of a coordinators step.
	Expire Kind = "expire"
	// Remind re-alerts the holders of a live offer who have not opened it.
	Remind Kind = "remind"
	// SLAAccept and SLARecommend check a response-time clock when it runs out.
	SLAAccept    Kind = "sla-accept"
	SLARecommend Kind = "sla-recommend"
	// SnoozeEnd sounds a snoozed escalation's alarm again.
	SnoozeEnd Kind = "snooze"
)

// Deadline is one moment in a consult's life: the consult, the position of the event that set
// it (an offer, a step, a request, a snooze), what happens then, which reminder it is, and when.
// The JSON form is what the deadline stream stores.
type Deadline struct {
	ConsultID string    `json:"consult_id"`
	Position  int       `json:"offer_position"`
	Kind      Kind      `json:"kind,omitempty"` // Expire when empty: the form of the first release
	N         int       `json:"n,omitempty"`
	At        time.Time `json:"at"`
}

// Normal returns d with an empty Kind read as Expire.
func (d Deadline) Normal() Deadline {
	if d.Kind == "" {
		d.Kind = Expire
	}
	return d
}

// Key names d uniquely within its consult's life, so that setting the same deadline twice
// stores it once: consult, position, and the kind (with the reminder's number).
func (d Deadline) Key() string {
	k := d.ConsultID + "." + strconv.Itoa(d.Position)
	switch d.Kind {
	case "", Expire:
	case Remind:
		k += ".remind" + strconv.Itoa(d.N)
	default:
		k += "." + d.Kind
	}
	return k
}
