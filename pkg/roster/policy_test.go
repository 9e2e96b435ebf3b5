package roster_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/roster"
)

func minutes(n int) roster.Duration { return roster.Duration(time.Duration(n) * time.Minute) }

// TestDefaultPolicies pins the built-in escalation policies.
func TestDefaultPolicies(t *testing.T) {
	t.Parallel()
	want := map[string]roster.Policy{
		"emergent": {Urgency: "emergent", Repeat: 1, Steps: []roster.Step{
			{Target: "primary", Wait: minutes(2)}, {Target: "secondary", Wait: minutes(2)},
			{Target: "specialty", Wait: minutes(3), Parallel: true}, {Target: "coordinators", Wait: minutes(3)}}},
		"urgent": {Urgency: "urgent", Repeat: 1, Steps: []roster.Step{
			{Target: "primary", Wait: minutes(15)}, {Target: "secondary", Wait: minutes(15)},
			{Target: "specialty", Wait: minutes(20)}, {Target: "coordinators", Wait: minutes(30)}}},
		"routine": {Urgency: "routine", Repeat: 0, Steps: []roster.Step{
			{Target: "primary", Wait: minutes(240)}, {Target: "secondary", Wait: minutes(240)},
			{Target: "coordinators", Wait: minutes(480)}}},
	}
	defaults := roster.DefaultPolicies()
	require.Len(t, defaults, 3)
	for _, p := range defaults {
		assert.Equal(t, want[p.Urgency], p, "got the %s default %+v, want %+v", p.Urgency, p, want[p.Urgency])
		assert.Equal(t, p, roster.DefaultPolicy(p.Urgency), "got DefaultPolicy(%s) other than DefaultPolicies' entry", p.Urgency)
	}
	assert.Equal(t, want["routine"], roster.DefaultPolicy("whenever"), "got another default than routine's for an unknown urgency")

	defaults[0].Steps[0].Wait = 0
	assert.Equal(t, minutes(2), roster.DefaultPolicies()[0].Steps[0].Wait, "got the defaults changed through a returned copy")

	// The defaults are a valid roster policy list.
	r := validDoc()
	r.Policies = roster.DefaultPolicies()
	build(t, r)
}

func TestPolicyFor(t *testing.T) {
	t.Parallel()
	step := func(target string, wait int) []roster.Step {
		return []roster.Step{{Target: target, Wait: minutes(wait)}}
	}
	exact := roster.Policy{Specialty: "onc", Urgency: "emergent", Repeat: 2, Steps: step("primary", 1)}
	specialtyAny := roster.Policy{Specialty: "onc", Steps: step("secondary", 2)}
	anyUrgent := roster.Policy{Urgency: "urgent", Steps: step("specialty", 3)}
	anyAny := roster.Policy{Steps: step("coordinators", 4)}
	withPolicies := func(ps ...roster.Policy) *roster.Roster {
		r := validDoc()
		r.Specialties = append(r.Specialties, roster.Specialty{Slug: "card"})
		r.Policies = ps
		return build(t, r)
	}
	all := withPolicies(anyAny, anyUrgent, specialtyAny, exact) // order in the document does not matter
	noAny := withPolicies(exact, anyUrgent)
	none := withPolicies()

	tests := []struct {
		name               string
		r                  *roster.Roster
		specialty, urgency string
		want               roster.Policy
	}{
		{"specialty and urgency", all, "onc", "emergent", exact},
		{"the specialty at any urgency", all, "onc", "routine", specialtyAny},
		{"the specialty at any urgency, not another specialty's", all, "card", "emergent", anyAny},
		{"any specialty at the urgency", all, "card", "urgent", anyUrgent},
		{"the specialty beats the urgency", all, "onc", "urgent", specialtyAny},
		{"any at all", all, "card", "routine", anyAny},
		{"no match: the built-in default", noAny, "card", "routine", roster.DefaultPolicy("routine")},
		{"no match at emergent: the built-in default", noAny, "card", "emergent", roster.DefaultPolicy("emergent")},
		{"a match in a sparse roster", noAny, "card", "urgent", anyUrgent},
		{"no policies: emergent default", none, "onc", "emergent", roster.DefaultPolicy("emergent")},
		{"no policies: urgent default", none, "onc", "urgent", roster.DefaultPolicy("urgent")},
		{"no policies: routine default", none, "onc", "routine", roster.DefaultPolicy("routine")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.r.PolicyFor(tt.specialty, tt.urgency)
			assert.Equal(t, tt.want, got, "got %+v, want %+v", got, tt.want)
		})
	}

	got := all.PolicyFor("onc", "emergent")
	got.Steps[0].Target = "coordinators"
	assert.Equal(t, "primary", all.PolicyFor("onc", "emergent").Steps[0].Target, "got the roster changed through a returned policy")
}

// TestDemoOncologyEmergentPolicy checks the demo's explicit policy for emergent oncology.
func TestDemoOncologyEmergentPolicy(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	got := r.PolicyFor("pediatric-oncology", "emergent")
	want := roster.DefaultPolicy("emergent")
	want.Specialty = "pediatric-oncology"
	assert.Equal(t, want, got, "got %+v, want %+v", got, want)
	assert.Equal(t, roster.DefaultPolicy("urgent"), r.PolicyFor("pediatric-oncology", "urgent"), "got a demo policy for urgent oncology, want the default")
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		json string
	}{
		{2 * time.Minute, `"2m"`},
		{4 * time.Hour, `"4h"`},
		{90 * time.Minute, `"1h30m"`},
		{90 * time.Second, `"1m30s"`},
		{time.Hour + time.Second, `"1h0m1s"`},
		{1500 * time.Millisecond, `"1.5s"`},
	}
	for _, tt := range tests {
		data, err := json.Marshal(roster.Duration(tt.d))
		require.NoError(t, err)
		assert.Equal(t, tt.json, string(data), "got %s for %v, want %s", data, tt.d, tt.json)
		var back roster.Duration
		require.NoError(t, json.Unmarshal(data, &back))
		assert.Equal(t, tt.d, time.Duration(back), "got %v back from %s, want %v", time.Duration(back), data, tt.d)
	}
	for _, bad := range []string{`120`, `"2 minutes"`, `""`, `null`, `true`} {
		var d roster.Duration
		assert.Error(t, json.Unmarshal([]byte(bad), &d), "got no error reading %s as a duration", bad)
	}
}
