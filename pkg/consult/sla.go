package consult

// Response-time clocks: a breach of the accept-by or recommend-by target is recorded once.

import (
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// Clocks names the SLA clocks that can be breached.
const (
	ClockAccept    = "accept"
	ClockRecommend = "recommend"
)

// RecordBreach records, once, that an SLA clock ran out unmet: nobody accepted by the accept-by
// deadline, or no recommendation by the recommend-by deadline. It is a Conflict when the clock
// was met, is not due yet, was recorded already or the consult was cancelled.
func (c *Consult) RecordBreach(clock string, now time.Time) (event.Event, error) {
	var due time.Time
	var met bool
	switch clock {
	case ClockAccept:
		due, met = c.SLA.AcceptBy, !c.AcceptedAt.IsZero() && !c.AcceptedAt.After(c.SLA.AcceptBy)
	case ClockRecommend:
		due, met = c.SLA.RecommendBy, c.Status == StatusCompleted && !c.ClosedAt.After(c.SLA.RecommendBy)
	default:
		return event.Event{}, Errorf(Invalid, "unknown SLA clock %q", clock)
	}
	switch {
	case due.IsZero() || met || c.Status == StatusCancelled || slices.Contains(c.SLA.Recorded, clock):
		return event.Event{}, Errorf(Conflict, "the %s clock needs no record", clock)
	case !now.After(due): // the deadline itself is still on time
		return event.Event{}, Errorf(Conflict, "the %s clock runs until %s", clock, due.Format(time.RFC3339))
	}
	e := c.next(event.SLABreached, "routing", now)
	e.Clock, e.ExpiresAt = clock, due
	return e, nil
}
