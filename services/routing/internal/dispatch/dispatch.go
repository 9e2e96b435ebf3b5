// Package dispatch decides where a consult goes next: the next on-call specialist who has not
// had it yet, for how long, and escalation to the coordinators when nobody is left. It is the
// part of routing that a fuller engine replaces; it knows nothing of transports.
package dispatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
)

// Policy is how long an offer stays open, per urgency, and how often an unseen offer is
// re-alerted while it is open.
type Policy struct {
	OfferFor    map[string]time.Duration
	RemindEvery time.Duration
}

// DefaultPolicy is offers open emergent 2 minutes, urgent 15 minutes, routine 4 hours, with a
// reminder every 2 minutes while unseen.
func DefaultPolicy() Policy {
	return Policy{OfferFor: map[string]time.Duration{"emergent": 2 * time.Minute, "urgent": 15 * time.Minute, "routine": 4 * time.Hour},
		RemindEvery: 2 * time.Minute}
}

// NextReminder returns when the offer should be re-alerted after a moment from, if that is
// before the offer expires.
func (p Policy) NextReminder(o *consult.Offer, from time.Time) (time.Time, bool) {
	if p.RemindEvery <= 0 || o == nil || o.SeenAt != nil {
		return time.Time{}, false
	}
	at := from.Add(p.RemindEvery)
	return at, at.Before(o.ExpiresAt)
}

// Candidates returns, in order, who should be offered a consult of specialty at t: the primary
// on call, then the secondary, leaving out anyone unknown or disabled.
func Candidates(r *roster.Roster, specialty string, t time.Time) []string {
	oc, ok := r.OnCallFor(specialty, t)
	if !ok {
		return nil
	}
	var out []string
	for _, id := range []string{oc.PrimaryID, oc.SecondaryID} {
		if u, ok := r.User(id); ok && !u.Disabled && u.Role == consult.RoleSpecialist && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Next returns the event routing appends for c now, or false when routing has nothing to do:
// an offer to the first candidate not yet offered the consult, else an escalation.
func Next(c *consult.Consult, candidates []string, p Policy, now time.Time) (event.Event, bool, error) {
	if !c.Routable() {
		return event.Event{}, false, nil
	}
	for _, id := range candidates {
		if !slices.Contains(c.Offered, id) {
			window, ok := p.OfferFor[c.Urgency]
			if !ok {
				return event.Event{}, false, fmt.Errorf("dispatch %s: no offer window for urgency %q", c.ID, c.Urgency)
			}
			e, err := c.OfferTo(id, now.Add(window), now)
			return e, err == nil, err
		}
	}
	reason := "nobody on call accepted in time"
	if len(candidates) == 0 {
		reason = "nobody is on call for " + c.Specialty
	}
	e, err := c.Escalate(reason, now)
	return e, err == nil, err
}
