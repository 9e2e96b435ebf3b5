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
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/telemetry"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// Config says where a service's infrastructure is.
type Config struct {
	ServiceName  string
	OTLPEndpoint string
	// NATSURL is dialled unless Dial is set.
	NATSURL string
	// Dial, when set, opens the NATS connection instead (an embedded server's in-process one).
	Dial     func() (*nats.Conn, error)
	RedisURL string
	// Replicas is the stream replication factor: 1 on a single server, 3 or 5 on a cluster.
	Replicas int
}

// ConfigFor returns the configuration of service name from its shared settings.
func ConfigFor(name string, s config.Service) Config {
	return Config{ServiceName: name, OTLPEndpoint: s.OTLPEndpoint, NATSURL: s.NATSURL, RedisURL: s.RedisURL, Replicas: s.Replicas}
}

// Conns is what every service connects to: telemetry, Redis and NATS. The stores a service
// uses are opened by its main on top of them.
type Conns struct {
	Telemetry *telemetry.Telemetry
	Redis     *redis.Client
	NATS      *nats.Conn
	Bus       *bus.Bus
	closers   []func()
}

// Open connects telemetry, then Redis, then NATS, so that Close drains NATS (whose in-flight
// handlers may still use Redis) before it closes Redis, and flushes telemetry last. On error
// what was opened is closed again.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Conns, err error) {
	c := &Conns{}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.Telemetry, err = telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, OTLPEndpoint: cfg.OTLPEndpoint}); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { within(5*time.Second, c.Telemetry.Shutdown) })
	if c.Redis, err = readmodel.Dial(cfg.RedisURL); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { _ = c.Redis.Close() })
	if cfg.Dial != nil {
		c.NATS, err = cfg.Dial()
	} else {
		c.NATS, err = bus.Connect(cfg.NATSURL, cfg.ServiceName, log)
	}
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() {
		if err := within(10*time.Second, func(ctx context.Context) error { return bus.Drain(ctx, c.NATS) }); err != nil {
			log.Warn("nats not drained", "err", err)
		}
	})
	if c.Bus, err = bus.New(c.NATS, cfg.Replicas, log); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes what Open opened, in reverse order.
func (c *Conns) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// Ready returns a readiness check: NATS answers (stream reports whether the service's main
// stream is reachable) and Redis answers.
func (c *Conns) Ready(stream func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := stream(ctx)
		if rerr := c.Redis.Ping(ctx).Err(); rerr != nil {
			err = errors.Join(err, errors.New("redis: "+rerr.Error()))
		}
		return err
	}
}

// Health mounts /healthz, /readyz (ready's answer, under a 2-second deadline) and /metrics on mux.
func (c *Conns) Health(mux *http.ServeMux, ready func(context.Context) error) {
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
	mux.Handle("GET /metrics", c.Telemetry.Metrics)
}

func within(d time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f(ctx)
}
