// Package worker runs routing against the stream: it consumes consult events and due
// deadlines through durable consumers shared by every routing instance, asks dispatch what
// happens next, and appends that under the stream's optimistic concurrency, so two instances
// never make two offers for the same step and every deadline fires once.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/bus"
	"github.com/regionalconsult/broker/pkg/config"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/routing/internal/dispatch"
)

// Consumer names shared by every routing instance.
const (
	EventsConsumer    = "routing"
	DeadlinesConsumer = "routing-deadlines"
)

// Roster gives the current roster.
type Roster interface {
	Roster() *roster.Roster
}

// Policy is the routing policy: how long offers stay open, per urgency.
type Policy = dispatch.Policy

// Settings reads the routing policy: OFFER_TIMEOUT_EMERGENT, _URGENT and _ROUTINE and
// REMIND_EVERY, each defaulting to the policy of API.md (2 minutes, 15 minutes, 4 hours; a
// reminder every 2 minutes).
func Settings(env *config.Env) Policy {
	d := dispatch.DefaultPolicy()
	return Policy{
		OfferFor:    env.PerUrgency("OFFER_TIMEOUT", d.OfferFor["emergent"], d.OfferFor["urgent"], d.OfferFor["routine"]),
		RemindEvery: env.Duration("REMIND_EVERY", d.RemindEvery),
	}
}

// Worker routes consults.
type Worker struct {
	bus    *bus.Bus
	roster Roster
	policy Policy
	log    *slog.Logger
	now    func() time.Time

	decisions metric.Int64Counter
}

// New returns a Worker.
func New(b *bus.Bus, r Roster, p Policy, log *slog.Logger) *Worker {
	decisions, _ := otel.Meter("routing").Int64Counter("routing_decisions_total",
		metric.WithDescription("events appended by routing, by type"))
	return &Worker{bus: b, roster: r, policy: p, log: log, now: time.Now, decisions: decisions}
}

// Run consumes events and deadlines until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- w.bus.ConsumeEvents(ctx, EventsConsumer, w.onEvent) }()
	go func() { errc <- w.bus.ConsumeDeadlines(ctx, DeadlinesConsumer, w.onDeadline) }()
	err := <-errc // the first to stop stops routing: half a router must not look healthy
	cancel()
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

func (w *Worker) onEvent(ctx context.Context, e event.Event) error {
	// Deadlines are scheduled from the stored events, not by whoever made the offer or sent the
	// reminder: a crash between the two cannot leave an offer without them.
	switch e.Type {
	case event.Offered:
		if err := w.bus.Schedule(ctx, bus.Deadline{ConsultID: e.ConsultID, OfferPosition: e.Position, Kind: bus.Expire, At: e.ExpiresAt}); err != nil {
			return err
		}
		if err := w.scheduleReminder(ctx, e); err != nil {
			return err
		}
	case event.OfferReminder:
		if err := w.scheduleReminder(ctx, e); err != nil {
			return err
		}
	}
	return w.route(ctx, e.ConsultID)
}

// scheduleReminder schedules the next re-alert of the offer that e made or reminded of, if it
// is still live and unseen and the reminder falls before it expires.
func (w *Worker) scheduleReminder(ctx context.Context, e event.Event) error {
	c, err := w.bus.Load(ctx, e.ConsultID)
	if err != nil {
		return err
	}
	o := c.Offer
	if o == nil || (e.Type == event.Offered && o.Position != e.Position) {
		return nil
	}
	at, ok := w.policy.NextReminder(o, e.At)
	if !ok {
		return nil
	}
	n := e.Reminder + 1 // the one after the event's own, whatever has happened since
	if e.Type == event.Offered {
		n = 1
	}
	return w.bus.Schedule(ctx, bus.Deadline{ConsultID: c.ID, OfferPosition: o.Position, Kind: bus.Remind, N: n, At: at})
}

// route appends what dispatch decides for the consult's newest state, deciding again when
// another writer got there first.
func (w *Worker) route(ctx context.Context, id string) error {
	return w.retry(ctx, id, func(c *consult.Consult, now time.Time) (event.Event, bool, error) {
		return dispatch.Next(c, dispatch.Candidates(w.roster.Roster(), c.Specialty, now), w.policy, now)
	})
}

func (w *Worker) onDeadline(ctx context.Context, d bus.Deadline) error {
	if d.Kind == bus.Remind {
		return w.retry(ctx, d.ConsultID, func(c *consult.Consult, now time.Time) (event.Event, bool, error) {
			e, err := c.Remind(d.OfferPosition, d.N, now)
			if consult.ErrorCode(err) == consult.Conflict {
				return event.Event{}, false, nil // seen, answered, withdrawn or about to expire
			}
			return e, err == nil, err
		})
	}
	return w.retry(ctx, d.ConsultID, func(c *consult.Consult, now time.Time) (event.Event, bool, error) {
		if c.Offer == nil || c.Offer.Position != d.OfferPosition {
			return event.Event{}, false, nil // answered, withdrawn or already expired
		}
		if now.Before(c.Offer.ExpiresAt) { // this instance's clock is behind the server's
			return event.Event{}, false, &bus.EarlyError{Wait: c.Offer.ExpiresAt.Sub(now) + 10*time.Millisecond}
		}
		e, err := c.ExpireOffer(d.OfferPosition, now)
		return e, err == nil, err
	})
}

func (w *Worker) retry(ctx context.Context, id string, decide func(*consult.Consult, time.Time) (event.Event, bool, error)) error {
	for range 5 {
		c, err := w.bus.Load(ctx, id)
		if errors.Is(err, bus.ErrNotFound) {
			return bus.Permanent(err)
		}
		if err != nil {
			return err
		}
		e, ok, err := decide(c, w.now())
		if err != nil || !ok {
			return err
		}
		e.ID = ulid.Make().String()
		if _, err := w.bus.Append(ctx, c, e); errors.Is(err, bus.ErrConflict) {
			continue
		} else if err != nil {
			return err
		}
		w.decisions.Add(ctx, 1, metric.WithAttributes(attribute.String("type", string(e.Type))))
		w.log.Info("routing decision", "consult_id", id, "type", e.Type, "specialist_id", e.SpecialistID)
		return nil
	}
	return fmt.Errorf("route %s: kept losing to concurrent changes", id)
}
