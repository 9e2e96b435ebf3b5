package roster_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

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

// TestDemoOnCallAtAllHours checks API.md's promise that the demo's oncology and hematology
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

// testRoster is a hand-built roster:
//   - daily: a, b, c hand over every day at 08:00 from 1 January 2026; d is always secondary.
//   - weekly: a, b, c (secondary b, c, a) hand over every Sunday at 09:30 from 4 January 2026.
//   - split: primary a, b at 08:00; secondary c, d at 20:00.
//   - solo: a alone, no secondary.
func testRoster(t *testing.T) *roster.Roster {
	t.Helper()
	daily := func(handoff string, members ...string) roster.Rotation {
		return roster.Rotation{Anchor: "2026-01-01", Handoff: handoff, ShiftDays: 1, Members: members}
	}
	weekly := func(members ...string) roster.Rotation {
		return roster.Rotation{Anchor: "2026-01-04", Handoff: "09:30", ShiftDays: 7, Members: members}
	}
	return build(t, roster.Roster{
		Users: []roster.User{
			{ID: "a", Username: "a", Role: "specialist"},
			{ID: "b", Username: "b", Role: "specialist"},
			{ID: "c", Username: "c", Role: "specialist"},
			{ID: "d", Username: "d", Role: "specialist"},
			{ID: "ref", Username: "ref", Role: "referrer", ClinicID: "hebron"},
			{ID: "coord", Username: "coord", Role: "coordinator"},
		},
		Clinics:     []roster.Clinic{{ID: "hebron", Name: "Hebron"}},
		Specialties: []roster.Specialty{{Slug: "daily"}, {Slug: "weekly"}, {Slug: "split"}, {Slug: "solo"}, {Slug: "unscheduled"}},
		Schedules: []roster.Schedule{
			{Specialty: "daily", Primary: daily("08:00", "a", "b", "c"), Secondary: daily("08:00", "d")},
			{Specialty: "weekly", Primary: weekly("a", "b", "c"), Secondary: weekly("b", "c", "a")},
			{Specialty: "split", Primary: daily("08:00", "a", "b"), Secondary: daily("20:00", "c", "d")},
			{Specialty: "solo", Primary: daily("08:00", "a")},
		},
	})
}

