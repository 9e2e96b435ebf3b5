package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

func demo(t *testing.T) *roster.Roster {
	t.Helper()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	return r
}

func simulate(t *testing.T, r *roster.Roster, edit func(*Config)) *Result {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Days = 1
	if edit != nil {
		edit(&cfg)
	}
	res, err := Simulate(context.Background(), cfg, r)
	require.NoError(t, err)
	return res
}

// checkHistory checks routing's promises against the event log alone, apart from the checks
// the simulation makes while it runs: nobody is offered a consult after declining it, nor
// twice in one round, and a specialty step offers only to people below capacity, counting the
// consults they own and the live offers they hold, who then do not go over it by accepting.
func checkHistory(t *testing.T, r *roster.Roster, log []event.Event) {
	t.Helper()
	type live struct {
		target string
	}
	declined := map[string][]string{}
	roundTried := map[string]map[int][]string{}
	offers := map[string]map[string]live{}
	owner := map[string]string{}
	open := map[string]int{}
	held := map[string]int{} // live offers, of every consult
	consults := map[string]*consult.Consult{}
	release := func(id string) {
		if o := owner[id]; o != "" {
			open[o]--
		}
		owner[id] = ""
	}
	for _, e := range log {
		c := consults[e.ConsultID]
		switch e.Type {
		case event.Offered:
			p := r.PolicyFor(c.Specialty, c.Urgency)
			require.LessOrEqual(t, e.Step, len(p.Steps), "%s: got step %d, want one of the policy's %d", e.ID, e.Step, len(p.Steps))
			target := p.Steps[e.Step-1].Target
			if roundTried[e.ConsultID] == nil {
				roundTried[e.ConsultID] = map[int][]string{}
			}
			if offers[e.ConsultID] == nil {
				offers[e.ConsultID] = map[string]live{}
			}
			for _, id := range offeredTo(e) {
				assert.NotContains(t, declined[e.ConsultID], id, "%s: got an offer to %s after they declined, want none", e.ID, id)
				assert.NotContains(t, roundTried[e.ConsultID][e.Round], id, "%s: got %s offered twice in round %d, want once", e.ID, id, e.Round)
				u, _ := r.User(id)
				if target == roster.TargetSpecialty {
					assert.Less(t, open[id]+held[id], u.Capacity(), "%s: got a specialty-step offer to %s with %d open and %d offers held, want fewer than %d in all",
						e.ID, id, open[id], held[id], u.Capacity())
				}
				roundTried[e.ConsultID][e.Round] = append(roundTried[e.ConsultID][e.Round], id)
				offers[e.ConsultID][id] = live{target: target}
			}
		case event.Declined:
			declined[e.ConsultID] = append(declined[e.ConsultID], e.SpecialistID)
			delete(offers[e.ConsultID], e.SpecialistID)
		case event.OfferExpired:
			offers[e.ConsultID] = nil
		case event.Accepted, event.Assigned:
			who := e.ActorID
			if e.Type == event.Assigned {
				who = e.SpecialistID
			}
			release(e.ConsultID)
			owner[e.ConsultID] = who
			open[who]++
			if o, ok := offers[e.ConsultID][who]; ok && e.Type == event.Accepted && o.target == roster.TargetSpecialty {
				u, _ := r.User(who)
				assert.LessOrEqual(t, open[who], u.Capacity(), "%s: got %s at %d open after accepting a specialty-step offer, want at most %d", e.ID, who, open[who], u.Capacity())
			}
			offers[e.ConsultID] = nil
		case event.Completed, event.Cancelled:
			release(e.ConsultID)
			offers[e.ConsultID] = nil
		}
		next, err := consult.Apply(c, e)
		require.NoError(t, err, "fold %s", e.ID)
		if c != nil {
			for _, h := range c.Holders() {
				held[h]--
			}
		}
		for _, h := range next.Holders() {
			held[h]++
		}
		consults[e.ConsultID] = next
	}
}

func TestOneDay(t *testing.T) {
	t.Parallel()
	r := demo(t)
	res := simulate(t, r, nil)
	require.NoError(t, res.Err())
	assert.Empty(t, res.Orphans, "got orphans %v, want none", res.Orphans)
	assert.Empty(t, res.Left, "got consults left with neither owner nor escalation %v, want none", res.Left)
	assert.Empty(t, res.Violations, "got broken promises %v, want none", res.Violations)
	assert.Greater(t, len(res.Consults), 50, "got %d consults in a day, want about 85", len(res.Consults))
	assert.True(t, res.Settled, "got a run stopped at the drain limit, want every consult settled")
	for _, c := range res.Consults {
		ended := c.Assignee() != "" || c.Status == consult.StatusEscalated || c.Status == consult.StatusCancelled
		assert.True(t, ended, "%s: got status %s with no owner, want owned, escalated or cancelled", c.ID, c.Status)
	}
	checkHistory(t, r, res.Log)
	var specialistAccepts, assignments int
	for _, e := range res.Log {
		switch e.Type {
		case event.Accepted:
			specialistAccepts++
		case event.Assigned:
			assignments++
		}
	}
	assert.Positive(t, specialistAccepts, "got no specialist accepting, want some")
	assert.Positive(t, assignments, "got no coordinator assigning, want some")
}

