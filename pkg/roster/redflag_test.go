package roster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/roster"
)

func TestTriage(t *testing.T) {
	t.Parallel()
	demo, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	tests := []struct {
		name               string
		specialty, urgency string
		details            map[string]any
		raised             string
		fired              []string
	}{
		{"febrile neutropenia", "pediatric-oncology", "routine", map[string]any{"fever": true, "anc": 0.4}, "emergent", []string{"onc-febrile-neutropenia"}},
		{"both oncology rules, in roster order", "pediatric-oncology", "urgent", map[string]any{"fever": true, "anc": 0.2, "temperature_c": 39.1},
			"emergent", []string{"onc-febrile-neutropenia", "onc-temperature-neutropenia"}},
		{"temperature at the threshold", "pediatric-oncology", "routine", map[string]any{"temperature_c": 38.3, "anc": 0.1}, "emergent", []string{"onc-temperature-neutropenia"}},
		{"temperature just under", "pediatric-oncology", "routine", map[string]any{"temperature_c": 38.2, "anc": 0.1}, "routine", nil},
		{"ANC at the threshold is not below it", "pediatric-oncology", "urgent", map[string]any{"fever": true, "anc": 0.5}, "urgent", nil},
		{"no fever", "pediatric-oncology", "routine", map[string]any{"fever": false, "anc": 0.1}, "routine", nil},
		{"ANC missing", "pediatric-oncology", "routine", map[string]any{"fever": true}, "routine", nil},
		{"ANC not a number", "pediatric-oncology", "routine", map[string]any{"fever": true, "anc": "0.1"}, "routine", nil},
		{"ANC from Go as an int", "pediatric-oncology", "routine", map[string]any{"fever": true, "anc": 0}, "emergent", []string{"onc-febrile-neutropenia"}},
		{"no answers", "pediatric-oncology", "urgent", nil, "urgent", nil},
		{"already emergent stays emergent", "pediatric-oncology", "emergent", map[string]any{"fever": true, "anc": 0.4}, "emergent", []string{"onc-febrile-neutropenia"}},
		{"another specialty's answers", "pediatric-hematology", "routine", map[string]any{"fever": true, "anc": 0.4}, "routine", nil},
		{"bleeding with very low platelets", "pediatric-hematology", "urgent", map[string]any{"platelets": 6, "bleeding": true}, "emergent", []string{"hem-bleeding-thrombocytopenia"}},
		{"low platelets, no bleeding", "pediatric-hematology", "urgent", map[string]any{"platelets": 6, "bleeding": false}, "urgent", nil},
		{"bleeding, platelets 10", "pediatric-hematology", "urgent", map[string]any{"platelets": 10, "bleeding": true}, "urgent", nil},
		{"saturation 84%", "pediatric-cardiology", "routine", map[string]any{"oxygen_saturation": 84}, "emergent", []string{"card-severe-hypoxemia"}},
		{"saturation 85%", "pediatric-cardiology", "routine", map[string]any{"oxygen_saturation": 85}, "routine", nil},
		{"GCS 8", "pediatric-neurology", "urgent", map[string]any{"gcs": 8}, "emergent", []string{"neuro-depressed-consciousness"}},
		{"GCS 9", "pediatric-neurology", "urgent", map[string]any{"gcs": 9}, "urgent", nil},
		{"a specialty without rules", "pediatric-surgery", "routine", map[string]any{"weight_kg": 3}, "routine", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raised, reasons := demo.Triage(tt.specialty, tt.urgency, tt.details)
			assert.Equal(t, tt.raised, raised, "got urgency %s, want %s", raised, tt.raised)
			var fired []string
			for _, f := range reasons {
				fired = append(fired, f.ID)
				assert.NotEmpty(t, f.Reason["en"], "got no English reason for %s", f.ID)
				assert.NotEmpty(t, f.Reason["ar"], "got no Arabic reason for %s", f.ID)
				assert.NotEmpty(t, f.Reason["he"], "got no Hebrew reason for %s", f.ID)
			}
			assert.Equal(t, tt.fired, fired, "got rules %v, want %v", fired, tt.fired)
		})
	}
}

