package main

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// What an item of the simulation's queue does when its time comes.
type kind int

const (
	arrive     kind = iota // a referrer submits a consult
	falls                  // a durable deadline falls due and routing handles it
	respond                // a specialist answers an offer
	finish                 // an owner writes the recommendation
	coordinate             // a coordinator acts on an alert or an escalation
	withdraw               // the referrer cancels
)

type item struct {
	at   time.Time
	seq  uint64
	kind kind
	id   string // the consult

	due deadline.Deadline // falls: what falls due, as the deadline stream stores it
	pos int               // respond, coordinate: the position of the offer, step or escalation

	who       string   // respond, finish: the specialist
	accept    bool     // respond: accepts, else declines
	escalated bool     // coordinate: answers an escalation, else a coordinators step
	arrival   *arrival // arrive
}

// queue orders items by time, then by when they were queued, so a seed replays one history.
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if c := q[i].at.Compare(q[j].at); c != 0 {
		return c < 0
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// sim is one simulation: the consults' histories, the queue of what happens next, and what is
// known of the people.
type sim struct {
	r        *roster.Roster
	settings dispatch.Settings
	policy   consult.Policy
	people   *people
	coords   []string
	coordRng *rand.Rand

	now   time.Time
	q     queue
	seq   uint64
	depth int

	consults map[string]*consult.Consult
	order    []string
	log      []event.Event
	// scheduled are the deadlines ever scheduled (the deadline stream drops a second one with
	// the same key); pending those not yet due.
	scheduled map[string]bool
	pending   map[string]int
	snoozePos map[string]int
	// open, held and lastActive are the load routing reads (the read model's): consults owned
	// and not closed, live offers held, and the last take or close. maxOpen is the most open.
	open       map[string]int
	held       map[string]int
	maxOpen    map[string]int
	lastActive map[string]time.Time
	// offerTarget is the step target of each offer, by consult and position.
	offerTarget map[string]string
	// unowned are the consults with neither owner nor a close.
	unowned map[string]bool

	res *Result
}

// Simulate replays cfg's traffic over r and returns what happened.
func Simulate(ctx context.Context, cfg Config, r *roster.Roster) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sim{
		r: r, people: newPeople(cfg, r), coordRng: stream(cfg.Seed, "coordinators"),
		settings: dispatch.Settings{RemindEvery: cfg.RemindEvery, Waits: cfg.Waits},
		consults: map[string]*consult.Consult{}, scheduled: map[string]bool{}, pending: map[string]int{},
		snoozePos: map[string]int{}, open: map[string]int{}, held: map[string]int{}, maxOpen: map[string]int{},
		lastActive: map[string]time.Time{}, offerTarget: map[string]string{}, unowned: map[string]bool{},
	}
	s.policy = consult.Policy{
		KnownSpecialty: r.HasSpecialty,
		CheckDetails:   r.CheckDetails,
		Triage: func(specialty, urgency string, details map[string]any) (string, []map[string]string) {
			raised, flags := r.Triage(specialty, urgency, details)
			return raised, roster.Reasons(flags)
		},
		AcceptWithin: cfg.SLA.AcceptWithin, RecommendWithin: cfg.SLA.RecommendWithin,
	}
	for _, u := range r.Members(roster.RoleCoordinator) {
		s.coords = append(s.coords, u.ID)
	}
	horizon := cfg.Start.AddDate(0, 0, cfg.Days)
	s.res = &Result{Config: cfg, Roster: r, Start: cfg.Start, Horizon: horizon, stats: map[string]*personStats{}}
	for _, a := range arrivals(cfg, r) {
		s.push(&item{at: a.at, kind: arrive, id: a.id, arrival: a})
	}
	limit := horizon.Add(cfg.Drain)
	s.now = cfg.Start
	for len(s.q) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next := s.q[0]
		if !next.at.Before(horizon) && len(s.unowned) == 0 {
			s.res.Settled = true
			break
		}
		if next.at.After(limit) {
			break
		}
		heap.Pop(&s.q)
		s.now = next.at
		if err := s.handle(next); err != nil {
			return nil, fmt.Errorf("at %s, %s: %w", s.now.Format(time.RFC3339), next.id, err)
		}
		s.checkOrphan(next.id)
	}
	if len(s.q) == 0 && len(s.unowned) == 0 {
		s.res.Settled = true
	}
	s.res.End = s.now
	for _, id := range s.order {
		c := s.consults[id]
		s.res.Consults = append(s.res.Consults, c)
		if c.Assignee() == "" && !c.Status.Closed() && c.Status != consult.StatusEscalated {
			s.res.Left = append(s.res.Left, id)
		}
	}
	s.res.Log = s.log
	s.res.MaxOpen = s.maxOpen
	return s.res, nil
}

