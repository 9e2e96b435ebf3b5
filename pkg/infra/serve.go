package infra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	within(10*time.Second, hs.Shutdown)
	<-httpDone
	for _, d := range drain {
		within(5*time.Second, d)
	}
	stopWork()
	wg.Wait()
	return err
}
