package consult

import (
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// Each decision checks a proposed change against the current state and returns the event that
// records it, or an *Error. The event's ID is left for the adapter that appends it. The
// decisions live by topic: offers.go (offer, accept, decline, expiry, reminders, escalation),
// thread.go (messages and the recommendation), controls.go (coordinators' controls), sla.go
// (response-time breaches); the submission is in request.go and who may see what in access.go.

// next starts the event that records a change of c by actor at now.
func (c *Consult) next(t event.Type, actor string, now time.Time) event.Event {
	return event.Event{Type: t, ConsultID: c.ID, Position: c.Position() + 1, At: now.UTC(), ActorID: actor}
}
