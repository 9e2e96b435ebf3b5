package consult

// The thread: messages between the referring clinic, the assignee and the coordinators, the
// specialist's requests for more information, and the recommendation that completes a consult.

import (
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// canConverse reports whether a takes part in the consult's thread: the referring clinic, the
// assignee and the coordinators.
func (c *Consult) canConverse(a Actor) bool {
	switch a.Role {
	case RoleCoordinator:
		return true
	case RoleReferrer:
		return c.CanView(a)
	case RoleSpecialist:
		return c.Assignee() == a.ID
	}
	return false
}

// PostMessage adds a message to the thread.
func (c *Consult) PostMessage(a Actor, messageID, body string, now time.Time) (event.Event, error) {
	if !c.canConverse(a) {
		return event.Event{}, Errorf(Forbidden, "you are not part of this consult's thread")
	}
	if c.Status.Closed() {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.Message, a.ID, now)
	e.ActorRole, e.MessageID, e.Body = a.Role, messageID, body
	return e, nil
}

// RequestInfo records the assignee asking the referrer for more; the consult waits on the referrer.
func (c *Consult) RequestInfo(a Actor, messageID, body string, now time.Time) (event.Event, error) {
	if c.Assignee() != a.ID || a.Role != RoleSpecialist {
		return event.Event{}, Errorf(Forbidden, "only the assigned specialist may ask for more information")
	}
	if c.Status != StatusAccepted && c.Status != StatusInfoRequested {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.InfoRequested, a.ID, now)
	e.MessageID, e.Body = messageID, body
	return e, nil
}

// Complete records the assignee's recommendation and closes the consult.
func (c *Consult) Complete(a Actor, recommendation string, now time.Time) (event.Event, error) {
	if c.Assignee() != a.ID || a.Role != RoleSpecialist {
		return event.Event{}, Errorf(Forbidden, "only the assigned specialist may complete the consult")
	}
	if c.Status != StatusAccepted && c.Status != StatusInfoRequested {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.Completed, a.ID, now)
	e.Recommendation = recommendation
	return e, nil
}
