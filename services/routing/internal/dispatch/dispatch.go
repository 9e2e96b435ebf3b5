// Package dispatch decides where a consult goes next under its escalation policy: which step of
// the policy applies, who its candidates are and in what order, for how long they hold the
// offer, when to alert the coordinators, and when to escalate. It is pure: the state of the
// consult, the roster and the facts about people (availability, presence, load) come in, and
// the event to append comes out. It knows nothing of transports.
package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
)

// Availability states a specialist sets.
const (
	Available = "available"
	Busy      = "busy"
	Away      = "away"
)

// Settings are routing's own settings beside the roster's policies.
type Settings struct {
	// Waits, when set for an urgency, replaces the wait of every step of that urgency's
	// policies: for drills and tests that must not take minutes.
	Waits map[string]time.Duration
	// RemindEvery is how soon an unseen live offer is first re-alerted; the gap then doubles.
	RemindEvery time.Duration
}

// DefaultSettings re-alerts unseen offers every 2 minutes and keeps the policies' waits.
func DefaultSettings() Settings { return Settings{RemindEvery: 2 * time.Minute} }

// Person is what routing knows of a specialist at the moment it decides.
type Person struct {
	// Availability is what the specialist set: Available (also when empty), Busy or Away.
	Availability string
	// Online is true while any stream connection of theirs is open.
	Online bool
	// Open counts the consults they own that are not closed; Held the live offers they hold.
	Open, Held int
	// LastActive is when they last took or closed a consult; zero if never.
	LastActive time.Time
}

// Facts are the people routing may consider, by user id. Someone missing is taken as available,
// offline, with nothing open.
type Facts map[string]Person

// People returns the ids whose facts Next may read for c at now: the specialists of its
// specialty, whoever is on call for it (an override may name someone from another specialty),
// and the people its policy names.
func People(c *consult.Consult, r *roster.Roster, now time.Time) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, u := range r.Members(consult.RoleSpecialist) {
		if slices.Contains(u.Specialties, c.Specialty) {
			add(u.ID)
		}
	}
	if oc, ok := r.OnCallFor(c.Specialty, now); ok {
		add(oc.PrimaryID)
		add(oc.SecondaryID)
	}
	for _, st := range r.PolicyFor(c.Specialty, c.Urgency).Steps {
		add(st.UserID)
	}
	return ids
}

// Next returns the event routing appends for c now, or false when routing has nothing to do.
//
// A consult nobody holds is taken through its policy's steps in order, round after round: an
// offer step offers it to its best eligible candidate (to every eligible candidate at once when
// the step is parallel), each offer open for the step's wait; a step whose offers all ended
// (declined or expired) offers it to the step's next candidate or moves on; a step with nobody
// eligible is passed over; a coordinators step alerts them and waits. After the last step of the
// last round the consult is escalated. An escalated consult whose snooze passed is escalated
// again, which sounds the alarm again.
func Next(c *consult.Consult, r *roster.Roster, facts Facts, s Settings, now time.Time) (event.Event, bool, error) {
	if c.Status == consult.StatusEscalated {
		if esc := c.Escalation; esc == nil || esc.SnoozedUntil.IsZero() || now.Before(esc.SnoozedUntil) {
			return event.Event{}, false, nil
		}
		return decided(c.Escalate("the snooze ended and nobody has taken the consult", now))
	}
	if !c.Routable() || len(c.Offers) > 0 {
		return event.Event{}, false, nil
	}
	p := r.PolicyFor(c.Specialty, c.Urgency)
	if len(p.Steps) == 0 {
		return decided(c.Escalate("no escalation policy applies to "+c.Specialty, now))
	}
	rounds := 1 + p.Repeat
	round, step := 1, 1
	var triedStep, triedRound []string
	if esc := c.Escalation; esc != nil {
		if esc.Target == roster.TargetCoordinators && now.Before(esc.StepEndsAt) {
			return event.Event{}, false, nil // the coordinators have until the step ends
		}
		round, step, triedStep, triedRound = esc.Round, esc.Step, esc.Tried, esc.RoundTried
		switch {
		case round < 1 || step < 1: // offered before steps were recorded: the first step, once more
			round, step = 1, 1
		case esc.Target == roster.TargetCoordinators || step > len(p.Steps):
			round, step, triedStep = advance(round, step, len(p.Steps))
		}
	}
	g := guide{c: c, r: r, facts: facts, now: now}
	for round <= rounds {
		if step == 1 && (c.Escalation == nil || c.Escalation.Round != round) {
			triedRound = nil // a new round offers everyone again, except who declined
		}
		st := p.Steps[step-1]
		wait := time.Duration(st.Wait)
		if w := s.Waits[c.Urgency]; w > 0 {
			wait = w
		}
		if st.Target == roster.TargetCoordinators {
			return decided(c.AlertCoordinators(round, step, now.Add(wait),
				fmt.Sprintf("step %d of round %d: the coordinators are asked to assign", step, round), now))
		}
		cands := slices.DeleteFunc(g.candidates(string(st.Target), st.UserID), func(id string) bool {
			return slices.Contains(triedStep, id) || slices.Contains(triedRound, id)
		})
		if len(cands) > 0 {
			if !st.Parallel {
				cands = cands[:1]
			}
			return decided(c.OfferTo(cands, round, step, now.Add(wait), now))
		}
		round, step, triedStep = advance(round, step, len(p.Steps))
	}
	reason := fmt.Sprintf("nobody accepted in time after %d round(s) of the escalation policy", rounds)
	if len(c.Offered) == 0 {
		reason = "nobody could be offered the consult: no eligible specialist is on call for " + c.Specialty
	}
	return decided(c.Escalate(reason, now))
}

