package worker_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/worker"
)

// stores are the consult store and the scheduler of a fresh embedded NATS server.
type stores struct {
	*consultstore.Store
	deadlines *scheduler.Scheduler
	js        jetstream.JetStream
}

func newStores(t *testing.T) *stores {
	t.Helper()
	cs, b := testenv.Consults(t)
	ds, err := scheduler.Open(context.Background(), b)
	require.NoError(t, err)
	return &stores{Store: cs, deadlines: ds, js: b.JetStream()}
}

// consumer returns the state of one of routing's durable consumers (zero before it exists).
func (b *stores) consumer(t *testing.T, stream, name string) jetstream.ConsumerInfo {
	t.Helper()
	c, err := b.js.Consumer(context.Background(), stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return jetstream.ConsumerInfo{}
	}
	require.NoError(t, err)
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	return *info
}

// due waits until n due deadlines wait in the stream for routing to handle them.
func (b *stores) due(t *testing.T, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return b.consumer(t, scheduler.Stream, worker.DeadlinesConsumer).NumPending >= n
	}, 15*time.Second, 20*time.Millisecond, "got fewer than %d due deadlines", n)
}

// settled waits until routing has handled at least fired due deadlines and has nothing left to
// handle: no consult event and no due deadline pending or unacknowledged, twice in a row. What
// routing would still do (a duplicate decision, a deadline firing twice) is in the stream then.
func (b *stores) settled(t *testing.T, fired uint64) {
	t.Helper()
	idle := func() bool {
		ev := b.consumer(t, consultstore.Stream, worker.EventsConsumer)
		dl := b.consumer(t, scheduler.Stream, worker.DeadlinesConsumer)
		return dl.Delivered.Consumer >= fired && ev.NumPending == 0 && ev.NumAckPending == 0 && dl.NumPending == 0 && dl.NumAckPending == 0
	}
	require.Eventually(t, func() bool {
		if !idle() {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		return idle()
	}, 15*time.Second, 20*time.Millisecond, "routing did not settle")
}

type demoRoster struct{ r *roster.Roster }

func (d demoRoster) Roster() *roster.Roster { return d.r }

func demo(t *testing.T) demoRoster {
	t.Helper()
	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	return demoRoster{r}
}

// startWorker runs a routing instance whose escalation steps all wait the same, until the
// returned stop is called (a crash, as far as the stream can tell: nothing is handed over).
func startWorker(t *testing.T, b *stores, wait time.Duration) (stop func()) {
	t.Helper()
	s := worker.Settings{Waits: map[string]time.Duration{"emergent": wait, "urgent": wait, "routine": wait}}
	return startWorkerWith(t, b, s)
}

// synced is an availability source that has loaded everything.
var synced = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// people is the facts about people from a real Redis, under a prefix of the test's own.
func people(t *testing.T) *worker.People {
	t.Helper()
	rdb, _ := testenv.Redis(t)
	prefix := "t-" + ulid.Make().String() + ":"
	return worker.NewPeople(presence.New(rdb, prefix, 30*time.Second), readmodel.New(rdb, prefix), func(string) string { return "" }, synced)
}

func startWorkerWith(t *testing.T, b *stores, s worker.Settings) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(b.Store, b.deadlines, demo(t), people(t), s, testenv.Logger(t))
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func submit(t *testing.T, b *stores, urgency string) string {
	t.Helper()
	return submitWith(t, b, urgency, consult.Policy{KnownSpecialty: func(string) bool { return true }})
}

func submitWith(t *testing.T, b *stores, urgency string, p consult.Policy) string {
	t.Helper()
	age := 9
	id := ulid.Make().String()
	e, err := consult.Submit(consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
		consult.Draft{Urgency: urgency, Specialty: "pediatric-oncology", Patient: &consult.DraftPatient{AgeYears: &age, Sex: "male"}, Question: "q"},
		id, "", p, time.Now())
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	_, err = b.Append(context.Background(), nil, e)
	require.NoError(t, err)
	return id
}

func typesOf(t *testing.T, b *stores, id string) []event.Type {
	t.Helper()
	hist, err := b.History(context.Background(), id)
	require.NoError(t, err)
	out := make([]event.Type, len(hist))
	for i, e := range hist {
		out[i] = e.Type
	}
	return out
}

// fullChain is the built-in routine policy run out with nobody answering: the primary on call,
// the secondary, the coordinators, then escalation.
var fullChain = []event.Type{event.Requested, event.Offered, event.OfferExpired, event.Offered, event.OfferExpired,
	event.CoordinatorsAlerted, event.Escalated}

func TestDeadlinesSurviveARoutingCrashAndFireOnce(t *testing.T) {
	t.Parallel()
	b := newStores(t)
	stop := startWorker(t, b, 2*time.Second)
	id := submit(t, b, "routine")
	require.Eventually(t, func() bool { return len(typesOf(t, b, id)) == 2 }, 5*time.Second, 20*time.Millisecond, "first offer")
	stop() // routing dies while the offer is live

	b.due(t, 1) // the deadline passes while no routing runs
	assert.Equal(t, []event.Type{event.Requested, event.Offered}, typesOf(t, b, id), "nothing may happen without routing")

	startWorker(t, b, 2*time.Second)
	require.Eventually(t, func() bool { return len(typesOf(t, b, id)) >= len(fullChain) }, 15*time.Second, 50*time.Millisecond)
	b.settled(t, 0) // would a duplicate deadline or decision still arrive?
	assert.Equal(t, fullChain, typesOf(t, b, id))
}

func TestTwoRoutingInstancesDecideEachStepOnce(t *testing.T) {
	t.Parallel()
	b := newStores(t)
	startWorker(t, b, time.Second)
	startWorker(t, b, time.Second)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = submit(t, b, "routine")
	}
	for _, id := range ids {
		require.Eventually(t, func() bool { return len(typesOf(t, b, id)) >= len(fullChain) }, 20*time.Second, 50*time.Millisecond, "consult %s", id)
	}
	b.settled(t, 0)
	for _, id := range ids {
		assert.Equal(t, fullChain, typesOf(t, b, id), "consult %s", id)
	}
}

