// Package bus is the JetStream plumbing every service shares: the streams and buckets it
// declares, appending consult events under optimistic concurrency, reading a consult's history,
// durable consumers with explicit acks, ordered replays, and durable deadlines. Trace context
// travels in message headers, injected and extracted here and nowhere else.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/consult"
)

// Names of the streams and buckets the broker declares.
const (
	// ConsultStream is the system of record: every consult event, one subject per consult.
	ConsultStream = "CONSULTS"
	// DeadlineStream holds scheduled deadline messages and the due notices they turn into.
	DeadlineStream = "DEADLINES"
	// AuditStream records every read of a consult (changes are audited by the events themselves).
	AuditStream = "AUDIT"
	// DirectoryBucket holds the roster document.
	DirectoryBucket = "directory"
	// SessionBucket holds login sessions; their expiry is the bucket's TTL.
	SessionBucket = "sessions"
)

// Subject prefixes.
const (
	consultSubjects  = "consult.ev."
	deadlineSchedule = "deadline.sched."
	deadlineDue      = "deadline.due."
	auditSubjects    = "audit."
)

// ConsultSubject is the subject that carries consult id's events.
func ConsultSubject(id string) string { return consultSubjects + id }

// Config says how the streams are declared.
type Config struct {
	// Replicas is the stream replication factor: 1 for a single server, 3 in a cluster.
	Replicas int
	// SessionTTL is how long a login session lives.
	SessionTTL time.Duration
}

// Bus is a JetStream connection with the broker's streams declared.
type Bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	consults jetstream.Stream
	deadline jetstream.Stream
	log      *slog.Logger
	cache    *consult.Cache
}

// Connect dials NATS at url and keeps reconnecting for as long as the process lives.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}

// New declares (or updates) the broker's streams and buckets on nc and returns a Bus.
func New(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger) (*Bus, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b := &Bus{nc: nc, js: js, log: log, cache: consult.NewCache(20000)}
	b.consults, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ConsultStream,
		Description: "consult events: the system of record",
		Subjects:    []string{consultSubjects + "*"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  2 * time.Minute,
		AllowDirect: true,
		DenyDelete:  true,
		DenyPurge:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", ConsultStream, err)
	}
	b.deadline, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              DeadlineStream,
		Description:       "scheduled offer deadlines",
		Subjects:          []string{deadlineSchedule + ">", deadlineDue + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		MaxAge:            14 * 24 * time.Hour,
		Duplicates:        2 * time.Minute,
		AllowMsgSchedules: true,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", DeadlineStream, err)
	}
	if _, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        AuditStream,
		Description: "who read which consult",
		Subjects:    []string{auditSubjects + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		DenyDelete:  true,
	}); err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", AuditStream, err)
	}
	for _, kv := range []jetstream.KeyValueConfig{
		{Bucket: DirectoryBucket, Description: "roster and users", History: 20, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
		{Bucket: SessionBucket, Description: "login sessions", TTL: cfg.SessionTTL, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
	} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kv); err != nil {
			return nil, fmt.Errorf("declare bucket %s: %w", kv.Bucket, err)
		}
	}
	return b, nil
}

// JetStream returns the JetStream context, for packages that own a bucket.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Ready reports whether JetStream answers: the connection is up and the stream is reachable.
func (b *Bus) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("nats: not connected")
	}
	if _, err := b.consults.Info(ctx); err != nil {
		return fmt.Errorf("nats: stream %s: %w", ConsultStream, err)
	}
	return nil
}

// LastSeq returns the stream sequence of the newest consult event (0 when there is none).
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	info, err := b.consults.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// StoredAt returns when the consult event at stream sequence seq was stored.
func (b *Bus) StoredAt(ctx context.Context, seq uint64) (time.Time, error) {
	m, err := b.consults.GetMsg(ctx, seq)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored at %d: %w", seq, err)
	}
	return m.Time, nil
}
