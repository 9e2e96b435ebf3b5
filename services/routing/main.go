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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/regionalconsult/broker/pkg/config"
	"github.com/regionalconsult/broker/pkg/infra"
	"github.com/regionalconsult/broker/services/routing/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "routing:", err)
		os.Exit(1)
	}
}

// Config is the routing service's configuration.
type Config struct {
	config.Service
	OfferFor    map[string]time.Duration
	RemindEvery time.Duration
}

func load(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{
		Service:     env.Service("127.0.0.1:8081"),
		OfferFor:    env.PerUrgency("OFFER_TIMEOUT", 2*time.Minute, 15*time.Minute, 4*time.Hour),
		RemindEvery: env.Duration("REMIND_EVERY", 2*time.Minute),
	}
	return c, errors.Join(env.Err(), c.Validate())
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := load(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "routing")
	in, err := infra.Open(ctx, infra.ForService("routing", cfg.Service), log)
	if err != nil {
		return err
	}
	defer in.Close()
	mux := http.NewServeMux()
	in.Health(mux, log, in.Ready)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	log.Info("routing running", "health_addr", ln.Addr().String())
	return infra.Serve(ctx, log, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln,
		map[string]infra.Component{
			"routing":   worker.New(in.Bus, in.Directory, worker.Policy{OfferFor: cfg.OfferFor, RemindEvery: cfg.RemindEvery}, log).Run,
			"directory": in.Directory.Watch,
		})
}