func TestAcceptedOfferIsNotExpired(t *testing.T) {
	t.Parallel()
	b := newStores(t)
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
	b.settled(t, 1) // past the deadline, which must find nothing to expire
	assert.Equal(t, []event.Type{event.Requested, event.Offered, event.Accepted}, typesOf(t, b, id))
}

func TestUnseenOffersAreRemindedUntilSeen(t *testing.T) {
	t.Parallel()
	b := newStores(t)
	startWorkerWith(t, b, worker.Settings{Waits: map[string]time.Duration{"urgent": 10 * time.Second}, RemindEvery: time.Second})
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
	require.Eventually(t, func() bool { return slices.Contains(typesOf(t, b, unseen), event.OfferExpired) }, 20*time.Second, 50*time.Millisecond)
	hist := typesOf(t, b, unseen)
	expired := slices.Index(hist, event.OfferExpired)
	assert.Equal(t, 3, reminders(unseen), "got %v, want reminders 1s, 3s and 7s into a 10s offer (backing off)", hist)
	for i, typ := range hist {
		if typ == event.OfferReminder {
			assert.Less(t, i, expired, "a reminder after the offer expired: %v", hist)
		}
	}
	require.Eventually(t, func() bool { return slices.Contains(typesOf(t, b, seen), event.OfferExpired) }, 20*time.Second, 50*time.Millisecond)
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

// appendDecision appends what decide returns for the consult's current state.
func appendDecision(t *testing.T, b *stores, id string, decide func(*consult.Consult) (event.Event, error)) {
	t.Helper()
	c, err := b.Load(context.Background(), id)
	require.NoError(t, err)
	e, err := decide(c)
	require.NoError(t, err)
	e.ID = ulid.Make().String()
	_, err = b.Append(context.Background(), c, e)
	require.NoError(t, err)
}

func TestSLABreachIsRecordedOnce(t *testing.T) {
	t.Parallel()
	b := newStores(t)
	startWorker(t, b, 3*time.Second)
	startWorker(t, b, 3*time.Second)
	late := submitWith(t, b, "routine", consult.Policy{KnownSpecialty: func(string) bool { return true },
		AcceptWithin: map[string]time.Duration{"routine": time.Second}, RecommendWithin: map[string]time.Duration{"routine": 2 * time.Second}})
	met := submitWith(t, b, "routine", consult.Policy{KnownSpecialty: func(string) bool { return true },
		AcceptWithin: map[string]time.Duration{"routine": 2 * time.Second}})
	require.Eventually(t, func() bool { return len(typesOf(t, b, met)) >= 2 }, 5*time.Second, 20*time.Millisecond)
	appendDecision(t, b, met, func(c *consult.Consult) (event.Event, error) {
		return c.Accept(consult.Actor{ID: c.Offer.SpecialistID, Role: consult.RoleSpecialist}, time.Now())
	})
	require.Eventually(t, func() bool { return count(typesOf(t, b, late), event.SLABreached) == 2 }, 10*time.Second, 50*time.Millisecond)
	b.settled(t, 0) // would a second record of either clock arrive?
	hist, err := b.History(context.Background(), late)
	require.NoError(t, err)
	var clocks []string
	for _, e := range hist {
		if e.Type == event.SLABreached {
			clocks = append(clocks, e.Clock)
		}
	}
	assert.ElementsMatch(t, []string{consult.ClockAccept, consult.ClockRecommend}, clocks)
	assert.Zero(t, count(typesOf(t, b, met), event.SLABreached), "the accept clock was met: %v", typesOf(t, b, met))
}

func TestSnoozedEscalationSoundsAgainOnce(t *testing.T) {
	t.Parallel()
	b := newStores(t)
	startWorker(t, b, 500*time.Millisecond)
	startWorker(t, b, 500*time.Millisecond)
	id := submit(t, b, "routine")
	require.Eventually(t, func() bool { return slices.Contains(typesOf(t, b, id), event.Escalated) }, 15*time.Second, 50*time.Millisecond)
	appendDecision(t, b, id, func(c *consult.Consult) (event.Event, error) {
		return c.Snooze(consult.Actor{ID: "u-coord1", Role: consult.RoleCoordinator}, time.Now().Add(2*time.Second), "calling the ward", time.Now())
	})
	require.Eventually(t, func() bool { return count(typesOf(t, b, id), event.Escalated) == 2 }, 10*time.Second, 50*time.Millisecond)
	b.settled(t, 0)
	hist := typesOf(t, b, id)
	assert.Equal(t, []event.Type{event.Escalated, event.Snoozed, event.Escalated}, hist[len(hist)-3:])
}
