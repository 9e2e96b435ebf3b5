package consultstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
)

// EventHandler handles one consult event, with the contract of bus.Handler: nil acknowledges
// it, an error asks for redelivery later unless it is bus.Permanent. Handlers must be safe to
// run more than once.
type EventHandler func(ctx context.Context, e event.Event) error

// ConsumeEvents runs a durable consumer named name over every consult event, shared by every
// instance that uses the same name, until ctx ends. An undecodable event is terminated.
func (s *Store) ConsumeEvents(ctx context.Context, name string, h EventHandler) error {
	return s.b.Consume(ctx, bus.Consumer{Stream: Stream, Name: name, Filter: subjects + "*"},
		func(ctx context.Context, m jetstream.Msg, seq uint64) error {
			e, err := event.Unmarshal(m.Data())
			if err != nil {
				return bus.Permanent(err)
			}
			e.StreamSeq = seq
			return h(ctx, e)
		})
}

// Follow delivers consult events in stream order, starting after stream sequence after (0 from
// the beginning), until ctx ends. It is a private ordered consumer: each caller sees every event.
// h gets a context carrying the event's trace; its error stops Follow and is returned.
func (s *Store) Follow(ctx context.Context, after uint64, h func(context.Context, event.Event) error) error {
	cons, err := s.js.OrderedConsumer(ctx, Stream, orderedFrom(after))
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow: %w", err)
		}
		e, seq, err := decode(m)
		if err != nil {
			s.log.Error("undecodable event skipped", "seq", seq, "err", err)
			continue
		}
		mctx, span := tracer.Start(bus.Extract(ctx, m.Headers()), "follow "+string(e.Type), trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("consult.id", e.ConsultID), attribute.Int64("messaging.stream_seq", int64(seq))))
		err = h(mctx, e)
		span.End()
		if err != nil {
			return err
		}
	}
}

// Replay delivers the consult events with stream sequence in (after, upto], in order, then
// returns. It is how a reconnecting client and a rebuilt read model catch up.
func (s *Store) Replay(ctx context.Context, after, upto uint64, h func(event.Event) error) error {
	if upto <= after {
		return nil
	}
	cons, err := s.js.OrderedConsumer(ctx, Stream, orderedFrom(after))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			e, seq, err := decode(m)
			if seq > upto {
				return nil
			}
			if err != nil {
				s.log.Error("undecodable event skipped", "seq", seq, "err", err)
			} else if err := h(e); err != nil {
				return err
			}
			if seq == upto {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("replay: stream ended before sequence %d", upto)
		}
	}
}

func orderedFrom(after uint64) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjects + "*"}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	return cfg
}

func decode(m jetstream.Msg) (event.Event, uint64, error) {
	meta, err := m.Metadata()
	if err != nil {
		return event.Event{}, 0, err
	}
	e, err := event.Unmarshal(m.Data())
	e.StreamSeq = meta.Sequence.Stream
	return e, meta.Sequence.Stream, err
}