// TestRotationHandoff checks the shift on either side of handoffs: who is on, and until when.
// The daily rotation starts a's shift on 1 January 2026 at 08:00; b's day is 2 January; in
// 2026, 26 March is a's day (84 days after the anchor), 27 March b's, 24 October c's (296)
// and 25 October a's again.
func TestRotationHandoff(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	utc := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
	}
	tests := []struct {
		name      string
		specialty string
		at        time.Time
		primary   string
		secondary string
		until     time.Time
	}{
		{"daily: a second before the anchor's first handoff", "daily", local(t, 2026, 1, 1, 7, 59, 59), "c", "d", local(t, 2026, 1, 1, 8, 0, 0)},
		{"daily: at the first handoff", "daily", local(t, 2026, 1, 1, 8, 0, 0), "a", "d", local(t, 2026, 1, 2, 8, 0, 0)},
		{"daily: just before the next handoff", "daily", local(t, 2026, 1, 2, 7, 59, 59), "a", "d", local(t, 2026, 1, 2, 8, 0, 0)},
		{"daily: a nanosecond before the handoff", "daily", local(t, 2026, 1, 2, 8, 0, 0).Add(-time.Nanosecond), "a", "d", local(t, 2026, 1, 2, 8, 0, 0)},
		{"daily: at the handoff", "daily", local(t, 2026, 1, 2, 8, 0, 0), "b", "d", local(t, 2026, 1, 3, 8, 0, 0)},
		{"daily: just after the handoff", "daily", local(t, 2026, 1, 2, 8, 0, 1), "b", "d", local(t, 2026, 1, 3, 8, 0, 0)},
		{"daily: after local midnight it is still the same shift", "daily", local(t, 2026, 1, 3, 0, 30, 0), "b", "d", local(t, 2026, 1, 3, 8, 0, 0)},
		{"daily: the rotation wraps", "daily", local(t, 2026, 1, 4, 12, 0, 0), "a", "d", local(t, 2026, 1, 5, 8, 0, 0)},
		{"daily: long before the anchor", "daily", local(t, 2025, 12, 30, 12, 0, 0), "b", "d", local(t, 2025, 12, 31, 8, 0, 0)},

		// Spring forward: 26 March's shift lasts 23 hours and ends at 08:00 summer time.
		{"daily: morning before spring forward", "daily", utc(2026, 3, 26, 6, 0, 0), "a", "d", utc(2026, 3, 27, 5, 0, 0)},
		{"daily: the second before clocks go forward", "daily", utc(2026, 3, 26, 23, 59, 59), "a", "d", utc(2026, 3, 27, 5, 0, 0)},
		{"daily: the moment clocks go forward", "daily", utc(2026, 3, 27, 0, 0, 0), "a", "d", utc(2026, 3, 27, 5, 0, 0)},
		{"daily: 07:59:59 summer time", "daily", utc(2026, 3, 27, 4, 59, 59), "a", "d", utc(2026, 3, 27, 5, 0, 0)},
		{"daily: 08:00 summer time", "daily", utc(2026, 3, 27, 5, 0, 0), "b", "d", utc(2026, 3, 28, 5, 0, 0)},
		{"daily: 08:30 summer time, 07:30 by the winter offset", "daily", utc(2026, 3, 27, 5, 30, 0), "b", "d", utc(2026, 3, 28, 5, 0, 0)},

		// Fall back: 24 October's shift lasts 25 hours and ends at 08:00 winter time.
		{"daily: morning before fall back", "daily", utc(2026, 10, 24, 5, 0, 0), "c", "d", utc(2026, 10, 25, 6, 0, 0)},
		{"daily: first 01:30 of the repeated hour", "daily", utc(2026, 10, 24, 22, 30, 0), "c", "d", utc(2026, 10, 25, 6, 0, 0)},
		{"daily: second 01:30 of the repeated hour", "daily", utc(2026, 10, 24, 23, 30, 0), "c", "d", utc(2026, 10, 25, 6, 0, 0)},
		{"daily: 08:00 by the summer offset is 07:00 winter time", "daily", utc(2026, 10, 25, 5, 0, 0), "c", "d", utc(2026, 10, 25, 6, 0, 0)},
		{"daily: 07:59:59 winter time", "daily", utc(2026, 10, 25, 5, 59, 59), "c", "d", utc(2026, 10, 25, 6, 0, 0)},
		{"daily: 08:00 winter time", "daily", utc(2026, 10, 25, 6, 0, 0), "a", "d", utc(2026, 10, 26, 6, 0, 0)},

		// Weekly: anchor Sunday 4 January 09:30.
		{"weekly: just before the anchor", "weekly", local(t, 2026, 1, 4, 9, 29, 59), "c", "a", local(t, 2026, 1, 4, 9, 30, 0)},
		{"weekly: first week", "weekly", local(t, 2026, 1, 4, 9, 30, 0), "a", "b", local(t, 2026, 1, 11, 9, 30, 0)},
		{"weekly: last minute of the first week", "weekly", local(t, 2026, 1, 11, 9, 29, 0), "a", "b", local(t, 2026, 1, 11, 9, 30, 0)},
		{"weekly: second week", "weekly", local(t, 2026, 1, 11, 9, 30, 0), "b", "c", local(t, 2026, 1, 18, 9, 30, 0)},
		{"weekly: third week", "weekly", local(t, 2026, 1, 18, 9, 30, 0), "c", "a", local(t, 2026, 1, 25, 9, 30, 0)},
		{"weekly: fourth week wraps", "weekly", local(t, 2026, 1, 25, 9, 30, 0), "a", "b", local(t, 2026, 2, 1, 9, 30, 0)},
		{"weekly: midweek", "weekly", local(t, 2026, 1, 21, 3, 0, 0), "c", "a", local(t, 2026, 1, 25, 9, 30, 0)},
		{"weekly: the week spanning spring forward", "weekly", local(t, 2026, 3, 24, 12, 0, 0), "c", "a", utc(2026, 3, 29, 6, 30, 0)},
		{"weekly: the week spanning fall back", "weekly", local(t, 2026, 10, 20, 12, 0, 0), "c", "a", utc(2026, 10, 25, 7, 30, 0)},

		// Until is the earlier of the two rotations' next handoffs.
		{"split: morning, secondary hands over first", "split", local(t, 2026, 1, 5, 10, 0, 0), "a", "d", local(t, 2026, 1, 5, 20, 0, 0)},
		{"split: evening, primary hands over first", "split", local(t, 2026, 1, 5, 21, 0, 0), "a", "c", local(t, 2026, 1, 6, 8, 0, 0)},
		{"split: early morning", "split", local(t, 2026, 1, 5, 7, 0, 0), "b", "d", local(t, 2026, 1, 5, 8, 0, 0)},
		{"split: at the secondary's handoff", "split", local(t, 2026, 1, 5, 20, 0, 0), "a", "c", local(t, 2026, 1, 6, 8, 0, 0)},

		{"solo: no secondary", "solo", local(t, 2026, 6, 1, 12, 0, 0), "a", "", local(t, 2026, 6, 2, 8, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := onCall(t, r, tt.specialty, tt.at)
			assert.Equal(t, tt.specialty, oc.Specialty, "got specialty %q, want %q", oc.Specialty, tt.specialty)
			assert.Equal(t, tt.primary, oc.PrimaryID, "got primary %q, want %q", oc.PrimaryID, tt.primary)
			assert.Equal(t, tt.secondary, oc.SecondaryID, "got secondary %q, want %q", oc.SecondaryID, tt.secondary)
			assert.True(t, tt.until.Equal(oc.Until), "got until %v (%v local), want %v (%v local)",
				oc.Until, oc.Until.In(jerusalem(t)), tt.until.UTC(), tt.until.In(jerusalem(t)))
			assert.Equal(t, time.UTC, oc.Until.Location(), "got until in %v, want UTC", oc.Until.Location())
		})
	}
}

