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
	e.Reason, e.Withdrawn = reason, c.Holders()
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
	e.SpecialistID, e.Withdrawn = specialistID, c.othersHolding(specialistID)
	return e, nil
}

// ChangeUrgency records a coordinator's correction of the urgency, with the SLA deadlines of the
// new urgency counted from the request; routing starts over under the new urgency's policy.
func (c *Consult) ChangeUrgency(a Actor, urgency, reason string, acceptBy, recommendBy, now time.Time) (event.Event, error) {
	if err := c.coordinatorChange(a); err != nil {
		return event.Event{}, err
	}
	if !slices.Contains(Urgencies, urgency) {
		return event.Event{}, &Error{Code: Invalid, Message: "unknown urgency", Fields: map[string]string{"urgency": "must be one of emergent, urgent, routine"}}
	}
	if urgency == c.Urgency {
		return event.Event{}, Errorf(Conflict, "the consult is already %s", urgency)
	}
	e := c.next(event.UrgencyChanged, a.ID, now)
	e.Urgency, e.Reason, e.Withdrawn = urgency, reason, c.Holders()
	e.AcceptBy, e.RecommendBy = acceptBy.UTC(), recommendBy.UTC()
	return e, nil
}

// ChangeSpecialty records a coordinator moving the consult to another specialty, which the
// caller has checked exists; an owner from the old specialty gives it up and routing starts over.
func (c *Consult) ChangeSpecialty(a Actor, specialty, reason string, now time.Time) (event.Event, error) {
	if err := c.coordinatorChange(a); err != nil {
		return event.Event{}, err
	}
	if specialty == c.Specialty {
		return event.Event{}, Errorf(Conflict, "the consult is already for %s", specialty)
	}
	e := c.next(event.SpecialtyChanged, a.ID, now)
	e.Specialty, e.Reason, e.Withdrawn = specialty, reason, c.Holders()
	return e, nil
}

// MaxSnooze bounds how long an escalation's alarm may be muted.
const MaxSnooze = 24 * time.Hour

// Snooze records a coordinator muting an escalated consult's alarm until a moment; when it
// passes, routing sounds the alarm again.
func (c *Consult) Snooze(a Actor, until time.Time, reason string, now time.Time) (event.Event, error) {
	if a.Role != RoleCoordinator {
		return event.Event{}, Errorf(Forbidden, "only a coordinator may snooze an escalation")
	}
	if c.Status != StatusEscalated {
		return event.Event{}, Errorf(Conflict, "only an escalated consult can be snoozed; this one is %s", c.Status)
	}
	if !until.After(now) || until.Sub(now) > MaxSnooze {
		return event.Event{}, &Error{Code: Invalid, Message: "a snooze lasts from a minute to a day", Fields: map[string]string{"minutes": "must be between 1 and 1440"}}
	}
	e := c.next(event.Snoozed, a.ID, now)
	e.Until, e.Reason = until.UTC(), reason
	return e, nil
}

func (c *Consult) coordinatorChange(a Actor) error {
	if a.Role != RoleCoordinator {
		return Errorf(Forbidden, "only a coordinator may change a consult's routing")
	}
	if c.Status.Closed() {
		return Errorf(Conflict, "the consult is already %s", c.Status)
	}
	return nil
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
