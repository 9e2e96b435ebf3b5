// Package auditlog records who read or did what to which consult in the AUDIT stream, which
// denies deleting and purging its records; a stream declared before it denied purges is brought
// up to date when the audit log is opened. Records carry ids only, never clinical text.
package auditlog

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/nats/bus"
)

// Stream is the name of the audit stream.
const Stream = "AUDIT"

const subjects = "audit."

// Log appends audit records.
type Log struct {
	js  jetstream.JetStream
	log *slog.Logger
}

// Open declares the audit stream on b and returns its Log.
func Open(ctx context.Context, b *bus.Bus) (*Log, error) {
	if _, err := b.Stream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "who read which consult",
		Subjects:    []string{subjects + ">"},
		Storage:     jetstream.FileStorage,
		DenyDelete:  true,
		DenyPurge:   true,
	}); err != nil {
		return nil, err
	}
	return &Log{js: b.JetStream(), log: b.Log()}, nil
}

// Record records that actorID did action ("read", "list") on the consults ids, without waiting
// for the stream's acknowledgement: an audit record must not slow a clinician down. A record the
// stream refuses is logged by the connection's asynchronous publish error handler (bus.New).
func (l *Log) Record(ctx context.Context, actorID, action string, ids ...string) {
	l.Detail(ctx, actorID, action, nil, ids...)
}

// Detail records, like Record, that actorID did action, with details naming what it was done
// to beyond consults (an attachment's id, a setting's new value; never clinical text).
func (l *Log) Detail(ctx context.Context, actorID, action string, detail map[string]string, consultIDs ...string) {
	data, err := json.Marshal(struct {
		ActorID    string            `json:"actor_id"`
		Action     string            `json:"action"`
		ConsultIDs []string          `json:"consult_ids,omitempty"`
		Detail     map[string]string `json:"detail,omitempty"`
		At         time.Time         `json:"at"`
	}{actorID, action, consultIDs, detail, time.Now().UTC()})
	if err != nil {
		l.log.Error("audit record not encoded", "action", action, "err", err)
		return
	}
	msg := &nats.Msg{Subject: subjects + action, Data: data, Header: nats.Header{}}
	bus.Inject(ctx, msg.Header)
	if _, err := l.js.PublishMsgAsync(msg); err != nil {
		l.log.Error("audit record not stored", "action", action, "actor_id", actorID, "err", err)
	}
}
