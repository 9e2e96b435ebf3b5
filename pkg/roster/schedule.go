package roster

import (
	"encoding/json"
	"fmt"
	"github.com/regionalconsult/broker/pkg/problem"
	"slices"
	"time"
)

// Shift lengths a layer may have.
const (
	ShiftDaily  = "daily"
	ShiftWeekly = "weekly"
	ShiftCustom = "custom"
)

// SourceOverride is the Source of a Shift that an override decides.
const SourceOverride = "override"

// SearchHorizon bounds how far ahead OnCall.Until looks for the next change: when nothing changes
// within it, Until is the moment plus SearchHorizon.
const SearchHorizon = 35 * 24 * time.Hour

// maxOverride bounds one override's length.
const maxOverride = 366 * 24 * time.Hour

// Schedule is a specialty's on-call: who answers first (primary) and who next (secondary).
type Schedule struct {
	Specialty string `json:"specialty"`
	Primary   Tier   `json:"primary"`
	Secondary Tier   `json:"secondary"`
}

// Tier is one level of a schedule: rotation layers, listed highest precedence first, and
// overrides that beat every layer while they last.
type Tier struct {
	Layers    []Layer    `json:"layers"`
	Overrides []Override `json:"overrides"`

	legacy *legacyRotation // read by UnmarshalJSON, made a layer by Parse
}

// legacyRotation is the tier of rosters written before layers: Members take turns of ShiftDays
// days at Handoff from the date Anchor.
type legacyRotation struct {
	Anchor    string   `json:"anchor"`
	Handoff   string   `json:"handoff"`
	ShiftDays int      `json:"shift_days"`
	Members   []string `json:"members"`
}

// UnmarshalJSON reads a tier, also in the form of rosters stored before layers ({anchor,
// handoff, shift_days, members}), which Parse reads as one layer named "rotation".
func (t *Tier) UnmarshalJSON(data []byte) error {
	type tier Tier // without this method
	var v struct {
		tier
		legacyRotation
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*t = Tier(v.tier)
	if l := v.legacyRotation; l.Anchor != "" || l.Handoff != "" || l.ShiftDays != 0 || len(l.Members) > 0 {
		t.legacy = &l
	}
	return nil
}

// Layer is a rotation: Members take turns, each for one shift, the first from Start at Handoff
// (HH:MM, hospital time). A daily shift is one civil day, a weekly one seven, a custom one
// ShiftHours wall-clock hours (12 for two shifts a day). Restrict, when set, keeps the layer to
// windows of the week; outside them the layer has nobody on duty.
type Layer struct {
	Name       string       `json:"name"`
	Start      string       `json:"start"`
	Handoff    string       `json:"handoff"`
	Shift      string       `json:"shift"`
	ShiftHours int          `json:"shift_hours,omitempty"`
	Members    []string     `json:"members"`
	Restrict   *Restriction `json:"restrict,omitempty"`
}

// Restriction is a window of the week: on each of Weekdays (sun..sat; all when empty) from
// From to To (HH:MM; 00:00 and 24:00 when empty). A window whose To is not after its From runs
// past midnight into the next day.
type Restriction struct {
	Weekdays []string `json:"weekdays,omitempty"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
}

// Override puts UserID on duty from From until To, whatever the layers say.
type Override struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// OnCall says who answers for a specialty at a moment, and until when that holds.
type OnCall struct {
	Specialty   string    `json:"specialty"`
	PrimaryID   string    `json:"primary_id"`
	SecondaryID string    `json:"secondary_id"`
	Until       time.Time `json:"until"`
}

// Shift is a stretch of time one person is on duty in a tier, and what put them there: a
// layer's name or SourceOverride.
type Shift struct {
	UserID string    `json:"user_id"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Source string    `json:"source"`
}

func (t Tier) clone() Tier {
	c := Tier{Layers: make([]Layer, len(t.Layers)), Overrides: slices.Clone(t.Overrides)}
	for i, l := range t.Layers {
		l.Members = slices.Clone(l.Members)
		if l.Restrict != nil {
			rs := *l.Restrict
			rs.Weekdays = slices.Clone(rs.Weekdays)
			l.Restrict = &rs
		}
		c.Layers[i] = l
	}
	if t.Layers == nil {
		c.Layers = nil
	}
	return c
}

// OnCallAt answers who is on call for every specialty at t, in schedule order.
func (r *Roster) OnCallAt(t time.Time) []OnCall {
	out := make([]OnCall, 0, len(r.Schedules))
	for _, s := range r.Schedules {
		out = append(out, r.plans[s.Specialty].onCall(t))
	}
	return out
}

// OnCallFor answers who is on call for one specialty at t; ok is false when it has no schedule.
func (r *Roster) OnCallFor(specialty string, t time.Time) (OnCall, bool) {
	p, ok := r.plans[specialty]
	if !ok {
		return OnCall{}, false
	}
	return p.onCall(t), true
}

// Shifts returns who is on duty for specialty from from until to, primary and secondary, in
// time order: consecutive stretches of one person from one source are one Shift, and times
// nobody is on duty are left out. ok is false when the specialty has no schedule.
func (r *Roster) Shifts(specialty string, from, to time.Time) (primary, secondary []Shift, ok bool) {
	p, ok := r.plans[specialty]
	if !ok {
		return nil, nil, false
	}
	return p.primary.shifts(from, to), p.secondary.shifts(from, to), true
}

// The schedule is compiled once, when the roster is built, into plans that answer quickly.

type schedulePlan struct {
	specialty          string
	primary, secondary *tierPlan
}

type tierPlan struct {
	layers    []layerPlan
	overrides []Override
}

type layerPlan struct {
	name    string
	members []string
	clock   civilClock
	origin  time.Time // wall clock of the first handoff, read as UTC
	step    time.Duration
	window  *windowPlan
}

type windowPlan struct {
	clock    civilClock
	days     [7]bool // by time.Weekday
	from, to int     // minutes after midnight; to may be 1440, and a to not after from wraps
}

// civilClock turns wall-clock times of the hospital's zone into instants. A wall time that a
// spring-forward change skips reads with the offset in force before the change (02:30 on the
// night clocks jump from 02:00 to 03:00 is the instant the clocks show 03:30); a wall time that a
// fall-back change repeats is its later occurrence. Every handoff and window edge comes from
// here, so a member changes exactly once at each of them and never flips back.
type civilClock struct{ loc *time.Location }

// at is the instant of the wall-clock time w (its fields read as wall-clock time).
func (c civilClock) at(w time.Time) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, c.loc)
}

