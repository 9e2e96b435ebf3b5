package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
)

// Result is what one simulation did: every consult's final state and the whole event log,
// with what the simulation measured and checked on the way.
type Result struct {
	Config Config
	Roster *roster.Roster
	// Start and Horizon bound the arrivals; End is the last simulated moment.
	Start, Horizon, End time.Time
	// Settled is true when the simulation stopped because every consult was owned or closed,
	// not at the drain limit.
	Settled bool
	// Consults are the final states, in order of arrival; Log every event, in order of append.
	Consults []*consult.Consult
	Log      []event.Event
	// NextCosts is the wall-clock time of every dispatch.Next call, DecisionCosts of those that
	// decided something.
	NextCosts, DecisionCosts []time.Duration
	// MaxOpen is the most consults each specialist owned at once.
	MaxOpen map[string]int
	// Orphans are the consults found, after some handled event, requested with no live offer
	// and no pending step deadline (or offered with no pending expiry); Left those with neither
	// owner nor escalation at the end.
	Orphans, Left []string
	// Violations describe every broken promise of routing (orphans included).
	Violations []string
	// LateAnswers counts answers that came when the offer was already gone; InvalidDetails
	// the drafts whose answers the form rejected (submitted without them).
	LateAnswers, InvalidDetails int

	stats map[string]*personStats
}

// personStats are what the simulated people did beyond what the events say: offers declined
// for being at capacity, and on-call offers accepted past it.
type personStats struct {
	declinedFull, acceptedFull int
}

// Err fails a simulation that left a consult without owner or escalation or broke another of
// routing's promises.
func (r *Result) Err() error {
	var errs []error
	if len(r.Left) > 0 {
		errs = append(errs, fmt.Errorf("%d consult(s) left with neither owner nor escalation: %s", len(r.Left), list(r.Left)))
	}
	if len(r.Orphans) > 0 {
		errs = append(errs, fmt.Errorf("%d orphaned consult(s): %s", len(r.Orphans), list(r.Orphans)))
	}
	if n := len(r.Violations) - len(r.Orphans); n > 0 {
		errs = append(errs, fmt.Errorf("%d broken routing promise(s), first: %s", n, r.Violations[0]))
	}
	return errors.Join(errs...)
}

func list(ids []string) string {
	if len(ids) > 10 {
		return strings.Join(ids[:10], ", ") + ", ..."
	}
	return strings.Join(ids, ", ")
}

// figures are the report's numbers, read off the final states and the event log.
type figures struct {
	byUrgency  map[string]*urgencyFigures
	people     map[string]*personFigures
	firstOffer []time.Duration
	// Offers: made (one per specialist), offer events, parallel ones, declined, expired
	// unanswered, withdrawn when someone else took the consult, reminders, opened.
	offers, offerEvents, parallel, declined, expired, withdrawn, reminders, seen int
	// Escalation: events, those sounding again after a snooze, coordinator alerts,
	// assignments and snoozes, SLA breaches recorded.
	escalations, resounded, alerts, assigned, snoozes, breachAccept, breachRecommend int
	// Final states.
	owned, completed, escalatedEnd, cancelled, open int
}

type urgencyFigures struct {
	consults, requested, raised, cancelled int
	accept, owner                          []time.Duration
	withinSLA, slaCounted                  int
	escalated, alerted                     int
}

type personFigures struct {
	offered, accepted, declined, ignored, withdrawn, assigned int
}