// TestDailyHandoffsThroughTheYear follows the daily rotation from handoff to handoff through
// 2026: every handoff is at 08:00 Jerusalem time whatever the offset, each shift goes to the next
// member in order, and until is exactly the next handoff.
func TestDailyHandoffsThroughTheYear(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	loc := jerusalem(t)
	members := []string{"a", "b", "c"}
	at := local(t, 2026, 1, 1, 8, 0, 0)
	for k := 0; k < 365; k++ {
		handoff := time.Date(2026, 1, 1+k, 8, 0, 0, 0, loc)
		next := time.Date(2026, 1, 2+k, 8, 0, 0, 0, loc)
		require.True(t, handoff.Equal(at), "day %d: got handoff at %v, want %v", k, at.In(loc), handoff)

		for _, probe := range []time.Time{handoff, handoff.Add(time.Second), next.Add(-time.Second)} {
			oc := onCall(t, r, "daily", probe)
			want := members[k%len(members)]
			require.Equal(t, want, oc.PrimaryID, "at %v: got %q on call, want %q", probe.In(loc), oc.PrimaryID, want)
			require.True(t, next.Equal(oc.Until), "at %v: got until %v, want %v", probe.In(loc), oc.Until.In(loc), next)
		}
		wall := next.In(loc).Format("15:04")
		require.Equal(t, "08:00", wall, "day %d: got handoff at %s local, want 08:00", k, wall)
		at = onCall(t, r, "daily", at).Until
	}
	assert.Equal(t, "2027-01-01 08:00", at.In(loc).Format("2006-01-02 15:04"), "got the chain ending at %v, want 1 January 2027 08:00", at.In(loc))
}