func TestSeedReplaysTheSameHistory(t *testing.T) {
	t.Parallel()
	r := demo(t)
	edit := func(seed uint64) func(*Config) { return func(c *Config) { c.Seed = seed } }
	a := simulate(t, r, edit(7))
	b := simulate(t, r, edit(7))
	c := simulate(t, r, edit(8))
	require.Equal(t, len(a.Log), len(b.Log), "got %d and %d events from one seed, want the same", len(a.Log), len(b.Log))
	assert.Equal(t, a.Log, b.Log, "got two histories from one seed, want one")
	assert.NotEqual(t, a.Log, c.Log, "got one history from two seeds, want two")
}

// febrileRoster is a small roster in YAML whose oncology form has a red-flag rule.
const febrileRoster = `
users:
  - {id: ref, username: ref, name: Ref, role: referrer, clinic_id: c1, languages: [ar]}
  - {id: s1, username: s1, name: S1, role: specialist, specialties: [onc], languages: [he, en]}
  - {id: s2, username: s2, name: S2, role: specialist, specialties: [onc], languages: [ar, he]}
  - {id: s3, username: s3, name: S3, role: specialist, specialties: [onc], languages: [en], max_consults: 1}
  - {id: co, username: co, name: Co, role: coordinator, languages: [he]}
clinics: [{id: c1, name: Clinic}]
specialties:
  - slug: onc
    name: {en: Oncology}
    form:
      - {key: fever, type: boolean, label: {en: Fever}}
      - {key: anc, type: number, label: {en: ANC}, min: 0, max: 100}
schedules:
  - specialty: onc
    primary: {layers: [{name: day, start: "2026-01-04", handoff: "08:00", shift: daily, members: [s1, s2]}]}
    secondary: {layers: [{name: week, start: "2026-01-04", handoff: "08:00", shift: weekly, members: [s3]}]}
policies:
  - specialty: onc
    urgency: emergent
    repeat: 1
    steps:
      - {target: primary, wait: 2m}
      - {target: secondary, wait: 2m}
      - {target: specialty, wait: 3m, parallel: true}
      - {target: coordinators, wait: 5m}
red_flags:
  - id: febrile-neutropenia
    specialty: onc
    when: [{field: fever, op: eq, value: true}, {field: anc, op: lt, value: 0.5}]
    urgency: emergent
    reason: {en: Febrile neutropenia}
`

func TestRedFlagsRaiseUrgency(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse([]byte(febrileRoster))
	require.NoError(t, err)
	res := simulate(t, r, func(c *Config) { c.RedFlagShare = 0.3 })
	require.NoError(t, res.Err())
	raised := 0
	for _, c := range res.Consults {
		if len(c.RedFlags) > 0 {
			raised++
			assert.Equal(t, "emergent", c.Urgency, "%s: got %s after a red flag, want emergent", c.ID, c.Urgency)
			assert.Equal(t, []string{"Febrile neutropenia"}, c.RedFlags)
		}
	}
	assert.Positive(t, raised, "got no consult raised by the red-flag rule, want some of %d", len(res.Consults))
	checkHistory(t, r, res.Log)
}

// crossRoster puts a hematologist on call as oncology's primary every day: routing must know
// their availability though they are no oncologist.
const crossRoster = `
users:
  - {id: ref, username: ref, name: Ref, role: referrer, clinic_id: c1, languages: [ar]}
  - {id: s1, username: s1, name: S1, role: specialist, specialties: [onc], languages: [he, en]}
  - {id: s2, username: s2, name: S2, role: specialist, specialties: [onc], languages: [ar, he]}
  - {id: h1, username: h1, name: H1, role: specialist, specialties: [heme], languages: [ar]}
  - {id: co, username: co, name: Co, role: coordinator, languages: [he]}
clinics: [{id: c1, name: Clinic}]
specialties:
  - {slug: onc, name: {en: Oncology}}
  - {slug: heme, name: {en: Hematology}}
schedules:
  - specialty: onc
    primary: {layers: [{name: day, start: "2026-01-04", handoff: "08:00", shift: daily, members: [h1]}]}
    secondary: {layers: [{name: week, start: "2026-01-04", handoff: "08:00", shift: weekly, members: [s1]}]}
`

