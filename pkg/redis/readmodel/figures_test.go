package readmodel_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zone must resolve without the system's zoneinfo

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// jerusalem is the hospital's zone, whose civil days the figures count.
func jerusalem(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Jerusalem")
	require.NoError(t, err)
	return loc
}

// made is a consult requested at created, urgent, for pediatric oncology, due to be accepted
// within the hour, changed by mods. Its id is stamped at created, as submission stamps it.
func made(created time.Time, mods ...func(*consult.Consult)) *consult.Consult {
	c := &consult.Consult{ID: ulid.MustNew(ulid.Timestamp(created), ulid.DefaultEntropy()).String(),
		Status: consult.StatusRequested, Urgency: "urgent", Specialty: "pediatric-oncology", ClinicID: "hebron",
		ReferrerID: "u-referrer1", Question: "q", CreatedAt: created, UpdatedAt: created,
		SLA:    consult.SLA{AcceptBy: created.Add(time.Hour)},
		Events: []consult.EventRef{{ID: ulid.Make().String(), Seq: 1, Type: event.Requested, At: created, ActorID: "u-referrer1"}}}
	for _, m := range mods {
		m(c)
	}
	return c
}

func record(c *consult.Consult, t event.Type, at time.Time) {
	c.Events = append(c.Events, consult.EventRef{ID: ulid.Make().String(), Seq: len(c.Events) + 1, Type: t, At: at, ActorID: "x"})
	c.UpdatedAt = at
}

func acceptedAfter(d time.Duration) func(*consult.Consult) {
	return func(c *consult.Consult) {
		at := c.CreatedAt.Add(d)
		c.Status, c.AcceptedAt = consult.StatusAccepted, at
		who := "u-onc1"
		c.AssigneeID = &who
		record(c, event.Accepted, at)
	}
}

func closedAfter(status consult.Status, d time.Duration) func(*consult.Consult) {
	return func(c *consult.Consult) {
		at := c.CreatedAt.Add(d)
		c.Status, c.ClosedAt = status, at
		record(c, map[consult.Status]event.Type{consult.StatusCompleted: event.Completed, consult.StatusCancelled: event.Cancelled}[status], at)
	}
}

func escalatedAfter(d time.Duration) func(*consult.Consult) {
	return func(c *consult.Consult) {
		c.Status = consult.StatusEscalated
		record(c, event.Escalated, c.CreatedAt.Add(d))
	}
}

func urgency(u string) func(*consult.Consult)   { return func(c *consult.Consult) { c.Urgency = u } }
func specialty(s string) func(*consult.Consult) { return func(c *consult.Consult) { c.Specialty = s } }
func acceptWithin(d time.Duration) func(*consult.Consult) {
	return func(c *consult.Consult) { c.SLA.AcceptBy = c.CreatedAt.Add(d) }
}
func noSLA(c *consult.Consult) { c.SLA.AcceptBy = time.Time{} }

func seconds(v float64) *float64 { return &v }

