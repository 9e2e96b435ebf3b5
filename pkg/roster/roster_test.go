package roster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
)

// jerusalem loads the hospital's zone from Go's tzdata.
func jerusalem(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(roster.Zone)
	require.NoError(t, err, "load %s", roster.Zone)
	return loc
}

// local is a wall-clock time in Jerusalem.
func local(t *testing.T, y int, m time.Month, d, hh, mm, ss int) time.Time {
	t.Helper()
	return time.Date(y, m, d, hh, mm, ss, 0, jerusalem(t))
}

// build marshals r and parses it back, as a roster document would be loaded.
func build(t *testing.T, r roster.Roster) *roster.Roster {
	t.Helper()
	data, err := json.Marshal(r)
	require.NoError(t, err)
	parsed, err := roster.Parse(data)
	require.NoError(t, err, "parse the test roster")
	return parsed
}

func onCall(t *testing.T, r *roster.Roster, specialty string, at time.Time) roster.OnCall {
	t.Helper()
	oc, ok := r.OnCallFor(specialty, at)
	require.True(t, ok, "got no schedule for %s, want one", specialty)
	return oc
}

// TestJerusalemDST2026 checks, from Go's tzdata rather than from memory, the two 2026
// daylight-saving changes the rotation tests rely on: clocks go forward at 02:00 on Friday
// 27 March and back at 02:00 on Sunday 25 October.
func TestJerusalemDST2026(t *testing.T) {
	t.Parallel()
	loc := jerusalem(t)
	const ist, idt = 2 * 60 * 60, 3 * 60 * 60
	offset := func(at time.Time) int { _, off := at.In(loc).Zone(); return off }

	start, end := time.Date(2026, 7, 1, 12, 0, 0, 0, loc).ZoneBounds()
	tests := []struct {
		name       string
		transition time.Time
		wantUTC    time.Time
		wantDay    time.Weekday
		before     int
		after      int
		wallAfter  string
	}{
		{"spring forward", start, time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC), time.Friday, ist, idt, "2026-03-27 03:00"},
		{"fall back", end, time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC), time.Sunday, idt, ist, "2026-10-25 01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, tt.wantUTC.Equal(tt.transition), "got transition %v, want %v", tt.transition.UTC(), tt.wantUTC)
			got := tt.transition.In(loc)
			assert.Equal(t, tt.wantDay, got.Weekday(), "got %s, want %s", got.Weekday(), tt.wantDay)
			assert.Equal(t, tt.wallAfter, got.Format("2006-01-02 15:04"), "got wall clock %s, want %s", got.Format("2006-01-02 15:04"), tt.wallAfter)
			wallBefore := tt.transition.Add(-time.Second).In(loc).Format("15:04:05")
			assert.Equal(t, "01:59:59", wallBefore, "got wall clock %s a second before, want 01:59:59", wallBefore)
			assert.Equal(t, tt.before, offset(tt.transition.Add(-time.Second)), "got offset %d before, want %d", offset(tt.transition.Add(-time.Second)), tt.before)
			assert.Equal(t, tt.after, offset(tt.transition), "got offset %d after, want %d", offset(tt.transition), tt.after)
		})
	}
	// The 08:00 handoffs either side of each change are 23 and 25 hours apart.
	assert.Equal(t, 23*time.Hour, local(t, 2026, 3, 27, 8, 0, 0).Sub(local(t, 2026, 3, 26, 8, 0, 0)), "got the spring-forward day's length wrong")
	assert.Equal(t, 25*time.Hour, local(t, 2026, 10, 25, 8, 0, 0).Sub(local(t, 2026, 10, 24, 8, 0, 0)), "got the fall-back day's length wrong")
}

func TestDemoRosterAccounts(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err, "parse the demo roster")

	tests := []struct {
		username  string
		role      string
		clinic    string
		languages []string
		specialty string // one the account must have
	}{
		{username: "referrer1", role: "referrer", clinic: "hebron", languages: []string{"ar", "en"}},
		{username: "referrer2", role: "referrer", clinic: "gaza-city", languages: []string{"ar"}},
		{username: "onc1", role: "specialist", specialty: "pediatric-oncology"},
		{username: "onc2", role: "specialist", specialty: "pediatric-oncology"},
		{username: "hem1", role: "specialist", specialty: "pediatric-hematology"},
		{username: "coord1", role: "coordinator"},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			t.Parallel()
			u, ok := r.ByUsername(tt.username)
			require.True(t, ok, "got no user %s, want one", tt.username)
			assert.Equal(t, tt.role, u.Role, "got role %q, want %q", u.Role, tt.role)
			assert.Equal(t, tt.clinic, u.ClinicID, "got clinic %q, want %q", u.ClinicID, tt.clinic)
			if tt.languages != nil {
				assert.Equal(t, tt.languages, u.Languages, "got languages %v, want %v", u.Languages, tt.languages)
			}
			if tt.specialty != "" {
				assert.Contains(t, u.Specialties, tt.specialty, "got specialties %v, want %s among them", u.Specialties, tt.specialty)
			}
			assert.False(t, u.Disabled, "got %s disabled, want enabled", tt.username)
			byID, ok := r.User(u.ID)
			require.True(t, ok, "got no user by id %q, want %s", u.ID, tt.username)
			assert.Equal(t, u, byID, "got %+v by id, want %+v", byID, u)
			if tt.clinic != "" {
				assert.True(t, hasClinic(r, tt.clinic), "got no clinic %q in the roster, want one", tt.clinic)
			}
			assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("demo")),
				"got %s's password is not demo, want demo", tt.username)
			assert.Empty(t, u.Public().PasswordHash, "got a password hash in the public user, want none")
		})
	}

	for _, slug := range []string{"pediatric-oncology", "pediatric-hematology"} {
		assert.True(t, r.HasSpecialty(slug), "got no specialty %s, want it", slug)
	}
	for _, s := range r.Specialties {
		for _, lang := range []string{"en", "ar", "he"} {
			assert.NotEmpty(t, s.Name[lang], "got no %s name for %s, want one", lang, s.Slug)
		}
	}
	assert.False(t, r.HasSpecialty("astrology"), "got astrology as a specialty, want not")
	_, ok := r.ByUsername("nobody")
	assert.False(t, ok, "got a user nobody, want none")
	for _, u := range r.Members("referrer") {
		assert.Empty(t, u.PasswordHash, "got a password hash from Members for %s, want none", u.Username)
	}
}

func hasClinic(r *roster.Roster, id string) bool {
	for _, c := range r.Clinics {
		if c.ID == id {
			return true
		}
	}
	return false
}

