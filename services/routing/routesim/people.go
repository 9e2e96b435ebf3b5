package main

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// answer is what a specialist does with an offer.
type answer int

const (
	ignore answer = iota
	accept
	decline
)

// profile is how one specialist behaves, drawn once from the seed.
type profile struct {
	id  string
	rng *rand.Rand // their answers, delays and working times, in the order they happen
	// accept and decline are the chances of each answer to an offer while available; they
	// ignore it otherwise.
	accept, decline float64
	// delay is the median time from seeing an emergent offer (or coming online) to answering.
	delay time.Duration
	// workFrom and workTo bound a working day online, in minutes after midnight.
	workFrom, workTo float64
	// evening, weekend and night are the chances of an evening spell online, of being online on
	// a Friday or Saturday, and of a short look at night.
	evening, weekend, night float64
	// spells and busy are how many offline spells and busy periods a working day has on
	// average; away the chance of a whole day away.
	spells, busy, away float64
	// work is the median time from taking an urgent consult to the recommendation.
	work time.Duration
	// email is the chance that the email sent to them while offline brings them online for an
	// emergent or urgent offer, after a median of wake.
	email float64
	wake  time.Duration
}

// choose draws the answer to an offer.
func (p *profile) choose(availability, urgency string) answer {
	a, d := p.accept, p.decline
	if availability == dispatch.Busy {
		a, d = a*0.5, d*1.5
	}
	if urgency == roster.Emergent {
		a = min(0.95, a*1.1)
	}
	switch u := p.rng.Float64(); {
	case u < a:
		return accept
	case u < a+d:
		return decline
	}
	return ignore
}

// urgencyScale stretches times by urgency: routine consults wait for a quiet moment.
func urgencyScale(urgency string, emergent, urgent, routine float64) float64 {
	switch urgency {
	case roster.Emergent:
		return emergent
	case roster.Urgent:
		return urgent
	}
	return routine
}

// delayFor draws how long the specialist takes to answer an offer once online.
func (p *profile) delayFor(urgency string) time.Duration {
	d := lognormal(p.rng, time.Duration(float64(p.delay)*urgencyScale(urgency, 1, 3, 10)), 0.8)
	return min(max(d, 5*time.Second), 12*time.Hour)
}

// woken draws whether the email of an offer made while they are offline brings them online,
// and after how long.
func (p *profile) woken(urgency string) (time.Duration, bool) {
	if urgency == roster.Routine || p.rng.Float64() >= p.email {
		return 0, false
	}
	return lognormal(p.rng, p.wake, 0.6), true
}

// workTime draws how long the specialist takes from taking a consult to the recommendation.
func (p *profile) workTime(urgency string) time.Duration {
	return lognormal(p.rng, time.Duration(float64(p.work)*urgencyScale(urgency, 0.5, 1, 2)), 0.6)
}

// people knows every specialist's profile and, day by day, when they are online and how
// available they said they are. A day's calendar depends only on the seed, the person and the
// date, so it does not shift when other traffic does.
type people struct {
	seed     uint64
	loc      *time.Location
	profiles map[string]*profile
	days     map[dayKey]*calendar
}

type dayKey struct {
	id   string
	date string
}

// calendar is one person's day: when they are online, busy and away.
type calendar struct {
	online, busy, away []span
}

type span struct{ from, to time.Time }

func (s span) has(t time.Time) bool { return !t.Before(s.from) && t.Before(s.to) }

func newPeople(cfg Config, r *roster.Roster) *people {
	loc := cfg.Start.Location()
	ps := &people{seed: cfg.Seed, loc: loc, profiles: map[string]*profile{}, days: map[dayKey]*calendar{}}
	for _, u := range r.Members(roster.RoleSpecialist) {
		g := stream(cfg.Seed, "profile", u.ID)
		ps.profiles[u.ID] = &profile{
			id: u.ID, rng: stream(cfg.Seed, "behaviour", u.ID),
			accept: between(g, 0.55, 0.85), decline: between(g, 0.05, 0.2),
			delay:    uniform(g, 30*time.Second, 4*time.Minute),
			workFrom: between(g, 7*60, 9*60), workTo: between(g, 15.5*60, 18.5*60),
			evening: between(g, 0.1, 0.6), weekend: between(g, 0.15, 0.5), night: between(g, 0.02, 0.15),
			spells: between(g, 0.5, 2.5), busy: between(g, 0.5, 2), away: between(g, 0.02, 0.08),
			work:  uniform(g, 30*time.Minute, 2*time.Hour),
			email: between(g, 0.2, 0.6), wake: uniform(g, 3*time.Minute, 10*time.Minute),
		}
	}
	return ps
}

// profile returns the specialist's profile, or nil for anyone else.
func (ps *people) profile(id string) *profile { return ps.profiles[id] }

// day returns id's calendar of t's date.
func (ps *people) day(id string, t time.Time) *calendar {
	l := t.In(ps.loc)
	k := dayKey{id, l.Format(time.DateOnly)}
	if c, ok := ps.days[k]; ok {
		return c
	}
	c := ps.plan(id, l)
	ps.days[k] = c
	return c
}