func (r *Result) figures() *figures {
	f := &figures{byUrgency: map[string]*urgencyFigures{}, people: map[string]*personFigures{}}
	for _, u := range consult.Urgencies {
		f.byUrgency[u] = &urgencyFigures{}
	}
	person := func(id string) *personFigures {
		p := f.people[id]
		if p == nil {
			p = &personFigures{}
			f.people[id] = p
		}
		return p
	}
	for _, c := range r.Consults {
		u := f.byUrgency[c.Urgency]
		u.consults++
		if len(c.RedFlags) > 0 {
			u.raised++
			f.byUrgency[c.RequestedUrgency].requested++
		} else {
			u.requested++
		}
		var accepted, offered, escalated, alerted bool
		for _, e := range c.Events {
			switch e.Type {
			case event.Offered:
				if !offered {
					f.firstOffer = append(f.firstOffer, e.At.Sub(c.CreatedAt))
				}
				offered = true
			case event.Accepted:
				if !accepted {
					u.accept = append(u.accept, e.At.Sub(c.CreatedAt))
				}
				accepted = true
			case event.Escalated:
				escalated = true
			case event.CoordinatorsAlerted:
				alerted = true
			}
		}
		if escalated {
			u.escalated++
		}
		if alerted {
			u.alerted++
		}
		if !c.AcceptedAt.IsZero() {
			u.owner = append(u.owner, c.AcceptedAt.Sub(c.CreatedAt))
		}
		if c.Status != consult.StatusCancelled || !c.AcceptedAt.IsZero() {
			u.slaCounted++
			if !c.AcceptedAt.IsZero() && !c.AcceptedAt.After(c.SLA.AcceptBy) {
				u.withinSLA++
			}
		}
		switch {
		case c.Status == consult.StatusCancelled:
			u.cancelled++
			f.cancelled++
		case c.Status == consult.StatusCompleted:
			f.completed++
		case c.Assignee() != "":
			f.owned++
		case c.Status == consult.StatusEscalated:
			f.escalatedEnd++
		default:
			f.open++
		}
	}
	resound := map[string]bool{}
	for _, e := range r.Log {
		switch e.Type {
		case event.Offered:
			f.offerEvents++
			ids := offeredTo(e)
			if len(ids) > 1 {
				f.parallel++
			}
			f.offers += len(ids)
			for _, id := range ids {
				person(id).offered++
			}
		case event.Declined:
			f.declined++
			person(e.SpecialistID).declined++
		case event.OfferExpired:
			for _, id := range offeredTo(e) {
				f.expired++
				person(id).ignored++
			}
		case event.Accepted, event.Assigned, event.Cancelled:
			f.withdrawn += len(e.Withdrawn)
			for _, id := range e.Withdrawn {
				person(id).withdrawn++
			}
			switch e.Type {
			case event.Accepted:
				person(e.ActorID).accepted++
			case event.Assigned:
				person(e.SpecialistID).assigned++
				f.assigned++
			}
		case event.Escalated:
			f.escalations++
			if resound[e.ConsultID] {
				f.resounded++
			}
			resound[e.ConsultID] = true
		case event.CoordinatorsAlerted:
			f.alerts++
		case event.Snoozed:
			f.snoozes++
		case event.SLABreached:
			if e.Clock == consult.ClockAccept {
				f.breachAccept++
			} else {
				f.breachRecommend++
			}
		case event.OfferReminder:
			f.reminders++
		case event.Seen:
			f.seen++
		}
	}
	return f
}