// figures is a Figures with ByUrgency naming every urgency, as the report's do.
func figures(f readmodel.Figures) readmodel.Figures {
	urg := map[string]int{"emergent": 0, "urgent": 0, "routine": 0}
	for k, v := range f.ByUrgency {
		urg[k] = v
	}
	f.ByUrgency = urg
	if f.BySpecialty == nil {
		f.BySpecialty = map[string]int{}
	}
	return f
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	loc := jerusalem(t)
	at := func(y int, m time.Month, d, hh, mm, ss int) time.Time { return time.Date(y, m, d, hh, mm, ss, 0, loc) }
	may10 := func(hh, mm int) time.Time { return at(2026, 5, 10, hh, mm, 0) }

	// The two 2026 clock changes, from Go's tzdata: the tests below rely on them.
	start, end := time.Date(2026, 7, 1, 12, 0, 0, 0, loc).ZoneBounds()
	require.True(t, start.Equal(time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC)), "got spring forward at %v, want 2026-03-27T00:00Z", start.UTC())
	require.True(t, end.Equal(time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC)), "got fall back at %v, want 2026-10-24T23:00Z", end.UTC())
	springForward := start                 // 03:00 summer time, a second after 01:59:59 winter time
	fallBack := end.Add(-30 * time.Minute) // 01:30 summer time; the same wall clock comes again an hour later

	tests := []struct {
		name     string
		now      time.Time
		days     int
		consults []*consult.Consult
		// wantToday and wantLast are compared whole; nil skips.
		wantToday, wantLast *readmodel.Figures
		wantByDay           []readmodel.DayFigures
	}{
		{
			name: "nothing requested", now: may10(12, 0), days: 3,
			wantToday: &readmodel.Figures{}, wantLast: &readmodel.Figures{},
			wantByDay: []readmodel.DayFigures{{Date: "2026-05-08"}, {Date: "2026-05-09"}, {Date: "2026-05-10"}},
		},
		{
			name: "response times, deadlines, escalations and open consults", now: may10(12, 0), days: 7,
			consults: []*consult.Consult{
				made(may10(8, 0), acceptedAfter(2*time.Minute)),   // met
				made(may10(8, 10), acceptedAfter(90*time.Minute)), // late
				made(may10(9, 0), urgency("routine"), specialty("pediatric-hematology"), // deadline ahead: undecided
					acceptWithin(24*time.Hour)),
				made(may10(7, 0), urgency("emergent"), escalatedAfter(10*time.Minute)),                         // deadline passed unaccepted: missed
				made(may10(6, 0), closedAfter(consult.StatusCancelled, 20*time.Minute)),                        // withdrawn in time: undecided
				made(may10(5, 0), acceptedAfter(time.Minute), closedAfter(consult.StatusCompleted, time.Hour)), // met, closed
				made(may10(4, 0), noSLA, specialty("pediatric-hematology")),                                    // no target: undecided
				made(at(2026, 5, 9, 23, 0, 0), acceptedAfter(30*time.Second)),                                  // yesterday
				made(at(2026, 5, 3, 23, 59, 59), acceptedAfter(time.Second)),                                   // before the seven days
			},
			wantToday: &readmodel.Figures{Count: 7,
				BySpecialty: map[string]int{"pediatric-oncology": 5, "pediatric-hematology": 2},
				ByUrgency:   map[string]int{"emergent": 1, "urgent": 5, "routine": 1},
				Accepted:    3, MedianAcceptSeconds: seconds(120), P90AcceptSeconds: seconds(5400),
				WithinSLAPercent: seconds(50), Escalated: 1, Open: 5},
			wantLast: &readmodel.Figures{Count: 8,
				BySpecialty: map[string]int{"pediatric-oncology": 6, "pediatric-hematology": 2},
				ByUrgency:   map[string]int{"emergent": 1, "urgent": 6, "routine": 1},
				Accepted:    4, MedianAcceptSeconds: seconds(90), P90AcceptSeconds: seconds(5400),
				WithinSLAPercent: seconds(60), Escalated: 1, Open: 6},
			wantByDay: []readmodel.DayFigures{{Date: "2026-05-04"}, {Date: "2026-05-05"}, {Date: "2026-05-06"},
				{Date: "2026-05-07"}, {Date: "2026-05-08"}, {Date: "2026-05-09", Count: 1, Accepted: 1, WithinSLA: 1},
				{Date: "2026-05-10", Count: 7, Accepted: 3, WithinSLA: 2}},
		},
		{
			name: "the median of an odd count is the middle one; the 90th percentile is by nearest rank", now: may10(23, 0), days: 1,
			consults: []*consult.Consult{
				made(may10(1, 0), acceptedAfter(10*time.Second)),
				made(may10(2, 0), acceptedAfter(20*time.Second)),
				made(may10(3, 0), acceptedAfter(41*time.Second), acceptWithin(30*time.Second)),
				made(may10(4, 0), acceptedAfter(1000*time.Second), noSLA),
				made(may10(5, 0), acceptedAfter(-time.Second)), // clocks apart: counts as instant
			},
			wantToday: &readmodel.Figures{Count: 5, BySpecialty: map[string]int{"pediatric-oncology": 5},
				ByUrgency: map[string]int{"urgent": 5}, Accepted: 5,
				MedianAcceptSeconds: seconds(20), P90AcceptSeconds: seconds(1000), WithinSLAPercent: seconds(75), Open: 5},
		},
		{
			name: "an even count takes the mean of the middle two; percentages round to a tenth", now: may10(23, 0), days: 1,
			consults: []*consult.Consult{
				made(may10(1, 0), acceptedAfter(time.Minute)),
				made(may10(2, 0), acceptedAfter(2*time.Minute)),
				made(may10(3, 0), acceptWithin(time.Minute)),
			},
			wantToday: &readmodel.Figures{Count: 3, BySpecialty: map[string]int{"pediatric-oncology": 3},
				ByUrgency: map[string]int{"urgent": 3}, Accepted: 2,
				MedianAcceptSeconds: seconds(90), P90AcceptSeconds: seconds(120), WithinSLAPercent: seconds(66.7), Open: 3},
		},
		{
			name: "escalated once, assigned since", now: may10(23, 0), days: 1,
			consults: []*consult.Consult{
				made(may10(1, 0), escalatedAfter(time.Hour), acceptedAfter(2*time.Hour)),
			},
			wantToday: &readmodel.Figures{Count: 1, BySpecialty: map[string]int{"pediatric-oncology": 1},
				ByUrgency: map[string]int{"urgent": 1}, Accepted: 1,
				MedianAcceptSeconds: seconds(7200), P90AcceptSeconds: seconds(7200), WithinSLAPercent: seconds(0), Escalated: 1, Open: 1},
		},
		{
			name: "the day clocks go forward has 23 hours", now: at(2026, 3, 28, 10, 0, 0), days: 3,
			consults: []*consult.Consult{
				made(at(2026, 3, 25, 23, 59, 59)),     // before the period
				made(at(2026, 3, 26, 0, 0, 0)),        // its first instant
				made(springForward.Add(-time.Second)), // 01:59:59 winter time
				made(springForward),                   // 03:00 summer time
				made(at(2026, 3, 27, 23, 59, 59)),     // 20:59:59Z, the 27th's last second
				made(at(2026, 3, 28, 0, 0, 0)),        // 21:00Z on the 27th, but the 28th here
				made(at(2026, 3, 29, 0, 0, 1)),        // tomorrow, from a clock running ahead: ignored
			},
			wantByDay: []readmodel.DayFigures{{Date: "2026-03-26", Count: 1}, {Date: "2026-03-27", Count: 3}, {Date: "2026-03-28", Count: 1}},
		},
		{
			name: "the day clocks go back has 25 hours", now: at(2026, 10, 26, 9, 0, 0), days: 2,
			consults: []*consult.Consult{
				made(at(2026, 10, 24, 23, 59, 59)), // before the period
				made(at(2026, 10, 25, 0, 0, 0)),
				made(fallBack),                // 01:30 summer time
				made(fallBack.Add(time.Hour)), // 01:30 winter time
				made(at(2026, 10, 25, 23, 59, 59)),
				made(at(2026, 10, 26, 0, 0, 0)),
			},
			wantByDay: []readmodel.DayFigures{{Date: "2026-10-25", Count: 4}, {Date: "2026-10-26", Count: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := readmodel.Summarize(tt.consults, tt.now, tt.days, loc)
			assert.Equal(t, tt.days, got.Days)
			assert.Equal(t, "Asia/Jerusalem", got.Zone)
			if tt.wantToday != nil {
				assert.Equal(t, figures(*tt.wantToday), got.Today, "today")
			}
			if tt.wantLast != nil {
				assert.Equal(t, figures(*tt.wantLast), got.LastDays, "last days")
			}
			if tt.days == 1 {
				assert.Equal(t, got.Today, got.LastDays, "one day is today")
			}
			if tt.wantByDay != nil {
				assert.Equal(t, tt.wantByDay, got.ByDay)
			}
			assert.Len(t, got.ByDay, tt.days)
			sum := 0
			for _, d := range got.ByDay {
				sum += d.Count
			}
			assert.Equal(t, got.LastDays.Count, sum, "got days summing to %d, want the period's count %d", sum, got.LastDays.Count)
		})
	}
}