// TestUntilIsTheNextChange checks, minute by minute through both 2026 daylight-saving nights,
// that the on-call pair holds from any moment until the reported Until and changes exactly then,
// also for handoffs inside the hours the clock change skips or repeats.
func TestUntilIsTheNextChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		handoff string
	}{
		{handoff: "00:30"},
		{handoff: "03:30"},
		{handoff: "08:00"},
		{handoff: "23:59"},
		{handoff: "01:30"}, // inside the hour repeated on the fall-back night
		{handoff: "02:30"}, // inside the hour skipped on the spring-forward night
	}
	for _, tt := range tests {
		t.Run(tt.handoff, func(t *testing.T) {
			t.Parallel()
			rot := roster.Rotation{Anchor: "2026-01-01", Handoff: tt.handoff, ShiftDays: 1, Members: []string{"a", "b"}}
			r := build(t, roster.Roster{
				Users:       []roster.User{{ID: "a", Username: "a", Role: "specialist"}, {ID: "b", Username: "b", Role: "specialist"}},
				Specialties: []roster.Specialty{{Slug: "x"}},
				Schedules:   []roster.Schedule{{Specialty: "x", Primary: rot}},
			})
			nights := []time.Time{time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)}
			for _, from := range nights {
				changes := 0
				prev := onCall(t, r, "x", from)
				for at := from; at.Before(from.Add(24 * time.Hour)); at = at.Add(time.Minute) {
					oc := onCall(t, r, "x", at)
					if oc.PrimaryID != prev.PrimaryID {
						changes++
						require.True(t, prev.Until.Equal(at), "at %v: got %q→%q, but the shift before said until %v",
							at, prev.PrimaryID, oc.PrimaryID, prev.Until)
					}
					require.True(t, oc.Until.After(at), "at %v: got until %v, want later", at, oc.Until)
					last := onCall(t, r, "x", oc.Until.Add(-time.Nanosecond))
					require.Equal(t, oc.PrimaryID, last.PrimaryID, "at %v: got %q, but %q just before its until %v",
						at, oc.PrimaryID, last.PrimaryID, oc.Until)
					prev = oc
				}
				assert.Equal(t, 1, changes, "from %v: got %d changes in 24 hours, want 1", from, changes)
			}
		})
	}
}

func TestOnCallLookups(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	at := local(t, 2026, 2, 2, 12, 0, 0)

	_, ok := r.OnCallFor("unscheduled", at)
	assert.False(t, ok, "got a schedule for a specialty without one, want none")
	_, ok = r.OnCallFor("astrology", at)
	assert.False(t, ok, "got a schedule for an unknown specialty, want none")

	all := r.OnCallAt(at)
	got := make([]string, 0, len(all))
	for _, oc := range all {
		got = append(got, oc.Specialty)
		one := onCall(t, r, oc.Specialty, at)
		assert.Equal(t, one, oc, "got OnCallAt %+v, want OnCallFor's %+v", oc, one)
	}
	want := []string{"daily", "weekly", "split", "solo"}
	assert.Equal(t, want, got, "got specialties %v, want %v", got, want)
}

