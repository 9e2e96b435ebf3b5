// Command routing offers consults to on-call specialists, expires offers at their deadlines
// and escalates, against external NATS and Redis. Any number may run side by side: they share
// durable consumers, and the stream settles which decision wins. It serves only health and
// metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/profile"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
	"github.com/regionalconsult/broker/pkg/process/config"
	"github.com/regionalconsult/broker/pkg/process/service"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/services/routing/worker"
)

func main() { service.Main("routing", run) }

// Config is the routing service's configuration.
type Config struct {
	config.Service
	Routing worker.Settings
}

func load(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{
		Service: env.Service("127.0.0.1:8081"),
		Routing: worker.SettingsFrom(env.Routing()),
	}
	return c, errors.Join(env.Err(), c.Validate())
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := load(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "routing")
	conns, err := service.Open(ctx, service.ConfigFor("routing", cfg.Service), log)
	if err != nil {
		return err
	}
	defer conns.Close()
	consults, err := consultstore.Open(ctx, conns.Bus)
	if err != nil {
		return err
	}
	deadlines, err := scheduler.Open(ctx, conns.Bus)
	if err != nil {
		return err
	}
	dir, err := directory.Open(ctx, conns.Bus, log)
	if err != nil {
		return err
	}
	profileStore, err := profile.Open(ctx, conns.Bus)
	if err != nil {
		return err
	}
	profiles := profile.NewCache(profileStore, log)
	people := worker.NewPeople(presence.New(conns.Redis, "consult:", 30*time.Second), readmodel.New(conns.Redis, "consult:"), profiles.Availability, profiles.Synced())
	mux := http.NewServeMux()
	conns.Health(mux, log, conns.Checks(consults.Ready))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	log.Info("routing running", "health_addr", ln.Addr().String())
	return service.Serve(ctx, log, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln,
		map[string]service.Component{
			"routing":   worker.New(consults, deadlines, dir, people, cfg.Routing, log).Run,
			"directory": dir.Watch,
			"profiles":  profiles.Watch,
		})
}
