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
	objects  jetstream.ObjectStore
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

// New declares the broker's streams and buckets on nc and returns a Bus. Replicas and the
// session TTL apply when a stream or bucket is created; an existing one keeps its own, so an
// instance started with other settings never scales the system of record down (changing them is
// an operator's step, with the nats CLI). The other settings are brought up to date.
func New(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger) (*Bus, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		log.Error("asynchronous record not stored", "subject", m.Subject, "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b := &Bus{nc: nc, js: js, log: log, cache: consult.NewCache(20000)}
	if b.consults, err = b.declare(ctx, jetstream.StreamConfig{
		Name:        ConsultStream,
		Description: "consult events: the system of record",
		Subjects:    []string{consultSubjects + "*"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  2 * time.Minute,
		// Reads go through the stream leader: a follower's direct answer may lag behind a write
		// just acknowledged, and a consult must never be read older than what its user was told.
		AllowDirect: false,
		DenyDelete:  true,
		DenyPurge:   true,
	}); err != nil {
		return nil, err
	}
	if b.deadline, err = b.declare(ctx, jetstream.StreamConfig{
		Name:              DeadlineStream,
		Description:       "scheduled offer deadlines",
		Subjects:          []string{deadlineSchedule + ">", deadlineDue + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		MaxAge:            14 * 24 * time.Hour, // beyond every deadline set: SLA targets are bounded to 13 days
		Duplicates:        2 * time.Minute,
		AllowMsgSchedules: true,
	}); err != nil {
		return nil, err
	}
	if _, err = b.declare(ctx, jetstream.StreamConfig{
		Name:        AuditStream,
		Description: "who read which consult",
		Subjects:    []string{auditSubjects + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		DenyDelete:  true,
	}); err != nil {
		return nil, err
	}
	for _, kv := range []jetstream.KeyValueConfig{
		{Bucket: DirectoryBucket, Description: "roster and users", History: 20, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
		{Bucket: SessionBucket, Description: "login sessions", TTL: cfg.SessionTTL, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
		{Bucket: ProfileBucket, Description: "user preferences", History: 5, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
	} {
		existing, err := js.KeyValue(ctx, kv.Bucket)
		if err == nil {
			st, err := existing.Status(ctx)
			if err != nil {
				return nil, fmt.Errorf("bucket %s: %w", kv.Bucket, err)
			}
			if st.TTL() != kv.TTL && kv.TTL != 0 {
				log.Warn("bucket keeps its TTL", "bucket", kv.Bucket, "ttl", st.TTL(), "requested", kv.TTL)
			}
			continue
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("bucket %s: %w", kv.Bucket, err)
		}
		if _, err := js.CreateKeyValue(ctx, kv); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, fmt.Errorf("declare bucket %s: %w", kv.Bucket, err)
		}
	}
	if b.objects, err = b.declareObjects(ctx, cfg.Replicas); err != nil {
		return nil, err
	}
	return b, nil
}

// declare creates the stream, or updates an existing one while keeping its replicas.
func (b *Bus) declare(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, cfg.Name)
	switch {
	case err == nil:
		if have := s.CachedInfo().Config.Replicas; have != cfg.Replicas {
			b.log.Warn("stream keeps its replicas", "stream", cfg.Name, "replicas", have, "requested", cfg.Replicas)
			cfg.Replicas = have
		}
		s, err = b.js.UpdateStream(ctx, cfg)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = b.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another instance was first
			return b.declare(ctx, cfg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", cfg.Name, err)
	}
	return s, nil
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