// demoInstants are moments across more than a year: a fixed stride that drifts through every
// time of day, every quarter hour of the two 2026 daylight-saving days and the days beside
// them, and each day's 08:00 handoff and the second before it.
func demoInstants(t *testing.T) []time.Time {
	t.Helper()
	var out []time.Time
	for at := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC); at.Before(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)); at = at.Add(47 * time.Minute) {
		out = append(out, at)
	}
	for _, day := range [][3]int{{2026, 3, 26}, {2026, 3, 27}, {2026, 3, 28}, {2026, 10, 24}, {2026, 10, 25}, {2026, 10, 26}} {
		start := time.Date(day[0], time.Month(day[1]), day[2], 0, 0, 0, 0, jerusalem(t))
		for at := start; at.Before(start.Add(26 * time.Hour)); at = at.Add(15 * time.Minute) {
			out = append(out, at)
		}
	}
	for d := local(t, 2026, 1, 1, 8, 0, 0); d.Year() == 2026; d = time.Date(d.Year(), d.Month(), d.Day()+1, 8, 0, 0, 0, d.Location()) {
		out = append(out, d, d.Add(-time.Second))
	}
	return out
}

// TestDemoOnCallAtAllHours checks the README's promise that the demo's oncology and hematology
// pairs are on call at every hour of the year, daylight-saving days included.
func TestDemoOnCallAtAllHours(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	id := func(username string) string {
		u, ok := r.ByUsername(username)
		require.True(t, ok, "got no %s, want one", username)
		return u.ID
	}
	tests := []struct {
		specialty, primary, secondary string
	}{
		{"pediatric-oncology", id("onc1"), id("onc2")},
		{"pediatric-hematology", id("hem1"), ""},
	}
	instants := demoInstants(t)
	for _, tt := range tests {
		t.Run(tt.specialty, func(t *testing.T) {
			t.Parallel()
			failures := 0
			for _, at := range instants {
				oc := onCall(t, r, tt.specialty, at)
				ok := assert.Equal(t, tt.primary, oc.PrimaryID, "at %v: got primary %q, want %q", at, oc.PrimaryID, tt.primary)
				if tt.secondary != "" {
					ok = assert.Equal(t, tt.secondary, oc.SecondaryID, "at %v: got secondary %q, want %q", at, oc.SecondaryID, tt.secondary) && ok
				}
				ok = assert.True(t, oc.Until.After(at), "at %v: got until %v, want later", at, oc.Until) && ok
				if !ok {
					if failures++; failures > 5 {
						t.Fatalf("stopping after %d failing instants", failures)
					}
				}
			}
		})
	}
}

func TestDemoOnCallAtListsEverySchedule(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	at := local(t, 2026, 10, 25, 1, 30, 0)
	got := r.OnCallAt(at)
	require.Len(t, got, len(r.Schedules), "got %d entries, want one per schedule (%d)", len(got), len(r.Schedules))
	for i, oc := range got {
		assert.Equal(t, r.Schedules[i].Specialty, oc.Specialty, "got entry %d for %s, want %s", i, oc.Specialty, r.Schedules[i].Specialty)
		assert.NotEmpty(t, oc.PrimaryID, "got no primary for %s, want one", oc.Specialty)
		assert.NotEmpty(t, oc.SecondaryID, "got no secondary for %s, want one", oc.Specialty)
		assert.NotEqual(t, oc.PrimaryID, oc.SecondaryID, "got %s as both primary and secondary for %s", oc.PrimaryID, oc.Specialty)
		assert.True(t, oc.Until.After(at), "got until %v for %s, want after %v", oc.Until, oc.Specialty, at)
		assert.Equal(t, time.UTC, oc.Until.Location(), "got until in %v, want UTC", oc.Until.Location())
		u, ok := r.User(oc.PrimaryID)
		if assert.True(t, ok, "got unknown primary %q", oc.PrimaryID) {
			assert.Contains(t, u.Specialties, oc.Specialty, "got primary %s without specialty %s", u.ID, oc.Specialty)
		}
	}
}

// TestDemoPairsDifferAtAllHours checks that every demo schedule has a primary and a secondary
// at every instant of demoInstants, never the same person, each a specialist of the specialty.
func TestDemoPairsDifferAtAllHours(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	instants := demoInstants(t)
	for _, s := range r.Schedules {
		t.Run(s.Specialty, func(t *testing.T) {
			t.Parallel()
			for _, at := range instants {
				oc := onCall(t, r, s.Specialty, at)
				require.NotEmpty(t, oc.PrimaryID, "at %v: got no primary, want one", at)
				require.NotEmpty(t, oc.SecondaryID, "at %v: got no secondary, want one", at)
				require.NotEqual(t, oc.PrimaryID, oc.SecondaryID, "at %v: got %s as both primary and secondary", at, oc.PrimaryID)
				for _, id := range []string{oc.PrimaryID, oc.SecondaryID} {
					u, ok := r.User(id)
					require.True(t, ok, "at %v: got unknown user %q", at, id)
					require.Contains(t, u.Specialties, s.Specialty, "at %v: got %s on call without the specialty", at, id)
				}
			}
		})
	}
}

// TestDemoLayersAndOverride checks the demo's layered radiology schedule (a weekday reading-room
// layer over a weekly 24-hour one) and its cardiology override.
func TestDemoLayersAndOverride(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	// 1 February 2026 is a Sunday, the first day of the Israeli working week; the weekly
	// radiology call changes on Sundays at 08:00 from 4 January (rad1, rad2, rad3, ...), so the
	// week of 1 February is rad2's (week 4).
	tests := []struct {
		name, specialty string
		at              time.Time
		primary         string
	}{
		{"radiology: Sunday morning, reading room", "pediatric-radiology", local(t, 2026, 2, 1, 8, 0, 0), "u-rad4"},
		{"radiology: Thursday 16:59, reading room", "pediatric-radiology", local(t, 2026, 2, 5, 16, 59, 0), "u-rad4"},
		{"radiology: Thursday 17:00, weekly call", "pediatric-radiology", local(t, 2026, 2, 5, 17, 0, 0), "u-rad2"},
		{"radiology: Friday noon, weekly call", "pediatric-radiology", local(t, 2026, 2, 6, 12, 0, 0), "u-rad2"},
		{"radiology: Sunday 07:59, last minute of the week before", "pediatric-radiology", local(t, 2026, 2, 1, 7, 59, 0), "u-rad1"},
		{"cardiology: the day before the override", "pediatric-cardiology", local(t, 2027, 2, 13, 12, 0, 0), "u-card1"},
		{"cardiology: during the override", "pediatric-cardiology", local(t, 2027, 2, 14, 12, 0, 0), "u-card3"},
		{"cardiology: after the override", "pediatric-cardiology", local(t, 2027, 2, 15, 12, 0, 0), "u-card3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := onCall(t, r, tt.specialty, tt.at)
			assert.Equal(t, tt.primary, oc.PrimaryID, "got primary %q, want %q", oc.PrimaryID, tt.primary)
		})
	}
	_, _, ok := r.Shifts("pediatric-cardiology", local(t, 2027, 2, 14, 0, 0, 0), local(t, 2027, 2, 16, 0, 0, 0))
	require.True(t, ok)
	primary, _, _ := r.Shifts("pediatric-cardiology", local(t, 2027, 2, 14, 0, 0, 0), local(t, 2027, 2, 16, 0, 0, 0))
	sources := make([]string, 0, len(primary))
	for _, s := range primary {
		sources = append(sources, s.UserID+"/"+s.Source)
	}
	assert.Equal(t, []string{"u-card1/Daily call", "u-card3/override", "u-card3/Daily call"}, sources,
		"got cardiology shifts %v, want the override between two layer shifts", sources)
}

