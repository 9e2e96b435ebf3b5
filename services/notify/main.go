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

	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/services/notify/fallback"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

func main() { service.Main("notify", run) }

// Config is the notify service's configuration.
type Config struct {
	config.Service
	Mail           fallback.Config
	AllowedOrigins []string
}

func load(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{
		Service:        env.Service("127.0.0.1:8082"),
		AllowedOrigins: env.List("ALLOWED_ORIGINS"),
		Mail:           fallback.Settings(env),
	}
	err := errors.Join(env.Err(), c.Validate())
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
	in, err := service.Open(ctx, service.ForService("notify", cfg.Service), log)
	if err != nil {
		return err
	}
	defer in.Close()
	tracker := presence.New(in.Redis, "consult:", 30*time.Second)
	gw, err := gateway.New(ctx, gateway.Config{AllowedOrigins: cfg.AllowedOrigins}, in.Bus, in.Sessions, tracker, log)
	if err != nil {
		return err
	}
	in.Directory.OnChange(gw.RosterChanged)
	mux := http.NewServeMux()
	in.Health(mux, log, in.Ready)
	mux.Handle("GET /api/v1/stream", gw)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	log.Info("notify listening", "addr", ln.Addr().String())
	return service.Serve(ctx, log, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln,
		map[string]service.Component{
			"gateway":   gw.Run,
			"directory": in.Directory.Watch,
			"email":     fallback.New(cfg.Mail, in.Bus, in.Redis, tracker, in.Directory, log).Run,
		}, gw.Shutdown)
}
