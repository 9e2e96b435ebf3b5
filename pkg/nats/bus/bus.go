// Package bus is the broker's NATS transport: connecting and draining, declaring a stream or a
// bucket for the package that owns it, the contract every durable consumer follows (consume.go),
// and the trace context carried in message headers, injected and extracted here and nowhere
// else. It knows no stream of its own: the consult store, the scheduler, the audit log and the
// other adapters under pkg/nats each declare theirs through it.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bus is a JetStream connection and the replication every stream and bucket is declared with.
type Bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	log      *slog.Logger
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

// Drain drains nc (subscriptions end after their pending messages, buffered publishes are
// flushed) and waits until it is closed or ctx ends. A process that exits without waiting may
// lose what it published asynchronously (audit records) in its last moments.
func Drain(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain nats: %w", err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain nats: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// New returns the Bus of nc. replicas (1 on a single server, 3 or 5 in a cluster) applies to
// the streams and buckets declared through it when they are created.
func New(nc *nats.Conn, replicas int, log *slog.Logger) (*Bus, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		log.Error("asynchronous record not stored", "subject", m.Subject, "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Bus{nc: nc, js: js, replicas: max(replicas, 1), log: log}, nil
}

// JetStream returns the JetStream context, for the adapters that own a stream or bucket.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Log returns the logger of the process, for the adapters' own warnings.
func (b *Bus) Log() *slog.Logger { return b.log }

// Connected reports an error when the connection to NATS is down.
func (b *Bus) Connected() error {
	if !b.nc.IsConnected() {
		return errors.New("nats: not connected")
	}
	return nil
}

// Stream creates the stream cfg, or brings an existing one up to date while keeping its
// replicas: an instance started with other settings never scales the system of record down
// (changing the replication is an operator's step, with the nats CLI).
func (b *Bus) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = b.replicas
	}
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
			return b.Stream(ctx, cfg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// KeyValue returns the bucket cfg, creating it when it does not exist. An existing bucket keeps
// its settings (TTL, replicas, history): they are set once, when it is created.
func (b *Bus) KeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = b.replicas
	}
	kv, err := b.js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		if cfg.TTL != 0 && st.TTL() != cfg.TTL {
			b.log.Warn("bucket keeps its TTL", "bucket", cfg.Bucket, "ttl", st.TTL(), "requested", cfg.TTL)
		}
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	kv, err = b.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) { // another instance was first
		return b.js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("declare bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}