// TestDemoForms checks that every demo specialty asks its key facts, labelled in English,
// Arabic and Hebrew, and has at least two specialists for a parallel escalation step.
func TestDemoForms(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	want := map[string][]string{
		"pediatric-oncology":   {"diagnosis", "stage", "current_treatment", "cycle", "wbc", "anc", "hemoglobin", "platelets", "counts_date", "fever", "temperature_c"},
		"pediatric-hematology": {"diagnosis", "hemoglobin", "platelets", "bleeding"},
		"pediatric-radiology":  {"modality", "body_part", "prior_imaging"},
		"pediatric-cardiology": {"diagnosis", "oxygen_saturation", "murmur"},
		"pediatric-neurology":  {"diagnosis", "seizures", "gcs"},
		"pediatric-surgery":    {"diagnosis", "weight_kg", "allergies"},
	}
	for _, s := range r.Specialties {
		t.Run(s.Slug, func(t *testing.T) {
			t.Parallel()
			keys := make([]string, 0, len(s.Form))
			for _, f := range s.Form {
				keys = append(keys, f.Key)
				for _, lang := range []string{"en", "ar", "he"} {
					assert.NotEmpty(t, f.Label[lang], "got no %s label for %s, want one", lang, f.Key)
					for _, o := range f.Options {
						assert.NotEmpty(t, o.Label[lang], "got no %s label for option %s of %s, want one", lang, o.Value, f.Key)
					}
				}
			}
			assert.Equal(t, want[s.Slug], keys, "got form %v, want %v", keys, want[s.Slug])
			specialists := 0
			for _, u := range r.Members("specialist") {
				if slices.Contains(u.Specialties, s.Slug) {
					specialists++
				}
			}
			assert.GreaterOrEqual(t, specialists, 2, "got %d specialists, want at least 2", specialists)
		})
	}
	onc, ok := r.Specialty("pediatric-oncology")
	require.True(t, ok)
	anc := onc.Form[slices.IndexFunc(onc.Form, func(f roster.Field) bool { return f.Key == "anc" })]
	require.NotNil(t, anc.Min)
	require.NotNil(t, anc.Max)
	assert.Equal(t, []float64{0, 100}, []float64{*anc.Min, *anc.Max}, "got anc bounds %v..%v, want 0..100", *anc.Min, *anc.Max)
	for _, rule := range r.RedFlags {
		for _, lang := range []string{"en", "ar", "he"} {
			assert.NotEmpty(t, rule.Reason[lang], "got no %s reason for red flag %s, want one", lang, rule.ID)
		}
	}
}

func TestCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max, want int
	}{{0, roster.DefaultCapacity}, {1, 1}, {5, 5}, {-1, roster.DefaultCapacity}}
	for _, tt := range tests {
		got := roster.User{MaxConsults: tt.max}.Capacity()
		assert.Equal(t, tt.want, got, "max_consults %d: got capacity %d, want %d", tt.max, got, tt.want)
	}
	assert.Equal(t, 3, roster.DefaultCapacity, "got default capacity %d, want 3", roster.DefaultCapacity)

	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	onc1, _ := r.ByUsername("onc1")
	hem1, _ := r.ByUsername("hem1")
	assert.Equal(t, 5, onc1.Capacity(), "got onc1's capacity %d, want 5", onc1.Capacity())
	assert.Equal(t, 3, hem1.Capacity(), "got hem1's capacity %d, want the default 3", hem1.Capacity())
	assert.Equal(t, []string{"leukemia", "lymphoma"}, onc1.SubSpecialties, "got onc1's sub-specialties %v", onc1.SubSpecialties)
}

// validDoc is a small roster in the current shape with one of everything, for tests to edit.
func validDoc() roster.Roster {
	minAge, maxAge := 0.0, 100.0
	layer := roster.Layer{Name: "days", Start: "2026-01-04", Handoff: "08:00", Shift: roster.ShiftDaily, Members: []string{"u-a"},
		Restrict: &roster.Restriction{Weekdays: []string{"sun", "mon"}, From: "08:00", To: "17:00"}}
	return roster.Roster{
		Users: []roster.User{
			{ID: "u-a", Username: "a", Role: "specialist", Specialties: []string{"onc"}},
			{ID: "u-b", Username: "b", Role: "specialist", Disabled: true},
			{ID: "u-r", Username: "r", Role: "referrer", ClinicID: "hebron"},
			{ID: "u-c", Username: "c", Role: "coordinator"},
			{ID: "u-x", Username: "x", Role: "admin"},
		},
		Clinics: []roster.Clinic{{ID: "hebron"}},
		Specialties: []roster.Specialty{{Slug: "onc", Form: []roster.Field{
			{Key: "anc", Type: "number", Label: map[string]string{"en": "ANC"}, Min: &minAge, Max: &maxAge},
			{Key: "fever", Type: "boolean", Label: map[string]string{"en": "Fever"}},
			{Key: "note", Type: "text", Label: map[string]string{"en": "Note"}},
			{Key: "site", Type: "select", Label: map[string]string{"en": "Site"}, Options: []roster.Option{
				{Value: "head", Label: map[string]string{"en": "Head"}}, {Value: "chest", Label: map[string]string{"en": "Chest"}}}},
		}}},
		Schedules: []roster.Schedule{{Specialty: "onc",
			Primary: roster.Tier{Layers: []roster.Layer{layer}, Overrides: []roster.Override{{ID: "o1", UserID: "u-a",
				From: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}}},
			Secondary: roster.Tier{Layers: []roster.Layer{{Name: "nights", Start: "2026-01-04", Handoff: "20:00",
				Shift: roster.ShiftCustom, ShiftHours: 12, Members: []string{"u-a", "u-b"}}}},
		}},
		Policies: []roster.Policy{{Specialty: "onc", Urgency: "emergent", Repeat: 1, Steps: []roster.Step{
			{Target: "primary", Wait: roster.Duration(2 * time.Minute)},
			{Target: "specialty", Wait: roster.Duration(3 * time.Minute), Parallel: true},
			{Target: "person", UserID: "u-a", Wait: roster.Duration(time.Minute)},
			{Target: "coordinators", Wait: roster.Duration(3 * time.Minute)},
		}}},
		RedFlags: []roster.RedFlagRule{{ID: "fn", Specialty: "onc", Urgency: "emergent", Reason: map[string]string{"en": "FN"},
			When: []roster.Condition{{Field: "fever", Op: "eq", Value: true}, {Field: "anc", Op: "lt", Value: 0.5}}}},
	}
}

