// Command notify is the WebSocket gateway: it delivers every consult event to the connected
// users allowed to see it and replays what a reconnecting client missed, against external NATS
// and Redis. Any number may run behind a load balancer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/services/notify/fallback"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

func main() { service.Main("notify", run) }

// Config is the notify service's configuration.
type Config struct {
	config.Service
	// InternalAddr serves metrics and readiness detail (INTERNAL_ADDR).
	InternalAddr   string
	Mail           fallback.Config
	AllowedOrigins []string
	Sessions       config.Sessions
	Budgets        config.Budgets
}

func load(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{
		Service:        env.Service("127.0.0.1:8082"),
		InternalAddr:   env.String("INTERNAL_ADDR", "127.0.0.1:9082"),
		AllowedOrigins: env.List("ALLOWED_ORIGINS"),
		Mail:           env.Mail(),
		Sessions:       env.Sessions(),
		Budgets:        env.Budgets(),
	}
	err := errors.Join(env.Err(), c.Validate(), config.CheckInternalAddr(c.InternalAddr, c.Addr))
	if c.Mail.SMTPAddr != "" && c.Mail.PublicURL == "" {
		err = errors.Join(err, errors.New("PUBLIC_URL is required with SMTP_ADDR: emails link to it"))
	}
	return c, err
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := load(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "notify")
	conns, err := service.Open(ctx, service.ConfigFor("notify", cfg.Service), log)
	if err != nil {
		return err
	}
	defer conns.Close()
	consults, err := consultstore.Open(ctx, conns.Bus)
	if err != nil {
		return err
	}
	dir, err := directory.Open(ctx, conns.Bus, log)
	if err != nil {
		return err
	}
	sessions, err := session.Open(ctx, conns.Bus, dir, session.Limits(cfg.Sessions))
	if err != nil {
		return err
	}
	tracker := presence.New(conns.Redis, "consult:", 30*time.Second)
	// The stream answers for its own address and for the public names in front of it: intake
	// forwards the browser's upgrade with the Host the browser sent.
	streamHosts := hosts.New(cfg.Addr, cfg.AllowedHosts, append(cfg.AllowedOrigins, cfg.Mail.PublicURL)...)
	gw, err := gateway.New(ctx, gateway.Config{AllowedOrigins: cfg.AllowedOrigins, Hosts: streamHosts,
		SocketsPerUser: cfg.Budgets.SocketsPerUser, SocketsPerSession: cfg.Budgets.SocketsPerSession,
		Refused: gateway.RecordRefusals(ratelimit.New(conns.Redis, "consult:rl:"), log)}, consults, sessions, tracker, log)
	if err != nil {
		return err
	}
	dir.OnChange(gw.RosterChanged)
	checks := conns.Checks(consults.Ready)
	internal, internalAddr, err := conns.Internal(cfg.InternalAddr, log, checks)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	conns.PublicHealth(mux, log, checks)
	mux.Handle("GET /api/v1/stream", gw)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	log.Info("notify listening", "addr", ln.Addr().String(), "internal_addr", internalAddr.String())
	return service.Serve(ctx, log, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln,
		map[string]service.Component{
			"gateway":   gw.Run,
			"directory": dir.Watch,
			"email":     fallback.New(cfg.Mail, consults, conns.Redis, tracker, dir, log).Run,
			"internal":  internal,
		}, gw.Shutdown)
}
