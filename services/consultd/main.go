// Command consultd runs the whole broker in one process: intake, routing and notification,
// with an embedded NATS server (JetStream on disk under --data) and, unless REDIS_URL names one,
// an in-process Redis. It is the embedded default (`make run`) and a real single-site install.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/embedded"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/intake/api"
	"github.com/regionalconsult/broker/services/notify/fallback"
	"github.com/regionalconsult/broker/services/notify/gateway"
	"github.com/regionalconsult/broker/services/routing/worker"
)

func main() {
	service.Main("consultd", func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return run(ctx, os.Args[1:], getenv, stdout, os.Stderr)
	})
}

// Config is consultd's configuration.
type Config struct {
	Addr           string
	InternalAddr   string
	AllowedHosts   []string
	DataDir        string
	Demo           bool
	RedisURL       string
	NATSURL        string
	RosterFile     string
	AllowedOrigins []string
	SecureCookies  bool
	TrustProxy     bool
	OTLPEndpoint   string
	Replicas       int
	LogLevel       slog.Level
	Routing        worker.Settings
	Mail           fallback.Config
	SLA            config.SLA
	Sessions       config.Sessions
	Budgets        config.Budgets
	// NATS and Redis log in to an external NATS_URL and REDIS_URL (NATS_USER, NATS_*_FILE,
	// REDIS_USERNAME, REDIS_*_FILE; pkg/process/config).
	NATS  config.NATSClient
	Redis config.RedisClient
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want HOST:PORT: %w", c.Addr, err))
	} else if c.Demo {
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("--demo serves well-known passwords, so it listens on loopback only, not %q", host))
		}
	}
	if err := config.CheckInternalAddr(c.InternalAddr, c.Addr); err != nil && !strings.HasSuffix(c.Addr, ":0") {
		errs = append(errs, fmt.Errorf("--internal-addr: %w", err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must name a directory"))
	}
	errs = append(errs, config.CheckReplicas(c.Replicas))
	if c.NATSURL == "" && (c.NATS.Authenticated() || c.NATS.TLS != nil) {
		errs = append(errs, errors.New("NATS_USER, NATS_CREDS_FILE and the NATS_*_FILE settings apply to an external NATS_URL; the embedded server takes none"))
	}
	if c.RedisURL == "" && (c.Redis.Username != "" || c.Redis.Password != "" || c.Redis.TLS != nil) {
		errs = append(errs, errors.New("REDIS_USERNAME and the REDIS_*_FILE settings apply to an external REDIS_URL; the in-process Redis takes none"))
	}
	if c.NATSURL == "" && c.Replicas != 1 {
		errs = append(errs, fmt.Errorf("STREAM_REPLICAS=%d: the embedded NATS server is a single server, want 1", c.Replicas))
	}
	return errors.Join(errs...)
}

// parse reads the flags (usage and flag errors go to stderr) and the environment.
func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("consultd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "HOST:PORT to serve on")
	fs.StringVar(&c.InternalAddr, "internal-addr", "127.0.0.1:0", "HOST:PORT for metrics and readiness detail (not for the public)")
	fs.StringVar(&c.DataDir, "data", "./data", "directory for JetStream's files")
	fs.BoolVar(&c.Demo, "demo", false, "seed the demo accounts and roster if absent (loopback only)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return Config{}, fmt.Errorf("--log-level: %w", err)
	}
	env := config.New(getenv)
	c.RedisURL = env.String("REDIS_URL", "")
	c.NATSURL = env.String("NATS_URL", "")
	c.NATS = env.NATSClient()
	c.Redis = env.RedisClient(c.RedisURL)
	c.RosterFile = env.String("ROSTER_FILE", "")
	c.AllowedOrigins = env.List("ALLOWED_ORIGINS")
	c.AllowedHosts = env.List("ALLOWED_HOSTS")
	c.SecureCookies = env.Bool("SECURE_COOKIES", false)
	c.TrustProxy = env.Bool("TRUST_FORWARDED_FOR", false)
	c.OTLPEndpoint = env.String("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	c.Replicas = env.Int("STREAM_REPLICAS", 1)
	c.Routing = worker.SettingsFrom(env.Routing())
	c.Mail = env.Mail()
	c.SLA = env.SLA()
	c.Sessions = env.Sessions()
	c.Budgets = env.Budgets()
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// run starts consultd and serves until ctx ends, then shuts down in reverse order. It prints
// the address it serves on to stdout once it is ready; flag usage goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	start := time.Now()
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var stopEmbedded []func()
	defer func() {
		for i := len(stopEmbedded) - 1; i >= 0; i-- {
			stopEmbedded[i]()
		}
	}()
	scfg := service.Config{ServiceName: "consultd", OTLPEndpoint: cfg.OTLPEndpoint, NATSURL: cfg.NATSURL, NATS: cfg.NATS, RedisURL: cfg.RedisURL,
		Redis: cfg.Redis, Replicas: cfg.Replicas}
	if cfg.NATSURL == "" {
		ns, err := embedded.StartNATS(filepath.Join(cfg.DataDir, "jetstream"), "", 0)
		if err != nil {
			return err
		}
		stopEmbedded = append(stopEmbedded, ns.Shutdown)
		scfg.Dial = func() (*nats.Conn, error) { return ns.Connect("consultd", log) }
	}
	if cfg.RedisURL == "" {
		r, err := embedded.StartRedis("127.0.0.1:0")
		if err != nil {
			return err
		}
		stopEmbedded = append(stopEmbedded, r.Close)
		scfg.RedisURL = r.URL()
	}
	conns, err := service.Open(ctx, scfg, log)
	if err != nil {
		return err
	}
	defer conns.Close()
	deps, err := api.OpenDeps(ctx, conns.Bus, conns.Redis, session.Limits(cfg.Sessions), log)
	if err != nil {
		return err
	}
	deadlines, err := scheduler.Open(ctx, conns.Bus)
	if err != nil {
		return err
	}
	if err := seed(ctx, deps.Directory, cfg, log); err != nil {
		return err
	}

	projector := readmodel.NewProjector(deps.ReadModel, deps.Consults, 0, log)
	tracker := presence.New(conns.Redis, "consult:", 30*time.Second)
	profiles := profile.NewCache(deps.Profiles, log)
	router := worker.New(deps.Consults, deadlines, deps.Directory, worker.NewPeople(tracker, deps.ReadModel, profiles.Availability, profiles.Synced()), cfg.Routing, log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if cfg.Mail.PublicURL == "" {
		cfg.Mail.PublicURL = "http://" + ln.Addr().String()
	}
	// The names this address answers for: its own (as bound) and the configured public ones.
	names := hosts.New(ln.Addr().String(), cfg.AllowedHosts, append(cfg.AllowedOrigins, cfg.Mail.PublicURL)...)
	gw, err := gateway.New(ctx, gateway.Config{AllowedOrigins: cfg.AllowedOrigins, Hosts: names,
		SocketsPerUser: cfg.Budgets.SocketsPerUser, SocketsPerSession: cfg.Budgets.SocketsPerSession,
		Refused: gateway.RecordRefusals(deps.Limiter, log)}, deps.Consults, deps.Sessions, tracker, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	deps.Directory.OnChange(gw.RosterChanged)
	checks := conns.Checks(deps.Consults.Ready)
	internal, internalAddr, err := conns.Internal(cfg.InternalAddr, log, checks)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := api.New(api.Config{
		AllowedOrigins: cfg.AllowedOrigins, SLA: cfg.SLA, SecureCookies: cfg.SecureCookies, TrustForwardedFor: cfg.TrustProxy, Stream: gw,
		Mount:      func(mux *http.ServeMux) { conns.PublicHealth(mux, log, checks) },
		Hosts:      names,
		ServerName: ln.Addr().String(),
		Budgets:    cfg.Budgets,
	}, deps, log)
	fmt.Fprintf(stdout, "consultd listening on http://%s (started in %s; redis %s; nats %s; metrics on http://%s/metrics)\n",
		ln.Addr(), time.Since(start).Round(time.Millisecond), kind(cfg.RedisURL), kind(cfg.NATSURL), internalAddr)
	return service.Serve(ctx, log, &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}, ln,
		map[string]service.Component{"projector": projector.Run, "routing": router.Run, "gateway": gw.Run, "directory": deps.Directory.Watch,
			"profiles": profiles.Watch, "uploads": deps.Files.Clean, "internal": internal,
			"email": fallback.New(cfg.Mail, deps.Consults, conns.Redis, tracker, deps.Directory, log).Run},
		gw.Shutdown)
}

func kind(url string) string {
	if url == "" {
		return "embedded"
	}
	return "external"
}

func seed(ctx context.Context, dir *directory.Directory, cfg Config, log *slog.Logger) error {
	var data []byte
	switch {
	case cfg.RosterFile != "":
		b, err := os.ReadFile(cfg.RosterFile)
		if err != nil {
			return fmt.Errorf("roster file: %w", err)
		}
		data = b
	case cfg.Demo:
		data = roster.DemoJSON()
	default:
		return nil
	}
	seeded, err := dir.Seed(ctx, data)
	if err != nil {
		return err
	}
	if seeded {
		log.Info("roster seeded", "users", len(dir.Roster().Users))
	}
	return nil
}