// plan draws id's day: a working day online with a night gap, an evening spell now and then,
// short weekends, a look at night, offline spells, busy periods and days away.
func (ps *people) plan(id string, l time.Time) *calendar {
	p := ps.profiles[id]
	c := &calendar{}
	if p == nil {
		return c
	}
	g := stream(ps.seed, "calendar", id, l.Format(time.DateOnly))
	y, m, d := l.Date()
	at := func(minutes float64) time.Time {
		return time.Date(y, m, d, 0, 0, 0, 0, ps.loc).Add(time.Duration(minutes * float64(time.Minute)))
	}
	weekend := l.Weekday() == time.Friday || l.Weekday() == time.Saturday
	from, to := p.workFrom+20*g.NormFloat64(), p.workTo+30*g.NormFloat64()
	if weekend {
		from, to = between(g, 9*60, 11*60), 0
		if g.Float64() < p.weekend {
			to = from + between(g, 120, 240)
			c.online = append(c.online, span{at(from), at(to)})
		}
	} else {
		c.online = append(c.online, span{at(from), at(to)})
		if g.Float64() < p.evening {
			e := between(g, 20*60, 21*60)
			c.online = append(c.online, span{at(e), at(min(e+between(g, 30, 120), 24*60))})
		}
	}
	if g.Float64() < p.night {
		n := between(g, 0, 5*60)
		c.online = append(c.online, span{at(n), at(n + between(g, 10, 40))})
	}
	if !weekend {
		for range poisson(g, p.spells) {
			s := between(g, from, to)
			c.online = cut(c.online, span{at(s), at(s + min(25*g.ExpFloat64(), 120))})
		}
	}
	slices.SortFunc(c.online, func(a, b span) int { return a.from.Compare(b.from) })
	if g.Float64() < p.away {
		c.away = []span{{at(0), at(24 * 60)}}
		return c
	}
	if !weekend {
		for range poisson(g, p.busy) {
			s := between(g, from, to)
			c.busy = append(c.busy, span{at(s), at(s + between(g, 45, 180))})
		}
	}
	if g.Float64() < 0.04 {
		c.away = append(c.away, span{at(13 * 60), at(24 * 60)})
	}
	return c
}

// cut removes x from the spans.
func cut(spans []span, x span) []span {
	var out []span
	for _, s := range spans {
		if !x.from.Before(s.to) || !s.from.Before(x.to) {
			out = append(out, s)
			continue
		}
		if s.from.Before(x.from) {
			out = append(out, span{s.from, x.from})
		}
		if x.to.Before(s.to) {
			out = append(out, span{x.to, s.to})
		}
	}
	return out
}

// connect puts id online from from until to: the offer's email brought them to a screen.
func (ps *people) connect(id string, from, to time.Time) {
	for from.Before(to) {
		l := from.In(ps.loc)
		y, m, d := l.Date()
		midnight := time.Date(y, m, d+1, 0, 0, 0, 0, ps.loc)
		end := to
		if midnight.Before(end) {
			end = midnight
		}
		c := ps.day(id, from)
		c.online = append(c.online, span{from, end})
		slices.SortFunc(c.online, func(a, b span) int { return a.from.Compare(b.from) })
		from = end
	}
}

// online reports whether id has a connection open at t.
func (ps *people) online(id string, t time.Time) bool {
	return slices.ContainsFunc(ps.day(id, t).online, func(s span) bool { return s.has(t) })
}

// nextOnline returns the first moment from t that id is online, within two weeks; zero if none.
func (ps *people) nextOnline(id string, t time.Time) time.Time {
	if ps.profiles[id] == nil {
		return time.Time{}
	}
	l := t.In(ps.loc)
	for d := range 15 {
		for _, s := range ps.day(id, l.AddDate(0, 0, d)).online {
			if s.to.After(t) {
				return later(s.from, t)
			}
		}
	}
	return time.Time{}
}

// availability is what id has set at t: away, busy or available.
func (ps *people) availability(id string, t time.Time) string {
	c := ps.day(id, t)
	switch {
	case slices.ContainsFunc(c.away, func(s span) bool { return s.has(t) }):
		return dispatch.Away
	case slices.ContainsFunc(c.busy, func(s span) bool { return s.has(t) }):
		return dispatch.Busy
	}
	return dispatch.Available
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stream returns a random source of its own for one purpose, named by parts.
func stream(seed uint64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(parts, "/")))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func between(g *rand.Rand, lo, hi float64) float64 { return lo + g.Float64()*(hi-lo) }

func uniform(g *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.Float64()*float64(hi-lo))
}

func lognormal(g *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*g.NormFloat64()))
}

func poisson(g *rand.Rand, mean float64) int {
	limit, n, p := math.Exp(-mean), 0, g.Float64()
	for p > limit {
		n++
		p *= g.Float64()
	}
	return n
}