// TestParseRejects changes one thing in a valid roster and checks Parse refuses it, naming the
// part of the document that is wrong.
func TestParseRejects(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		edit  func(r *roster.Roster)
		field string // the FieldError's path; "" when the roster is valid
		want  string // part of the error
	}{
		{"valid", func(*roster.Roster) {}, "", ""},
		{"disabled layer member", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Members = []string{"u-b"} }, "", ""},
		{"schedule without a secondary", func(r *roster.Roster) { r.Schedules[0].Secondary = roster.Tier{} }, "", ""},
		{"restriction wrapping midnight", func(r *roster.Roster) {
			r.Schedules[0].Primary.Layers[0].Restrict = &roster.Restriction{From: "20:00", To: "08:00"}
		}, "", ""},
		{"restriction to midnight", func(r *roster.Roster) {
			r.Schedules[0].Primary.Layers[0].Restrict = &roster.Restriction{From: "20:00", To: "24:00"}
		}, "", ""},
		{"no policies or red flags", func(r *roster.Roster) { r.Policies, r.RedFlags = nil, nil }, "", ""},
		{"a user's specialty the roster no longer has", func(r *roster.Roster) { r.Users[0].Specialties = []string{"astrology"} }, "", ""},

		{"duplicate id", func(r *roster.Roster) { r.Users[1].ID = "u-a" }, "users[1].id", "duplicate user id u-a"},
		{"duplicate username", func(r *roster.Roster) { r.Users[1].Username = "a" }, "users[1].username", "duplicate username a"},
		{"missing id", func(r *roster.Roster) { r.Users[1].ID = "" }, "users[1]", "no id or username"},
		{"missing username", func(r *roster.Roster) { r.Users[1].Username = "" }, "users[1]", "no id or username"},
		{"unknown role", func(r *roster.Roster) { r.Users[3].Role = "nurse" }, "users[3].role", `unknown role "nurse"`},
		{"empty role", func(r *roster.Roster) { r.Users[3].Role = "" }, "users[3].role", `unknown role ""`},
		{"role in capitals", func(r *roster.Roster) { r.Users[3].Role = "Coordinator" }, "users[3].role", `unknown role "Coordinator"`},
		{"referrer without clinic", func(r *roster.Roster) { r.Users[2].ClinicID = "" }, "users[2].clinic_id", "referrer u-r has no clinic"},
		{"blank sub-specialty", func(r *roster.Roster) { r.Users[0].SubSpecialties = []string{" "} }, "users[0].sub_specialties[0]", "1 to 64"},
		{"negative max_consults", func(r *roster.Roster) { r.Users[0].MaxConsults = -1 }, "users[0].max_consults", "must be 0"},
		{"huge max_consults", func(r *roster.Roster) { r.Users[0].MaxConsults = 51 }, "users[0].max_consults", "must be 0"},
		{"duplicate clinic", func(r *roster.Roster) { r.Clinics = append(r.Clinics, roster.Clinic{ID: "hebron"}) }, "clinics[1].id", "duplicate"},
		{"specialty without a slug", func(r *roster.Roster) { r.Specialties = append(r.Specialties, roster.Specialty{}) }, "specialties[1].slug", "required"},
		{"duplicate specialty", func(r *roster.Roster) { r.Specialties = append(r.Specialties, roster.Specialty{Slug: "onc"}) }, "specialties[1].slug", "duplicate specialty onc"},

		{"layer member is a coordinator", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Members = []string{"u-c"} }, "schedules[0].primary.layers[0].members[0]", "member u-c is not a specialist"},
		{"layer member is a referrer", func(r *roster.Roster) { r.Schedules[0].Secondary.Layers[0].Members = []string{"u-a", "u-r"} }, "schedules[0].secondary.layers[0].members[1]", "member u-r is not a specialist"},
		{"layer member is an admin", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Members = []string{"u-x"} }, "schedules[0].primary.layers[0].members[0]", "member u-x is not a specialist"},
		{"layer member is unknown", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Members = []string{"u-nobody"} }, "schedules[0].primary.layers[0].members[0]", "member u-nobody is not a specialist"},
		{"layer without members", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Members = nil }, "schedules[0].primary.layers[0].members", "at least one member"},
		{"layer without a name", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Name = "" }, "schedules[0].primary.layers[0].name", "required"},
		{"layer named override", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Name = "override" }, "schedules[0].primary.layers[0].name", "a second layer"},
		{"two layers of one name", func(r *roster.Roster) {
			p := &r.Schedules[0].Primary
			p.Layers = append(p.Layers, p.Layers[0])
		}, "schedules[0].primary.layers[1].name", `a second layer named "days"`},
		{"start not a date", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Start = "04/01/2026" }, "schedules[0].primary.layers[0].start", "YYYY-MM-DD"},
		{"start impossible date", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Start = "2026-02-30" }, "schedules[0].primary.layers[0].start", "YYYY-MM-DD"},
		{"start with a time", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Start = "2026-01-04T08:00:00Z" }, "schedules[0].primary.layers[0].start", "YYYY-MM-DD"},
		{"handoff hour 24", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "24:00" }, "schedules[0].primary.layers[0].handoff", "HH:MM"},
		{"handoff minute 60", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "08:60" }, "schedules[0].primary.layers[0].handoff", "HH:MM"},
		{"handoff in words", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "8am" }, "schedules[0].primary.layers[0].handoff", "HH:MM"},
		{"handoff with one digit", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "8:00" }, "schedules[0].primary.layers[0].handoff", "HH:MM"},
		{"handoff with seconds", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "08:00:00" }, "schedules[0].primary.layers[0].handoff", "HH:MM"},
		{"unknown shift", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Shift = "monthly" }, "schedules[0].primary.layers[0].shift", "daily, weekly or custom"},
		{"custom shift without hours", func(r *roster.Roster) { r.Schedules[0].Secondary.Layers[0].ShiftHours = 0 }, "schedules[0].secondary.layers[0].shift_hours", "whole hours"},
		{"custom shift of negative hours", func(r *roster.Roster) { r.Schedules[0].Secondary.Layers[0].ShiftHours = -12 }, "schedules[0].secondary.layers[0].shift_hours", "whole hours"},
		{"shift hours on a daily shift", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].ShiftHours = 12 }, "schedules[0].primary.layers[0].shift_hours", "only a custom shift"},
		{"unknown weekday", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.Weekdays = []string{"sun", "Monday"} }, "schedules[0].primary.layers[0].restrict.weekdays[1]", "one of sun"},
		{"weekday twice", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.Weekdays = []string{"sun", "sun"} }, "schedules[0].primary.layers[0].restrict.weekdays[1]", "listed twice"},
		{"restriction from not a time", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.From = "8" }, "schedules[0].primary.layers[0].restrict.from", "HH:MM"},
		{"restriction from 24:00", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.From = "24:00" }, "schedules[0].primary.layers[0].restrict.from", "HH:MM"},
		{"restriction to 25:00", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.To = "25:00" }, "schedules[0].primary.layers[0].restrict.to", "HH:MM"},
		{"empty restriction window", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Restrict.To = "08:00" }, "schedules[0].primary.layers[0].restrict.to", "must differ"},
		{"override without id", func(r *roster.Roster) { r.Schedules[0].Primary.Overrides[0].ID = "" }, "schedules[0].primary.overrides[0].id", "required"},
		{"override ids repeat across tiers", func(r *roster.Roster) {
			r.Schedules[0].Secondary.Overrides = slices.Clone(r.Schedules[0].Primary.Overrides)
		}, "schedules[0].secondary.overrides[0].id", "duplicate override id o1"},
		{"override for a coordinator", func(r *roster.Roster) { r.Schedules[0].Primary.Overrides[0].UserID = "u-c" }, "schedules[0].primary.overrides[0].user_id", "not a specialist"},
		{"override without from", func(r *roster.Roster) { r.Schedules[0].Primary.Overrides[0].From = time.Time{} }, "schedules[0].primary.overrides[0].from", "required"},
		{"override ending at its start", func(r *roster.Roster) {
			o := &r.Schedules[0].Primary.Overrides[0]
			o.To = o.From
		}, "schedules[0].primary.overrides[0].to", "after from"},
		{"override of two years", func(r *roster.Roster) {
			o := &r.Schedules[0].Primary.Overrides[0]
			o.To = o.From.AddDate(2, 0, 0)
		}, "schedules[0].primary.overrides[0].to", "at most 366 days"},
		{"schedule for an unknown specialty", func(r *roster.Roster) { r.Schedules[0].Specialty = "astrology" }, "schedules[0].specialty", "schedule for unknown specialty astrology"},
		{"two schedules for a specialty", func(r *roster.Roster) {
			r.Schedules = append(r.Schedules, roster.Schedule{Specialty: "onc"})
		}, "schedules[1].specialty", "a second schedule"},

		{"form key with capitals", func(r *roster.Roster) { r.Specialties[0].Form[0].Key = "ANC" }, "specialties[0].form[0].key", "lowercase"},
		{"form key twice", func(r *roster.Roster) { r.Specialties[0].Form[1].Key = "anc" }, "specialties[0].form[1].key", "duplicate field anc"},
		{"unknown field type", func(r *roster.Roster) { r.Specialties[0].Form[1].Type = "checkbox" }, "specialties[0].form[1].type", "must be one of"},
		{"field without an English label", func(r *roster.Roster) { r.Specialties[0].Form[1].Label = map[string]string{"he": "חום"} }, "specialties[0].form[1].label.en", "required"},
		{"min above max", func(r *roster.Roster) { v := 200.0; r.Specialties[0].Form[0].Min = &v }, "specialties[0].form[0].max", "not be below min"},
		{"min on a text field", func(r *roster.Roster) { v := 1.0; r.Specialties[0].Form[2].Min = &v }, "specialties[0].form[2].min", "only a number field"},
		{"max_length on a number", func(r *roster.Roster) { r.Specialties[0].Form[0].MaxLength = 10 }, "specialties[0].form[0].max_length", "only a text field"},
		{"select without options", func(r *roster.Roster) { r.Specialties[0].Form[3].Options = nil }, "specialties[0].form[3].options", "1 to 100 options"},
		{"options on a text field", func(r *roster.Roster) { r.Specialties[0].Form[2].Options = r.Specialties[0].Form[3].Options }, "specialties[0].form[2].options", "only a select field"},
		{"option value twice", func(r *roster.Roster) { r.Specialties[0].Form[3].Options[1].Value = "head" }, "specialties[0].form[3].options[1].value", "unique"},

		{"policy for an unknown specialty", func(r *roster.Roster) { r.Policies[0].Specialty = "astrology" }, "policies[0].specialty", "unknown specialty"},
		{"policy for an unknown urgency", func(r *roster.Roster) { r.Policies[0].Urgency = "soon" }, "policies[0].urgency", "must be emergent"},
		{"two policies for one case", func(r *roster.Roster) { r.Policies = append(r.Policies, r.Policies[0]) }, "policies[1]", "a second policy"},
		{"policy without steps", func(r *roster.Roster) { r.Policies[0].Steps = nil }, "policies[0].steps", "1 to 20 steps"},
		{"repeat 11 times", func(r *roster.Roster) { r.Policies[0].Repeat = 11 }, "policies[0].repeat", "0 to 10"},
		{"negative repeat", func(r *roster.Roster) { r.Policies[0].Repeat = -1 }, "policies[0].repeat", "0 to 10"},
		{"unknown target", func(r *roster.Roster) { r.Policies[0].Steps[0].Target = "everyone" }, "policies[0].steps[0].target", "must be primary"},
		{"person step naming nobody", func(r *roster.Roster) { r.Policies[0].Steps[2].UserID = "" }, "policies[0].steps[2].user_id", "must name a specialist"},
		{"person step naming a coordinator", func(r *roster.Roster) { r.Policies[0].Steps[2].UserID = "u-c" }, "policies[0].steps[2].user_id", "must name a specialist"},
		{"user on a primary step", func(r *roster.Roster) { r.Policies[0].Steps[0].UserID = "u-a" }, "policies[0].steps[0].user_id", "only a person step"},
		{"zero wait", func(r *roster.Roster) { r.Policies[0].Steps[0].Wait = 0 }, "policies[0].steps[0].wait", "more than 0"},
		{"wait over a week", func(r *roster.Roster) { r.Policies[0].Steps[0].Wait = roster.Duration(8 * 24 * time.Hour) }, "policies[0].steps[0].wait", "at most 7 days"},
		{"parallel primary step", func(r *roster.Roster) { r.Policies[0].Steps[0].Parallel = true }, "policies[0].steps[0].parallel", "only a specialty step"},

		{"red flag without id", func(r *roster.Roster) { r.RedFlags[0].ID = "" }, "red_flags[0].id", "required"},
		{"red flag id twice", func(r *roster.Roster) { r.RedFlags = append(r.RedFlags, r.RedFlags[0]) }, "red_flags[1].id", "duplicate red flag fn"},
		{"red flag for an unknown specialty", func(r *roster.Roster) { r.RedFlags[0].Specialty = "astrology" }, "red_flags[0].specialty", "unknown specialty"},
		{"red flag lowering to routine", func(r *roster.Roster) { r.RedFlags[0].Urgency = "routine" }, "red_flags[0].urgency", "emergent or urgent"},
		{"red flag without a reason", func(r *roster.Roster) { r.RedFlags[0].Reason = nil }, "red_flags[0].reason.en", "required"},
		{"red flag without conditions", func(r *roster.Roster) { r.RedFlags[0].When = nil }, "red_flags[0].when", "1 to 10 conditions"},
		{"condition on an unknown field", func(r *roster.Roster) { r.RedFlags[0].When[0].Field = "rash" }, "red_flags[0].when[0].field", `no form field "rash"`},
		{"unknown operator", func(r *roster.Roster) { r.RedFlags[0].When[0].Op = "is" }, "red_flags[0].when[0].op", "must be eq"},
		{"lt on a boolean", func(r *roster.Roster) { r.RedFlags[0].When[0].Op = "lt" }, "red_flags[0].when[0].op", "compares numbers only"},
		{"lt with a string", func(r *roster.Roster) { r.RedFlags[0].When[1].Value = "0.5" }, "red_flags[0].when[1].value", "must be a number"},
		{"eq of a boolean with a string", func(r *roster.Roster) { r.RedFlags[0].When[0].Value = "true" }, "red_flags[0].when[0].value", "true or false"},
		{"eq of a select with another value", func(r *roster.Roster) {
			r.RedFlags[0].When[0] = roster.Condition{Field: "site", Op: "eq", Value: "leg"}
		}, "red_flags[0].when[0].value", "options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validDoc()
			tt.edit(&r)
			data, err := json.Marshal(r)
			require.NoError(t, err)
			got, err := roster.Parse(data)
			if tt.field == "" {
				require.NoError(t, err, "got %v, want the roster accepted", err)
				require.NotNil(t, got, "got a nil roster, want one")
				_, ok := got.OnCallFor("onc", at)
				assert.True(t, ok, "got no schedule for onc, want one")
				return
			}
			assert.ErrorContains(t, err, tt.want, "got error %v, want one mentioning %q", err, tt.want)
			var fe *roster.FieldError
			if assert.True(t, errors.As(err, &fe), "got %T, want *roster.FieldError", err) {
				assert.Equal(t, tt.field, fe.Field, "got field %q, want %q", fe.Field, tt.field)
			}
			assert.Nil(t, got, "got a roster beside the error, want nil")
		})
	}
}

