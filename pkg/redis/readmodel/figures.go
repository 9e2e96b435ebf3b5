package readmodel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// ErrRebuilding is the answer of a read that needs the whole read model while the projector is
// rebuilding it from the stream (or Redis lost it during the read). Retry in a moment.
var ErrRebuilding = errors.New("the read model is being rebuilt from the stream")

// Figures are the counts and response times of a set of consults: what the coordinators'
// dashboard shows for a period.
type Figures struct {
	// Count is how many consults were requested in the period.
	Count int `json:"count"`
	// BySpecialty and ByUrgency split Count by the consults' current specialty and urgency.
	// ByUrgency names every urgency, with 0 for those not seen.
	BySpecialty map[string]int `json:"by_specialty"`
	ByUrgency   map[string]int `json:"by_urgency"`
	// Accepted is how many have been taken by a specialist (accepted or assigned).
	Accepted int `json:"accepted"`
	// MedianAcceptSeconds and P90AcceptSeconds are the median and 90th percentile (nearest
	// rank) of accepted_at − created_at over the accepted consults, in seconds to a tenth;
	// nil when none was accepted.
	MedianAcceptSeconds *float64 `json:"median_accept_seconds"`
	P90AcceptSeconds    *float64 `json:"p90_accept_seconds"`
	// WithinSLAPercent is the share, in percent to a tenth, of the consults whose accept-by
	// deadline has been decided that were accepted by it; nil when none has been decided.
	// Decided means accepted, or the deadline passed while the consult was still open (one
	// cancelled before its deadline missed nothing, as in the consult's own sla.breached).
	WithinSLAPercent *float64 `json:"within_sla_percent"`
	// Escalated is how many ever escalated to the coordinators.
	Escalated int `json:"escalated"`
	// Open is how many are neither completed nor cancelled.
	Open int `json:"open"`
}

// DayFigures are the counts of the consults requested on one civil day.
type DayFigures struct {
	// Date is the civil day, YYYY-MM-DD, in the report's zone.
	Date     string `json:"date"`
	Count    int    `json:"count"`
	Accepted int    `json:"accepted"`
	// WithinSLA is how many were accepted by their accept-by deadline.
	WithinSLA int `json:"within_sla"`
}

// Report is the figures of today and of the last Days civil days (today included) in Zone, by
// the day the consults were requested.
type Report struct {
	Today    Figures `json:"today"`
	LastDays Figures `json:"last_days"`
	Days     int     `json:"days"`
	// ByDay has one entry per day of the period, oldest first, the last one today.
	ByDay []DayFigures `json:"by_day"`
	Zone  string       `json:"zone"`
}

// Tally accumulates a Report from consults fed to it one at a time, so a long period need not be
// held in memory: it keeps counts, and one duration per accepted consult for the percentiles.
type Tally struct {
	now         time.Time
	from, today time.Time
	days        map[string]int // date → index in report.ByDay
	report      Report
	todayAcc    figuresAcc
	lastAcc     figuresAcc
}

// NewTally starts the report, as of now, of the days civil days in loc that end with now's day.
func NewTally(now time.Time, days int, loc *time.Location) *Tally {
	days = max(days, 1)
	y, m, d := now.In(loc).Date()
	t := &Tally{now: now, days: make(map[string]int, days),
		from:   time.Date(y, m, d-(days-1), 0, 0, 0, 0, loc),
		today:  time.Date(y, m, d, 0, 0, 0, 0, loc),
		report: Report{Days: days, ByDay: make([]DayFigures, days), Zone: loc.String()}}
	for i := range days {
		// time.Date normalises the day of the month; a civil day's midnight always exists
		// in the zones this serves (Israel's clocks change at 02:00).
		date := time.Date(y, m, d-(days-1)+i, 0, 0, 0, 0, loc).Format(time.DateOnly)
		t.days[date] = i
		t.report.ByDay[i].Date = date
	}
	t.todayAcc.init()
	t.lastAcc.init()
	return t
}

// From is the start of the period: midnight in the zone, days−1 days before today's.
func (t *Tally) From() time.Time { return t.from }

// Add counts c if it was requested within the period; other consults are ignored.
func (t *Tally) Add(c *consult.Consult) {
	if c.CreatedAt.Before(t.from) {
		return
	}
	i, ok := t.days[c.CreatedAt.In(t.from.Location()).Format(time.DateOnly)]
	if !ok {
		return // requested after today by a clock running ahead of ours
	}
	decided, met := slaOutcome(c, t.now)
	day := &t.report.ByDay[i]
	day.Count++
	if !c.AcceptedAt.IsZero() {
		day.Accepted++
	}
	if met {
		day.WithinSLA++
	}
	t.lastAcc.add(c, decided, met)
	if !c.CreatedAt.Before(t.today) {
		t.todayAcc.add(c, decided, met)
	}
}

// Report returns the figures of what was added.
func (t *Tally) Report() Report {
	r := t.report
	r.ByDay = slices.Clone(t.report.ByDay)
	r.Today, r.LastDays = t.todayAcc.figures(), t.lastAcc.figures()
	return r
}

// Summarize is the Report, as of now, of the days civil days in loc ending today, over cs.
func Summarize(cs []*consult.Consult, now time.Time, days int, loc *time.Location) Report {
	t := NewTally(now, days, loc)
	for _, c := range cs {
		t.Add(c)
	}
	return t.Report()
}

