package readmodel

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
)

// ConsumerName is the durable consumer every projector instance shares.
const ConsumerName = "readmodel"

// Projector keeps a Store current with the consult stream and rebuilds it from the stream when
// Redis has lost it.
type Projector struct {
	store *Store
	bus   *consultstore.Store
	log   *slog.Logger
	check time.Duration
}

// NewProjector returns a projector of b's consults into s that checks every check interval
// whether Redis still holds the read model.
func NewProjector(s *Store, b *consultstore.Store, check time.Duration, log *slog.Logger) *Projector {
	if check <= 0 {
		check = 2 * time.Second
	}
	return &Projector{store: s, bus: b, log: log, check: check}
}

// Run projects events until ctx ends. It rebuilds first if the read model is missing.
func (p *Projector) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		errc <- p.bus.ConsumeEvents(ctx, ConsumerName, func(ctx context.Context, e event.Event) error {
			return p.apply(ctx, e)
		})
	}()
	t := time.NewTicker(p.check)
	defer t.Stop()
	for {
		if err := p.ensure(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("read model rebuild failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		case <-t.C:
		}
	}
}

func (p *Projector) apply(ctx context.Context, e event.Event) error {
	c, err := p.bus.Load(ctx, e.ConsultID)
	if err != nil {
		return fmt.Errorf("project %s: %w", e.ConsultID, err)
	}
	if err := p.store.Project(ctx, c); err != nil {
		return err
	}
	if e.Type != event.Requested {
		return nil // only the request carries an idempotency key
	}
	return p.store.restore(ctx, c)
}

// ensure rebuilds the read model if Redis does not hold it. One instance rebuilds at a time.
func (p *Projector) ensure(ctx context.Context) error {
	n, err := p.store.rdb.Exists(ctx, p.store.epochKey()).Result()
	if err != nil || n == 1 {
		return err
	}
	lock := p.store.prefix + "rebuild-lock"
	ok, err := p.store.rdb.SetNX(ctx, lock, "1", time.Minute).Result()
	if err != nil || !ok {
		return err
	}
	defer p.store.rdb.Del(context.WithoutCancel(ctx), lock)
	return p.Rebuild(ctx)
}

// Rebuild replays the whole consult stream into the read model, then marks it complete.
func (p *Projector) Rebuild(ctx context.Context) error {
	start := time.Now()
	last, err := p.bus.LastSeq(ctx)
	if err != nil {
		return err
	}
	states := map[string]*consult.Consult{}
	err = p.bus.Replay(ctx, 0, last, func(e event.Event) error {
		c, err := consult.Apply(states[e.ConsultID], e)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		states[e.ConsultID] = c
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range states {
		if err := p.store.Project(ctx, c); err != nil {
			return err
		}
		if err := p.store.restore(ctx, c); err != nil {
			return err
		}
	}
	if err := p.store.rdb.Set(ctx, p.store.epochKey(), time.Now().UTC().Format(time.RFC3339Nano), 0).Err(); err != nil {
		return fmt.Errorf("rebuild: mark complete: %w", err)
	}
	p.log.Info("read model rebuilt from the stream", "consults", len(states), "through_seq", last, "took", time.Since(start))
	return nil
}