// A roster document's problems carry the API's problem codes, and the bounds where the code has
// them, so that an editing screen words them in its own language.
func TestParseRejectsWithCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(r *roster.Roster)
		want problem.Problem
	}{
		{"duplicate id", func(r *roster.Roster) { r.Users[1].ID = "u-a" },
			problem.Duplicate("duplicate user id u-a")},
		{"huge max_consults", func(r *roster.Roster) { r.Users[0].MaxConsults = 51 },
			problem.Between(fmt.Sprintf("must be 0 (the default, %d) to %d", roster.DefaultCapacity, roster.MaxCapacity), 0, roster.MaxCapacity)},
		{"schedule for an unknown specialty", func(r *roster.Roster) { r.Schedules[0].Specialty = "astrology" },
			problem.Unknown("schedule for unknown specialty astrology")},
		{"layer member is a referrer", func(r *roster.Roster) { r.Schedules[0].Secondary.Layers[0].Members = []string{"u-a", "u-r"} },
			problem.NotAllowed("member u-r is not a specialist")},
		{"handoff with seconds", func(r *roster.Roster) { r.Schedules[0].Primary.Layers[0].Handoff = "08:00:00" },
			problem.NotADate("must be a time of day as HH:MM")},
		{"missing id", func(r *roster.Roster) { r.Users[1].ID = "" },
			problem.InvalidValue("user 1 has no id or username")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validDoc()
			tt.edit(&r)
			data, err := json.Marshal(r)
			require.NoError(t, err)
			_, err = roster.Parse(data)
			var fe *roster.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.want, fe.Problem, "got %+v, want %+v", fe.Problem, tt.want)
		})
	}
}