func (s *sim) push(it *item) {
	s.seq++
	it.seq = s.seq
	heap.Push(&s.q, it)
}

func (s *sim) handle(it *item) error {
	switch it.kind {
	case arrive:
		return s.arrive(it.arrival)
	case falls:
		return s.fire(it)
	case respond:
		return s.respond(it)
	case finish:
		return s.complete(it)
	case coordinate:
		return s.coordinate(it)
	case withdraw:
		return s.cancel(it)
	}
	return fmt.Errorf("unknown item kind %d", it.kind)
}

// append stores e as the next event of its consult and hands it to routing, as the stream
// hands every stored event to the worker.
func (s *sim) append(e event.Event) error {
	if s.depth > 16 {
		return fmt.Errorf("routing of %s does not settle: still deciding after 16 events in a row", e.ConsultID)
	}
	s.depth++
	defer func() { s.depth-- }()
	before := s.consults[e.ConsultID]
	e.ID = e.ConsultID + "-" + strconv.Itoa(e.Position)
	if e.Type == event.Offered {
		s.checkOffer(before, e)
	}
	after, err := consult.Apply(before, e)
	if err != nil {
		return err
	}
	if before == nil {
		s.order = append(s.order, e.ConsultID)
	}
	s.consults[e.ConsultID] = after
	s.log = append(s.log, e)
	s.observe(before, after, e)
	return s.onEvent(after, e)
}

// onEvent is the worker's: deadlines are scheduled from the stored events, then routing decides.
func (s *sim) onEvent(c *consult.Consult, e event.Event) error {
	for _, d := range s.settings.Deadlines(c, e) {
		s.schedule(e.ConsultID, d)
	}
	return s.decide(e.ConsultID, s.next)
}

// deadlineKey names a deadline of consult id as the deadline stream does.
func deadlineKey(id string, d deadline.Deadline) string {
	d.ConsultID = id
	return d.Key()
}

// schedule queues a deadline as the deadline stream does: once per key, falling due at the
// whole second at or after its time.
func (s *sim) schedule(id string, d deadline.Deadline) {
	key := deadlineKey(id, d)
	if s.scheduled[key] {
		return
	}
	s.scheduled[key] = true
	due := d.At.Truncate(time.Second)
	if due.Before(d.At) {
		due = due.Add(time.Second)
	}
	s.queueDeadline(&item{at: due, kind: falls, id: id, due: d})
}

func (s *sim) queueDeadline(it *item) {
	s.pending[deadlineKey(it.id, it.due)]++
	s.push(it)
}

// fire handles a due deadline as the worker's onDeadline does: dispatch.Fire says what it
// does, and a deadline seen early is delivered again when it is due.
func (s *sim) fire(it *item) error {
	key := deadlineKey(it.id, it.due)
	if s.pending[key]--; s.pending[key] <= 0 {
		delete(s.pending, key)
	}
	c := s.consults[it.id]
	o, err := dispatch.Fire(c, it.due, s.now)
	switch {
	case err != nil:
		return err
	case o.Early > 0:
		again := *it
		again.at = s.now.Add(o.Early)
		s.queueDeadline(&again)
		return nil
	case o.Route:
		return s.decide(it.id, s.next)
	case o.OK:
		return s.append(o.Event)
	}
	return nil
}

// decide appends what f decides for the consult's newest state.
func (s *sim) decide(id string, f func(*consult.Consult, time.Time) (event.Event, bool, error)) error {
	e, ok, err := f(s.consults[id], s.now)
	if err != nil || !ok {
		return err
	}
	return s.append(e)
}

// next is the worker's: dispatch decides, with the facts about the people it may consider.
func (s *sim) next(c *consult.Consult, now time.Time) (event.Event, bool, error) {
	facts := dispatch.Facts{}
	if c.Routable() && len(c.Offers) == 0 {
		facts = s.facts(dispatch.People(c, s.r, now))
	}
	start := time.Now()
	e, ok, err := dispatch.Next(c, s.r, facts, s.settings, now)
	cost := time.Since(start)
	s.res.NextCosts = append(s.res.NextCosts, cost)
	if ok {
		s.res.DecisionCosts = append(s.res.DecisionCosts, cost)
	}
	return e, ok, err
}

