// Package worker runs routing against the stream: it consumes consult events and due
// deadlines through durable consumers shared by every routing instance, asks dispatch what
// happens next, and appends that under the stream's optimistic concurrency, so two instances
// never make two offers for the same step and every deadline fires once.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
	"github.com/regionalconsult/broker/pkg/process/config"
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

// Facts tells routing what it needs to know about people: who is available, online, and how
// loaded. It is best effort: routing goes on without it rather than leave a consult waiting.
type Facts interface {
	Facts(ctx context.Context, ids []string) (dispatch.Facts, error)
}

// Settings is routing's own configuration beside the roster's escalation policies.
type Settings = dispatch.Settings

// SettingsFrom returns the settings that r configures.
func SettingsFrom(r config.Routing) Settings {
	return Settings{RemindEvery: r.RemindEvery, Waits: r.StepWaits}
}

// Worker routes consults.
type Worker struct {
	consults  *consultstore.Store
	deadlines *scheduler.Scheduler
	roster    Roster
	facts     Facts
	settings  Settings
	log       *slog.Logger
	now       func() time.Time

	decisions metric.Int64Counter
}

// New returns a Worker that reads and changes consults in cs and keeps their deadlines in ds.
func New(cs *consultstore.Store, ds *scheduler.Scheduler, r Roster, f Facts, s Settings, log *slog.Logger) *Worker {
	decisions, _ := otel.Meter("routing").Int64Counter("routing_decisions_total",
		metric.WithDescription("events appended by routing, by type"))
	return &Worker{consults: cs, deadlines: ds, roster: r, facts: f, settings: s, log: log, now: time.Now, decisions: decisions}
}

// Run consumes events and deadlines until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- w.consults.ConsumeEvents(ctx, EventsConsumer, w.onEvent) }()
	go func() { errc <- w.deadlines.Consume(ctx, DeadlinesConsumer, w.onDeadline) }()
	err := <-errc // the first to stop stops routing: half a router must not look healthy
	cancel()
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

func (w *Worker) onEvent(ctx context.Context, e event.Event) error {
	c, err := w.consults.Load(ctx, e.ConsultID)
	if errors.Is(err, consultstore.ErrNotFound) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}
	for _, d := range w.settings.Deadlines(c, e) {
		if err := w.deadlines.Schedule(ctx, d); err != nil {
			return err
		}
	}
	return w.route(ctx, e.ConsultID)
}

// route appends what dispatch decides for the consult's newest state, deciding again when
// another writer got there first.
func (w *Worker) route(ctx context.Context, id string) error {
	return w.update(ctx, id, func(c *consult.Consult, now time.Time) (event.Event, error) { return w.next(ctx, c, now) })
}

// next asks dispatch what happens to c now, with what is known of the people it may go to. A
// zero event means nothing happens.
func (w *Worker) next(ctx context.Context, c *consult.Consult, now time.Time) (event.Event, error) {
	r := w.roster.Roster()
	facts := dispatch.Facts{}
	if c.Routable() && len(c.Offers) == 0 {
		var err error
		if facts, err = w.facts.Facts(ctx, dispatch.People(c, r, now)); err != nil {
			if ctx.Err() != nil {
				return event.Event{}, ctx.Err()
			}
			// What is known (availability, at least) still orders the candidates.
			w.log.Warn("routing with part of what is known of people", "consult_id", c.ID, "err", err)
		}
	}
	e, ok, err := dispatch.Next(c, r, facts, w.settings, now)
	if !ok {
		return event.Event{}, err
	}
	return e, err
}

// onDeadline does what the due deadline d does to its consult, once in effect however often it
// is delivered.
func (w *Worker) onDeadline(ctx context.Context, d deadline.Deadline) error {
	return w.update(ctx, d.ConsultID, func(c *consult.Consult, now time.Time) (event.Event, error) {
		o, err := dispatch.Fire(c, d, now)
		switch {
		case err != nil:
			return event.Event{}, err
		case o.Early > 0:
			return event.Event{}, &bus.EarlyError{Wait: o.Early}
		case o.Route:
			return w.next(ctx, c, now)
		case !o.OK:
			return event.Event{}, nil
		}
		return o.Event, nil
	})
}

// update stores what decide makes of consult id through the consult store, and counts it.
func (w *Worker) update(ctx context.Context, id string, decide func(*consult.Consult, time.Time) (event.Event, error)) error {
	_, e, err := w.consults.Update(ctx, id, func(c *consult.Consult) (event.Event, error) { return decide(c, w.now()) })
	switch {
	case errors.Is(err, consultstore.ErrNotFound):
		return bus.Permanent(err)
	case err != nil:
		return err
	case e.Type == "":
		return nil
	}
	w.decisions.Add(ctx, 1, metric.WithAttributes(attribute.String("type", string(e.Type))))
	w.log.Info("routing decision", "consult_id", id, "type", e.Type, "specialist_id", e.SpecialistID)
	return nil
}
