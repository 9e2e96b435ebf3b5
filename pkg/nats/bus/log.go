package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// ErrConflict means another change to the consult was stored first: the caller's view is stale.
var ErrConflict = errors.New("consult changed concurrently")

// ErrNotFound means the stream holds no consult with that id.
var ErrNotFound = errors.New("no such consult")

// DuplicateError says that a message with the same deduplication id was stored already, for
// consult ConsultID: a retried submission that the stream recognised.
type DuplicateError struct {
	ConsultID string
}

func (e *DuplicateError) Error() string { return "already stored for consult " + e.ConsultID }

// AppendOption adjusts an Append.
type AppendOption func(*appendOptions)

type appendOptions struct{ msgID string }

// WithDedupeID makes the stream deduplicate on id instead of the event's id, so that retries of
// one request that made different events (a new consult id each time) are recognised.
func WithDedupeID(id string) AppendOption { return func(o *appendOptions) { o.msgID = id } }

// Append stores e as the next event of consult c (nil for a new consult) and returns the state
// after it. The stream accepts it only if no other event was stored for that consult since c was
// read; otherwise Append returns ErrConflict and stores nothing. The message id (e.ID unless
// WithDedupeID) lets the stream recognise a retry: a retry of the same event succeeds without a
// second copy, and another event with the same dedupe id gets a *DuplicateError.
func (b *Bus) Append(ctx context.Context, c *consult.Consult, e event.Event, opts ...AppendOption) (*consult.Consult, error) {
	o := appendOptions{msgID: e.ID}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, span := tracer.Start(ctx, "append "+string(e.Type), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("consult.id", e.ConsultID), attribute.String("event.type", string(e.Type))))
	defer span.End()
	var expect uint64
	if c != nil {
		expect = c.LastStreamSeq
	}
	data, err := event.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.ConsultID, err)
	}
	msg := &nats.Msg{Subject: ConsultSubject(e.ConsultID), Data: data, Header: nats.Header{}}
	inject(ctx, msg.Header)
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(o.msgID), jetstream.WithExpectLastSequencePerSubject(expect),
		jetstream.WithExpectStream(ConsultStream))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			span.SetAttributes(attribute.Bool("consult.conflict", true))
			return nil, ErrConflict
		}
		span.SetStatus(codes.Error, "publish failed")
		return nil, fmt.Errorf("append %s to %s: %w", e.Type, e.ConsultID, err)
	}
	if ack.Duplicate {
		raw, err := b.consults.GetMsg(ctx, ack.Sequence)
		if err != nil {
			return nil, fmt.Errorf("append %s: read the stored duplicate: %w", e.ConsultID, err)
		}
		stored, err := event.Unmarshal(raw.Data)
		if err != nil {
			return nil, fmt.Errorf("append %s: %w", e.ConsultID, err)
		}
		if stored.ID != e.ID {
			return nil, &DuplicateError{ConsultID: stored.ConsultID}
		}
		return b.Load(ctx, e.ConsultID) // an earlier attempt of this very event was stored
	}
	e.StreamSeq = ack.Sequence
	next, err := consult.Apply(c, e)
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.ConsultID, err)
	}
	b.cache.Put(next)
	return next, nil
}

// Load returns the current state of consult id, folded from its events in the stream. Folds are
// cached; a cached fold is used only when it ends at the consult's newest event.
func (b *Bus) Load(ctx context.Context, id string) (*consult.Consult, error) {
	subject := ConsultSubject(id)
	last, err := b.consults.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", id, err)
	}
	c := b.cache.Get(id)
	if c != nil && c.LastStreamSeq == last.Sequence {
		return c, nil
	}
	if c != nil && c.LastStreamSeq > last.Sequence {
		c = nil // cannot happen with a sound stream; refold rather than trust it
	}
	var from uint64 = 1
	if c != nil {
		from = c.LastStreamSeq + 1
	}
	for seq := from; seq <= last.Sequence; {
		raw := last
		if seq != last.Sequence {
			raw, err = b.consults.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
			if err != nil {
				return nil, fmt.Errorf("load %s at %d: %w", id, seq, err)
			}
		}
		e, err := event.Unmarshal(raw.Data)
		if err != nil {
			return nil, fmt.Errorf("load %s at %d: %w", id, raw.Sequence, err)
		}
		e.StreamSeq = raw.Sequence
		if c, err = consult.Apply(c, e); err != nil {
			return nil, fmt.Errorf("load %s: %w", id, err)
		}
		seq = raw.Sequence + 1
	}
	b.cache.Put(c)
	return c, nil
}

// History returns every event of consult id, in order, with their stream sequences.
func (b *Bus) History(ctx context.Context, id string) ([]event.Event, error) {
	return b.HistoryUpTo(ctx, id, 0)
}

// HistoryUpTo returns the first n events of consult id (all of them when n is 0).
func (b *Bus) HistoryUpTo(ctx context.Context, id string, n int) ([]event.Event, error) {
	subject := ConsultSubject(id)
	var out []event.Event
	for seq := uint64(1); n == 0 || len(out) < n; {
		raw, err := b.consults.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("history %s at %d: %w", id, seq, err)
		}
		e, err := event.Unmarshal(raw.Data)
		if err != nil {
			return nil, fmt.Errorf("history %s at %d: %w", id, raw.Sequence, err)
		}
		e.StreamSeq = raw.Sequence
		out = append(out, e)
		seq = raw.Sequence + 1
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// Audit records that actorID did action ("read", "list") on the consults ids, without waiting
// for the stream's acknowledgement: an audit record must not slow a clinician down. A record the
// stream refuses is logged by the publish error handler set in New. Records carry ids only.
func (b *Bus) Audit(ctx context.Context, actorID, action string, ids ...string) {
	b.AuditDetail(ctx, actorID, action, nil, ids...)
}

// AuditDetail records, like Audit, that actorID did action, with details naming what it was done
// to beyond consults (an attachment's id, a setting's new value; never clinical text).
func (b *Bus) AuditDetail(ctx context.Context, actorID, action string, detail map[string]string, consultIDs ...string) {
	data, err := json.Marshal(struct {
		ActorID    string            `json:"actor_id"`
		Action     string            `json:"action"`
		ConsultIDs []string          `json:"consult_ids,omitempty"`
		Detail     map[string]string `json:"detail,omitempty"`
		At         time.Time         `json:"at"`
	}{actorID, action, consultIDs, detail, time.Now().UTC()})
	if err != nil {
		b.log.Error("audit record not encoded", "action", action, "err", err)
		return
	}
	msg := &nats.Msg{Subject: auditSubjects + action, Data: data, Header: nats.Header{}}
	inject(ctx, msg.Header)
	if _, err := b.js.PublishMsgAsync(msg); err != nil {
		b.log.Error("audit record not stored", "action", action, "actor_id", actorID, "err", err)
	}
}
