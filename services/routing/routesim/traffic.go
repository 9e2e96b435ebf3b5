package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/roster"
)

// arrival is a consult a referrer submits at a moment, and when they would withdraw it if
// nobody has taken it by then (never when zero).
type arrival struct {
	id          string
	at          time.Time
	referrer    consult.Actor
	languages   []string
	draft       consult.Draft
	cancelAfter time.Duration
}

// clinicHours is how busy referring clinics are by hour of the day: mornings most, a second
// wave in the afternoon, little at night.
func clinicHours(h float64) float64 {
	bump := func(mu, sigma float64) float64 { x := (h - mu) / sigma; return math.Exp(-x * x / 2) }
	return 0.06 + bump(10.5, 2.2) + 0.45*bump(15.5, 2)
}

// weekday weighs days: clinics rest on Friday and work less on Saturday.
func weekday(d time.Weekday) float64 {
	switch d {
	case time.Friday:
		return 0.35
	case time.Saturday:
		return 0.7
	}
	return 1
}

// shape is the relative rate of consults of urgency at t: emergent ones come around the clock,
// urgent ones mostly and routine ones almost only in clinic hours.
func shape(urgency string, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	day := weekday(t.Weekday())
	switch urgency {
	case roster.Emergent:
		return 0.6 + 0.4*clinicHours(h)*(0.5+0.5*day)
	case roster.Urgent:
		return 0.12 + clinicHours(h)*day
	}
	return clinicHours(h) * day
}

// arrivals draws the consults of cfg's days: for every specialty and urgency a Poisson process
// whose rate follows shape, scaled so a week brings cfg.Volume consults in cfg's shares.
func arrivals(cfg Config, r *roster.Roster) []*arrival {
	var referrers []roster.User
	for _, u := range r.Members(roster.RoleReferrer) {
		if u.ClinicID != "" {
			referrers = append(referrers, u)
		}
	}
	total := 0.0
	weights := make([]float64, len(r.Specialties))
	for i, s := range r.Specialties {
		w, ok := cfg.Mix[s.Slug]
		if !ok {
			w = 1
		}
		weights[i] = w
		total += w
	}
	if total == 0 {
		return nil
	}
	shares := map[string]float64{roster.Emergent: cfg.Emergent, roster.Urgent: cfg.Urgent, roster.Routine: 1 - cfg.Emergent - cfg.Urgent}
	end := cfg.Start.AddDate(0, 0, cfg.Days)
	var out []*arrival
	for i, s := range r.Specialties {
		for _, urgency := range consult.Urgencies {
			perWeek := cfg.Volume * weights[i] / total * shares[urgency]
			if perWeek <= 0 {
				continue
			}
			mean, peak := weekShape(urgency, cfg.Start)
			perMinute := perWeek / (7 * 24 * 60) / mean // the rate at shape 1
			top := perMinute * peak
			g := stream(cfg.Seed, "arrivals", s.Slug, urgency)
			for t := cfg.Start; ; {
				t = t.Add(time.Duration(g.ExpFloat64() / top * float64(time.Minute)))
				if !t.Before(end) {
					break
				}
				if g.Float64()*top > perMinute*shape(urgency, t) {
					continue // thinned: the rate is lower now than at its peak
				}
				out = append(out, draw(g, cfg, r, s, urgency, referrers, t))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *arrival) int { return a.at.Compare(b.at) })
	for i, a := range out {
		a.id = fmt.Sprintf("c%05d", i+1)
	}
	return out
}

// weekShape returns the mean and the peak of shape over the week from start, by the minute.
func weekShape(urgency string, start time.Time) (mean, peak float64) {
	const minutes = 7 * 24 * 60
	sum := 0.0
	for m := range minutes {
		v := shape(urgency, start.Add(time.Duration(m)*time.Minute))
		sum += v
		peak = max(peak, v)
	}
	return sum / minutes, peak
}

// draw writes one consult: a referrer of the roster (or a stand-in), a child patient, and
// answers to the specialty's form, some of them written to meet one of its red-flag rules.
func draw(g *rand.Rand, cfg Config, r *roster.Roster, s roster.Specialty, urgency string, referrers []roster.User, at time.Time) *arrival {
	a := &arrival{at: at, referrer: consult.Actor{ID: "sim-referrer", Role: consult.RoleReferrer, ClinicID: "sim-clinic"}}
	if len(referrers) > 0 {
		u := referrers[g.IntN(len(referrers))]
		a.referrer = consult.Actor{ID: u.ID, Role: consult.RoleReferrer, ClinicID: u.ClinicID}
		a.languages = u.Languages
	}
	age := g.IntN(18)
	sex := consult.Sexes[g.IntN(2)]
	a.draft = consult.Draft{Urgency: urgency, Specialty: s.Slug, Patient: &consult.DraftPatient{AgeYears: &age, Sex: sex},
		Question: "What do you advise for this " + urgency + " case?"}
	if len(a.languages) > 0 && g.Float64() < 0.7 {
		a.draft.Language = a.languages[0]
	}
	var rules []roster.RedFlagRule
	for _, rule := range r.RedFlags {
		if rule.Specialty == s.Slug {
			rules = append(rules, rule)
		}
	}
	a.draft.Details = details(g, s.Form, rules)
	if g.Float64() < cfg.RedFlagShare {
		if len(rules) > 0 {
			a.draft.Details = meet(g, s.Form, rules[g.IntN(len(rules))], a.draft.Details)
		}
	}
	if g.Float64() < cfg.CancelShare {
		a.cancelAfter = uniform(g, 10*time.Minute, 6*time.Hour)
	}
	return a
}

// details answers a form as a referrer would: required fields always, others most of the time,
// numbers mostly in the middle of their range and on the safe side of the red-flag rules'
// thresholds, rare yeses, mild options more than severe ones.
func details(g *rand.Rand, form []roster.Field, rules []roster.RedFlagRule) map[string]any {
	if len(form) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, f := range form {
		if !f.Required && g.Float64() < 0.3 {
			continue
		}
		switch f.Type {
		case roster.FieldNumber:
			lo, hi := safe(f, rules)
			v := (lo+hi)/2 + g.NormFloat64()*(hi-lo)/8
			out[f.Key] = math.Round(min(max(v, lo), hi)*10) / 10
		case roster.FieldBoolean:
			out[f.Key] = g.Float64() < 0.1
		case roster.FieldSelect:
			out[f.Key] = f.Options[mild(g, len(f.Options))].Value
		case roster.FieldDate:
			out[f.Key] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.IntN(120)).Format(time.DateOnly)
		default:
			out[f.Key] = "as described in the summary"
		}
	}
	return out
}

