// Package scheduler keeps deadlines durably: each is a scheduled message in the DEADLINES
// stream, which the server turns into a due notice at its moment even if every broker process
// is down in between, and a durable consumer shared by every routing instance hands each due
// notice to one of them.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/nats/bus"
)

// Stream is the name of the deadline stream.
const Stream = "DEADLINES"

// Subject prefixes: a deadline waits on the first and is published on the second when due.
const (
	scheduled = "deadline.sched."
	due       = "deadline.due."
)

// Scheduler stores deadlines and consumes them when due.
type Scheduler struct {
	b  *bus.Bus
	js jetstream.JetStream
}

// Open declares the deadline stream on b and returns its Scheduler.
func Open(ctx context.Context, b *bus.Bus) (*Scheduler, error) {
	if _, err := b.Stream(ctx, jetstream.StreamConfig{
		Name:              Stream,
		Description:       "scheduled offer deadlines",
		Subjects:          []string{scheduled + ">", due + ">"},
		Storage:           jetstream.FileStorage,
		MaxAge:            14 * 24 * time.Hour, // beyond every deadline set: SLA targets are bounded to 13 days
		Duplicates:        2 * time.Minute,
		AllowMsgSchedules: true,
	}); err != nil {
		return nil, err
	}
	return &Scheduler{b: b, js: b.JetStream()}, nil
}

// Schedule stores d, to be delivered by Consume at d.At. Scheduling the same deadline again is
// harmless: the stream keeps one message per deadline key.
func (s *Scheduler) Schedule(ctx context.Context, d deadline.Deadline) error {
	d = d.Normal()
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", d.Key(), err)
	}
	msg := &nats.Msg{Subject: scheduled + d.Key(), Data: data, Header: nats.Header{}}
	bus.Inject(ctx, msg.Header)
	// The schedule format counts whole seconds: round up so a deadline never fires early.
	at := d.At.Truncate(time.Second)
	if at.Before(d.At) {
		at = at.Add(time.Second)
	}
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID("deadline-"+d.Key()),
		jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(due+d.Key())); err != nil {
		return fmt.Errorf("schedule %s: %w", d.Key(), err)
	}
	return nil
}

// Consume runs the durable consumer of due deadlines, shared by every instance that uses the
// same name, until ctx ends. h has the contract of bus.Handler; an undecodable notice is
// terminated.
func (s *Scheduler) Consume(ctx context.Context, name string, h func(context.Context, deadline.Deadline) error) error {
	return s.b.Consume(ctx, bus.Consumer{Stream: Stream, Name: name, Filter: due + ">"},
		func(ctx context.Context, m jetstream.Msg, _ uint64) error {
			var d deadline.Deadline
			if err := json.Unmarshal(m.Data(), &d); err != nil || d.ConsultID == "" {
				return bus.Permanent(fmt.Errorf("decode deadline %q: %v", m.Subject(), err))
			}
			return h(ctx, d.Normal())
		})
}
