package consult

// Offers: routing offers a consult to specialists, they accept or decline it, it expires,
// reminds whoever has not opened it, alerts the coordinators and escalates. A decline is
// recorded here; what routing does next (the next candidate, step or escalation) is decided by
// routing's dispatch on the state after it.

import (
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/event"
)

// holderCheck decides whether a may act on the live offer: Forbidden for a stranger, Conflict
// for a specialist whose offer is gone (taken, expired, withdrawn) or for a consult now closed.
func (c *Consult) holderCheck(a Actor, now time.Time) *Error {
	if a.Role != RoleSpecialist {
		return Errorf(Forbidden, "only the specialist holding the offer may answer it")
	}
	if o := c.OfferFor(a.ID); o != nil {
		if !now.Before(o.ExpiresAt) {
			return Errorf(Conflict, "the offer expired at %s", o.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	}
	if c.wasOffered(a.ID) || c.Assignee() == a.ID {
		return Errorf(Conflict, "the offer is no longer available")
	}
	return Errorf(Forbidden, "this consult was not offered to you")
}

// Accept records a specialist taking the live offer; the first accept wins and every other
// live offer is withdrawn with it.
func (c *Consult) Accept(a Actor, now time.Time) (event.Event, error) {
	if err := c.holderCheck(a, now); err != nil {
		return event.Event{}, err
	}
	e := c.next(event.Accepted, a.ID, now)
	e.Withdrawn = c.othersHolding(a.ID)
	return e, nil
}

// othersHolding lists the holders of live offers other than id.
func (c *Consult) othersHolding(id string) []string {
	return slices.DeleteFunc(c.Holders(), func(h string) bool { return h == id })
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

// Routable reports whether routing has to find someone for the consult: nobody holds or owns it
// and it is neither escalated nor closed.
func (c *Consult) Routable() bool { return c.Status == StatusRequested }

// OfferTo records routing offering the consult, at a step of its escalation policy, to one or
// more specialists at once until expires.
func (c *Consult) OfferTo(ids []string, round, step int, expires, now time.Time) (event.Event, error) {
	if !c.Routable() || len(c.Offers) > 0 {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	if len(ids) == 0 {
		return event.Event{}, Errorf(Invalid, "an offer needs a specialist")
	}
	e := c.next(event.Offered, "routing", now)
	e.SpecialistID, e.ExpiresAt, e.Round, e.Step = ids[0], expires.UTC(), round, step
	if len(ids) > 1 {
		e.SpecialistIDs = slices.Clone(ids)
	}
	return e, nil
}

// AlertCoordinators records an escalation step that asks the coordinators to act and waits
// until the step ends.
func (c *Consult) AlertCoordinators(round, step int, ends time.Time, reason string, now time.Time) (event.Event, error) {
	if !c.Routable() || len(c.Offers) > 0 {
		return event.Event{}, Errorf(Conflict, "the consult is %s", c.Status)
	}
	e := c.next(event.CoordinatorsAlerted, "routing", now)
	e.ExpiresAt, e.Round, e.Step, e.Reason = ends.UTC(), round, step, reason
	return e, nil
}

// ExpireOffer records that the offers made at position offerPos ran out unanswered. It is a
// Conflict when they are no longer live or their deadline has not passed.
func (c *Consult) ExpireOffer(offerPos int, now time.Time) (event.Event, error) {
	if len(c.Offers) == 0 || c.Offers[0].Position != offerPos {
		return event.Event{}, Errorf(Conflict, "offer %d is no longer live", offerPos)
	}
	if now.Before(c.Offers[0].ExpiresAt) {
		return event.Event{}, Errorf(Conflict, "offer %d runs until %s", offerPos, c.Offers[0].ExpiresAt.Format(time.RFC3339))
	}
	e := c.next(event.OfferExpired, "routing", now)
	e.SpecialistID = c.Offers[0].SpecialistID
	if len(c.Offers) > 1 {
		e.SpecialistIDs = c.Holders()
	}
	return e, nil
}

// Escalate records that nobody could be found and a coordinator must act. An escalated consult
// whose snooze has passed is escalated again, which sounds the coordinators' alarm again.
func (c *Consult) Escalate(reason string, now time.Time) (event.Event, error) {
	resound := c.Status == StatusEscalated && c.Escalation != nil && !c.Escalation.SnoozedUntil.IsZero() &&
		!now.Before(c.Escalation.SnoozedUntil)
	if (!c.Routable() || len(c.Offers) > 0) && !resound {
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
	o := c.OfferFor(a.ID)
	holder := o != nil
	if a.Role != RoleSpecialist || (!holder && c.Assignee() != a.ID) {
		return event.Event{}, false, Errorf(Forbidden, "only the specialist holding the offer or the assignee sends read receipts")
	}
	seen := slices.ContainsFunc(c.Receipts, func(r Receipt) bool { return r.UserID == a.ID })
	if (holder && o.SeenAt != nil) || (!holder && seen) {
		return event.Event{}, false, nil
	}
	return c.next(event.Seen, a.ID, now), true, nil
}

// Remind records the n-th re-alert of the offers made at position offerPos, which must still be
// live, not yet expired, reminded n-1 times, and unseen by someone: each reminder is sent once,
// to the holders who have not opened the consult yet.
func (c *Consult) Remind(offerPos, n int, now time.Time) (event.Event, error) {
	var unseen []string
	for _, o := range c.Offers {
		if o.SeenAt == nil {
			unseen = append(unseen, o.SpecialistID)
		}
	}
	if len(c.Offers) == 0 || c.Offers[0].Position != offerPos || len(unseen) == 0 || !now.Before(c.Offers[0].ExpiresAt) ||
		c.Offers[0].Reminders != n-1 {
		return event.Event{}, Errorf(Conflict, "offer %d needs no reminder", offerPos)
	}
	e := c.next(event.OfferReminder, "routing", now)
	e.SpecialistID, e.Reminder = unseen[0], n
	if len(c.Offers) > 1 {
		e.SpecialistIDs = unseen
	}
	return e, nil
}
