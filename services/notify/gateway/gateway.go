// Package gateway is the notify service's WebSocket transport: it authenticates an upgrade by
// its session and Origin, replays what a reconnecting client missed (`after`), then streams live
// events from the consult stream to every connection allowed to see them, through the hub.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/regionalconsult/broker/pkg/apierror"
	"github.com/regionalconsult/broker/pkg/bus"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/pkg/session"
	"github.com/regionalconsult/broker/services/notify/internal/hub"
)

// Close codes the browser app acts on.
const (
	// CloseRestart (1012, service restart) asks the client to reconnect with `after`.
	CloseRestart = websocket.CloseServiceRestart
	// CloseSlow tells a client that fell behind to reconnect with `after`.
	CloseSlow = 4008
	// CloseSessionEnded tells the client to log in again.
	CloseSessionEnded = 4001
)

// Config tunes the gateway.
type Config struct {
	// AllowedOrigins are the origins whose pages may connect; empty means the serving origin.
	AllowedOrigins []string
	// Queue is how many frames a connection may have waiting before it is dropped as too slow.
	Queue int
	// PingEvery is how often the server pings; a client silent for three times that is gone.
	PingEvery time.Duration
	// SessionCheck is how often a connection's session is checked again.
	SessionCheck time.Duration
}

func (c *Config) defaults() {
	if c.Queue <= 0 {
		c.Queue = 256
	}
	if c.PingEvery <= 0 {
		c.PingEvery = 25 * time.Second
	}
	if c.SessionCheck <= 0 {
		c.SessionCheck = 10 * time.Second
	}
}

// Sessions checks session tokens and reports revocations.
type Sessions interface {
	Lookup(ctx context.Context, token string) (roster.User, error)
	WatchRevoked(ctx context.Context, revoked func(key string)) error
}

// Gateway serves /api/v1/stream.
type Gateway struct {
	cfg      Config
	bus      *bus.Bus
	sessions Sessions
	hub      *hub.Hub
	states   *consult.Cache
	log      *slog.Logger
	upgrader websocket.Upgrader
	stop     chan struct{}
	stopOnce sync.Once
	// bySession holds, per session key, a channel closed when that session is revoked.
	mu        sync.Mutex
	bySession map[string]*revocation
	conns     sync.WaitGroup
	now       func() time.Time

	connected metric.Int64UpDownCounter
	delivered metric.Int64Counter
}

// New returns a gateway whose live feed starts at the stream's current end.
func New(ctx context.Context, cfg Config, b *bus.Bus, sessions Sessions, log *slog.Logger) (*Gateway, error) {
	cfg.defaults()
	last, err := b.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	m := otel.Meter("notify")
	connected, _ := m.Int64UpDownCounter("stream_connections", metric.WithDescription("open stream connections"))
	delivered, _ := m.Int64Counter("stream_frames_total", metric.WithDescription("events published to this instance's hub"))
	g := &Gateway{cfg: cfg, bus: b, sessions: sessions, hub: hub.New(last), states: consult.NewCache(20000), log: log,
		stop: make(chan struct{}), bySession: map[string]*revocation{}, now: time.Now, connected: connected, delivered: delivered}
	g.upgrader = websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		// The Origin is checked before the upgrade, with a JSON 403 a person can read.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return g, nil
}

// Run follows the consult stream and publishes every event to the hub, and closes the
// connections of revoked sessions, until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- g.sessions.WatchRevoked(ctx, g.revoke) }()
	err := g.follow(ctx)
	if werr := <-errc; err == nil {
		err = werr
	}
	return err
}

// revocation is closed when a session ends; every connection of that session waits on it.
type revocation struct {
	users int
	ended chan struct{}
}

// watchSession returns a channel closed when the session with key is revoked, and a function
// to call when the connection no longer needs it.
func (g *Gateway) watchSession(key string) (<-chan struct{}, func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.bySession[key]
	if r == nil {
		r = &revocation{ended: make(chan struct{})}
		g.bySession[key] = r
	}
	r.users++
	return r.ended, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if r.users--; r.users == 0 && g.bySession[key] == r {
			delete(g.bySession, key)
		}
	}
}

