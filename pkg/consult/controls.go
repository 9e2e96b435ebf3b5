package consult

// Controls: what a coordinator (and, for cancelling, the referring clinic) may change about a
// consult's routing: assign, cancel, urgency, specialty and snooze.

import (
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/problem"
)

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
		return event.Event{}, InvalidFields("unknown urgency", map[string]problem.Problem{"urgency": problem.OneOf(Urgencies...)})
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
		return event.Event{}, InvalidFields("a snooze lasts from a minute to a day", map[string]problem.Problem{"minutes": problem.OutOfRange(1, 1440)})
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
