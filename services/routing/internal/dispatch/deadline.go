package dispatch

import (
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/event"
)

// maxReminderBackoff bounds how far apart reminders drift: at most 2^3 times RemindEvery.
const maxReminderBackoff = 3

// Deadlines returns the deadlines the stored event e sets. c is the consult's newest state,
// which may already be past e: a reminder is set only for offers still live and unseen.
// Deadlines are set from stored events, never by whoever decided them, so a crash between the
// two cannot leave an offer or a clock without its deadline.
func (s Settings) Deadlines(c *consult.Consult, e event.Event) []deadline.Deadline {
	var ds []deadline.Deadline
	sla := func(acceptBy, recommendBy time.Time) {
		if !acceptBy.IsZero() {
			ds = append(ds, deadline.Deadline{ConsultID: c.ID, Kind: deadline.SLAAccept, Position: e.Position, At: acceptBy})
		}
		if !recommendBy.IsZero() {
			ds = append(ds, deadline.Deadline{ConsultID: c.ID, Kind: deadline.SLARecommend, Position: e.Position, At: recommendBy})
		}
	}
	switch e.Type {
	case event.Requested:
		sla(e.Request.AcceptBy, e.Request.RecommendBy)
	case event.UrgencyChanged:
		sla(e.AcceptBy, e.RecommendBy)
	case event.SpecialtyChanged:
		if c.AcceptedAt.IsZero() { // nobody owns it now: the accept clock runs again
			sla(c.SLA.AcceptBy, time.Time{})
		}
	case event.Offered, event.CoordinatorsAlerted:
		ds = append(ds, deadline.Deadline{ConsultID: c.ID, Kind: deadline.Expire, Position: e.Position, At: e.ExpiresAt})
	case event.Snoozed:
		ds = append(ds, deadline.Deadline{ConsultID: c.ID, Kind: deadline.SnoozeEnd, Position: e.Position, At: e.Until})
	}
	if d, ok := s.reminder(c, e); ok {
		ds = append(ds, d)
	}
	return ds
}

// reminder returns the next re-alert after e, an offer or a reminder, of offers still live and
// unseen by someone, if it falls before they expire. Reminders back off: the gap doubles from
// RemindEvery up to 8 times it, so a long offer to someone asleep is not re-alerted every
// two minutes all night.
func (s Settings) reminder(c *consult.Consult, e event.Event) (deadline.Deadline, bool) {
	if (e.Type != event.Offered && e.Type != event.OfferReminder) || s.RemindEvery <= 0 || len(c.Offers) == 0 {
		return deadline.Deadline{}, false
	}
	o := c.Offers[0]
	if (e.Type == event.Offered && o.Position != e.Position) || (e.Type == event.OfferReminder && e.Position < o.Position) {
		return deadline.Deadline{}, false // the offers e was about are gone
	}
	if !slices.ContainsFunc(c.Offers, func(o consult.Offer) bool { return o.SeenAt == nil }) {
		return deadline.Deadline{}, false
	}
	n := e.Reminder + 1 // the one after the event's own, whatever has happened since
	if e.Type == event.Offered {
		n = 1
	}
	at := e.At.Add(s.RemindEvery << min(n-1, maxReminderBackoff))
	if !at.Before(o.ExpiresAt) {
		return deadline.Deadline{}, false
	}
	return deadline.Deadline{ConsultID: c.ID, Kind: deadline.Remind, Position: o.Position, N: n, At: at}, true
}

// Outcome is what a due deadline leads to: an event to append, a wait when it came before its
// time (this clock is behind the one that fired it), or a fresh routing decision (Route).
type Outcome struct {
	Event event.Event
	OK    bool
	Early time.Duration
	Route bool
}

// Fire decides what d, now due, does to c. A deadline whose cause is gone (the offer answered,
// the clock met, the snooze lifted) does nothing, so each fires at most once in effect however
// often it is delivered.
func Fire(c *consult.Consult, d deadline.Deadline, now time.Time) (Outcome, error) {
	// early says to wait when the moment at has not come yet by this clock; through it too when
	// the moment itself still counts as on time (an SLA met at its deadline).
	early := func(at time.Time, through bool) (Outcome, bool) {
		if now.After(at) || (!through && now.Equal(at)) {
			return Outcome{}, false
		}
		return Outcome{Early: at.Sub(now) + 10*time.Millisecond}, true
	}
	conflictIsNothing := func(e event.Event, err error) (Outcome, error) {
		if consult.ErrorCode(err) == consult.Conflict {
			return Outcome{}, nil
		}
		return Outcome{Event: e, OK: err == nil}, err
	}
	switch d.Kind {
	case deadline.Remind:
		return conflictIsNothing(c.Remind(d.Position, d.N, now)) // seen, answered, withdrawn or about to expire
	case deadline.SLAAccept, deadline.SLARecommend:
		if o, ok := early(d.At, true); ok {
			return o, nil
		}
		clock := consult.ClockAccept
		if d.Kind == deadline.SLARecommend {
			clock = consult.ClockRecommend
		}
		return conflictIsNothing(c.RecordBreach(clock, now)) // met, recorded, cancelled or moved
	case deadline.SnoozeEnd:
		if o, ok := early(d.At, false); ok {
			return o, nil
		}
		return Outcome{Route: true}, nil
	}
	if len(c.Offers) > 0 && c.Offers[0].Position == d.Position {
		if o, ok := early(c.Offers[0].ExpiresAt, false); ok {
			return o, nil
		}
		e, err := c.ExpireOffer(d.Position, now)
		return Outcome{Event: e, OK: err == nil}, err
	}
	if esc := c.Escalation; esc != nil && esc.Position == d.Position {
		if o, ok := early(esc.StepEndsAt, false); ok {
			return o, nil
		}
	}
	return Outcome{Route: true}, nil // a coordinators step ended, or the offer's answer came first
}