func TestOnCallFromAnotherSpecialty(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse([]byte(crossRoster))
	require.NoError(t, err)
	// Seed 1 has h1 away on days consults arrive.
	res := simulate(t, r, func(c *Config) {
		c.Days, c.Seed, c.Volume, c.Mix = 7, 1, 150, map[string]float64{"heme": 0}
	})
	require.NoError(t, res.Err())
	checkHistory(t, r, res.Log)
	calendar := newPeople(res.Config, r) // availability depends on the seed alone
	var whileAway, offered int
	for _, e := range res.Log {
		switch e.Type {
		case event.Requested:
			if calendar.availability("h1", e.At) == dispatch.Away {
				whileAway++
			}
		case event.Offered:
			if slices.Contains(offeredTo(e), "h1") {
				offered++
				assert.NotEqual(t, dispatch.Away, calendar.availability("h1", e.At), "%s: got an offer to h1 while away, want them passed over", e.ID)
			}
		}
	}
	assert.Positive(t, whileAway, "got no consult requested while h1 was away, want some: the test needs them")
	assert.Positive(t, offered, "got no offer to the on-call h1, want some")
}

func TestOrphanCheck(t *testing.T) {
	t.Parallel()
	r := demo(t)
	start := DefaultConfig().Start
	s := &sim{r: r, now: start, consults: map[string]*consult.Consult{}, pending: map[string]int{},
		snoozePos: map[string]int{}, res: &Result{}}
	c, err := consult.Apply(nil, event.Event{ID: "x-1", Type: event.Requested, ConsultID: "x", Position: 1, At: start,
		ActorID: "u-referrer1", Request: &event.Request{Urgency: "urgent", Specialty: "pediatric-oncology"}})
	require.NoError(t, err)
	c, err = consult.Apply(c, event.Event{ID: "x-2", Type: event.CoordinatorsAlerted, ConsultID: "x", Position: 2, At: start,
		ExpiresAt: start.Add(5 * time.Minute), Round: 1, Step: 4})
	require.NoError(t, err)
	s.consults["x"] = c

	s.pending[deadlineKey("x", expiry(2))] = 1
	s.checkOrphan("x")
	assert.Empty(t, s.res.Orphans, "got an orphan while the step's end is pending, want none")

	delete(s.pending, deadlineKey("x", expiry(2)))
	s.checkOrphan("x")
	assert.Equal(t, []string{"x"}, s.res.Orphans, "got orphans %v with no pending step end, want [x]", s.res.Orphans)
}

func TestRun(t *testing.T) {
	t.Parallel()
	yaml := filepath.Join(t.TempDir(), "roster.yaml")
	require.NoError(t, os.WriteFile(yaml, []byte(febrileRoster), 0o600))
	noEnv := func(string) string { return "" }
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		want    string
	}{
		{name: "the demo roster", args: []string{"-days", "1", "-seed", "3", "-trace", "c00001"},
			want: "INVARIANTS consults left with neither owner nor escalation: 0; orphans found while running: 0; broken routing promises: 0"},
		{name: "a roster file in YAML", args: []string{"-days", "1", "-roster", yaml, "-mix", "onc=1"}, want: "TIME TO ACCEPT"},
		{name: "no days", args: []string{"-days", "0"}, wantErr: true},
		{name: "a bad mix", args: []string{"-mix", "onc"}, wantErr: true},
		{name: "shares over one", args: []string{"-emergent", "0.8", "-urgent", "0.3"}, wantErr: true},
		{name: "a missing roster", args: []string{"-roster", filepath.Join(t.TempDir(), "none.json")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, noEnv, &out, &errOut)
			if tt.wantErr {
				assert.Error(t, err, "got no error, want one")
				return
			}
			require.NoError(t, err, "output:\n%s", out.String())
			assert.Contains(t, out.String(), tt.want)
		})
	}
}

func TestSLAFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SLA_ACCEPT_EMERGENT": "5m", "STEP_WAIT_URGENT": "1m"}
	cfg, _, err := parse(nil, func(k string) string { return env[k] }, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, cfg.SLA.AcceptWithin["emergent"], "got %s, want 5m", cfg.SLA.AcceptWithin["emergent"])
	assert.Equal(t, time.Hour, cfg.SLA.AcceptWithin["urgent"], "got %s, want the 1h default", cfg.SLA.AcceptWithin["urgent"])
	assert.Equal(t, time.Minute, cfg.Waits["urgent"], "got %s, want 1m", cfg.Waits["urgent"])
	assert.Equal(t, 7, cfg.Days, "got %d days, want the default 7", cfg.Days)
}
