// Command intake serves the broker's HTTP API and browser app against external NATS and Redis,
// and keeps the Redis read model behind the list endpoint current. Any number may run side by
// side. With STREAM_UPSTREAM set it also forwards the live stream to a notify instance, so the
// browser app and its stream share one origin.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/services/intake/api"
)

func main() { service.Main("intake", run) }

// Config is the intake service's configuration.
type Config struct {
	config.Service
	// InternalAddr serves metrics and readiness detail (INTERNAL_ADDR).
	InternalAddr   string
	StreamUpstream string
	RosterFile     string
	AllowedOrigins []string
	SecureCookies  bool
	TrustProxy     bool
	Sessions       config.Sessions
	SLA            config.SLA
	Budgets        config.Budgets
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	err := errors.Join(c.Service.Validate(), config.CheckInternalAddr(c.InternalAddr, c.Addr))
	if c.StreamUpstream != "" {
		if u, perr := url.Parse(c.StreamUpstream); perr != nil || u.Host == "" {
			err = errors.Join(err, fmt.Errorf("STREAM_UPSTREAM=%q: want a URL such as http://notify:8082", c.StreamUpstream))
		}
	}
	return err
}

func load(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{
		Service:        env.Service("127.0.0.1:8080"),
		InternalAddr:   env.String("INTERNAL_ADDR", "127.0.0.1:9080"),
		StreamUpstream: env.String("STREAM_UPSTREAM", ""),
		RosterFile:     env.String("ROSTER_FILE", ""),
		AllowedOrigins: env.List("ALLOWED_ORIGINS"),
		SecureCookies:  env.Bool("SECURE_COOKIES", false),
		TrustProxy:     env.Bool("TRUST_FORWARDED_FOR", false),
		Sessions:       env.Sessions(),
		SLA:            env.SLA(),
		Budgets:        env.Budgets(),
	}
	return c, errors.Join(env.Err(), c.Validate())
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := load(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "intake")
	conns, err := service.Open(ctx, service.ConfigFor("intake", cfg.Service), log)
	if err != nil {
		return err
	}
	defer conns.Close()
	deps, err := api.OpenDeps(ctx, conns.Bus, conns.Redis, session.Limits(cfg.Sessions), log)
	if err != nil {
		return err
	}
	if cfg.RosterFile != "" {
		data, err := os.ReadFile(cfg.RosterFile)
		if err != nil {
			return fmt.Errorf("roster file: %w", err)
		}
		if seeded, err := deps.Directory.Seed(ctx, data); err != nil {
			return err
		} else if seeded {
			log.Info("roster seeded", "file", cfg.RosterFile)
		}
	}
	var stream http.Handler
	if cfg.StreamUpstream != "" {
		up, _ := url.Parse(cfg.StreamUpstream)
		stream = httputil.NewSingleHostReverseProxy(up) // forwards WebSocket upgrades; keeps Host for the Origin check
	}
	checks := conns.Checks(deps.Consults.Ready)
	internal, internalAddr, err := conns.Internal(cfg.InternalAddr, log, checks)
	if err != nil {
		return err
	}
	srv := api.New(api.Config{
		AllowedOrigins: cfg.AllowedOrigins, SLA: cfg.SLA, SecureCookies: cfg.SecureCookies, TrustForwardedFor: cfg.TrustProxy, Stream: stream,
		Mount:      func(mux *http.ServeMux) { conns.PublicHealth(mux, log, checks) },
		Hosts:      hosts.New(cfg.Addr, cfg.AllowedHosts, cfg.AllowedOrigins...),
		ServerName: cfg.Addr,
		Budgets:    cfg.Budgets,
	}, deps, log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	log.Info("intake listening", "addr", ln.Addr().String(), "internal_addr", internalAddr.String())
	return service.Serve(ctx, log, &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}, ln,
		map[string]service.Component{
			"projector": readmodel.NewProjector(deps.ReadModel, deps.Consults, 0, log).Run,
			"directory": deps.Directory.Watch,
			"uploads":   deps.Files.Clean,
			"internal":  internal,
		})
}