// The report read from the snapshots in Redis is the report of those consults, in pages, while
// the projector keeps writing; it is refused while the read model is not whole.
func TestStoreFigures(t *testing.T) {
	b, _ := testenv.Consults(t)
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			s := readmodel.New(rdb, fmt.Sprintf("fig%d:", time.Now().UnixNano()))
			loc := jerusalem(t)
			now := time.Now()

			_, err = s.Figures(ctx, now, 7, loc)
			require.ErrorIs(t, err, readmodel.ErrRebuilding, "before the first rebuild")
			// The stream is empty: the rebuild only marks the read model whole.
			require.NoError(t, readmodel.NewProjector(s, b, time.Minute, testenv.Logger(t)).Rebuild(ctx))

			// 1,200 consults over the last ten days (more than one page), every third accepted.
			var all []*consult.Consult
			for i := range 1200 {
				c := made(now.Add(-time.Duration(i) * 12 * time.Minute))
				if i%3 == 0 {
					c = made(c.CreatedAt, acceptedAfter(time.Duration(i)*time.Second))
				}
				all = append(all, c)
			}
			// Stamped a little before its creation time, right at the period's start.
			from := readmodel.NewTally(now, 7, loc).From()
			early := made(from)
			early.ID = ulid.MustNew(ulid.Timestamp(from.Add(-time.Minute)), ulid.DefaultEntropy()).String()
			all = append(all, early)
			for _, c := range all {
				require.NoError(t, s.Project(ctx, c))
			}

			for _, days := range []int{1, 7, 31} {
				got, err := s.Figures(ctx, now, days, loc)
				require.NoError(t, err)
				assert.Equal(t, readmodel.Summarize(all, now, days, loc), got, "days=%d", days)
			}

			// Accept more while reading: every read counts every consult once, and sees no
			// acceptance undone.
			open := make([]*consult.Consult, 0, len(all))
			for _, c := range all {
				if c.AcceptedAt.IsZero() && !c.CreatedAt.Before(from) {
					open = append(open, c)
				}
			}
			want := readmodel.Summarize(all, now, 7, loc)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i, c := range open {
					acc := made(c.CreatedAt, acceptedAfter(time.Minute))
					acc.ID, acc.Events[0].ID = c.ID, c.Events[0].ID
					assert.NoError(t, s.Project(ctx, acc))
					if i%50 == 0 {
						time.Sleep(time.Millisecond) // let the reader interleave
					}
				}
			}()
			accepted := want.LastDays.Accepted
			for range 10 {
				got, err := s.Figures(ctx, now, 7, loc)
				require.NoError(t, err)
				assert.Equal(t, want.LastDays.Count, got.LastDays.Count, "got %d consults, want %d", got.LastDays.Count, want.LastDays.Count)
				assert.GreaterOrEqual(t, got.LastDays.Accepted, accepted, "acceptances only grow")
				accepted = got.LastDays.Accepted
			}
			wg.Wait()
			got, err := s.Figures(ctx, now, 7, loc)
			require.NoError(t, err)
			assert.Equal(t, want.LastDays.Count, got.LastDays.Accepted, "got %d accepted, want all %d", got.LastDays.Accepted, want.LastDays.Count)

			// Redis loses everything: refused until the projector has rebuilt it.
			require.NoError(t, rdb.FlushDB(ctx).Err())
			_, err = s.Figures(ctx, now, 7, loc)
			require.ErrorIs(t, err, readmodel.ErrRebuilding, "after a flush")
		})
	}
}
