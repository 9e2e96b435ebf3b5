package worker_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/bus"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/pkg/testenv"
	"github.com/regionalconsult/broker/services/routing/worker"
)

type demoRoster struct{ r *roster.Roster }

func (d demoRoster) Roster() *roster.Roster { return d.r }

func demo(t *testing.T) demoRoster {
	t.Helper()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	return demoRoster{r}
}

// startWorker runs a routing instance until the returned stop is called (a crash, as far as
// the stream can tell: nothing is handed over).
func startWorker(t *testing.T, b *bus.Bus, offerFor time.Duration) (stop func()) {
	t.Helper()
	return startWorkerWith(t, b, worker.Policy{OfferFor: map[string]time.Duration{"emergent": offerFor, "urgent": offerFor, "routine": offerFor}})
}

func startWorkerWith(t *testing.T, b *bus.Bus, p worker.Policy) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(b, demo(t), p, testenv.Logger(t))
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func submit(t *testing.T, b *bus.Bus, urgency string) string {
	t.Helper()
	age := 9
	id := ulid.Make().String()
	e, err := consult.Submit(consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
		consult.Draft{Urgency: urgency, Specialty: "pediatric-oncology", Patient: &consult.DraftPatient{AgeYears: &age, Sex: "male"}, Question: "q"},
		id, "", consult.Policy{KnownSpecialty: func(string) bool { return true }, AcceptWithin: map[string]time.Duration{}}, time.Now())
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	_, err = b.Append(context.Background(), nil, e)
	require.NoError(t, err)
	return id
}

func typesOf(t *testing.T, b *bus.Bus, id string) []event.Type {
	t.Helper()
	hist, err := b.History(context.Background(), id)
	require.NoError(t, err)
	out := make([]event.Type, len(hist))
	for i, e := range hist {
		out[i] = e.Type
	}
	return out
}

var fullChain = []event.Type{event.Requested, event.Offered, event.OfferExpired, event.Offered, event.OfferExpired, event.Escalated}

func TestDeadlinesSurviveARoutingCrashAndFireOnce(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Bus(t)
	stop := startWorker(t, b, 2*time.Second)
	id := submit(t, b, "urgent")
	require.Eventually(t, func() bool { return len(typesOf(t, b, id)) == 2 }, 5*time.Second, 20*time.Millisecond, "first offer")
	stop() // routing dies while the offer is live

	time.Sleep(2500 * time.Millisecond) // the deadline passes while no routing runs
	assert.Equal(t, []event.Type{event.Requested, event.Offered}, typesOf(t, b, id), "nothing may happen without routing")

	startWorker(t, b, 2*time.Second)
	require.Eventually(t, func() bool { return len(typesOf(t, b, id)) >= len(fullChain) }, 15*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // would a duplicate deadline or decision still arrive?
	assert.Equal(t, fullChain, typesOf(t, b, id))
}

func TestTwoRoutingInstancesDecideEachStepOnce(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Bus(t)
	startWorker(t, b, time.Second)
	startWorker(t, b, time.Second)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = submit(t, b, "emergent")
	}
	for _, id := range ids {
		require.Eventually(t, func() bool { return len(typesOf(t, b, id)) >= len(fullChain) }, 20*time.Second, 50*time.Millisecond, "consult %s", id)
	}
	time.Sleep(time.Second)
	for _, id := range ids {
		assert.Equal(t, fullChain, typesOf(t, b, id), "consult %s", id)
	}
}

func TestAcceptedOfferIsNotExpired(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Bus(t)
	startWorker(t, b, time.Second)
	id := submit(t, b, "emergent")
	require.Eventually(t, func() bool { return len(typesOf(t, b, id)) == 2 }, 5*time.Second, 20*time.Millisecond)
	c, err := b.Load(context.Background(), id)
	require.NoError(t, err)
	e, err := c.Accept(consult.Actor{ID: "u-onc1", Role: consult.RoleSpecialist}, time.Now())
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	_, err = b.Append(context.Background(), c, e)
	require.NoError(t, err)
	time.Sleep(2500 * time.Millisecond) // past the deadline, which must find nothing to expire
	assert.Equal(t, []event.Type{event.Requested, event.Offered, event.Accepted}, typesOf(t, b, id))
}

func TestUnseenOffersAreRemindedUntilSeen(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Bus(t)
	p := worker.Policy{OfferFor: map[string]time.Duration{"urgent": 6 * time.Second}, RemindEvery: time.Second}
	startWorkerWith(t, b, p)
	ctx := context.Background()

	unseen := submit(t, b, "urgent")
	seen := submit(t, b, "urgent")
	reminders := func(id string) int { return count(typesOf(t, b, id), event.OfferReminder) }
	require.Eventually(t, func() bool { return reminders(seen) >= 1 }, 10*time.Second, 50*time.Millisecond, "first reminder")
	c, err := b.Load(ctx, seen)
	require.NoError(t, err)
	e, news, err := c.MarkSeen(consult.Actor{ID: c.Offer.SpecialistID, Role: consult.RoleSpecialist}, time.Now())
	require.NoError(t, err)
	require.True(t, news)
	e.ID = ulid.Make().String()
	_, err = b.Append(ctx, c, e)
	require.NoError(t, err)
	before := reminders(seen)

	// The unseen offer is re-alerted until it expires, then the next specialist is.
	require.Eventually(t, func() bool { return slices.Contains(typesOf(t, b, unseen), event.OfferExpired) }, 15*time.Second, 50*time.Millisecond)
	hist := typesOf(t, b, unseen)
	expired := slices.Index(hist, event.OfferExpired)
	assert.GreaterOrEqual(t, reminders(unseen), 3, "got %v, want a reminder about every second of a 6s offer", hist)
	for i, typ := range hist {
		if typ == event.OfferReminder {
			assert.Less(t, i, expired, "a reminder after the offer expired: %v", hist)
		}
	}
	require.Eventually(t, func() bool { return slices.Contains(typesOf(t, b, seen), event.OfferExpired) }, 15*time.Second, 50*time.Millisecond)
	hist = typesOf(t, b, seen)
	first := hist[:slices.Index(hist, event.OfferExpired)] // the next specialist's offer has reminders of its own
	assert.Equal(t, before, count(first, event.OfferReminder), "reminders after the offer was seen: %v", hist)
}

func count(types []event.Type, want event.Type) int {
	n := 0
	for _, typ := range types {
		if typ == want {
			n++
		}
	}
	return n
}
