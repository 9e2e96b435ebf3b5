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

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
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

// LoadSettings reads REMIND_EVERY (default 2 minutes) and STEP_WAIT_EMERGENT, _URGENT and
// _ROUTINE, which, when set, replace the wait of every escalation step for that urgency (for
// drills and tests; the roster's policies set the waits otherwise).
func LoadSettings(env *config.Env) Settings {
	s := dispatch.DefaultSettings()
	s.RemindEvery = env.Duration("REMIND_EVERY", s.RemindEvery)
	s.Waits = env.PerUrgency("STEP_WAIT", 0, 0, 0)
	for _, u := range []string{"EMERGENT", "URGENT", "ROUTINE"} {
		env.Retired("OFFER_TIMEOUT_"+u, "escalation policies in the roster set how long each step waits (STEP_WAIT_"+u+" overrides them for drills)")
	}
	return s
}

// Worker routes consults.
type Worker struct {
	bus      *bus.Bus
	roster   Roster
	facts    Facts
	settings Settings
	log      *slog.Logger
	now      func() time.Time

	decisions metric.Int64Counter
}

// New returns a Worker.
func New(b *bus.Bus, r Roster, f Facts, s Settings, log *slog.Logger) *Worker {
	decisions, _ := otel.Meter("routing").Int64Counter("routing_decisions_total",
		metric.WithDescription("events appended by routing, by type"))
	return &Worker{bus: b, roster: r, facts: f, settings: s, log: log, now: time.Now, decisions: decisions}
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
	c, err := w.bus.Load(ctx, e.ConsultID)
	if errors.Is(err, bus.ErrNotFound) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}
	for _, d := range w.settings.Deadlines(c, e) {
		if err := w.bus.Schedule(ctx, bus.Deadline{ConsultID: c.ID, OfferPosition: d.Position, Kind: d.Kind, N: d.N, At: d.At}); err != nil {
			return err
		}
	}
	return w.route(ctx, e.ConsultID)
}

// route appends what dispatch decides for the consult's newest state, deciding again when
// another writer got there first.
func (w *Worker) route(ctx context.Context, id string) error {
	return w.retry(ctx, id, w.next)
}

// next asks dispatch what happens to c now, with what is known of the people it may go to.
func (w *Worker) next(ctx context.Context, c *consult.Consult, now time.Time) (event.Event, bool, error) {
	r := w.roster.Roster()
	facts := dispatch.Facts{}
	if c.Routable() && len(c.Offers) == 0 {
		var err error
		if facts, err = w.facts.Facts(ctx, dispatch.People(c, r, now)); err != nil {
			if ctx.Err() != nil {
				return event.Event{}, false, ctx.Err()
			}
			// What is known (availability, at least) still orders the candidates.
			w.log.Warn("routing with part of what is known of people", "consult_id", c.ID, "err", err)
		}
	}
	return dispatch.Next(c, r, facts, w.settings, now)
}

func (w *Worker) onDeadline(ctx context.Context, d bus.Deadline) error {
	due := dispatch.Deadline{Kind: d.Kind, Position: d.OfferPosition, N: d.N, At: d.At}
	return w.retry(ctx, d.ConsultID, func(ctx context.Context, c *consult.Consult, now time.Time) (event.Event, bool, error) {
		o, err := dispatch.Fire(c, due, now)
		switch {
		case err != nil:
			return event.Event{}, false, err
		case o.Early > 0:
			return event.Event{}, false, &bus.EarlyError{Wait: o.Early}
		case o.Route:
			return w.next(ctx, c, now)
		}
		return o.Event, o.OK, nil
	})
}

func (w *Worker) retry(ctx context.Context, id string, decide func(context.Context, *consult.Consult, time.Time) (event.Event, bool, error)) error {
	for range 5 {
		c, err := w.bus.Load(ctx, id)
		if errors.Is(err, bus.ErrNotFound) {
			return bus.Permanent(err)
		}
		if err != nil {
			return err
		}
		e, ok, err := decide(ctx, c, w.now())
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