func (s *sim) facts(ids []string) dispatch.Facts {
	out := make(dispatch.Facts, len(ids))
	for _, id := range ids {
		out[id] = dispatch.Person{Availability: s.people.availability(id, s.now), Online: s.people.online(id, s.now),
			Open: s.open[id], Held: s.held[id], LastActive: s.lastActive[id]}
	}
	return out
}

// observe keeps the load routing reads (as the read model's projection does), and sets people
// reacting to what happened.
func (s *sim) observe(before, after *consult.Consult, e event.Event) {
	id := e.ConsultID
	if before != nil {
		for _, h := range before.Holders() {
			s.held[h]--
		}
	}
	for _, h := range after.Holders() {
		s.held[h]++
	}
	switch e.Type {
	case event.Offered:
		target := s.stepTarget(after, e.Step)
		for _, who := range offeredTo(e) {
			s.offerTarget[offerKey(id, e.Position, who)] = target
			s.plan(after, who, e)
		}
	case event.Accepted:
		s.own(before, e.ActorID)
	case event.Assigned:
		s.own(before, e.SpecialistID)
	case event.Completed, event.Cancelled:
		if owner := before.Assignee(); owner != "" {
			s.open[owner]--
			s.lastActive[owner] = s.now
		}
	case event.CoordinatorsAlerted:
		if s.coordRng.Float64() < 0.5 { // the coordinators are busy; half the time the step runs out
			s.push(&item{at: s.now.Add(uniform(s.coordRng, 3*time.Minute, 15*time.Minute)), kind: coordinate, id: id, pos: e.Position})
		}
	case event.Escalated:
		s.push(&item{at: s.now.Add(uniform(s.coordRng, 3*time.Minute, 15*time.Minute)), kind: coordinate, id: id, pos: e.Position, escalated: true})
	case event.Snoozed:
		s.snoozePos[id] = e.Position
	}
	if after.Assignee() == "" && !after.Status.Closed() {
		s.unowned[id] = true
	} else {
		delete(s.unowned, id)
	}
}

func (s *sim) stepTarget(c *consult.Consult, step int) string {
	p := s.r.PolicyFor(c.Specialty, c.Urgency)
	if step < 1 || step > len(p.Steps) {
		return ""
	}
	return p.Steps[step-1].Target
}

func offerKey(id string, pos int, who string) string { return id + "." + strconv.Itoa(pos) + "." + who }

// own records who took the consult, and sets them finishing it.
func (s *sim) own(before *consult.Consult, who string) {
	if prev := before.Assignee(); prev != "" && prev != who {
		s.open[prev]--
	}
	s.open[who]++
	s.maxOpen[who] = max(s.maxOpen[who], s.open[who])
	s.lastActive[who] = s.now
	if p := s.people.profile(who); p != nil {
		s.push(&item{at: s.now.Add(p.workTime(before.Urgency)), kind: finish, id: before.ID, who: who})
	}
}

// checkOffer checks routing's promises about an offer before it is stored.
func (s *sim) checkOffer(before *consult.Consult, e event.Event) {
	target := s.stepTarget(before, e.Step)
	for _, who := range offeredTo(e) {
		u, _ := s.r.User(who)
		switch {
		case slices.Contains(before.Declined, who):
			s.violate("%s offered to %s, who declined it", e.ConsultID, who)
		case before.Escalation != nil && before.Escalation.Round == e.Round && slices.Contains(before.Escalation.RoundTried, who):
			s.violate("%s offered to %s twice in round %d", e.ConsultID, who, e.Round)
		case target == roster.TargetSpecialty && s.open[who]+s.held[who] >= u.Capacity():
			s.violate("%s offered to %s by a specialty step with %d consults open and %d offers held, of %d", e.ConsultID, who,
				s.open[who], s.held[who], u.Capacity())
		case u.Disabled || u.Role != roster.RoleSpecialist:
			s.violate("%s offered to %s, who is disabled or no specialist", e.ConsultID, who)
		case s.people.availability(who, s.now) == dispatch.Away:
			s.violate("%s offered to %s, who is away", e.ConsultID, who)
		}
	}
}

// expiry is the expire deadline an offer or a coordinators step at pos set.
func expiry(pos int) deadline.Deadline {
	return deadline.Deadline{Kind: deadline.Expire, Position: pos}
}

func (s *sim) violate(format string, args ...any) {
	s.res.Violations = append(s.res.Violations, s.now.Format(time.RFC3339)+" "+fmt.Sprintf(format, args...))
}

