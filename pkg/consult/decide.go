package consult

import (
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// Each decision checks a proposed change against the current state and returns the event that
// records it, or an *Error. The event's ID is left for the adapter that appends it.

func (c *Consult) next(t event.Type, actor string, now time.Time) event.Event {
	return event.Event{Type: t, ConsultID: c.ID, Position: c.Position() + 1, At: now.UTC(), ActorID: actor}
}

// holderCheck decides whether a may act on the live offer: Forbidden for a stranger, Conflict
// for a specialist whose offer is gone (taken, expired, withdrawn) or for a consult now closed.
func (c *Consult) holderCheck(a Actor, now time.Time) *Error {
	if a.Role != RoleSpecialist {
		return Errorf(Forbidden, "only the specialist holding the offer may answer it")
	}
	if c.Offer != nil && c.Offer.SpecialistID == a.ID {
		if !now.Before(c.Offer.ExpiresAt) {
			return Errorf(Conflict, "the offer expired at %s", c.Offer.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	}
	if c.wasOffered(a.ID) || c.Assignee() == a.ID {
		return Errorf(Conflict, "the offer is no longer available")
	}
	return Errorf(Forbidden, "this consult was not offered to you")
}

// Accept records a specialist taking the live offer.
func (c *Consult) Accept(a Actor, now time.Time) (event.Event, error) {
	if err := c.holderCheck(a, now); err != nil {
		return event.Event{}, err
	}
	return c.next(event.Accepted, a.ID, now), nil
}

// Decline records a specialist refusing the live offer; routing moves on.
func (c *Consult) Decline(a Actor, reason string, now time.Time) (event.Event, error) {
	if err := c.holderCheck(a, now); err != nil {
		return event.Event{}, err
	}
	e := c.next(event.Declined, a.ID, now)
	e.SpecialistID, e.Reason = a.ID, reason
	return e, nil
}

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

// Cancel withdraws the consult; the referring clinic or a coordinator may.
func (c *Consult) Cancel(a Actor, reason string, now time.Time) (event.Event, error) {
	if a.Role != RoleCoordinator && !(a.Role == RoleReferrer && c.CanView(a)) {
		return event.Event{}, Errorf(Forbidden, "only the referring clinic or a coordinator may cancel")
	}
	if c.Status.Closed() {
		return event.Event{}, Errorf(Conflict, "the consult is already %s", c.Status)
	}
	e := c.next(event.Cancelled, a.ID, now)
	e.Reason = reason
	return e, nil
}

// Assign records a coordinator giving the consult to a specialist directly; any live offer is
// withdrawn. The caller has checked that specialistID names a specialist.
func (c *Consult) Assign(a Actor, specialistID string, now time.Time) (event.Event, error) {
	if a.Role != RoleCoordinator {
		return event.Event{}, Errorf(Forbidden, "only a coordinator may assign")
	}
	if c.Status.Closed() {
		return event.Event{}, Errorf(Conflict, "the consult is already %s", c.Status)
	}
	if c.Assignee() == specialistID {
		return event.Event{}, Errorf(Conflict, "the consult is already assigned to %s", specialistID)
	}
	e := c.next(event.Assigned, a.ID, now)
	e.SpecialistID = specialistID
	return e, nil
}

// Routable reports whether routing has to find someone for the consult: nobody holds or owns it
// and it is neither escalated nor closed.
func (c *Consult) Routable() bool { return c.Status == StatusRequested }

// OfferTo records routing offering the consult to a specialist until expires.
func (c *Consult) OfferTo(specialistID string, expires, now time.Time) (event.Event, error) {
	if !c.Routable() {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.Offered, "routing", now)
	e.SpecialistID, e.ExpiresAt = specialistID, expires.UTC()
	return e, nil
}

// ExpireOffer records that the offer made at position offerPos ran out unanswered. It is a
// Conflict when that offer is no longer live or its deadline has not passed.
func (c *Consult) ExpireOffer(offerPos int, now time.Time) (event.Event, error) {
	if c.Offer == nil || c.Offer.Position != offerPos {
		return event.Event{}, Errorf(Conflict, "offer %d is no longer live", offerPos)
	}
	if now.Before(c.Offer.ExpiresAt) {
		return event.Event{}, Errorf(Conflict, "offer %d runs until %s", offerPos, c.Offer.ExpiresAt.Format(time.RFC3339))
	}
	e := c.next(event.OfferExpired, "routing", now)
	e.SpecialistID = c.Offer.SpecialistID
	return e, nil
}

// Escalate records that nobody could be found and a coordinator must act.
func (c *Consult) Escalate(reason string, now time.Time) (event.Event, error) {
	if !c.Routable() {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.Escalated, "routing", now)
	e.Reason = reason
	return e, nil
}

// MarkSeen records that the specialist holding the live offer, or the assignee, opened the
// consult. It returns false when there is nothing new to record: receipts are kept once per
// offer for the holder and once per person.
func (c *Consult) MarkSeen(a Actor, now time.Time) (event.Event, bool, error) {
	holder := c.Offer != nil && c.Offer.SpecialistID == a.ID
	if a.Role != RoleSpecialist || (!holder && c.Assignee() != a.ID) {
		return event.Event{}, false, Errorf(Forbidden, "only the specialist holding the offer or the assignee sends read receipts")
	}
	seen := slices.ContainsFunc(c.Receipts, func(r Receipt) bool { return r.UserID == a.ID })
	if (holder && c.Offer.SeenAt != nil) || (!holder && seen) {
		return event.Event{}, false, nil
	}
	return c.next(event.Seen, a.ID, now), true, nil
}

// Remind records the n-th re-alert of the offer made at position offerPos, which must still be
// live, unseen, not yet expired, and reminded n-1 times: each reminder is sent once.
func (c *Consult) Remind(offerPos, n int, now time.Time) (event.Event, error) {
	if c.Offer == nil || c.Offer.Position != offerPos || c.Offer.SeenAt != nil || !now.Before(c.Offer.ExpiresAt) ||
		c.Offer.Reminders != n-1 {
		return event.Event{}, Errorf(Conflict, "offer %d needs no reminder", offerPos)
	}
	e := c.next(event.OfferReminder, "routing", now)
	e.SpecialistID, e.Reminder = c.Offer.SpecialistID, n
	return e, nil
}