func TestParseRejectsMalformedDocuments(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{``, `   `, `{`, `[]`, `{"users": {}}`, `{"users": [{"id": 1}]}`, "- a\n- b\n", "users: [\n", "just words",
		`{"policies": [{"steps": [{"target": "primary", "wait": 120}]}]}`,
		`{"policies": [{"steps": [{"target": "primary", "wait": "two minutes"}]}]}`} {
		t.Run(fmt.Sprintf("%q", doc), func(t *testing.T) {
			t.Parallel()
			got, err := roster.Parse([]byte(doc))
			assert.Error(t, err, "got no error for %q, want one", doc)
			assert.Nil(t, got, "got a roster for %q, want nil", doc)
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	data, err := r.Marshal()
	require.NoError(t, err)
	again, err := roster.Parse(data)
	require.NoError(t, err, "parse the marshalled demo roster")
	assert.Equal(t, r.Users, again.Users, "got users changed by a round trip")
	assert.Equal(t, r.Specialties, again.Specialties, "got specialties changed by a round trip")
	assert.Equal(t, r.Schedules, again.Schedules, "got schedules changed by a round trip")
	assert.Equal(t, r.Policies, again.Policies, "got policies changed by a round trip")
	assert.Equal(t, r.RedFlags, again.RedFlags, "got red flags changed by a round trip")
	at := local(t, 2026, 10, 25, 7, 0, 0)
	assert.Equal(t, r.OnCallAt(at), again.OnCallAt(at), "got another on-call answer after a round trip")
	assert.Contains(t, string(data), `"wait": "2m"`, "got waits not written as duration strings")
}

// TestClone checks that a clone is deep: editing it leaves the original as it was.
func TestClone(t *testing.T) {
	t.Parallel()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	before, err := r.Marshal()
	require.NoError(t, err)

	c := r.Clone()
	cloned, err := c.Marshal()
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(cloned), "got a clone that differs from the original")
	onc1, ok := c.ByUsername("onc1")
	require.True(t, ok, "got no onc1 in the clone's lookups, want one")
	assert.Equal(t, "u-onc1", onc1.ID)

	c.Users[0].Languages[0] = "xx"
	c.Users[4].Specialties[0] = "xx"
	c.Specialties[0].Name["en"] = "xx"
	c.Specialties[0].Form[0].Label["en"] = "xx"
	*c.Specialties[0].Form[3].Max = 1
	c.Specialties[2].Form[0].Options[0].Label["en"] = "xx"
	c.Schedules[0].Primary.Layers[0].Members[0] = "xx"
	c.Schedules[2].Primary.Layers[0].Restrict.Weekdays[0] = "xx"
	c.Schedules[3].Primary.Overrides[0].UserID = "xx"
	c.Policies[0].Steps[0].Wait = 1
	c.RedFlags[0].Reason["en"] = "xx"
	c.RedFlags[0].When[0].Field = "xx"
	c.Users = append(c.Users, roster.User{ID: "new"})

	after, err := r.Marshal()
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "got the original changed through its clone")
}

// TestLegacyTierParsesAsOneLayer checks that rosters stored before layers (a tier of anchor,
// handoff, shift_days, members) still load, each tier as one layer named "rotation", and are
// written back in the current shape.
func TestLegacyTierParsesAsOneLayer(t *testing.T) {
	t.Parallel()
	doc := `{
	  "users": [{"id": "a", "username": "a", "role": "specialist", "languages": []},
	            {"id": "b", "username": "b", "role": "specialist", "languages": []}],
	  "clinics": [],
	  "specialties": [{"slug": "daily", "name": {"en": "Daily"}}, {"slug": "weekly", "name": {"en": "Weekly"}},
	                  {"slug": "three", "name": {"en": "Three"}}, {"slug": "none", "name": {"en": "None"}}],
	  "schedules": [
	    {"specialty": "daily", "primary": {"anchor": "2026-01-01", "handoff": "08:00", "shift_days": 1, "members": ["a", "b"]},
	                           "secondary": {"anchor": "2026-01-01", "handoff": "08:00", "shift_days": 1, "members": ["b"]}},
	    {"specialty": "weekly", "primary": {"anchor": "2026-01-04", "handoff": "09:30", "shift_days": 7, "members": ["a", "b"]},
	                            "secondary": {}},
	    {"specialty": "three", "primary": {"anchor": "2026-01-01", "handoff": "08:00", "shift_days": 3, "members": ["a", "b"]},
	                           "secondary": {"anchor": "", "handoff": "", "shift_days": 0, "members": []}},
	    {"specialty": "none", "primary": {}, "secondary": {}}
	  ]
	}`
	r, err := roster.Parse([]byte(doc))
	require.NoError(t, err, "parse a roster in the single-rotation form")

	tests := []struct {
		specialty string
		primary   []roster.Layer
		secondary []roster.Layer
	}{
		{"daily",
			[]roster.Layer{{Name: "rotation", Start: "2026-01-01", Handoff: "08:00", Shift: "daily", Members: []string{"a", "b"}}},
			[]roster.Layer{{Name: "rotation", Start: "2026-01-01", Handoff: "08:00", Shift: "daily", Members: []string{"b"}}}},
		{"weekly", []roster.Layer{{Name: "rotation", Start: "2026-01-04", Handoff: "09:30", Shift: "weekly", Members: []string{"a", "b"}}}, []roster.Layer{}},
		{"three", []roster.Layer{{Name: "rotation", Start: "2026-01-01", Handoff: "08:00", Shift: "custom", ShiftHours: 72, Members: []string{"a", "b"}}}, []roster.Layer{}},
		{"none", []roster.Layer{}, []roster.Layer{}},
	}
	for i, tt := range tests {
		s := r.Schedules[i]
		assert.Equal(t, tt.specialty, s.Specialty)
		assert.Equal(t, tt.primary, s.Primary.Layers, "%s: got primary layers %+v, want %+v", tt.specialty, s.Primary.Layers, tt.primary)
		assert.Equal(t, tt.secondary, s.Secondary.Layers, "%s: got secondary layers %+v, want %+v", tt.specialty, s.Secondary.Layers, tt.secondary)
	}

	onCalls := []struct {
		specialty          string
		at                 time.Time
		primary, secondary string
		until              time.Time
	}{
		{"daily", local(t, 2026, 1, 1, 8, 0, 0), "a", "b", local(t, 2026, 1, 2, 8, 0, 0)},
		{"daily", local(t, 2026, 1, 2, 7, 59, 0), "a", "b", local(t, 2026, 1, 2, 8, 0, 0)},
		{"daily", local(t, 2026, 1, 2, 8, 0, 0), "b", "b", local(t, 2026, 1, 3, 8, 0, 0)},
		{"weekly", local(t, 2026, 1, 11, 9, 29, 0), "a", "", local(t, 2026, 1, 11, 9, 30, 0)},
		{"weekly", local(t, 2026, 1, 11, 9, 30, 0), "b", "", local(t, 2026, 1, 18, 9, 30, 0)},
		{"three", local(t, 2026, 1, 3, 12, 0, 0), "a", "", local(t, 2026, 1, 4, 8, 0, 0)},
		{"three", local(t, 2026, 1, 4, 8, 0, 0), "b", "", local(t, 2026, 1, 7, 8, 0, 0)},
		{"three", local(t, 2026, 3, 27, 9, 0, 0), "a", "", local(t, 2026, 3, 29, 8, 0, 0)}, // day 85: a's shift of 27 to 29 March
		{"none", local(t, 2026, 1, 3, 12, 0, 0), "", "", local(t, 2026, 1, 3, 12, 0, 0).Add(roster.SearchHorizon)},
	}
	for _, tt := range onCalls {
		oc := onCall(t, r, tt.specialty, tt.at)
		assert.Equal(t, [2]string{tt.primary, tt.secondary}, [2]string{oc.PrimaryID, oc.SecondaryID},
			"%s at %v: got %s/%s, want %s/%s", tt.specialty, tt.at, oc.PrimaryID, oc.SecondaryID, tt.primary, tt.secondary)
		assert.True(t, tt.until.Equal(oc.Until), "%s at %v: got until %v, want %v", tt.specialty, tt.at, oc.Until, tt.until.UTC())
	}

	data, err := r.Marshal()
	require.NoError(t, err)
	for _, old := range []string{`"anchor"`, `"shift_days"`} {
		assert.NotContains(t, string(data), old, "got %s written back, want the current shape only", old)
	}
	again, err := roster.Parse(data)
	require.NoError(t, err)
	assert.Equal(t, r.Schedules, again.Schedules, "got schedules changed by writing them in the current shape")
}

// TestLegacyTierRejects checks that a tier in the single-rotation form is checked as before.
func TestLegacyTierRejects(t *testing.T) {
	t.Parallel()
	doc := func(tier string) string {
		return `{"users": [{"id": "a", "username": "a", "role": "specialist", "languages": []},
		                   {"id": "c", "username": "c", "role": "coordinator", "languages": []}],
		         "specialties": [{"slug": "x", "name": {"en": "X"}}],
		         "schedules": [{"specialty": "x", "primary": ` + tier + `}]}`
	}
	tests := []struct {
		name, tier, field, want string
	}{
		{"anchor not a date", `{"anchor": "04/01/2026", "handoff": "08:00", "shift_days": 1, "members": ["a"]}`, "schedules[0].primary.anchor", "rotation anchor"},
		{"anchor missing", `{"handoff": "08:00", "shift_days": 1, "members": ["a"]}`, "schedules[0].primary.anchor", "rotation anchor"},
		{"handoff in words", `{"anchor": "2026-01-04", "handoff": "8am", "shift_days": 1, "members": ["a"]}`, "schedules[0].primary.handoff", "rotation handoff"},
		{"shift of zero days", `{"anchor": "2026-01-04", "handoff": "08:00", "shift_days": 0, "members": ["a"]}`, "schedules[0].primary.shift_days", "shift_days must be at least 1"},
		{"shift of negative days", `{"anchor": "2026-01-04", "handoff": "08:00", "shift_days": -7, "members": ["a"]}`, "schedules[0].primary.shift_days", "shift_days must be at least 1"},
		{"a coordinator as a member", `{"anchor": "2026-01-04", "handoff": "08:00", "shift_days": 1, "members": ["c"]}`, "schedules[0].primary.layers[0].members[0]", "member c is not a specialist"},
		{"layers beside the old form", `{"anchor": "2026-01-04", "handoff": "08:00", "shift_days": 1, "members": ["a"],
			"layers": [{"name": "days", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["a"]}]}`, "schedules[0].primary", "both layers and the single-rotation form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := roster.Parse([]byte(doc(tt.tier)))
			assert.ErrorContains(t, err, tt.want, "got error %v, want one mentioning %q", err, tt.want)
			var fe *roster.FieldError
			if assert.True(t, errors.As(err, &fe), "got %T, want *roster.FieldError", err) {
				assert.Equal(t, tt.field, fe.Field, "got field %q, want %q", fe.Field, tt.field)
			}
			assert.Nil(t, got)
		})
	}
}

