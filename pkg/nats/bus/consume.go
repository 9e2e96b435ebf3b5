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

// Consumer names a durable consumer: the stream it reads, the subjects, and the name every
// instance of a service shares so that each message goes to one of them.
type Consumer struct {
	Stream, Name, Filter string
}

// Handler handles one message. Returning nil acknowledges it; an error asks for redelivery
// later (after an *EarlyError's wait, else with a growing back-off), unless it is Permanent or
// the message has failed maxDeliver times, when it is terminated and reported. A panic
// terminates the one message. Handlers must be safe to run more than once.
type Handler func(ctx context.Context, m jetstream.Msg, seq uint64) error

// Consume runs the durable consumer c with explicit acks until ctx ends, handing each message
// to h with the trace context of its headers. It returns nil when ctx ends and an error when
// the consumer cannot be created or stops for good.
func (b *Bus) Consume(ctx context.Context, c Consumer, h Handler) error {
	return b.consume(ctx, c.Stream, c.Name, c.Filter, h)
}

func (b *Bus) consume(ctx context.Context, stream, name, filter string, h Handler) error {
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

func (b *Bus) handle(ctx context.Context, name string, m jetstream.Msg, h Handler) {
	meta, err := m.Metadata()
	if err != nil {
		b.log.Error("message without metadata terminated", "consumer", name, "subject", m.Subject())
		_ = m.Term()
		return
	}
	mctx, span := tracer.Start(Extract(ctx, m.Headers()), "consume "+name, trace.WithSpanKind(trace.SpanKindConsumer),
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
func safely(ctx context.Context, m jetstream.Msg, seq uint64, h Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	return h(ctx, m, seq)
}
