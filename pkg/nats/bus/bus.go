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
	"reflect"
	"strings"
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

// Connect dials NATS at url and keeps reconnecting for as long as the process lives. opts add
// to the connection's settings: credentials and TLS (pkg/process/service), a private inbox.
// Errors the server reports without closing the connection, such as a subject the connection's
// user may not use, are logged.
func Connect(url, name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("nats error", "err", err)
		}),
	}, opts...)
	nc, err := nats.Connect(url, opts...)
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
// (changing the replication is an operator's step, with the nats CLI). A stream that already has
// the configuration cfg asks for is left alone, so that a service whose NATS user may read a
// stream but not change it (deploy/nats/authorization.conf) starts without asking to. When such
// a service finds the stream with another configuration, its update goes unanswered; it logs
// that and goes on with the stream as it is, which the stream's owner brings up to date.
func (b *Bus) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = b.replicas
	}
	s, err := b.js.Stream(ctx, cfg.Name)
	switch {
	case err == nil:
		have := s.CachedInfo().Config
		if have.Replicas != cfg.Replicas {
			b.log.Warn("stream keeps its replicas", "stream", cfg.Name, "replicas", have.Replicas, "requested", cfg.Replicas)
			cfg.Replicas = have.Replicas
		}
		if upToDate(have, cfg) {
			return s, nil
		}
		updated, err := b.js.UpdateStream(ctx, cfg)
		if err != nil && unanswered(ctx, err) {
			b.log.Warn("stream keeps its configuration: the update was not answered, as when this service may not change it",
				"stream", cfg.Name, "err", err)
			return s, nil
		}
		s = updated
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

// upToDate reports whether a stream with configuration have already is what want declares:
// the fields want leaves at zero are compared with the values the server gives them (no limit,
// the default duplicate window), and the server's own metadata is ignored.
func upToDate(have, want jetstream.StreamConfig) bool {
	return reflect.DeepEqual(withDefaults(have), withDefaults(want))
}

// withDefaults returns c with the zero values the server replaces filled in as it fills them,
// and what the server alone sets (its metadata, the first sequence) left out.
func withDefaults(c jetstream.StreamConfig) jetstream.StreamConfig {
	for _, v := range []*int64{&c.MaxMsgs, &c.MaxBytes, &c.MaxMsgsPerSubject} {
		if *v == 0 {
			*v = -1
		}
	}
	if c.MaxConsumers == 0 {
		c.MaxConsumers = -1
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = -1
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 && c.Mirror == nil {
		c.Duplicates = defaultDuplicates
		if c.MaxAge != 0 && c.MaxAge < defaultDuplicates {
			c.Duplicates = c.MaxAge
		}
	}
	// Delete markers and message schedules need roll-ups, which the server turns on for them.
	if c.SubjectDeleteMarkerTTL > 0 {
		c.AllowMsgTTL = true
	}
	if (c.SubjectDeleteMarkerTTL > 0 || c.AllowMsgSchedules) && !c.AllowRollup {
		c.AllowRollup, c.DenyPurge = true, false
	}
	meta := map[string]string{}
	for k, v := range c.Metadata {
		if !strings.HasPrefix(k, "_nats.") {
			meta[k] = v
		}
	}
	c.Metadata = nil
	if len(meta) > 0 {
		c.Metadata = meta
	}
	c.FirstSeq = 0
	if len(c.Subjects) == 0 {
		c.Subjects = nil
	}
	return c
}

// defaultDuplicates is the duplicate window the server gives a stream that sets none.
const defaultDuplicates = 2 * time.Minute

// unanswered reports whether err means the server gave no answer while ctx still had time: what
// a request looks like when the connection's user may not send it.
func unanswered(ctx context.Context, err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) || ctx.Err() != nil {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
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