// wall is the wall-clock time of t, as a UTC time with the same fields.
func (c civilClock) wall(t time.Time) time.Time {
	l := t.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// day is the wall-clock midnight of t's civil date, as UTC.
func (c civilClock) day(t time.Time) time.Time {
	l := t.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

func (p *schedulePlan) onCall(t time.Time) OnCall {
	pid, _ := p.primary.at(t)
	sid, _ := p.secondary.at(t)
	limit := t.Add(SearchHorizon)
	until := limit
	for at := t; ; {
		next := earliest(p.primary.next(at), p.secondary.next(at))
		if next.IsZero() || next.After(limit) {
			break
		}
		np, _ := p.primary.at(next)
		ns, _ := p.secondary.at(next)
		if np != pid || ns != sid {
			until = next
			break
		}
		at = next
	}
	return OnCall{Specialty: p.specialty, PrimaryID: pid, SecondaryID: sid, Until: until.UTC()}
}

// earliest returns the earlier of a and b, ignoring zero times.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// at returns who is on duty at t and what put them there; "" when nobody is. An override
// covering t wins (the latest listed among overlapping ones); else the first layer with someone
// on duty.
func (p *tierPlan) at(t time.Time) (string, string) {
	for i := len(p.overrides) - 1; i >= 0; i-- {
		if o := p.overrides[i]; !t.Before(o.From) && t.Before(o.To) {
			return o.UserID, SourceOverride
		}
	}
	for i := range p.layers {
		if id := p.layers[i].at(t); id != "" {
			return id, p.layers[i].name
		}
	}
	return "", ""
}

// next returns the earliest moment after t at which the tier's answer may change, or the zero
// time when it never does.
func (p *tierPlan) next(t time.Time) time.Time {
	var n time.Time
	for _, o := range p.overrides {
		if o.From.After(t) {
			n = earliest(n, o.From)
		}
		if o.To.After(t) {
			n = earliest(n, o.To)
		}
	}
	for i := range p.layers {
		n = earliest(n, p.layers[i].next(t))
	}
	return n
}

func (p *tierPlan) shifts(from, to time.Time) []Shift {
	out := []Shift{}
	user, source := p.at(from)
	start := from
	for at := from; at.Before(to); {
		n := p.next(at)
		if n.IsZero() || n.After(to) {
			n = to
		}
		var nu, ns string
		if n.Before(to) {
			nu, ns = p.at(n)
		}
		if !n.Before(to) || nu != user || ns != source {
			if user != "" {
				out = append(out, Shift{UserID: user, From: start.UTC(), To: n.UTC(), Source: source})
			}
			start, user, source = n, nu, ns
		}
		at = n
	}
	return out
}

// handoff is the instant shift k of the layer starts. The arithmetic is in whole seconds of
// wall-clock time, which does not overflow for any year a time can be written with.
func (l *layerPlan) handoff(k int64) time.Time {
	return l.clock.at(time.Unix(l.origin.Unix()+k*int64(l.step/time.Second), 0).UTC())
}

// shift returns the number of the shift in progress at t: the last whose handoff is not after t.
func (l *layerPlan) shift(t time.Time) int64 {
	d, step := l.clock.wall(t).Unix()-l.origin.Unix(), int64(l.step/time.Second)
	k := d / step
	if d < 0 && d%step != 0 {
		k--
	}
	// The wall clock is off the handoff grid by the hour a daylight-saving change moves: step
	// to the right shift by the handoff instants themselves.
	for l.handoff(k).After(t) {
		k--
	}
	for !l.handoff(k + 1).After(t) {
		k++
	}
	return k
}

func (l *layerPlan) member(k int64) string {
	n := int64(len(l.members))
	return l.members[((k%n)+n)%n]
}

// at returns the member on duty at t, or "" outside the layer's window.
func (l *layerPlan) at(t time.Time) string {
	if len(l.members) == 0 || (l.window != nil && !l.window.open(t)) {
		return ""
	}
	return l.member(l.shift(t))
}

// next returns the earliest moment after t at which the layer's answer may change: the next
// handoff to another member, or the next edge of its window.
func (l *layerPlan) next(t time.Time) time.Time {
	if len(l.members) == 0 {
		return time.Time{}
	}
	var n time.Time
	k := l.shift(t)
	cur := l.member(k)
	for j := k + 1; j <= k+int64(len(l.members)); j++ {
		if l.member(j) != cur {
			n = l.handoff(j)
			break
		}
	}
	if l.window != nil {
		n = earliest(n, l.window.next(t))
	}
	return n
}

// bounds returns the instants the window opening on the civil day d opens and closes.
func (w *windowPlan) bounds(d time.Time) (time.Time, time.Time) {
	end := w.to
	if end <= w.from {
		end += 24 * 60
	}
	return w.clock.at(d.Add(time.Duration(w.from) * time.Minute)), w.clock.at(d.Add(time.Duration(end) * time.Minute))
}

func (w *windowPlan) open(t time.Time) bool {
	today := w.clock.day(t)
	for _, d := range []time.Time{today.AddDate(0, 0, -1), today} {
		if !w.days[d.Weekday()] {
			continue
		}
		if from, to := w.bounds(d); !t.Before(from) && t.Before(to) {
			return true
		}
	}
	return false
}

func (w *windowPlan) next(t time.Time) time.Time {
	var n time.Time
	today := w.clock.day(t)
	for i := -1; i <= 8; i++ {
		d := today.AddDate(0, 0, i)
		if !w.days[d.Weekday()] {
			continue
		}
		from, to := w.bounds(d)
		if from.After(t) {
			n = earliest(n, from)
		}
		if to.After(t) {
			n = earliest(n, to)
		}
	}
	return n
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// parseClock reads HH:MM as minutes after midnight; 24:00 only when end is set.
func parseClock(s string, end bool) (int, bool) {
	if end && s == "24:00" {
		return 24 * 60, true
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (r *Roster) indexSchedules() error {
	r.plans = make(map[string]*schedulePlan, len(r.Schedules))
	overrideIDs := map[string]bool{}
	for i := range r.Schedules {
		s := &r.Schedules[i]
		path := fmt.Sprintf("schedules[%d]", i)
		if !r.HasSpecialty(s.Specialty) {
			return invalid(path+".specialty", problem.Unknown(fmt.Sprintf("schedule for unknown specialty %s", s.Specialty)))
		}
		if _, dup := r.plans[s.Specialty]; dup {
			return invalid(path+".specialty", problem.Duplicate(fmt.Sprintf("a second schedule for %s", s.Specialty)))
		}
		plan := &schedulePlan{specialty: s.Specialty}
		for _, tier := range []struct {
			name string
			t    *Tier
			plan **tierPlan
		}{{"primary", &s.Primary, &plan.primary}, {"secondary", &s.Secondary, &plan.secondary}} {
			tp, err := r.compileTier(path+"."+tier.name, tier.t, overrideIDs)
			if err != nil {
				return err
			}
			*tier.plan = tp
		}
		r.plans[s.Specialty] = plan
	}
	return nil
}

// compileTier checks t, reads its single-rotation form as a layer, and compiles it.
func (r *Roster) compileTier(path string, t *Tier, overrideIDs map[string]bool) (*tierPlan, error) {
	if err := r.upgradeTier(path, t); err != nil {
		return nil, err
	}
	if t.Layers == nil {
		t.Layers = []Layer{}
	}
	if t.Overrides == nil {
		t.Overrides = []Override{}
	}
	clock := civilClock{r.loc}
	plan := &tierPlan{}
	names := map[string]bool{}
	for i := range t.Layers {
		l := &t.Layers[i]
		lp := fmt.Sprintf("%s.layers[%d]", path, i)
		if l.Name == "" || len(l.Name) > 64 {
			return nil, invalid(lp+".name", problem.InvalidValue("required, at most 64 characters"))
		}
		if l.Name == SourceOverride || names[l.Name] {
			return nil, invalid(lp+".name", problem.Duplicate(fmt.Sprintf("a second layer named %q", l.Name)))
		}
		names[l.Name] = true
		start, err := time.Parse(time.DateOnly, l.Start)
		if err != nil {
			return nil, invalid(lp+".start", problem.NotADate("must be a date as YYYY-MM-DD"))
		}
		hand, ok := parseClock(l.Handoff, false)
		if !ok {
			return nil, invalid(lp+".handoff", problem.NotADate("must be a time of day as HH:MM"))
		}
		var step time.Duration
		switch l.Shift {
		case ShiftDaily:
			step = 24 * time.Hour
		case ShiftWeekly:
			step = 7 * 24 * time.Hour
		case ShiftCustom:
			if l.ShiftHours < 1 || l.ShiftHours > 28*24 {
				return nil, invalid(lp+".shift_hours", problem.Between(fmt.Sprintf("must be 1 to %d whole hours", 28*24), 1, 28*24))
			}
			step = time.Duration(l.ShiftHours) * time.Hour
		default:
			return nil, invalid(lp+".shift", problem.NotAllowed("must be daily, weekly or custom"))
		}
		if l.Shift != ShiftCustom && l.ShiftHours != 0 {
			return nil, invalid(lp+".shift_hours", problem.InvalidValue("only a custom shift has shift_hours"))
		}
		if len(l.Members) == 0 {
			return nil, invalid(lp+".members", problem.InvalidValue("at least one member is required"))
		}
		for j, m := range l.Members {
			if !r.isSpecialist(m) {
				return nil, invalid(fmt.Sprintf("%s.members[%d]", lp, j), problem.NotAllowed(fmt.Sprintf("member %s is not a specialist", m)))
			}
		}
		window, err := compileWindow(lp+".restrict", l.Restrict, clock)
		if err != nil {
			return nil, err
		}
		plan.layers = append(plan.layers, layerPlan{name: l.Name, members: l.Members, clock: clock,
			origin: start.Add(time.Duration(hand) * time.Minute), step: step, window: window})
	}
	for i := range t.Overrides {
		o := &t.Overrides[i]
		op := fmt.Sprintf("%s.overrides[%d]", path, i)
		switch {
		case o.ID == "" || len(o.ID) > 64:
			return nil, invalid(op+".id", problem.InvalidValue("required, at most 64 characters"))
		case overrideIDs[o.ID]:
			return nil, invalid(op+".id", problem.Duplicate(fmt.Sprintf("duplicate override id %s", o.ID)))
		case !r.isSpecialist(o.UserID):
			return nil, invalid(op+".user_id", problem.NotAllowed(fmt.Sprintf("%s is not a specialist", o.UserID)))
		case o.From.IsZero():
			return nil, invalid(op+".from", problem.Required())
		case !o.To.After(o.From):
			return nil, invalid(op+".to", problem.InvalidValue("must be after from"))
		case o.To.Sub(o.From) > maxOverride:
			return nil, invalid(op+".to", problem.InvalidValue("an override lasts at most 366 days"))
		case len(o.Reason) > 500:
			return nil, invalid(op+".reason", problem.InvalidValue("at most 500 characters"))
		}
		overrideIDs[o.ID] = true
		o.From, o.To = o.From.UTC(), o.To.UTC()
	}
	plan.overrides = t.Overrides
	return plan, nil
}

// upgradeTier reads a tier stored before layers as one layer.
func (r *Roster) upgradeTier(path string, t *Tier) error {
	old := t.legacy
	t.legacy = nil
	if old == nil || len(old.Members) == 0 {
		return nil
	}
	if len(t.Layers) > 0 {
		return invalid(path, problem.InvalidValue("has both layers and the single-rotation form (anchor, members)"))
	}
	if _, err := time.Parse(time.DateOnly, old.Anchor); err != nil {
		return invalid(path+".anchor", problem.NotADate("rotation anchor must be a date as YYYY-MM-DD"))
	}
	if _, ok := parseClock(old.Handoff, false); !ok {
		return invalid(path+".handoff", problem.NotADate("rotation handoff must be a time of day as HH:MM"))
	}
	if old.ShiftDays < 1 {
		return invalid(path+".shift_days", problem.InvalidValue("shift_days must be at least 1"))
	}
	l := Layer{Name: "rotation", Start: old.Anchor, Handoff: old.Handoff, Members: old.Members}
	switch old.ShiftDays {
	case 1:
		l.Shift = ShiftDaily
	case 7:
		l.Shift = ShiftWeekly
	default:
		l.Shift, l.ShiftHours = ShiftCustom, 24*old.ShiftDays
	}
	t.Layers = []Layer{l}
	return nil
}

func compileWindow(path string, rs *Restriction, clock civilClock) (*windowPlan, error) {
	if rs == nil {
		return nil, nil
	}
	w := &windowPlan{clock: clock, from: 0, to: 24 * 60}
	if len(rs.Weekdays) == 0 {
		w.days = [7]bool{true, true, true, true, true, true, true}
	}
	for i, d := range rs.Weekdays {
		wd, ok := weekdays[d]
		if !ok {
			return nil, invalid(fmt.Sprintf("%s.weekdays[%d]", path, i), problem.NotAllowed("must be one of sun, mon, tue, wed, thu, fri, sat"))
		}
		if w.days[wd] {
			return nil, invalid(fmt.Sprintf("%s.weekdays[%d]", path, i), problem.Duplicate(fmt.Sprintf("%s is listed twice", d)))
		}
		w.days[wd] = true
	}
	var ok bool
	if rs.From != "" {
		if w.from, ok = parseClock(rs.From, false); !ok {
			return nil, invalid(path+".from", problem.NotADate("must be a time of day as HH:MM"))
		}
	}
	if rs.To != "" {
		if w.to, ok = parseClock(rs.To, true); !ok {
			return nil, invalid(path+".to", problem.NotADate("must be a time of day as HH:MM (24:00 for midnight)"))
		}
	}
	if w.from == w.to {
		return nil, invalid(path+".to", problem.InvalidValue("must differ from from"))
	}
	return w, nil
}