// TestParseYAML checks that a YAML roster reads as the same roster as its JSON twin.
func TestParseYAML(t *testing.T) {
	t.Parallel()
	yamlDoc := `
# The on-call roster of a small department.
users:
  - {id: u-a, username: a, name: Dr. A, role: specialist, specialties: [onc], sub_specialties: [leukemia], languages: [he, en], max_consults: 4}
  - {id: u-b, username: b, name: Dr. B, role: specialist, specialties: [onc], languages: [ar]}
  - {id: u-c, username: c, name: Coordinator, role: coordinator, languages: [ar, he]}
clinics:
  - {id: hebron, name: Hebron}
specialties:
  - slug: onc
    name: {en: Oncology, ar: الأورام, he: אונקולוגיה}
    form:
      - {key: anc, type: number, label: {en: ANC}, unit: ×10⁹/L, min: 0, max: 100}
      - {key: fever, type: boolean, label: {en: Fever}}
      - {key: counts_date, type: date, label: {en: Date}}
schedules:
  - specialty: onc
    primary:
      layers:
        - name: weekday days
          start: 2026-01-04
          handoff: 08:00
          shift: daily
          members: [u-b]
          restrict: {weekdays: [sun, mon, tue, wed, thu], from: 08:00, to: 17:00}
        - name: weekly
          start: 2026-01-04
          handoff: 08:00
          shift: weekly
          members: [u-a, u-b]
      overrides:
        - {id: o1, user_id: u-a, from: 2026-02-03T10:00:00Z, to: 2026-02-03T12:00:00Z, reason: swap}
    secondary:
      layers:
        - {name: nights, start: 2026-01-04, handoff: 20:00, shift: custom, shift_hours: 12, members: [u-a, u-b]}
policies:
  - specialty: onc
    urgency: emergent
    repeat: 1
    steps:
      - {target: primary, wait: 2m}
      - {target: specialty, wait: 3m, parallel: true}
      - {target: coordinators, wait: 1h30m}
red_flags:
  - id: fn
    specialty: onc
    urgency: emergent
    when: [{field: fever, op: eq, value: true}, {field: anc, op: lt, value: 0.5}]
    reason: {en: Febrile neutropenia}
`
	jsonDoc := `{
	  "users": [
	    {"id": "u-a", "username": "a", "name": "Dr. A", "role": "specialist", "specialties": ["onc"], "sub_specialties": ["leukemia"], "languages": ["he", "en"], "max_consults": 4},
	    {"id": "u-b", "username": "b", "name": "Dr. B", "role": "specialist", "specialties": ["onc"], "languages": ["ar"]},
	    {"id": "u-c", "username": "c", "name": "Coordinator", "role": "coordinator", "languages": ["ar", "he"]}],
	  "clinics": [{"id": "hebron", "name": "Hebron"}],
	  "specialties": [{"slug": "onc", "name": {"en": "Oncology", "ar": "الأورام", "he": "אונקולוגיה"}, "form": [
	    {"key": "anc", "type": "number", "label": {"en": "ANC"}, "unit": "×10⁹/L", "min": 0, "max": 100},
	    {"key": "fever", "type": "boolean", "label": {"en": "Fever"}},
	    {"key": "counts_date", "type": "date", "label": {"en": "Date"}}]}],
	  "schedules": [{"specialty": "onc",
	    "primary": {"layers": [
	      {"name": "weekday days", "start": "2026-01-04", "handoff": "08:00", "shift": "daily", "members": ["u-b"],
	       "restrict": {"weekdays": ["sun", "mon", "tue", "wed", "thu"], "from": "08:00", "to": "17:00"}},
	      {"name": "weekly", "start": "2026-01-04", "handoff": "08:00", "shift": "weekly", "members": ["u-a", "u-b"]}],
	      "overrides": [{"id": "o1", "user_id": "u-a", "from": "2026-02-03T10:00:00Z", "to": "2026-02-03T12:00:00Z", "reason": "swap"}]},
	    "secondary": {"layers": [{"name": "nights", "start": "2026-01-04", "handoff": "20:00", "shift": "custom", "shift_hours": 12, "members": ["u-a", "u-b"]}]}}],
	  "policies": [{"specialty": "onc", "urgency": "emergent", "repeat": 1, "steps": [
	    {"target": "primary", "wait": "2m"}, {"target": "specialty", "wait": "3m", "parallel": true}, {"target": "coordinators", "wait": "1h30m"}]}],
	  "red_flags": [{"id": "fn", "specialty": "onc", "urgency": "emergent", "reason": {"en": "Febrile neutropenia"},
	    "when": [{"field": "fever", "op": "eq", "value": true}, {"field": "anc", "op": "lt", "value": 0.5}]}]
	}`
	fromYAML, err := roster.Parse([]byte(yamlDoc))
	require.NoError(t, err, "parse the YAML roster")
	fromJSON, err := roster.Parse([]byte(jsonDoc))
	require.NoError(t, err, "parse the JSON roster")

	assert.Equal(t, fromJSON.Users, fromYAML.Users, "got other users from YAML")
	assert.Equal(t, fromJSON.Clinics, fromYAML.Clinics, "got other clinics from YAML")
	assert.Equal(t, fromJSON.Specialties, fromYAML.Specialties, "got other specialties from YAML")
	assert.Equal(t, fromJSON.Schedules, fromYAML.Schedules, "got other schedules from YAML")
	assert.Equal(t, fromJSON.Policies, fromYAML.Policies, "got other policies from YAML")
	assert.Equal(t, fromJSON.RedFlags, fromYAML.RedFlags, "got other red flags from YAML")
	assert.Equal(t, 90*time.Minute, time.Duration(fromYAML.Policies[0].Steps[2].Wait), "got wait %v, want 1h30m", fromYAML.Policies[0].Steps[2].Wait)
	for at := local(t, 2026, 2, 1, 0, 0, 0); at.Before(local(t, 2026, 2, 9, 0, 0, 0)); at = at.Add(30 * time.Minute) {
		require.Equal(t, fromJSON.OnCallAt(at), fromYAML.OnCallAt(at), "at %v: got another on-call answer from YAML", at)
	}
	raised, _ := fromYAML.Triage("onc", "routine", map[string]any{"fever": true, "anc": 0.2})
	assert.Equal(t, "emergent", raised, "got %s from the YAML roster's red flag, want emergent", raised)

	data, err := fromYAML.Marshal()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "{"), "got Marshal writing something else than JSON")
}
