package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/intake/api"
)

// figuresAnswer is GET /api/v1/figures as a client reads it.
type figuresAnswer struct {
	Today    figuresPeriod `json:"today"`
	LastDays figuresPeriod `json:"last_days"`
	Days     int           `json:"days"`
	ByDay    []struct {
		Date      string `json:"date"`
		Count     int    `json:"count"`
		Accepted  int    `json:"accepted"`
		WithinSLA int    `json:"within_sla"`
	} `json:"by_day"`
	Zone string `json:"zone"`
}

type figuresPeriod struct {
	Count               int            `json:"count"`
	BySpecialty         map[string]int `json:"by_specialty"`
	ByUrgency           map[string]int `json:"by_urgency"`
	Accepted            int            `json:"accepted"`
	MedianAcceptSeconds *float64       `json:"median_accept_seconds"`
	P90AcceptSeconds    *float64       `json:"p90_accept_seconds"`
	WithinSLAPercent    *float64       `json:"within_sla_percent"`
	Escalated           int            `json:"escalated"`
	Open                int            `json:"open"`
}

// The figures endpoint, end to end: consults requested and taken through the API today and
// stored on earlier days, projected into a real Redis from a real NATS stream, counted by civil
// day in Jerusalem; for coordinators only.
func TestFigures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := testenv.Logger(t)
	in, _ := openDeps(t, ctx)
	sla := config.SLA{AcceptWithin: map[string]time.Duration{"emergent": 10 * time.Minute, "urgent": time.Hour, "routine": 24 * time.Hour}}
	store := in.ReadModel
	srv := api.New(api.Config{SLA: sla}, in, log)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	login := func(username string) *apiclient.Client {
		t.Helper()
		c := apiclient.New(ts.URL)
		require.NoError(t, c.Login(ctx, username, "demo"))
		return c
	}
	coord, ref, onc := login("coord1"), login("referrer1"), login("onc1")
	get := func(c *apiclient.Client, query string) (figuresAnswer, *apiclient.Error) {
		t.Helper()
		var out figuresAnswer
		_, err := c.Do(ctx, http.MethodGet, "/api/v1/figures"+query, nil, nil, &out)
		var apiErr *apiclient.Error
		if err != nil && !errors.As(err, &apiErr) {
			t.Errorf("got %v, want an API answer", err) // not FailNow: this may run in Eventually's goroutine
			apiErr = &apiclient.Error{}
		}
		return out, apiErr
	}

	// Before the projector has built the read model, there is nothing whole to count.
	_, apiErr := get(coord, "")
	require.NotNil(t, apiErr, "got figures, want 503 before the read model is built")
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	assert.Equal(t, "unavailable", apiErr.Body.Error.Code)

	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- readmodel.NewProjector(store, in.Consults, 50*time.Millisecond, log).Run(pctx) }()
	t.Cleanup(func() { stop(); <-done })

	// Earlier days, stored as intake and routing would have stored them then.
	loc, err := time.LoadLocation(roster.Zone)
	require.NoError(t, err)
	y, m, d := time.Now().In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc).Format(time.DateOnly)
	referrer := consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"}
	age := 7
	stored := func(created time.Time, urgency, specialty string) *consult.Consult {
		t.Helper()
		id := ulid.MustNew(ulid.Timestamp(created), ulid.DefaultEntropy()).String()
		e, err := consult.Submit(referrer, consult.Draft{Urgency: urgency, Specialty: specialty,
			Patient: &consult.DraftPatient{AgeYears: &age, Sex: "female"}, Question: "Relapse?"}, id, "",
			consult.Policy{KnownSpecialty: func(string) bool { return true }, AcceptWithin: sla.AcceptWithin}, created)
		require.NoError(t, err)
		e.ID = ulid.Make().String()
		c, err := in.Consults.Append(ctx, nil, e)
		require.NoError(t, err)
		return c
	}
	then := func(c *consult.Consult, decide func(*consult.Consult) (event.Event, error)) *consult.Consult {
		t.Helper()
		e, err := decide(c)
		require.NoError(t, err)
		e.ID = ulid.Make().String()
		next, err := in.Consults.Append(ctx, c, e)
		require.NoError(t, err)
		return next
	}
	twoDaysAgo := stored(time.Date(y, m, d-2, 10, 0, 0, 0, loc), "urgent", "pediatric-oncology")
	then(twoDaysAgo, func(c *consult.Consult) (event.Event, error) { // taken an hour after its deadline
		return c.Assign(consult.Actor{ID: "u-coord1", Role: consult.RoleCoordinator}, "u-onc1", c.CreatedAt.Add(2*time.Hour))
	})
	threeDaysAgo := stored(time.Date(y, m, d-3, 9, 0, 0, 0, loc), "emergent", "pediatric-oncology")
	then(threeDaysAgo, func(c *consult.Consult) (event.Event, error) { // nobody found: a coordinator must act
		return c.Escalate("nobody on call answered", c.CreatedAt.Add(20*time.Minute))
	})
	stored(time.Date(y, m, d-8, 12, 0, 0, 0, loc), "routine", "pediatric-hematology")
	stored(time.Date(y, m, d-40, 12, 0, 0, 0, loc), "routine", "pediatric-hematology")

	// Today, through the API: two taken at once by a coordinator's assignment, one completed.
	create := func(urgency, specialty string) string {
		t.Helper()
		var c struct{ ID string }
		_, err := ref.Do(ctx, http.MethodPost, "/api/v1/consults", map[string]any{"urgency": urgency, "specialty": specialty,
			"patient": map[string]any{"age_years": 7, "sex": "female"}, "question": "Relapse or infection?"}, nil, &c)
		require.NoError(t, err)
		return c.ID
	}
	first, second := create("urgent", "pediatric-oncology"), create("urgent", "pediatric-oncology")
	create("routine", "pediatric-hematology")
	for _, id := range []string{first, second} {
		_, err := coord.Do(ctx, http.MethodPost, "/api/v1/consults/"+id+"/assign", map[string]string{"specialist_id": "u-onc1"}, nil, nil)
		require.NoError(t, err)
	}
	_, err = onc.Do(ctx, http.MethodPost, "/api/v1/consults/"+second+"/complete", map[string]string{"recommendation": "Infection; treat."}, nil, nil)
	require.NoError(t, err)

	var week figuresAnswer
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		f, apiErr := get(coord, "?days=7")
		if assert.Nil(c, apiErr) {
			assert.Equal(c, 5, f.LastDays.Count, "count")
			assert.Equal(c, 3, f.LastDays.Accepted, "accepted")
			assert.Equal(c, 4, f.LastDays.Open, "open")
		}
		week = f
	}, 15*time.Second, 50*time.Millisecond, "the projector brings every change into the figures")

	assert.Equal(t, 7, week.Days)
	assert.Equal(t, "Asia/Jerusalem", week.Zone)
	tw := week.Today
	assert.Equal(t, 3, tw.Count)
	assert.Equal(t, map[string]int{"pediatric-oncology": 2, "pediatric-hematology": 1}, tw.BySpecialty)
	assert.Equal(t, map[string]int{"emergent": 0, "urgent": 2, "routine": 1}, tw.ByUrgency)
	assert.Equal(t, 2, tw.Accepted)
	if assert.NotNil(t, tw.MedianAcceptSeconds) && assert.NotNil(t, tw.P90AcceptSeconds) {
		assert.Less(t, *tw.MedianAcceptSeconds, 60.0, "assigned at once")
		assert.Less(t, *tw.P90AcceptSeconds, 60.0, "assigned at once")
	}
	if assert.NotNil(t, tw.WithinSLAPercent) {
		assert.Equal(t, 100.0, *tw.WithinSLAPercent, "both taken in time; the routine one's deadline is ahead")
	}
	assert.Equal(t, 0, tw.Escalated)
	assert.Equal(t, 2, tw.Open, "one of the three is completed")

	lw := week.LastDays
	assert.Equal(t, map[string]int{"pediatric-oncology": 4, "pediatric-hematology": 1}, lw.BySpecialty)
	assert.Equal(t, map[string]int{"emergent": 1, "urgent": 3, "routine": 1}, lw.ByUrgency)
	if assert.NotNil(t, lw.MedianAcceptSeconds) && assert.NotNil(t, lw.P90AcceptSeconds) {
		assert.Less(t, *lw.MedianAcceptSeconds, 60.0)
		assert.Equal(t, 7200.0, *lw.P90AcceptSeconds, "the slowest of three, taken after two hours")
	}
	if assert.NotNil(t, lw.WithinSLAPercent) {
		assert.Equal(t, 50.0, *lw.WithinSLAPercent, "two in time; one late, one escalated past its deadline")
	}
	assert.Equal(t, 1, lw.Escalated)

	require.Len(t, week.ByDay, 7)
	for i, day := range week.ByDay {
		want := time.Date(y, m, d-6+i, 0, 0, 0, 0, loc).Format(time.DateOnly)
		assert.Equal(t, want, day.Date, "day %d", i)
		type counts struct{ Count, Accepted, WithinSLA int }
		wantCounts := map[int]counts{3: {1, 0, 0}, 4: {1, 1, 0}, 6: {3, 2, 2}}[i]
		assert.Equal(t, wantCounts, counts{day.Count, day.Accepted, day.WithinSLA}, "%s", day.Date)
	}
	assert.Equal(t, today, week.ByDay[6].Date)

	month, apiErr := get(coord, "?days=31")
	require.Nil(t, apiErr)
	assert.Equal(t, 6, month.LastDays.Count, "the eight-day-old consult counts; the forty-day-old one does not")
	assert.Len(t, month.ByDay, 31)
	assert.Equal(t, week.Today, month.Today)

	one, apiErr := get(coord, "?days=1")
	require.Nil(t, apiErr)
	assert.Equal(t, one.Today, one.LastDays, "one day is today")

	t.Run("coordinators only", func(t *testing.T) {
		for name, c := range map[string]*apiclient.Client{"referrer": ref, "specialist": onc} {
			_, apiErr := get(c, "")
			if assert.NotNil(t, apiErr, name) {
				assert.Equal(t, http.StatusForbidden, apiErr.Status, name)
				assert.Equal(t, "forbidden", apiErr.Body.Error.Code, name)
			}
		}
		_, apiErr := get(apiclient.New(ts.URL), "")
		if assert.NotNil(t, apiErr) {
			assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
		}
	})

	t.Run("days must be 1 to 31", func(t *testing.T) {
		want := problem.Problem{Code: "out_of_range", Min: ptr(1.0), Max: ptr(31.0)}
		for _, q := range []string{"0", "32", "-1", "x", "7.5", "1e1"} {
			_, apiErr := get(coord, "?days="+q)
			if assert.NotNil(t, apiErr, "days=%s", q) {
				assert.Equal(t, http.StatusBadRequest, apiErr.Status, "days=%s", q)
				assert.Contains(t, apiErr.Body.Error.Fields, "days", "days=%s", q)
			}
			status, bad := send(t, coord, http.MethodGet, "/api/v1/figures?days="+q, nil, nil)
			require.Equal(t, http.StatusBadRequest, status, "days=%s: got %d, want 400", q, status)
			got := bad.Body.Error.Problems["days"]
			assert.Equal(t, want, got, "days=%s: got problem %+v, want %+v", q, got, want)
		}
	})
}