func (g *Gateway) revoke(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.bySession[key]; r != nil {
		close(r.ended)
		delete(g.bySession, key)
	}
}

func (g *Gateway) follow(ctx context.Context) error {
	start := g.hub.Seq()
	return g.bus.Follow(ctx, start, func(ctx context.Context, e event.Event) error {
		before, err := g.stateBefore(ctx, e, g.states)
		if err != nil {
			g.log.Error("event not delivered: consult history unreadable", "consult_id", e.ConsultID, "seq", e.StreamSeq, "err", err)
			return nil
		}
		after, err := consult.Apply(before, e)
		if err != nil {
			g.log.Error("event not delivered: does not fold", "consult_id", e.ConsultID, "seq", e.StreamSeq, "err", err)
			return nil
		}
		g.states.Put(after)
		f, err := g.frame(e, after)
		if err != nil {
			return err
		}
		g.hub.Publish(f, before, after)
		g.delivered.Add(ctx, 1)
		return nil
	})
}

// stateBefore returns the consult's state just before e, from cache or from its history.
func (g *Gateway) stateBefore(ctx context.Context, e event.Event, cache *consult.Cache) (*consult.Consult, error) {
	if e.Position == 1 {
		return nil, nil
	}
	if c := cache.Get(e.ConsultID); c != nil && c.Position() == e.Position-1 {
		return c, nil
	}
	hist, err := g.bus.History(ctx, e.ConsultID)
	if err != nil {
		return nil, err
	}
	if len(hist) < e.Position-1 {
		return nil, fmt.Errorf("history of %s has %d events, want at least %d", e.ConsultID, len(hist), e.Position-1)
	}
	return consult.Fold(hist[:e.Position-1])
}

// Frame is one event on the wire.
type Frame struct {
	Seq       uint64           `json:"seq"`
	Type      event.Type       `json:"type"`
	ConsultID string           `json:"consult_id"`
	At        time.Time        `json:"at"`
	Consult   *consult.Consult `json:"consult"`
}

func (g *Gateway) frame(e event.Event, after *consult.Consult) (hub.Frame, error) {
	data, err := json.Marshal(Frame{Seq: e.StreamSeq, Type: e.Type, ConsultID: e.ConsultID, At: e.At, Consult: after.At(g.now())})
	if err != nil {
		return hub.Frame{}, fmt.Errorf("encode frame %d: %w", e.StreamSeq, err)
	}
	return hub.Frame{Seq: e.StreamSeq, Data: data}, nil
}

// Shutdown tells every connection to reconnect (to another instance, or to this one once it is
// back) and waits until they have closed or ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.stopOnce.Do(func() { close(g.stop) })
	done := make(chan struct{})
	go func() { g.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Clients is the number of open connections.
func (g *Gateway) Clients() int { return g.hub.Count() }

// ServeHTTP upgrades an authenticated same-origin request and streams to it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !session.OriginAllowed(r, g.cfg.AllowedOrigins) {
		apierror.Write(w, g.log, consult.Errorf(consult.Forbidden, "connections from this origin are refused"))
		return
	}
	token := session.Token(r)
	u, err := g.sessions.Lookup(r.Context(), token)
	if errors.Is(err, session.ErrNoSession) {
		apierror.Write(w, g.log, consult.Errorf(consult.Unauthenticated, "please log in"))
		return
	}
	if err != nil {
		apierror.Write(w, g.log, apierror.Unavailable(err))
		return
	}
	var after uint64
	v, resume := r.URL.Query()["after"]
	if resume {
		after, err = strconv.ParseUint(v[0], 10, 64)
		if err != nil {
			apierror.Write(w, g.log, &consult.Error{Code: consult.Invalid, Message: "after must be a sequence number",
				Fields: map[string]string{"after": "must be a whole number"}})
			return
		}
	}
	select {
	case <-g.stop:
		apierror.Write(w, g.log, consult.Errorf(consult.Unavailable, "this gateway is shutting down; reconnect"))
		return
	default:
	}
	conn, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	g.conns.Add(1)
	defer g.conns.Done()
	g.serve(context.WithoutCancel(r.Context()), conn, u, token, after, resume)
}