// Print writes the report as plain-text tables.
func (r *Result) Print(w io.Writer) {
	f := r.figures()
	cfg := r.Config
	specialists := r.Roster.Members(roster.RoleSpecialist)
	fmt.Fprintf(w, "routesim: %d day(s) from %s (%s), seed %d, %g consults/week expected, %d specialists in %d specialties\n",
		cfg.Days, r.Start.Format(time.DateOnly), r.Start.Location(), cfg.Seed, cfg.Volume, len(specialists), len(r.Roster.Specialties))
	stop := "every consult owned or closed"
	if !r.Settled {
		stop = "the drain limit"
	}
	fmt.Fprintf(w, "arrivals until %s; simulated until %s (%s); %d events\n\n",
		r.Horizon.Format("2006-01-02 15:04"), r.End.In(r.Start.Location()).Format("2006-01-02 15:04"), stop, len(r.Log))

	tw := table(w)
	fmt.Fprintln(tw, "CONSULTS\turgency\tsubmitted as\traised by red flags\tcancelled")
	total := urgencyFigures{}
	for _, u := range consult.Urgencies {
		b := f.byUrgency[u]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", u, b.consults, b.requested, b.raised, b.cancelled)
		total.consults += b.consults
		total.requested += b.requested
		total.raised += b.raised
		total.cancelled += b.cancelled
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\n", total.consults, total.requested, total.raised, total.cancelled)
	tw.Flush()
	fmt.Fprintf(w, "at the end: %d completed, %d owned and open, %d escalated without owner, %d cancelled, %d other\n\n",
		f.completed, f.owned, f.escalatedEnd, f.cancelled, f.open)

	tw = table(w)
	fmt.Fprintln(tw, "ROUTING\tp50\tp99\tn")
	fmt.Fprintf(tw, "time to first offer (simulated)\t%s\t%s\t%d\n", dur(pct(f.firstOffer, 50)), dur(pct(f.firstOffer, 99)), len(f.firstOffer))
	fmt.Fprintf(tw, "dispatch.Next, every call (wall clock)\t%s\t%s\t%d\n", wall(pct(r.NextCosts, 50)), wall(pct(r.NextCosts, 99)), len(r.NextCosts))
	fmt.Fprintf(tw, "dispatch.Next, calls that decided (wall clock)\t%s\t%s\t%d\n", wall(pct(r.DecisionCosts, 50)), wall(pct(r.DecisionCosts, 99)), len(r.DecisionCosts))
	tw.Flush()
	fmt.Fprintln(w)

	tw = table(w)
	fmt.Fprintln(tw, "TIME TO ACCEPT\tspecialist accepted\tp50\tp90\tp99\towner incl. coordinator\tp50\tp90\tp99\tSLA\twithin SLA")
	for _, u := range consult.Urgencies {
		b := f.byUrgency[u]
		within := "-"
		if b.slaCounted > 0 {
			within = fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(b.withinSLA)/float64(b.slaCounted), b.withinSLA, b.slaCounted)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", u,
			len(b.accept), dur(pct(b.accept, 50)), dur(pct(b.accept, 90)), dur(pct(b.accept, 99)),
			len(b.owner), dur(pct(b.owner, 50)), dur(pct(b.owner, 90)), dur(pct(b.owner, 99)),
			dur(cfg.SLA.AcceptWithin[u]), within)
	}
	tw.Flush()
	fmt.Fprintln(w, "within SLA: owned (accepted or assigned) by the accept-by deadline, of the consults not cancelled first")
	fmt.Fprintf(w, "SLA breaches recorded: accept %d, recommend %d\n\n", f.breachAccept, f.breachRecommend)

	tw = table(w)
	fmt.Fprintln(tw, "ESCALATIONS\tconsults escalated\tshare\tconsults with coordinator alerts")
	for _, u := range consult.Urgencies {
		b := f.byUrgency[u]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", u, b.escalated, share(b.escalated, b.consults), b.alerted)
	}
	tw.Flush()
	fmt.Fprintf(w, "escalation events %d (%d sounded again after a snooze), coordinator alerts %d, coordinator assignments %d, snoozes %d\n\n",
		f.escalations, f.resounded, f.alerts, f.assigned, f.snoozes)

	fmt.Fprintf(w, "OFFERS made %d in %d offer events (%d parallel); declined %d; expired unanswered %d; withdrawn when another took the consult %d\n",
		f.offers, f.offerEvents, f.parallel, f.declined, f.expired, f.withdrawn)
	fmt.Fprintf(w, "reminders %d, offers opened %d, answers too late %d, drafts resubmitted without invalid details %d\n\n",
		f.reminders, f.seen, r.LateAnswers, r.InvalidDetails)

	tw = table(w)
	fmt.Fprintln(tw, "SPECIALIST\tspecialties\toffered\taccepted\t(past capacity)\tdeclined\t(at capacity)\tignored\twithdrawn\tassigned\tmax open\tcapacity")
	for _, u := range specialists {
		p := f.people[u.ID]
		if p == nil {
			p = &personFigures{}
		}
		st := r.stats[u.ID]
		if st == nil {
			st = &personStats{}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", u.ID, strings.Join(u.Specialties, ","),
			p.offered, p.accepted, st.acceptedFull, p.declined, st.declinedFull, p.ignored, p.withdrawn, p.assigned, r.MaxOpen[u.ID], u.Capacity())
	}
	tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintf(w, "INVARIANTS consults left with neither owner nor escalation: %d; orphans found while running: %d; broken routing promises: %d\n",
		len(r.Left), len(r.Orphans), len(r.Violations)-len(r.Orphans))
	for i, v := range r.Violations {
		if i == 20 {
			fmt.Fprintf(w, "  ... and %d more\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintln(w, "  "+v)
	}
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// pct is the p-th percentile of ds by nearest rank; 0 when there are none.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// dur writes a simulated duration to the second, in the two largest units.
func dur(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// wall writes a wall-clock duration in microseconds.
func wall(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

func share(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// Trace writes one consult's timeline, in hospital time.
func (r *Result) Trace(w io.Writer, id string) {
	fmt.Fprintf(w, "\nTRACE %s\n", id)
	for _, e := range r.Log {
		if e.ConsultID != id {
			continue
		}
		line := fmt.Sprintf("  %s  %-30s", e.At.In(r.Start.Location()).Format("01-02 15:04:05"), e.Type)
		switch e.Type {
		case event.Requested:
			line += fmt.Sprintf(" %s %s by %s", e.Request.Urgency, e.Request.Specialty, e.ActorID)
		case event.Offered:
			line += fmt.Sprintf(" to %s, round %d step %d, until %s", strings.Join(offeredTo(e), ","), e.Round, e.Step,
				e.ExpiresAt.In(r.Start.Location()).Format("15:04:05"))
		case event.CoordinatorsAlerted:
			line += fmt.Sprintf(" round %d step %d, until %s", e.Round, e.Step, e.ExpiresAt.In(r.Start.Location()).Format("15:04:05"))
		case event.OfferExpired, event.OfferReminder:
			line += " " + strings.Join(offeredTo(e), ",")
		case event.Accepted, event.Seen, event.Completed:
			line += " " + e.ActorID
		case event.Declined, event.Assigned:
			line += " " + e.SpecialistID
		case event.Snoozed:
			line += " until " + e.Until.In(r.Start.Location()).Format("15:04:05")
		case event.SLABreached:
			line += " " + e.Clock
		}
		if e.Reason != "" {
			line += " (" + e.Reason + ")"
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}