// checkOrphan checks, after every handled item, that the consult is owned, closed, escalated,
// or has a deadline pending that will move it on: an offer's expiry or a step's end.
func (s *sim) checkOrphan(id string) {
	c := s.consults[id]
	if c == nil {
		return
	}
	var problem string
	switch c.Status {
	case consult.StatusRequested:
		esc := c.Escalation
		if esc == nil || esc.Target != roster.TargetCoordinators || s.pending[deadlineKey(id, expiry(esc.Position))] == 0 {
			problem = "requested with no live offer and no pending step deadline"
		}
	case consult.StatusOffered:
		if len(c.Offers) == 0 || s.pending[deadlineKey(id, expiry(c.Offers[0].Position))] == 0 {
			problem = "offered with no pending expiry"
		}
	case consult.StatusEscalated:
		if esc := c.Escalation; esc != nil && s.now.Before(esc.SnoozedUntil) && s.pending[deadlineKey(id, deadline.Deadline{Kind: deadline.SnoozeEnd, Position: s.snoozePos[id]})] == 0 {
			problem = "snoozed with no pending alarm"
		}
	}
	if problem != "" && !slices.Contains(s.res.Orphans, id) {
		s.res.Orphans = append(s.res.Orphans, id)
		s.violate("orphan %s: %s", id, problem)
	}
}

// arrive submits a consult as the intake API does.
func (s *sim) arrive(a *arrival) error {
	e, err := consult.Submit(a.referrer, a.draft, a.id, "", s.policy, s.now)
	if consult.ErrorCode(err) == consult.Invalid && a.draft.Details != nil {
		s.res.InvalidDetails++
		d := a.draft
		d.Details = nil
		e, err = consult.Submit(a.referrer, d, a.id, "", s.policy, s.now)
	}
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if a.cancelAfter > 0 {
		s.push(&item{at: s.now.Add(a.cancelAfter), kind: withdraw, id: a.id})
	}
	return s.append(e)
}

// plan decides, when a specialist is offered a consult, whether and when they answer.
func (s *sim) plan(c *consult.Consult, who string, e event.Event) {
	p := s.people.profile(who)
	if p == nil {
		return
	}
	answer := p.choose(s.people.availability(who, s.now), c.Urgency)
	if answer == ignore {
		return
	}
	var at time.Time
	if wait, ok := p.woken(c.Urgency); ok && !s.people.online(who, s.now) {
		at = s.now.Add(wait)
		s.people.connect(who, at, at.Add(uniform(p.rng, 10*time.Minute, 30*time.Minute)))
	} else if at = s.people.nextOnline(who, s.now); !at.IsZero() {
		at = at.Add(p.delayFor(c.Urgency))
	} else {
		return
	}
	if at.Before(e.ExpiresAt) {
		s.push(&item{at: at, kind: respond, id: c.ID, pos: e.Position, who: who, accept: answer == accept})
	}
}

// respond is a specialist opening an offer and answering it.
func (s *sim) respond(it *item) error {
	c := s.consults[it.id]
	o := c.OfferFor(it.who)
	if o == nil || o.Position != it.pos || !s.now.Before(o.ExpiresAt) {
		return nil // taken, withdrawn or expired meanwhile
	}
	if s.people.availability(it.who, s.now) == dispatch.Away {
		return nil // they stopped work; the offer runs out
	}
	p := s.people.profile(it.who)
	if !s.people.online(it.who, s.now) {
		if at := s.people.nextOnline(it.who, s.now); !at.IsZero() {
			if at = at.Add(p.delayFor(c.Urgency)); at.Before(o.ExpiresAt) {
				again := *it
				again.at = at
				s.push(&again)
			}
		}
		return nil
	}
	a := consult.Actor{ID: it.who, Role: consult.RoleSpecialist}
	if e, ok, err := c.MarkSeen(a, s.now); err != nil {
		return err
	} else if ok {
		if err := s.append(e); err != nil {
			return err
		}
		c = s.consults[it.id]
	}
	u, _ := s.r.User(it.who)
	target := s.offerTarget[offerKey(it.id, it.pos, it.who)]
	yes := it.accept
	full := s.open[it.who] >= u.Capacity()
	if yes && full && (target == roster.TargetSpecialty || p.rng.Float64() < 0.5) {
		yes = false
		s.stat(it.who).declinedFull++
	}
	var e event.Event
	var err error
	if yes {
		e, err = c.Accept(a, s.now)
	} else {
		reason := "not my area"
		if full {
			reason = "at capacity"
		}
		e, err = c.Decline(a, reason, s.now)
	}
	if consult.ErrorCode(err) == consult.Conflict {
		s.res.LateAnswers++
		return nil
	}
	if err != nil {
		return err
	}
	if yes && full {
		s.stat(it.who).acceptedFull++
	}
	return s.append(e)
}

