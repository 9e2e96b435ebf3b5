// Package infra connects a service process to the broker's infrastructure, in order, and
// closes it in reverse: telemetry, NATS with the broker's streams and buckets, Redis, the live
// directory, the session store and the profile store. It also serves the health and metrics
// endpoints of services that have no other HTTP surface.
package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/telemetry"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// Config says where the infrastructure is.
type Config struct {
	ServiceName  string
	OTLPEndpoint string
	// NATSURL is dialled unless Dial is set.
	NATSURL string
	// Dial, when set, opens the NATS connection instead (an embedded server's in-process one).
	Dial     func() (*nats.Conn, error)
	RedisURL string
	// Replicas is the stream replication factor: 1 on a single server, 3 on a cluster.
	Replicas   int
	SessionTTL time.Duration
}

// ForService returns the configuration of the service name from its shared settings.
func ForService(name string, s config.Service) Config {
	return Config{ServiceName: name, OTLPEndpoint: s.OTLPEndpoint, NATSURL: s.NATSURL, RedisURL: s.RedisURL, Replicas: s.Replicas}
}

// Infra is a service's open connections.
type Infra struct {
	Telemetry *telemetry.Telemetry
	NATS      *nats.Conn
	Bus       *bus.Bus
	Redis     *redis.Client
	Directory *directory.Directory
	Sessions  *session.Store
	Profiles  *profile.Store
	closers   []func()
}

// Open connects everything; on error what was opened is closed again.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Infra, err error) {
	in := &Infra{}
	defer func() {
		if err != nil {
			in.Close()
		}
	}()
	if in.Telemetry, err = telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, OTLPEndpoint: cfg.OTLPEndpoint}); err != nil {
		return nil, err
	}
	in.closers = append(in.closers, func() { within(5*time.Second, in.Telemetry.Shutdown) })
	if cfg.Dial != nil {
		in.NATS, err = cfg.Dial()
	} else {
		in.NATS, err = bus.Connect(cfg.NATSURL, cfg.ServiceName, log)
	}
	if err != nil {
		return nil, err
	}
	in.closers = append(in.closers, func() { _ = in.NATS.Drain() })
	if in.Redis, err = readmodel.Dial(cfg.RedisURL); err != nil {
		return nil, err
	}
	in.closers = append(in.closers, func() { _ = in.Redis.Close() })
	if in.Bus, err = bus.New(ctx, in.NATS, bus.Config{Replicas: cfg.Replicas, SessionTTL: cfg.SessionTTL}, log); err != nil {
		return nil, err
	}
	if in.Directory, err = directory.Open(ctx, in.Bus.JetStream(), log); err != nil {
		return nil, err
	}
	if in.Sessions, err = session.Open(ctx, in.Bus.JetStream(), in.Directory); err != nil {
		return nil, err
	}
	if in.Profiles, err = profile.Open(ctx, in.Bus.JetStream()); err != nil {
		return nil, err
	}
	return in, nil
}

// Ready reports whether NATS and Redis answer.
func (in *Infra) Ready(ctx context.Context) error {
	err := in.Bus.Ready(ctx)
	if rerr := in.Redis.Ping(ctx).Err(); rerr != nil {
		err = errors.Join(err, errors.New("redis: "+rerr.Error()))
	}
	return err
}

// Close closes everything Open opened, in reverse order.
func (in *Infra) Close() {
	for i := len(in.closers) - 1; i >= 0; i-- {
		in.closers[i]()
	}
	in.closers = nil
}

// Health returns the /healthz, /readyz and /metrics routes of a service, on mux.
func (in *Infra) Health(mux *http.ServeMux, log *slog.Logger, ready func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			apierror.WriteJSON(w, http.StatusServiceUnavailable, apierror.Body{Error: apierror.Detail{Code: consult.Unavailable, Message: err.Error()}})
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", in.Telemetry.Metrics)
}

func within(d time.Duration, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = f(ctx)
}
