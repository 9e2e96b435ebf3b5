package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Kinds of deadline that the bus itself names; routing defines the rest.
const (
	// Expire ends an unanswered offer, or the wait of an escalation step.
	Expire = "expire"
	// Remind re-alerts the holders of an offer not yet seen.
	Remind = "remind"
)

// Deadline names one moment in a consult's life: the consult, the position of the event that
// set it (an offer, a step, a request, a snooze), what happens then, and for reminders which
// one it is.
type Deadline struct {
	ConsultID     string    `json:"consult_id"`
	OfferPosition int       `json:"offer_position"`
	Kind          string    `json:"kind,omitempty"` // Expire when empty
	N             int       `json:"n,omitempty"`
	At            time.Time `json:"at"`
}

func (d Deadline) key() string {
	k := d.ConsultID + "." + strconv.Itoa(d.OfferPosition)
	switch d.Kind {
	case "", Expire:
	case Remind:
		k += ".remind" + strconv.Itoa(d.N)
	default:
		k += "." + d.Kind
	}
	return k
}

// Schedule stores d in the deadline stream, which turns it into a due notice at d.At, even if
// every broker process is down in between. Scheduling the same deadline again is harmless.
func (b *Bus) Schedule(ctx context.Context, d Deadline) error {
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", d.key(), err)
	}
	msg := &nats.Msg{Subject: deadlineSchedule + d.key(), Data: data, Header: nats.Header{}}
	inject(ctx, msg.Header)
	// The schedule format counts whole seconds: round up so a deadline never fires early.
	at := d.At.Truncate(time.Second)
	if at.Before(d.At) {
		at = at.Add(time.Second)
	}
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID("deadline-"+d.key()),
		jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(deadlineDue+d.key())); err != nil {
		return fmt.Errorf("schedule %s: %w", d.key(), err)
	}
	return nil
}

// ConsumeDeadlines runs the durable consumer of due deadlines, shared by every instance that
// uses the same name, until ctx ends. h has the contract of EventHandler.
func (b *Bus) ConsumeDeadlines(ctx context.Context, name string, h func(context.Context, Deadline) error) error {
	return b.consume(ctx, DeadlineStream, name, deadlineDue+">", func(ctx context.Context, m jetstream.Msg, _ uint64) error {
		var d Deadline
		if err := json.Unmarshal(m.Data(), &d); err != nil || d.ConsultID == "" {
			return Permanent(fmt.Errorf("decode deadline %q: %v", m.Subject(), err))
		}
		return h(ctx, d)
	})
}