// TestTriageOperators checks every operator on a hand-built rule set, and that urgency is
// never lowered by an urgent rule.
func TestTriageOperators(t *testing.T) {
	t.Parallel()
	doc := validDoc()
	rule := func(id, urgency string, when ...roster.Condition) roster.RedFlagRule {
		return roster.RedFlagRule{ID: id, Specialty: "onc", Urgency: urgency, Reason: map[string]string{"en": id}, When: when}
	}
	doc.RedFlags = []roster.RedFlagRule{
		rule("anc-eq-1", "urgent", roster.Condition{Field: "anc", Op: "eq", Value: 1}),
		rule("anc-ne-1", "urgent", roster.Condition{Field: "anc", Op: "ne", Value: 1}),
		rule("anc-le-2", "urgent", roster.Condition{Field: "anc", Op: "le", Value: 2}),
		rule("anc-gt-50", "urgent", roster.Condition{Field: "anc", Op: "gt", Value: 50}),
		rule("anc-ge-60", "emergent", roster.Condition{Field: "anc", Op: "ge", Value: 60}),
		rule("site-eq-head", "urgent", roster.Condition{Field: "site", Op: "eq", Value: "head"}),
		rule("note-ne-ok", "urgent", roster.Condition{Field: "note", Op: "ne", Value: "ok"}),
	}
	r := build(t, doc)
	tests := []struct {
		name    string
		urgency string
		details map[string]any
		raised  string
		fired   []string
	}{
		{"equal number", "routine", map[string]any{"anc": 1.0}, "urgent", []string{"anc-eq-1", "anc-le-2"}},
		{"another number", "routine", map[string]any{"anc": 1.5}, "urgent", []string{"anc-ne-1", "anc-le-2"}},
		{"greater", "routine", map[string]any{"anc": 55.0}, "urgent", []string{"anc-ne-1", "anc-gt-50"}},
		{"greater or equal raises to emergent", "routine", map[string]any{"anc": 60.0}, "emergent", []string{"anc-ne-1", "anc-gt-50", "anc-ge-60"}},
		{"an urgent rule never lowers emergent", "emergent", map[string]any{"anc": 1.0}, "emergent", []string{"anc-eq-1", "anc-le-2"}},
		{"a missing answer fails eq and ne", "routine", map[string]any{}, "routine", nil},
		{"a string compares as a string", "routine", map[string]any{"site": "head", "note": "ok"}, "urgent", []string{"site-eq-head"}},
		{"ne on a string", "routine", map[string]any{"site": "chest", "note": "worse"}, "urgent", []string{"note-ne-ok"}},
		{"a string is not equal to a number", "routine", map[string]any{"note": 1.0}, "urgent", []string{"note-ne-ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raised, reasons := r.Triage("onc", tt.urgency, tt.details)
			var fired []string
			for _, f := range reasons {
				fired = append(fired, f.ID)
			}
			assert.Equal(t, tt.raised, raised, "got urgency %s, want %s", raised, tt.raised)
			assert.Equal(t, tt.fired, fired, "got rules %v, want %v", fired, tt.fired)
		})
	}
	_, reasons := r.Triage("onc", "routine", map[string]any{"anc": 1.0})
	reasons[0].Reason["en"] = "changed"
	_, again := r.Triage("onc", "routine", map[string]any{"anc": 1.0})
	assert.Equal(t, "anc-eq-1", again[0].Reason["en"], "got the roster's reason changed through a result")
}

func TestReasons(t *testing.T) {
	t.Parallel()
	got := roster.Reasons([]roster.RedFlag{
		{ID: "fn", Reason: map[string]string{"en": "Febrile neutropenia", "ar": "قلة العدلات الحموية"}},
		{ID: "no-english", Reason: map[string]string{"he": "דימום"}},
		{ID: "bare"},
	})
	assert.Equal(t, []map[string]string{
		{"en": "Febrile neutropenia", "ar": "قلة العدلات الحموية"},
		{"en": "no-english", "he": "דימום"},
		{"en": "bare"},
	}, got)
}