// complete is an owner writing the recommendation, once online.
func (s *sim) complete(it *item) error {
	c := s.consults[it.id]
	if c.Assignee() != it.who || (c.Status != consult.StatusAccepted && c.Status != consult.StatusInfoRequested) {
		return nil
	}
	if !s.people.online(it.who, s.now) {
		if at := s.people.nextOnline(it.who, s.now); !at.IsZero() {
			again := *it
			again.at = at.Add(uniform(s.people.profile(it.who).rng, 5*time.Minute, time.Hour))
			s.push(&again)
		}
		return nil
	}
	e, err := c.Complete(consult.Actor{ID: it.who, Role: consult.RoleSpecialist}, "synthetic recommendation", s.now)
	if err != nil {
		return err
	}
	return s.append(e)
}

// coordinate is a coordinator answering an alert or an escalation: they assign the consult to
// the least loaded specialist of its specialty, or, for an escalation, sometimes snooze it.
func (s *sim) coordinate(it *item) error {
	c := s.consults[it.id]
	if c.Assignee() != "" || c.Status.Closed() {
		return nil
	}
	a := consult.Actor{ID: "sim-coordinator", Role: consult.RoleCoordinator}
	if len(s.coords) > 0 {
		a.ID = s.coords[s.coordRng.IntN(len(s.coords))]
	}
	inStep := c.Status == consult.StatusRequested && c.Escalation != nil &&
		c.Escalation.Target == roster.TargetCoordinators && c.Escalation.Position == it.pos
	switch {
	case it.escalated && c.Status == consult.StatusEscalated:
		if who := s.leastLoaded(c); who != "" && s.coordRng.Float64() < 0.8 {
			return s.assign(c, a, who)
		}
		until := s.now.Add(uniform(s.coordRng, 15*time.Minute, time.Hour)).Truncate(time.Minute)
		e, err := c.Snooze(a, until, "calling the on-call team", s.now)
		if err != nil {
			return err
		}
		return s.append(e)
	case !it.escalated && inStep:
		if who := s.leastLoaded(c); who != "" {
			return s.assign(c, a, who)
		}
	}
	return nil
}

func (s *sim) assign(c *consult.Consult, a consult.Actor, who string) error {
	e, err := c.Assign(a, who, s.now)
	if err != nil {
		return err
	}
	return s.append(e)
}

// leastLoaded is who a coordinator picks: an enabled specialist of the specialty, at work
// rather than away, who has not declined it, with the fewest open consults, online first.
func (s *sim) leastLoaded(c *consult.Consult) string {
	var ids []string
	for _, u := range s.r.Members(roster.RoleSpecialist) {
		if slices.Contains(u.Specialties, c.Specialty) {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	away := func(id string) bool { return s.people.availability(id, s.now) == dispatch.Away }
	slices.SortFunc(ids, func(x, y string) int {
		return cmp.Or(
			cmpBool(away(x), away(y)),
			cmpBool(slices.Contains(c.Declined, x), slices.Contains(c.Declined, y)),
			cmp.Compare(s.open[x], s.open[y]),
			cmpBool(!s.people.online(x, s.now), !s.people.online(y, s.now)),
			cmp.Compare(x, y),
		)
	})
	return ids[0]
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// cancel is the referrer withdrawing a consult nobody has taken yet.
func (s *sim) cancel(it *item) error {
	c := s.consults[it.id]
	if c.Assignee() != "" || c.Status.Closed() {
		return nil
	}
	referrer := consult.Actor{ID: c.ReferrerID, Role: consult.RoleReferrer, ClinicID: c.ClinicID}
	e, err := c.Cancel(referrer, "the patient was transferred", s.now)
	if err != nil {
		return err
	}
	return s.append(e)
}

func (s *sim) stat(who string) *personStats {
	st := s.res.stats[who]
	if st == nil {
		st = &personStats{}
		s.res.stats[who] = st
	}
	return st
}

// offeredTo lists who an Offered event offers the consult to, or whose offers an OfferExpired
// event ends.
func offeredTo(e event.Event) []string {
	if len(e.SpecialistIDs) > 0 {
		return e.SpecialistIDs
	}
	return []string{e.SpecialistID}
}