// TestParseRejects changes one thing in a valid roster and checks Parse refuses it.
func TestParseRejects(t *testing.T) {
	t.Parallel()
	base := func() roster.Roster {
		rot := roster.Rotation{Anchor: "2026-01-04", Handoff: "08:00", ShiftDays: 1, Members: []string{"u-a"}}
		return roster.Roster{
			Users: []roster.User{
				{ID: "u-a", Username: "a", Role: "specialist"},
				{ID: "u-b", Username: "b", Role: "specialist", Disabled: true},
				{ID: "u-r", Username: "r", Role: "referrer", ClinicID: "hebron"},
				{ID: "u-c", Username: "c", Role: "coordinator"},
				{ID: "u-x", Username: "x", Role: "admin"},
			},
			Clinics:     []roster.Clinic{{ID: "hebron"}},
			Specialties: []roster.Specialty{{Slug: "onc"}},
			Schedules:   []roster.Schedule{{Specialty: "onc", Primary: rot, Secondary: rot}},
		}
	}
	tests := []struct {
		name string
		edit func(r *roster.Roster)
		want string // part of the error; "" when the roster is valid
	}{
		{"valid", func(*roster.Roster) {}, ""},
		{"disabled rotation member", func(r *roster.Roster) { r.Schedules[0].Secondary.Members = []string{"u-b"} }, ""},
		{"schedule without a secondary", func(r *roster.Roster) { r.Schedules[0].Secondary = roster.Rotation{} }, ""},
		{"duplicate id", func(r *roster.Roster) { r.Users[1].ID = "u-a" }, "duplicate user id u-a"},
		{"duplicate username", func(r *roster.Roster) { r.Users[1].Username = "a" }, "duplicate username a"},
		{"missing id", func(r *roster.Roster) { r.Users[1].ID = "" }, "no id or username"},
		{"missing username", func(r *roster.Roster) { r.Users[1].Username = "" }, "no id or username"},
		{"unknown role", func(r *roster.Roster) { r.Users[3].Role = "nurse" }, `unknown role "nurse"`},
		{"empty role", func(r *roster.Roster) { r.Users[3].Role = "" }, `unknown role ""`},
		{"role in capitals", func(r *roster.Roster) { r.Users[3].Role = "Coordinator" }, `unknown role "Coordinator"`},
		{"referrer without clinic", func(r *roster.Roster) { r.Users[2].ClinicID = "" }, "referrer u-r has no clinic"},
		{"primary member is a coordinator", func(r *roster.Roster) { r.Schedules[0].Primary.Members = []string{"u-c"} }, "member u-c is not a specialist"},
		{"secondary member is a referrer", func(r *roster.Roster) { r.Schedules[0].Secondary.Members = []string{"u-a", "u-r"} }, "member u-r is not a specialist"},
		{"member is an admin", func(r *roster.Roster) { r.Schedules[0].Primary.Members = []string{"u-x"} }, "member u-x is not a specialist"},
		{"member is unknown", func(r *roster.Roster) { r.Schedules[0].Primary.Members = []string{"u-nobody"} }, "member u-nobody is not a specialist"},
		{"anchor not a date", func(r *roster.Roster) { r.Schedules[0].Primary.Anchor = "04/01/2026" }, "rotation anchor"},
		{"anchor impossible date", func(r *roster.Roster) { r.Schedules[0].Primary.Anchor = "2026-02-30" }, "rotation anchor"},
		{"anchor missing", func(r *roster.Roster) { r.Schedules[0].Secondary.Anchor = "" }, "rotation anchor"},
		{"anchor with a time", func(r *roster.Roster) { r.Schedules[0].Primary.Anchor = "2026-01-04T08:00:00Z" }, "rotation anchor"},
		{"handoff hour 24", func(r *roster.Roster) { r.Schedules[0].Primary.Handoff = "24:00" }, "rotation handoff"},
		{"handoff minute 60", func(r *roster.Roster) { r.Schedules[0].Primary.Handoff = "08:60" }, "rotation handoff"},
		{"handoff in words", func(r *roster.Roster) { r.Schedules[0].Secondary.Handoff = "8am" }, "rotation handoff"},
		{"handoff missing", func(r *roster.Roster) { r.Schedules[0].Primary.Handoff = "" }, "rotation handoff"},
		{"handoff with seconds", func(r *roster.Roster) { r.Schedules[0].Primary.Handoff = "08:00:00" }, "rotation handoff"},
		{"shift of zero days", func(r *roster.Roster) { r.Schedules[0].Primary.ShiftDays = 0 }, "shift_days must be at least 1"},
		{"shift of negative days", func(r *roster.Roster) { r.Schedules[0].Secondary.ShiftDays = -7 }, "shift_days must be at least 1"},
		{"schedule for an unknown specialty", func(r *roster.Roster) { r.Schedules[0].Specialty = "astrology" }, "schedule for unknown specialty astrology"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := base()
			tt.edit(&r)
			data, err := json.Marshal(r)
			require.NoError(t, err)
			got, err := roster.Parse(data)
			if tt.want == "" {
				require.NoError(t, err, "got %v, want the roster accepted", err)
				assert.NotNil(t, got, "got a nil roster, want one")
				return
			}
			assert.ErrorContains(t, err, tt.want, "got error %v, want one mentioning %q", err, tt.want)
			assert.Nil(t, got, "got a roster beside the error, want nil")
		})
	}
}

func TestParseRejectsMalformedJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{``, `{`, `[]`, `{"users": {}}`, `{"users": [{"id": 1}]}`} {
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
	assert.Equal(t, r.Schedules, again.Schedules, "got schedules changed by a round trip")
	at := local(t, 2026, 10, 25, 7, 0, 0)
	assert.Equal(t, r.OnCallAt(at), again.OnCallAt(at), "got another on-call answer after a round trip")
}
