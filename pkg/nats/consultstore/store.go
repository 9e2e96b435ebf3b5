// Package consultstore is the consult event store: the CONSULTS stream, the system of record,
// with one subject per consult. It appends events under the consult's expected last sequence,
// so that of two changes decided on the same state exactly one is stored; folds a consult's
// events into its state; and delivers the events to durable consumers, followers and replays.
// Every change goes through Update: load, decide, append, and decide again on a conflict.
package consultstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
)

// Stream is the name of the consult stream.
const Stream = "CONSULTS"

const subjects = "consult.ev."

// Subject is the subject that carries consult id's events.
func Subject(id string) string { return subjects + id }

var tracer = otel.Tracer("github.com/regionalconsult/broker/pkg/nats/consultstore")

// Store is the consult stream, with a cache of recent folds.
type Store struct {
	b      *bus.Bus
	js     jetstream.JetStream
	stream jetstream.Stream
	cache  *consult.Cache
	log    *slog.Logger
}

// Open declares the consult stream on b and returns its Store.
func Open(ctx context.Context, b *bus.Bus) (*Store, error) {
	stream, err := b.Stream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "consult events: the system of record",
		Subjects:    []string{subjects + "*"},
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
		// Reads go through the stream leader: a follower's direct answer may lag behind a write
		// just acknowledged, and a consult must never be read older than what its user was told.
		AllowDirect: false,
		DenyDelete:  true,
		DenyPurge:   true,
	})
	if err != nil {
		return nil, err
	}
	return &Store{b: b, js: b.JetStream(), stream: stream, cache: consult.NewCache(20000), log: b.Log()}, nil
}

// Ready reports whether the stream answers: the connection is up and the stream is reachable.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.b.Connected(); err != nil {
		return err
	}
	if _, err := s.stream.Info(ctx); err != nil {
		return fmt.Errorf("nats: stream %s: %w", Stream, err)
	}
	return nil
}

// LastSeq returns the stream sequence of the newest consult event (0 when there is none).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// StoredAt returns when the consult event at stream sequence seq was stored.
func (s *Store) StoredAt(ctx context.Context, seq uint64) (time.Time, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored at %d: %w", seq, err)
	}
	return m.Time, nil
}

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
func (s *Store) Append(ctx context.Context, c *consult.Consult, e event.Event, opts ...AppendOption) (*consult.Consult, error) {
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
	msg := &nats.Msg{Subject: Subject(e.ConsultID), Data: data, Header: nats.Header{}}
	bus.Inject(ctx, msg.Header)
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(o.msgID), jetstream.WithExpectLastSequencePerSubject(expect),
		jetstream.WithExpectStream(Stream))
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
		raw, err := s.stream.GetMsg(ctx, ack.Sequence)
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
		return s.Load(ctx, e.ConsultID) // an earlier attempt of this very event was stored
	}
	e.StreamSeq = ack.Sequence
	next, err := consult.Apply(c, e)
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.ConsultID, err)
	}
	s.cache.Put(next)
	return next, nil
}

// Load returns the current state of consult id, folded from its events in the stream. Folds are
// cached; a cached fold is used only when it ends at the consult's newest event.
func (s *Store) Load(ctx context.Context, id string) (*consult.Consult, error) {
	subject := Subject(id)
	last, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", id, err)
	}
	c := s.cache.Get(id)
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
			raw, err = s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
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
	s.cache.Put(c)
	return c, nil
}

// History returns every event of consult id, in order, with their stream sequences.
func (s *Store) History(ctx context.Context, id string) ([]event.Event, error) {
	return s.HistoryUpTo(ctx, id, 0)
}

// HistoryUpTo returns the first n events of consult id (all of them when n is 0).
func (s *Store) HistoryUpTo(ctx context.Context, id string, n int) ([]event.Event, error) {
	subject := Subject(id)
	var out []event.Event
	for seq := uint64(1); n == 0 || len(out) < n; {
		raw, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
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

// maxAttempts bounds how often Update decides again after losing a race to another change of
// the same consult. Each attempt decides on the newer state, so a change that is no longer
// allowed (an offer already taken) fails with the decision's own error.
const maxAttempts = 5

// Decide returns the next event of consult c, or a zero event (no Type) when there is nothing
// to record.
type Decide func(c *consult.Consult) (event.Event, error)

// Update changes consult id: it loads the newest state, asks decide for the next event and
// appends it under that state's last sequence. When another change was stored first it decides
// again on the newer state, up to maxAttempts times, then returns ErrConflict. It returns the
// state after the change and the event stored; a zero event changes nothing and returns the
// current state. decide's error is returned as it is; a missing consult is ErrNotFound. An
// append whose acknowledgement was lost is looked for in the stream before it counts as failed.
// The event gets a fresh id unless decide set one.
func (s *Store) Update(ctx context.Context, id string, decide Decide) (*consult.Consult, event.Event, error) {
	for range maxAttempts {
		c, err := s.Load(ctx, id)
		if err != nil {
			return nil, event.Event{}, err
		}
		e, err := decide(c)
		if err != nil {
			return nil, event.Event{}, err
		}
		if e.Type == "" {
			return c, e, nil
		}
		if e.ID == "" {
			e.ID = ulid.Make().String()
		}
		next, err := s.Append(ctx, c, e)
		switch {
		case errors.Is(err, ErrConflict):
			continue
		case err != nil:
			if stored, lerr := s.Load(ctx, id); lerr == nil && stored.Has(e.ID) {
				return stored, e, nil // stored, though the acknowledgement was lost
			}
			return nil, event.Event{}, err
		}
		return next, e, nil
	}
	return nil, event.Event{}, fmt.Errorf("update %s: %d attempts: %w", id, maxAttempts, ErrConflict)
}
