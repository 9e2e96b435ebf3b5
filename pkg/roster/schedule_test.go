package roster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/roster"
)

// Layer and tier shorthands for hand-built rosters.
func dailyLayer(name, start, handoff string, members ...string) roster.Layer {
	return roster.Layer{Name: name, Start: start, Handoff: handoff, Shift: roster.ShiftDaily, Members: members}
}

func tierOf(layers ...roster.Layer) roster.Tier { return roster.Tier{Layers: layers} }

var specialists = []roster.User{
	{ID: "a", Username: "a", Role: "specialist"},
	{ID: "b", Username: "b", Role: "specialist"},
	{ID: "c", Username: "c", Role: "specialist"},
	{ID: "d", Username: "d", Role: "specialist"},
	{ID: "n", Username: "n", Role: "specialist"},
	{ID: "s", Username: "s", Role: "specialist"},
}

// testRoster is a hand-built roster:
//   - daily: a, b, c hand over every day at 08:00 from 1 January 2026; d is always secondary.
//   - weekly: a, b, c (secondary b, c, a) hand over every Sunday at 09:30 from 4 January 2026.
//   - split: primary a, b at 08:00; secondary c, d at 20:00.
//   - solo: a alone, no secondary.
//   - layered: primary, highest precedence first: "weekday days" (c, d daily at 08:00, Sunday to
//     Thursday 08:00 to 17:00), "nights" (n, 20:00 to 08:00 every day), "weekly" (a, b, Sundays
//     at 09:00 from 4 January); two overlapping overrides on Tuesday 3 February, c from 10:00 to
//     12:00 and d from 11:00 to 13:00. Secondary: "weekend nights" (s, Friday 20:00 to Saturday
//     08:00).
func testRoster(t *testing.T) *roster.Roster {
	t.Helper()
	weekly := func(members ...string) roster.Layer {
		return roster.Layer{Name: "weekly", Start: "2026-01-04", Handoff: "09:30", Shift: roster.ShiftWeekly, Members: members}
	}
	layered := roster.Schedule{Specialty: "layered",
		Primary: roster.Tier{
			Layers: []roster.Layer{
				{Name: "weekday days", Start: "2026-01-01", Handoff: "08:00", Shift: roster.ShiftDaily, Members: []string{"c", "d"},
					Restrict: &roster.Restriction{Weekdays: []string{"sun", "mon", "tue", "wed", "thu"}, From: "08:00", To: "17:00"}},
				{Name: "nights", Start: "2026-01-01", Handoff: "20:00", Shift: roster.ShiftDaily, Members: []string{"n"},
					Restrict: &roster.Restriction{From: "20:00", To: "08:00"}},
				{Name: "weekly", Start: "2026-01-04", Handoff: "09:00", Shift: roster.ShiftWeekly, Members: []string{"a", "b"}},
			},
			Overrides: []roster.Override{
				{ID: "o-c", UserID: "c", From: local(t, 2026, 2, 3, 10, 0, 0), To: local(t, 2026, 2, 3, 12, 0, 0), Reason: "swap"},
				{ID: "o-d", UserID: "d", From: local(t, 2026, 2, 3, 11, 0, 0), To: local(t, 2026, 2, 3, 13, 0, 0)},
			},
		},
		Secondary: tierOf(roster.Layer{Name: "weekend nights", Start: "2026-01-01", Handoff: "20:00", Shift: roster.ShiftDaily,
			Members: []string{"s"}, Restrict: &roster.Restriction{Weekdays: []string{"fri"}, From: "20:00", To: "08:00"}}),
	}
	return build(t, roster.Roster{
		Users: append(slices.Clone(specialists),
			roster.User{ID: "ref", Username: "ref", Role: "referrer", ClinicID: "hebron"},
			roster.User{ID: "coord", Username: "coord", Role: "coordinator"}),
		Clinics: []roster.Clinic{{ID: "hebron", Name: "Hebron"}},
		Specialties: []roster.Specialty{{Slug: "daily"}, {Slug: "weekly"}, {Slug: "split"}, {Slug: "solo"}, {Slug: "layered"},
			{Slug: "unscheduled"}},
		Schedules: []roster.Schedule{
			{Specialty: "daily", Primary: tierOf(dailyLayer("days", "2026-01-01", "08:00", "a", "b", "c")),
				Secondary: tierOf(dailyLayer("backup", "2026-01-01", "08:00", "d"))},
			{Specialty: "weekly", Primary: tierOf(weekly("a", "b", "c")), Secondary: tierOf(weekly("b", "c", "a"))},
			{Specialty: "split", Primary: tierOf(dailyLayer("days", "2026-01-01", "08:00", "a", "b")),
				Secondary: tierOf(dailyLayer("evenings", "2026-01-01", "20:00", "c", "d"))},
			{Specialty: "solo", Primary: tierOf(dailyLayer("days", "2026-01-01", "08:00", "a"))},
			layered,
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

		// Until is the next change of either answer: a rotation of one never changes.
		{"solo: no secondary, nothing changes within the horizon", "solo", local(t, 2026, 6, 1, 12, 0, 0), "a", "", local(t, 2026, 6, 1, 12, 0, 0).Add(roster.SearchHorizon)},
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
		{handoff: "02:00"}, // the moment clocks change on both nights
		{handoff: "02:30"}, // inside the hour skipped on the spring-forward night
	}
	for _, tt := range tests {
		t.Run(tt.handoff, func(t *testing.T) {
			t.Parallel()
			r := build(t, roster.Roster{
				Users:       specialists,
				Specialties: []roster.Specialty{{Slug: "x"}},
				Schedules:   []roster.Schedule{{Specialty: "x", Primary: tierOf(dailyLayer("days", "2026-01-01", tt.handoff, "a", "b"))}},
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
	want := []string{"daily", "weekly", "split", "solo", "layered"}
	assert.Equal(t, want, got, "got specialties %v, want %v", got, want)
}

// TestDSTHandoffsMinuteByMinute walks both 2026 daylight-saving days minute by minute for daily
// handoffs at 01:30, 02:00, 02:30 and 08:00 and checks that the member changes exactly once, at
// the expected instant, never flips back in the repeated hour, and that until always names that
// instant. A handoff time the spring-forward night skips happens when the clocks show that time
// plus an hour (02:00 → 03:00, 02:30 → 03:30); one the fall-back night repeats happens at its
// second occurrence. On 26 March and 24 October 2026 (84 and 296 days after 1 January) it is a's
// shift; b takes over.
func TestDSTHandoffsMinuteByMinute(t *testing.T) {
	t.Parallel()
	utc := func(mo time.Month, d, hh, mm int) time.Time { return time.Date(2026, mo, d, hh, mm, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		handoff string
		from    time.Time // the walk covers 24 hours from here
		change  time.Time
		wall    string // the clocks at the change
	}{
		{"spring forward 01:30", "01:30", utc(3, 26, 20, 0), utc(3, 26, 23, 30), "01:30 IST"},
		{"spring forward 02:00", "02:00", utc(3, 26, 20, 0), utc(3, 27, 0, 0), "03:00 IDT"},
		{"spring forward 02:30", "02:30", utc(3, 26, 20, 0), utc(3, 27, 0, 30), "03:30 IDT"},
		{"spring forward 08:00", "08:00", utc(3, 26, 20, 0), utc(3, 27, 5, 0), "08:00 IDT"},
		{"fall back 01:30", "01:30", utc(10, 24, 20, 0), utc(10, 24, 23, 30), "01:30 IST"},
		{"fall back 02:00", "02:00", utc(10, 24, 20, 0), utc(10, 25, 0, 0), "02:00 IST"},
		{"fall back 02:30", "02:30", utc(10, 24, 20, 0), utc(10, 25, 0, 30), "02:30 IST"},
		{"fall back 08:00", "08:00", utc(10, 24, 20, 0), utc(10, 25, 6, 0), "08:00 IST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, roster.Roster{
				Users:       specialists,
				Specialties: []roster.Specialty{{Slug: "x"}},
				Schedules:   []roster.Schedule{{Specialty: "x", Primary: tierOf(dailyLayer("days", "2026-01-01", tt.handoff, "a", "b"))}},
			})
			wall := tt.change.In(jerusalem(t)).Format("15:04 MST")
			require.Equal(t, tt.wall, wall, "got the change at %s on the clocks, want %s", wall, tt.wall)
			var changes []time.Time
			prev := onCall(t, r, "x", tt.from)
			for at := tt.from; at.Before(tt.from.Add(24 * time.Hour)); at = at.Add(time.Minute) {
				oc := onCall(t, r, "x", at)
				want := "a"
				if !at.Before(tt.change) {
					want = "b"
				}
				require.Equal(t, want, oc.PrimaryID, "at %v (%v): got %q, want %q", at, at.In(jerusalem(t)), oc.PrimaryID, want)
				if at.Before(tt.change) {
					require.True(t, tt.change.Equal(oc.Until), "at %v: got until %v, want %v", at, oc.Until, tt.change)
				} else {
					require.Equal(t, tt.handoff, oc.Until.In(jerusalem(t)).Format("15:04"), "at %v: got until %v, want the next day's handoff", at, oc.Until)
				}
				if oc.PrimaryID != prev.PrimaryID {
					changes = append(changes, at)
				}
				prev = oc
			}
			assert.Equal(t, []time.Time{tt.change}, changes, "got changes at %v, want one at %v", changes, tt.change)
		})
	}
}

// TestLayerPrecedence checks the layered schedule: the first layer with someone on duty in its
// window decides, restriction windows (one wrapping midnight, one on Fridays only), and
// overrides that beat every layer, the later listed winning where they overlap. 1 February 2026
// is a Sunday; "weekday days" is c's on odd days after 1 January (2 February is c's, 1 and 3
// February d's); "weekly" is a's from Sunday 1 February 09:00.
func TestLayerPrecedence(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	tests := []struct {
		name      string
		at        time.Time
		primary   string
		secondary string
		until     time.Time
	}{
		{"Sunday 07:59: the night window of Saturday evening", local(t, 2026, 2, 1, 7, 59, 0), "n", "", local(t, 2026, 2, 1, 8, 0, 0)},
		{"Sunday 08:00: weekday days opens", local(t, 2026, 2, 1, 8, 0, 0), "d", "", local(t, 2026, 2, 1, 17, 0, 0)},
		{"Sunday 16:59", local(t, 2026, 2, 1, 16, 59, 59), "d", "", local(t, 2026, 2, 1, 17, 0, 0)},
		{"Sunday 17:00: weekly below", local(t, 2026, 2, 1, 17, 0, 0), "a", "", local(t, 2026, 2, 1, 20, 0, 0)},
		{"Sunday 20:00: nights", local(t, 2026, 2, 1, 20, 0, 0), "n", "", local(t, 2026, 2, 2, 8, 0, 0)},
		{"Monday 00:30: nights past midnight", local(t, 2026, 2, 2, 0, 30, 0), "n", "", local(t, 2026, 2, 2, 8, 0, 0)},
		{"Monday 08:00: weekday days, c's day", local(t, 2026, 2, 2, 8, 0, 0), "c", "", local(t, 2026, 2, 2, 17, 0, 0)},
		{"Tuesday 09:59: before the overrides", local(t, 2026, 2, 3, 9, 59, 0), "d", "", local(t, 2026, 2, 3, 10, 0, 0)},
		{"Tuesday 10:00: c's override", local(t, 2026, 2, 3, 10, 0, 0), "c", "", local(t, 2026, 2, 3, 11, 0, 0)},
		{"Tuesday 11:00: d's override, listed later, wins", local(t, 2026, 2, 3, 11, 0, 0), "d", "", local(t, 2026, 2, 3, 17, 0, 0)},
		{"Tuesday 12:30: d's override alone", local(t, 2026, 2, 3, 12, 30, 0), "d", "", local(t, 2026, 2, 3, 17, 0, 0)},
		{"Tuesday 13:00: the layer again", local(t, 2026, 2, 3, 13, 0, 0), "d", "", local(t, 2026, 2, 3, 17, 0, 0)},
		{"Thursday 21:00: not a weekend night", local(t, 2026, 2, 5, 21, 0, 0), "n", "", local(t, 2026, 2, 6, 8, 0, 0)},
		{"Friday 10:00: no weekday days on Friday", local(t, 2026, 2, 6, 10, 0, 0), "a", "", local(t, 2026, 2, 6, 20, 0, 0)},
		{"Friday 20:00: weekend night opens", local(t, 2026, 2, 6, 20, 0, 0), "n", "s", local(t, 2026, 2, 7, 8, 0, 0)},
		{"Saturday 07:59: weekend night past midnight", local(t, 2026, 2, 7, 7, 59, 0), "n", "s", local(t, 2026, 2, 7, 8, 0, 0)},
		{"Saturday 08:00: weekend night closed", local(t, 2026, 2, 7, 8, 0, 0), "a", "", local(t, 2026, 2, 7, 20, 0, 0)},
		{"Saturday 21:00: Saturday is not Friday", local(t, 2026, 2, 7, 21, 0, 0), "n", "", local(t, 2026, 2, 8, 8, 0, 0)},
		{"Sunday 08:30: weekday days again", local(t, 2026, 2, 8, 8, 30, 0), "c", "", local(t, 2026, 2, 8, 17, 0, 0)},
		{"Sunday 17:00: weekly, b's week from 09:00", local(t, 2026, 2, 8, 17, 0, 0), "b", "", local(t, 2026, 2, 8, 20, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := onCall(t, r, "layered", tt.at)
			assert.Equal(t, tt.primary, oc.PrimaryID, "got primary %q, want %q", oc.PrimaryID, tt.primary)
			assert.Equal(t, tt.secondary, oc.SecondaryID, "got secondary %q, want %q", oc.SecondaryID, tt.secondary)
			assert.True(t, tt.until.Equal(oc.Until), "got until %v, want %v", oc.Until.In(jerusalem(t)), tt.until)
		})
	}
}

// TestCustomShifts checks custom shifts: 12-hour shifts hand over at 08:00 and 20:00 on the
// clocks all year, so the night shift around each daylight-saving change lasts 11 or 13 hours;
// 8-hour shifts of three people turn at 07:00, 15:00 and 23:00.
func TestCustomShifts(t *testing.T) {
	t.Parallel()
	loc := jerusalem(t)
	r := build(t, roster.Roster{
		Users:       specialists,
		Specialties: []roster.Specialty{{Slug: "twelve"}, {Slug: "eight"}},
		Schedules: []roster.Schedule{
			{Specialty: "twelve", Primary: tierOf(roster.Layer{Name: "12h", Start: "2026-01-01", Handoff: "08:00",
				Shift: roster.ShiftCustom, ShiftHours: 12, Members: []string{"a", "b"}})},
			{Specialty: "eight", Primary: tierOf(roster.Layer{Name: "8h", Start: "2026-01-01", Handoff: "07:00",
				Shift: roster.ShiftCustom, ShiftHours: 8, Members: []string{"a", "b", "c"}})},
		},
	})
	t.Run("12-hour shifts through the year", func(t *testing.T) {
		t.Parallel()
		at := local(t, 2026, 1, 1, 8, 0, 0)
		for k := 0; k < 2*365; k++ {
			oc := onCall(t, r, "twelve", at)
			want, wall := "a", "08:00"
			if k%2 == 1 {
				want, wall = "b", "20:00"
			}
			require.Equal(t, wall, at.In(loc).Format("15:04"), "shift %d: got handoff at %v, want %s", k, at.In(loc), wall)
			require.Equal(t, want, oc.PrimaryID, "shift %d at %v: got %q, want %q", k, at.In(loc), oc.PrimaryID, want)
			require.Equal(t, want, onCall(t, r, "twelve", oc.Until.Add(-time.Second)).PrimaryID, "shift %d: got another member before until", k)
			at = oc.Until
		}
		assert.Equal(t, "2027-01-01 08:00", at.In(loc).Format("2006-01-02 15:04"))
	})
	lengths := []struct {
		name  string
		start time.Time
		want  time.Duration
	}{
		{"night into spring forward", local(t, 2026, 3, 26, 20, 0, 0), 11 * time.Hour},
		{"night into fall back", local(t, 2026, 10, 24, 20, 0, 0), 13 * time.Hour},
		{"an ordinary night", local(t, 2026, 6, 1, 20, 0, 0), 12 * time.Hour},
	}
	for _, tt := range lengths {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := onCall(t, r, "twelve", tt.start)
			assert.Equal(t, "b", oc.PrimaryID)
			assert.Equal(t, tt.want, oc.Until.Sub(tt.start), "got a %v shift, want %v", oc.Until.Sub(tt.start), tt.want)
		})
	}
	t.Run("8-hour shifts", func(t *testing.T) {
		t.Parallel()
		at := local(t, 2026, 1, 1, 7, 0, 0)
		walls := []string{"07:00", "15:00", "23:00"}
		for k := 0; k < 3*365; k++ {
			oc := onCall(t, r, "eight", at)
			require.Equal(t, walls[k%3], at.In(loc).Format("15:04"), "shift %d: got handoff at %v", k, at.In(loc))
			require.Equal(t, []string{"a", "b", "c"}[k%3], oc.PrimaryID, "shift %d at %v: got %q", k, at.In(loc), oc.PrimaryID)
			at = oc.Until
		}
	})
}

// TestRestrictionAcrossDST checks that a window keeps its wall-clock hours on the days clocks
// change: 08:00 to 17:00 is 9 hours every day.
func TestRestrictionAcrossDST(t *testing.T) {
	t.Parallel()
	r := build(t, roster.Roster{
		Users:       specialists,
		Specialties: []roster.Specialty{{Slug: "x"}},
		Schedules: []roster.Schedule{{Specialty: "x", Primary: tierOf(roster.Layer{Name: "days", Start: "2026-01-01", Handoff: "08:00",
			Shift: roster.ShiftDaily, Members: []string{"a"}, Restrict: &roster.Restriction{From: "08:00", To: "17:00"}})}},
	})
	for _, day := range []int{26, 27, 28} {
		primary, _, ok := r.Shifts("x", local(t, 2026, 3, day, 0, 0, 0), local(t, 2026, 3, day+1, 0, 0, 0))
		require.True(t, ok)
		require.Len(t, primary, 1, "got shifts %v on 2026-03-%d, want one", primary, day)
		assert.Equal(t, "08:00-17:00", primary[0].From.In(jerusalem(t)).Format("15:04")+"-"+primary[0].To.In(jerusalem(t)).Format("15:04"))
	}
}

// TestShifts checks the on-call board's answer: stretches of one person from one source,
// clipped to the period asked, with nobody's time left out.
func TestShifts(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	type shift struct {
		user, source string
		from, to     time.Time
	}
	tests := []struct {
		name      string
		specialty string
		from, to  time.Time
		primary   []shift
		secondary []shift
	}{
		{"layers through two days, clipped at both ends", "layered", local(t, 2026, 2, 1, 0, 0, 0), local(t, 2026, 2, 3, 0, 0, 0),
			[]shift{
				{"n", "nights", local(t, 2026, 2, 1, 0, 0, 0), local(t, 2026, 2, 1, 8, 0, 0)},
				{"d", "weekday days", local(t, 2026, 2, 1, 8, 0, 0), local(t, 2026, 2, 1, 17, 0, 0)},
				{"a", "weekly", local(t, 2026, 2, 1, 17, 0, 0), local(t, 2026, 2, 1, 20, 0, 0)},
				{"n", "nights", local(t, 2026, 2, 1, 20, 0, 0), local(t, 2026, 2, 2, 8, 0, 0)},
				{"c", "weekday days", local(t, 2026, 2, 2, 8, 0, 0), local(t, 2026, 2, 2, 17, 0, 0)},
				{"a", "weekly", local(t, 2026, 2, 2, 17, 0, 0), local(t, 2026, 2, 2, 20, 0, 0)},
				{"n", "nights", local(t, 2026, 2, 2, 20, 0, 0), local(t, 2026, 2, 3, 0, 0, 0)},
			}, nil},
		{"overrides beside the layer", "layered", local(t, 2026, 2, 3, 9, 0, 0), local(t, 2026, 2, 3, 18, 0, 0),
			[]shift{
				{"d", "weekday days", local(t, 2026, 2, 3, 9, 0, 0), local(t, 2026, 2, 3, 10, 0, 0)},
				{"c", "override", local(t, 2026, 2, 3, 10, 0, 0), local(t, 2026, 2, 3, 11, 0, 0)},
				{"d", "override", local(t, 2026, 2, 3, 11, 0, 0), local(t, 2026, 2, 3, 13, 0, 0)},
				{"d", "weekday days", local(t, 2026, 2, 3, 13, 0, 0), local(t, 2026, 2, 3, 17, 0, 0)},
				{"a", "weekly", local(t, 2026, 2, 3, 17, 0, 0), local(t, 2026, 2, 3, 18, 0, 0)},
			}, nil},
		{"a week with the weekend night", "layered", local(t, 2026, 2, 6, 12, 0, 0), local(t, 2026, 2, 13, 12, 0, 0),
			nil, // not checked here
			[]shift{{"s", "weekend nights", local(t, 2026, 2, 6, 20, 0, 0), local(t, 2026, 2, 7, 8, 0, 0)}}},
		{"one person's days merge", "solo", local(t, 2026, 5, 1, 0, 0, 0), local(t, 2026, 5, 8, 0, 0, 0),
			[]shift{{"a", "days", local(t, 2026, 5, 1, 0, 0, 0), local(t, 2026, 5, 8, 0, 0, 0)}}, []shift{}},
		{"a daily rotation", "daily", local(t, 2026, 1, 1, 12, 0, 0), local(t, 2026, 1, 3, 12, 0, 0),
			[]shift{
				{"a", "days", local(t, 2026, 1, 1, 12, 0, 0), local(t, 2026, 1, 2, 8, 0, 0)},
				{"b", "days", local(t, 2026, 1, 2, 8, 0, 0), local(t, 2026, 1, 3, 8, 0, 0)},
				{"c", "days", local(t, 2026, 1, 3, 8, 0, 0), local(t, 2026, 1, 3, 12, 0, 0)},
			},
			[]shift{{"d", "backup", local(t, 2026, 1, 1, 12, 0, 0), local(t, 2026, 1, 3, 12, 0, 0)}}},
		{"an empty period", "daily", local(t, 2026, 1, 1, 12, 0, 0), local(t, 2026, 1, 1, 12, 0, 0), []shift{}, []shift{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			primary, secondary, ok := r.Shifts(tt.specialty, tt.from, tt.to)
			require.True(t, ok, "got no schedule for %s, want one", tt.specialty)
			for _, c := range []struct {
				name string
				got  []roster.Shift
				want []shift
			}{{"primary", primary, tt.primary}, {"secondary", secondary, tt.secondary}} {
				if c.want == nil {
					continue
				}
				want := make([]roster.Shift, 0, len(c.want))
				for _, s := range c.want {
					want = append(want, roster.Shift{UserID: s.user, Source: s.source, From: s.from.UTC(), To: s.to.UTC()})
				}
				assert.Equal(t, want, c.got, "got %s shifts %+v, want %+v", c.name, c.got, want)
			}
		})
	}
	_, _, ok := r.Shifts("unscheduled", local(t, 2026, 1, 1, 0, 0, 0), local(t, 2026, 1, 2, 0, 0, 0))
	assert.False(t, ok, "got shifts for a specialty without a schedule, want none")
}

// TestFarMoments checks that moments far from a layer's start answer at once and rightly.
func TestFarMoments(t *testing.T) {
	t.Parallel()
	r := testRoster(t)
	for _, at := range []time.Time{
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2400, 3, 1, 9, 0, 0, 0, time.UTC),
	} {
		oc := onCall(t, r, "daily", at)
		assert.Contains(t, []string{"a", "b", "c"}, oc.PrimaryID, "at %v: got primary %q", at, oc.PrimaryID)
		assert.True(t, oc.Until.After(at), "at %v: got until %v, want later", at, oc.Until)
		primary, _, _ := r.Shifts("layered", at, at.Add(24*time.Hour))
		assert.NotEmpty(t, primary, "at %v: got no shifts", at)
	}
	// The daily rotation of a, b, c from 1 January 2026 08:00, 374 years on.
	days := (time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) / 86400
	for _, d := range []int64{days, days + 1} {
		at := local(t, 2400, 1, 1, 8, 0, 0).AddDate(0, 0, int(d-days))
		want := []string{"a", "b", "c"}[d%3]
		for _, probe := range []time.Time{at, at.Add(23 * time.Hour)} {
			got := onCall(t, r, "daily", probe).PrimaryID
			assert.Equal(t, want, got, "at %v (day %d): got %q, want %q", probe, d, got, want)
		}
	}
}
