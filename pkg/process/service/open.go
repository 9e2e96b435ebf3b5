package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/extra/redisotel/v9"
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
	Dial func() (*nats.Conn, error)
	// NATS is how the dialled connection logs in and checks the server (unused with Dial).
	NATS     config.NATSClient
	RedisURL string
	// Redis is how the Redis connection logs in and checks the server.
	Redis config.RedisClient
	// Replicas is the stream replication factor: 1 on a single server, 3 or 5 on a cluster.
	Replicas int
}

// ConfigFor returns the configuration of service name from its shared settings.
func ConfigFor(name string, s config.Service) Config {
	return Config{ServiceName: name, OTLPEndpoint: s.OTLPEndpoint, NATSURL: s.NATSURL, NATS: s.NATS, RedisURL: s.RedisURL,
		Redis: s.Redis, Replicas: s.Replicas}
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
	if c.Redis, err = dialRedis(cfg.RedisURL, cfg.Redis); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { _ = c.Redis.Close() })
	if cfg.Dial != nil {
		c.NATS, err = cfg.Dial()
	} else {
		c.NATS, err = bus.Connect(cfg.NATSURL, cfg.ServiceName, log, natsOptions(cfg.ServiceName, cfg.NATS)...)
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

// natsOptions are the connection settings of auth: a user and password or a credentials file,
// TLS, and, for a user the server gives permissions to, replies on an inbox of the service's own
// (_INBOX.<name>.>), so that no other service's user may read them.
func natsOptions(name string, auth config.NATSClient) []nats.Option {
	var opts []nats.Option
	switch {
	case auth.User != "":
		opts = append(opts, nats.UserInfo(auth.User, auth.Password))
	case auth.CredsFile != "":
		opts = append(opts, nats.UserCredentials(auth.CredsFile))
	}
	if auth.TLS != nil {
		opts = append(opts, nats.Secure(auth.TLS.Clone()))
	}
	if auth.Authenticated() {
		opts = append(opts, nats.CustomInboxPrefix("_INBOX."+name))
	}
	return opts
}

// dialRedis returns the client of url. Without credentials or TLS files it is readmodel.Dial's;
// with them, the same client (two retries, traced without command values) logs in as
// auth.Username and checks the server's certificate against auth.TLS's authorities.
func dialRedis(url string, auth config.RedisClient) (*redis.Client, error) {
	if auth.Username == "" && auth.Password == "" && auth.TLS == nil {
		return readmodel.Dial(url)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	if auth.Username != "" {
		opt.Username = auth.Username
	}
	if auth.Password != "" {
		opt.Password = auth.Password
	}
	if auth.TLS != nil {
		t := auth.TLS.Clone()
		if host, _, err := net.SplitHostPort(opt.Addr); err == nil && t.ServerName == "" {
			t.ServerName = host
		}
		opt.TLSConfig = t
	}
	opt.MaxRetries = 2
	c := redis.NewClient(opt)
	if err := redisotel.InstrumentTracing(c, redisotel.WithDBStatement(false)); err != nil {
		return nil, fmt.Errorf("redis tracing: %w", err)
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

// Checks are what a service's readiness depends on, by name ("nats", "redis").
type Checks map[string]func(context.Context) error

// Checks returns the readiness checks of a service whose main stream answers through stream:
// NATS (that stream) and Redis.
func (c *Conns) Checks(stream func(context.Context) error) Checks {
	return Checks{"nats": stream, "redis": func(ctx context.Context) error { return c.Redis.Ping(ctx).Err() }}
}

// checkTimeout bounds each readiness check on its own, so that a paused NATS reads as NATS and
// not as a Redis timeout.
const checkTimeout = 2 * time.Second

// PublicHealth mounts /healthz and /readyz on a public mux: ready or not, with no detail, for a
// load balancer. What is not ready, and the metrics, are on the internal listener (Internal).
// Anyone may ask, so the answer is shared for a second: a flood of probes costs NATS and Redis
// one check a second, and the log one line per failing check.
func (c *Conns) PublicHealth(mux *http.ServeMux, log *slog.Logger, checks Checks) {
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(shared(log, checks), false))
}

// Internal listens on addr and returns the component that serves there, until ctx ends, what
// only the scraper and the orchestrator need: /healthz, /readyz naming what is not ready, and
// /metrics. It answers for any Host: the address itself is private.
func (c *Conns) Internal(addr string, log *slog.Logger, checks Checks) (Component, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s (internal): %w", addr, err)
	}
	mux := http.NewServeMux()
	c.Health(mux, log, checks)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	serve := func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- hs.Serve(ln) }()
		select {
		case <-ctx.Done():
			_ = within(5*time.Second, hs.Shutdown)
			<-done
			return nil
		case err := <-done:
			return fmt.Errorf("internal listener: %w", err)
		}
	}
	return serve, ln.Addr(), nil
}

// Health mounts /healthz, /readyz and /metrics on mux. /readyz runs every check at once, each
// under its own deadline, and answers 503 naming the checks that failed; why they failed goes
// to the log, not to whoever asks.
func (c *Conns) Health(mux *http.ServeMux, log *slog.Logger, checks Checks) {
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(func(ctx context.Context) []string { return run(ctx, log, checks) }, true))
	mux.Handle("GET /metrics", c.Telemetry.Metrics)
}

func healthz(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }

// readyz answers 200 when no check fails, else 503, naming the failing checks when detail.
func readyz(failing func(context.Context) []string, detail bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		failed := failing(r.Context())
		if len(failed) == 0 {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		msg := "not ready"
		if detail {
			msg += ": " + strings.Join(failed, ", ")
		}
		apierror.WriteJSON(w, apierror.StatusCode(consult.Unavailable), apierror.Body{Error: apierror.Detail{Code: consult.Unavailable, Message: msg}})
	}
}

// shared returns the failing checks, running them at most once a second: callers within that
// second (or while a run is under way) get its answer.
func shared(log *slog.Logger, checks Checks) func(context.Context) []string {
	var mu sync.Mutex
	var at time.Time
	var last []string
	return func(ctx context.Context) []string {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < time.Second {
			return last
		}
		// Detached from the asker: a probe that gives up does not make the answer a failure.
		last, at = run(context.WithoutCancel(ctx), log, checks), time.Now()
		return last
	}
}

// run runs checks concurrently, each under checkTimeout, logs why each failing one failed, and
// returns their names in order.
func run(ctx context.Context, log *slog.Logger, checks Checks) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			if err := check(cctx); err != nil {
				log.Warn("not ready", "check", name, "err", err)
				mu.Lock()
				failed = append(failed, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(failed)
	return failed
}

func within(d time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f(ctx)
}