// advance returns the step after (round, step), with nobody yet tried in it.
func advance(round, step, steps int) (int, int, []string) {
	if step >= steps {
		return round + 1, 1, nil
	}
	return round, step + 1, nil
}

func decided(e event.Event, err error) (event.Event, bool, error) { return e, err == nil, err }

// guide finds and orders the candidates of a step.
type guide struct {
	c     *consult.Consult
	r     *roster.Roster
	facts Facts
	now   time.Time
}

// candidates returns who a step of target may offer the consult to, best first. Nobody is
// offered it after declining it, nobody away is offered it, and a step over the whole specialty
// leaves out whoever already owns or is being offered as many consults as they can hold.
func (g guide) candidates(target, userID string) []string {
	oc, _ := g.r.OnCallFor(g.c.Specialty, g.now)
	var ids []string
	switch target {
	case roster.TargetPrimary:
		ids = []string{oc.PrimaryID}
	case roster.TargetSecondary:
		ids = []string{oc.SecondaryID}
	case roster.TargetPerson:
		ids = []string{userID}
	case roster.TargetSpecialty:
		for _, u := range g.r.Members(consult.RoleSpecialist) {
			if f := g.facts[u.ID]; slices.Contains(u.Specialties, g.c.Specialty) && f.Open+f.Held < u.Capacity() {
				ids = append(ids, u.ID)
			}
		}
	}
	ids = slices.DeleteFunc(ids, func(id string) bool {
		u, ok := g.r.User(id)
		return !ok || u.Disabled || u.Role != consult.RoleSpecialist || slices.Contains(g.c.Declined, id) ||
			g.facts[id].Availability == Away
	})
	onCall := func(id string) bool { return id != "" && (id == oc.PrimaryID || id == oc.SecondaryID) }
	langs := g.languages()
	slices.SortStableFunc(ids, func(a, b string) int {
		fa, fb := g.facts[a], g.facts[b]
		return cmp.Or(
			first(onCall(a), onCall(b)),
			first(fa.ready(), fb.ready()),
			first(g.speaks(a, langs), g.speaks(b, langs)),
			cmp.Compare(fa.Open, fb.Open),
			fa.LastActive.Compare(fb.LastActive), // longest idle first; never active is idlest
			strings.Compare(a, b),
		)
	})
	return ids
}

// ready reports whether the person can answer now: available and connected.
func (p Person) ready() bool {
	return (p.Availability == "" || p.Availability == Available) && p.Online
}

// first orders true before false.
func first(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// languages returns the languages of the consult: the one it was written in, else those of the
// referrer, as primary subtags.
func (g guide) languages() []string {
	if g.c.Language != "" {
		return []string{primaryTag(g.c.Language)}
	}
	u, _ := g.r.User(g.c.ReferrerID)
	out := make([]string, len(u.Languages))
	for i, l := range u.Languages {
		out[i] = primaryTag(l)
	}
	return out
}

func (g guide) speaks(id string, langs []string) bool {
	u, _ := g.r.User(id)
	return slices.ContainsFunc(u.Languages, func(l string) bool { return slices.Contains(langs, primaryTag(l)) })
}

func primaryTag(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return base
}