// bounds is the range a number field's answers are drawn from.
func bounds(f roster.Field) (lo, hi float64) {
	switch {
	case f.Min != nil && f.Max != nil:
		return *f.Min, *f.Max
	case f.Min != nil:
		return *f.Min, *f.Min + 100
	case f.Max != nil:
		return *f.Max - 100, *f.Max
	}
	return 0, 100
}

// safe narrows a number field's range to the side of the red-flag thresholds where no rule
// fires, when there is one.
func safe(f roster.Field, rules []roster.RedFlagRule) (lo, hi float64) {
	lo, hi = bounds(f)
	l, h := lo, hi
	for _, rule := range rules {
		for _, c := range rule.When {
			v, ok := c.Value.(float64)
			if c.Field != f.Key || !ok {
				continue
			}
			switch c.Op {
			case roster.OpLt, roster.OpLe:
				l = max(l, v+(hi-lo)/100)
			case roster.OpGt, roster.OpGe:
				h = min(h, v-(hi-lo)/100)
			}
		}
	}
	if l < h {
		return l, h
	}
	return lo, hi
}

// mild picks one of n options, the first ones far more often.
func mild(g *rand.Rand, n int) int {
	total := 0.0
	for i := range n {
		total += 1 / float64((i+1)*(i+1))
	}
	u := g.Float64() * total
	for i := range n {
		if u -= 1 / float64((i+1)*(i+1)); u < 0 {
			return i
		}
	}
	return n - 1
}

// meet rewrites answers so that every condition of rule holds, as far as the form allows.
func meet(g *rand.Rand, form []roster.Field, rule roster.RedFlagRule, answers map[string]any) map[string]any {
	if answers == nil {
		answers = map[string]any{}
	}
	for _, c := range rule.When {
		i := slices.IndexFunc(form, func(f roster.Field) bool { return f.Key == c.Field })
		if i < 0 {
			continue
		}
		f := form[i]
		switch v := c.Value.(type) {
		case float64:
			lo, hi := bounds(f)
			step := max(1, math.Abs(v)*0.1*g.Float64())
			switch c.Op {
			case roster.OpEq, roster.OpGe, roster.OpLe:
				answers[f.Key] = v
			case roster.OpGt:
				answers[f.Key] = min(v+step, hi)
			case roster.OpLt:
				answers[f.Key] = max(v-step, lo)
			case roster.OpNe:
				answers[f.Key] = min(v+step, hi)
			}
		case bool:
			answers[f.Key] = v == (c.Op == roster.OpEq)
		case string:
			if c.Op == roster.OpEq {
				answers[f.Key] = v
				continue
			}
			for _, o := range f.Options {
				if o.Value != v {
					answers[f.Key] = o.Value
					break
				}
			}
			if f.Type != roster.FieldSelect {
				answers[f.Key] = v + " (not)"
			}
		}
	}
	return answers
}
