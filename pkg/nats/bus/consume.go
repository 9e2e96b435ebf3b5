package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/pkg/event"
)

// maxDeliver bounds redelivery: a message that fails this often (about 13 minutes of retries
// with the backoff below, enough to ride out a stream leader election or a Redis failover) is
// terminated and reported.
const maxDeliver = 20

// backoff is the wait before the n-th redelivery: growing, capped at a minute.
func backoff(n uint64) time.Duration {
	return min(time.Duration(n*n)*500*time.Millisecond, time.Minute)
}

// errPermanent marks a handler error that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// EarlyError asks for redelivery after Wait: the message arrived before the moment it is for.
type EarlyError struct{ Wait time.Duration }

func (e *EarlyError) Error() string { return fmt.Sprintf("early by %s", e.Wait) }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }

// Permanent wraps err so that the consumer terminates the message instead of redelivering it.
func Permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// EventHandler handles one consult event. Returning nil acknowledges it; an error asks for
// redelivery later, unless it is Permanent. Handlers must be safe to run more than once.
type EventHandler func(ctx context.Context, e event.Event) error

// ConsumeEvents runs a durable consumer named name over every consult event, shared by every
// instance that uses the same name, until ctx ends.
func (b *Bus) ConsumeEvents(ctx context.Context, name string, h EventHandler) error {
	return b.consume(ctx, ConsultStream, name, consultSubjects+"*", func(ctx context.Context, m jetstream.Msg, seq uint64) error {
		e, err := event.Unmarshal(m.Data())
		if err != nil {
			return Permanent(err)
		}
		e.StreamSeq = seq
		return h(ctx, e)
	})
}

func (b *Bus) consume(ctx context.Context, stream, name, filter string, h func(context.Context, jetstream.Msg, uint64) error) error {
	cons, err := b.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A message that a crashed instance held is redelivered after AckWait: kept short, since an
		// offer's deadline may wait on it. Handlers take milliseconds; a redelivery of one still
		// running is harmless, as handlers are idempotent.
		AckWait:       5 * time.Second,
		MaxDeliver:    maxDeliver,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", name, stream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { b.handle(ctx, name, m, h) },
		jetstream.PullMaxMessages(16),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoHeartbeat) {
				b.log.Warn("consumer interrupted", "consumer", name, "err", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	select {
	case <-ctx.Done():
		cc.Drain()
		<-cc.Closed()
		return nil
	case <-cc.Closed(): // the client gave up (consumer deleted, connection closed for good)
		return fmt.Errorf("consumer %s on %s stopped", name, stream)
	}
}

func (b *Bus) handle(ctx context.Context, name string, m jetstream.Msg, h func(context.Context, jetstream.Msg, uint64) error) {
	meta, err := m.Metadata()
	if err != nil {
		b.log.Error("message without metadata terminated", "consumer", name, "subject", m.Subject())
		_ = m.Term()
		return
	}
	mctx, span := tracer.Start(extract(ctx, m.Headers()), "consume "+name, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int64("messaging.stream_seq", int64(meta.Sequence.Stream)),
			attribute.Int64("messaging.delivery", int64(meta.NumDelivered))))
	defer span.End()
	err = safely(mctx, m, meta.Sequence.Stream, h)
	switch {
	case err == nil:
		if err := m.Ack(); err != nil {
			b.log.Warn("ack failed; the message will be redelivered", "consumer", name, "seq", meta.Sequence.Stream, "err", err)
		}
	case errors.Is(err, errPermanent) || meta.NumDelivered >= maxDeliver:
		b.log.Error("message terminated", "consumer", name, "subject", m.Subject(), "seq", meta.Sequence.Stream,
			"deliveries", meta.NumDelivered, "err", err)
		_ = m.TermWithReason(err.Error())
	default:
		delay := backoff(meta.NumDelivered)
		var early *EarlyError
		if errors.As(err, &early) {
			delay = early.Wait // not a failure: the message came before its time
		}
		b.log.Warn("handler failed; redelivering", "consumer", name, "seq", meta.Sequence.Stream, "in", delay, "err", err)
		_ = m.NakWithDelay(delay)
	}
}

// safely runs h, turning a panic into a permanent failure: a handler bug on one message is
// reported and that message terminated, instead of crashing every instance it is delivered to.
func safely(ctx context.Context, m jetstream.Msg, seq uint64, h func(context.Context, jetstream.Msg, uint64) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	return h(ctx, m, seq)
}

// Follow delivers consult events in stream order, starting after stream sequence after (0 from
// the beginning), until ctx ends. It is a private ordered consumer: each caller sees every event.
// h gets a context carrying the event's trace; its error stops Follow and is returned.
func (b *Bus) Follow(ctx context.Context, after uint64, h func(context.Context, event.Event) error) error {
	cons, err := b.js.OrderedConsumer(ctx, ConsultStream, b.orderedFrom(after))
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
			b.log.Error("undecodable event skipped", "seq", seq, "err", err)
			continue
		}
		mctx, span := tracer.Start(extract(ctx, m.Headers()), "follow "+string(e.Type), trace.WithSpanKind(trace.SpanKindConsumer),
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
func (b *Bus) Replay(ctx context.Context, after, upto uint64, h func(event.Event) error) error {
	if upto <= after {
		return nil
	}
	cons, err := b.js.OrderedConsumer(ctx, ConsultStream, b.orderedFrom(after))
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
				b.log.Error("undecodable event skipped", "seq", seq, "err", err)
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

func (b *Bus) orderedFrom(after uint64) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{consultSubjects + "*"}, DeliverPolicy: jetstream.DeliverAllPolicy}
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
