// Package service is the process kit every service binary shares: Main runs a service's run
// function with the process's environment until a signal; Open connects what every service
// uses (telemetry, Redis, NATS) and closes it in reverse; Serve runs HTTP and the long-running
// components and shuts them down in order; Health mounts the health, readiness and metrics
// routes.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Component is a long-running part of a service (a consumer, a feed); it returns when ctx ends.
type Component func(ctx context.Context) error

// Serve runs the HTTP server on ln and the components until ctx ends or one of them fails. Then
// it shuts down in order: stop accepting HTTP, run drain steps (telling stream clients to
// reconnect), stop the components. It returns the failure that stopped it, if any.
func Serve(ctx context.Context, log *slog.Logger, hs *http.Server, ln net.Listener,
	components map[string]Component, drain ...func(context.Context) error) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	errc := make(chan error, len(components)+1)
	for name, run := range components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(workCtx); err != nil && workCtx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("stopping after a component failed", "err", err)
	}
	_ = within(10*time.Second, hs.Shutdown)
	<-httpDone
	for _, d := range drain {
		_ = within(5*time.Second, d)
	}
	stopWork()
	wg.Wait()
	return err
}

// Main is a service binary's main: it runs run with the process's environment and standard
// output until SIGINT or SIGTERM, and exits non-zero with run's error.
func Main(name string, run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		stop()
		os.Exit(1)
	}
}