// slaOutcome says whether c's accept-by deadline is decided at now, and whether it was met.
func slaOutcome(c *consult.Consult, now time.Time) (decided, met bool) {
	due := c.SLA.AcceptBy
	switch {
	case due.IsZero():
		return false, false // no target for this consult
	case !c.AcceptedAt.IsZero():
		return true, !c.AcceptedAt.After(due)
	case !c.ClosedAt.IsZero() && !c.ClosedAt.After(due):
		return false, false // withdrawn before anyone was late
	default:
		return now.After(due), false
	}
}

func escalated(c *consult.Consult) bool {
	return c.Status == consult.StatusEscalated ||
		slices.ContainsFunc(c.Events, func(r consult.EventRef) bool { return r.Type == event.Escalated })
}

type figuresAcc struct {
	f            Figures
	accept       []time.Duration
	decided, met int
}

func (a *figuresAcc) init() {
	a.f.BySpecialty = map[string]int{}
	a.f.ByUrgency = make(map[string]int, len(consult.Urgencies))
	for _, u := range consult.Urgencies {
		a.f.ByUrgency[u] = 0
	}
}

func (a *figuresAcc) add(c *consult.Consult, decided, met bool) {
	a.f.Count++
	a.f.BySpecialty[c.Specialty]++
	a.f.ByUrgency[c.Urgency]++
	if !c.AcceptedAt.IsZero() {
		a.f.Accepted++
		a.accept = append(a.accept, max(c.AcceptedAt.Sub(c.CreatedAt), 0))
	}
	if decided {
		a.decided++
	}
	if met {
		a.met++
	}
	if escalated(c) {
		a.f.Escalated++
	}
	if !c.Status.Closed() {
		a.f.Open++
	}
}

func (a *figuresAcc) figures() Figures {
	f := a.f
	f.BySpecialty, f.ByUrgency = cloneCounts(a.f.BySpecialty), cloneCounts(a.f.ByUrgency)
	if len(a.accept) > 0 {
		d := slices.Clone(a.accept)
		slices.Sort(d)
		median := d[len(d)/2]
		if len(d)%2 == 0 {
			median = (d[len(d)/2-1] + d[len(d)/2]) / 2
		}
		f.MedianAcceptSeconds = tenths(median.Seconds())
		f.P90AcceptSeconds = tenths(d[int(math.Ceil(0.9*float64(len(d))))-1].Seconds())
	}
	if a.decided > 0 {
		f.WithinSLAPercent = tenths(100 * float64(a.met) / float64(a.decided))
	}
	return f
}

func cloneCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func tenths(v float64) *float64 {
	r := math.Round(v*10) / 10
	return &r
}

// figuresBatch is how many snapshots one round trip reads while computing figures.
const figuresBatch = 500

// idSlack is how much earlier than its created_at a consult's id may be stamped. Ids are ULIDs
// minted by the submitting request just before it reads the clock for created_at, so a few
// milliseconds would do; the slack costs only the few consults it reads in addition.
const idSlack = 10 * time.Minute

// Figures computes the Report, as of now, of the last days civil days in loc from the consult
// snapshots.
//
// It walks the all-consults index, whose members are ULIDs ordered by the time of submission,
// from the start of the period onward, in pipelined batches of figuresBatch snapshots: the cost
// is O(consults requested in the period) snapshot reads, in O(consults/figuresBatch) round
// trips, with memory O(batch + accepted consults). Nothing is locked: the projector keeps
// writing, every consult is counted once as its snapshot stood when read, and consults
// requested during the walk may or may not be counted. It answers ErrRebuilding when the read
// model is not whole, before or during the walk.
func (s *Store) Figures(ctx context.Context, now time.Time, days int, loc *time.Location) (Report, error) {
	t := NewTally(now, days, loc)
	epoch, err := s.epoch(ctx)
	if err != nil {
		return Report{}, err
	}
	lower := "-"
	if start := t.From().Add(-idSlack); start.After(time.UnixMilli(0)) {
		var id ulid.ULID
		if err := id.SetTime(ulid.Timestamp(start)); err == nil {
			lower = "[" + id.String() // the smallest id of that millisecond
		}
	}
	for {
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.allKey(), Start: lower, Stop: "+", ByLex: true, Count: figuresBatch}).Result()
		if err != nil {
			return Report{}, fmt.Errorf("figures: %w", err)
		}
		docs, err := s.docs(ctx, ids)
		if err != nil {
			return Report{}, fmt.Errorf("figures: %w", err)
		}
		for _, c := range docs {
			if c != nil { // indexed a moment before its snapshot was flushed: not whole, see below
				t.Add(c)
			}
		}
		if len(ids) < figuresBatch {
			break
		}
		lower = "(" + ids[len(ids)-1]
	}
	if after, err := s.epoch(ctx); err != nil {
		return Report{}, err
	} else if after != epoch {
		return Report{}, ErrRebuilding
	}
	return t.Report(), nil
}

// epoch returns the mark of the current complete read model, or ErrRebuilding.
func (s *Store) epoch(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, s.epochKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrRebuilding
	}
	if err != nil {
		return "", fmt.Errorf("read model state: %w", err)
	}
	return v, nil
}
