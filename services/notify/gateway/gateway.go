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
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/http/apierror"
	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/problem"
	"github.com/regionalconsult/broker/pkg/roster"
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
	// CloseHistoryGone tells the client that `after` is older than the history the gateway
	// replays: reload state over HTTP, then reconnect without `after`.
	CloseHistoryGone = 4009
)

// Config tunes the gateway.
type Config struct {
	// AllowedOrigins are the origins whose pages may connect; empty means the serving origin.
	AllowedOrigins []string
	// Queue is how many frames a connection may have waiting before it is dropped as too slow
	// (beyond what its socket's send buffer holds).
	Queue int
	// PingEvery is how often the server pings; a client silent for three times that is gone.
	PingEvery time.Duration
	// SessionCheck is how often each session with open connections is checked again (expiry;
	// revocations arrive at once, and roster changes through RosterChanged).
	SessionCheck time.Duration
	// SendBuffer bounds the kernel's send buffer per connection (bytes), so that a client that
	// stops reading is noticed after a bounded backlog and costs bounded memory.
	SendBuffer int
	// ReplayWindow is how far back a reconnecting client may resume; older `after` values get
	// CloseHistoryGone. A clinic whose link was down for a day must be able to resume.
	ReplayWindow time.Duration
	// Hosts are the Host names the stream answers for (all when empty).
	Hosts hosts.List
	// SocketsPerUser and SocketsPerSession bound the connections open at once on every instance
	// together (DefaultSocketsPerUser and DefaultSocketsPerSession when 0); beyond them an
	// upgrade is refused with 429 before it happens (budget.go).
	SocketsPerUser, SocketsPerSession int
	// Refused, when set, hears of every upgrade those bounds refuse, to record it for the
	// coordinators; it must not block for long.
	Refused func(ctx context.Context, userID, budget string)
}

func (c *Config) defaults() {
	if c.Queue <= 0 {
		c.Queue = 32
	}
	if c.PingEvery <= 0 {
		c.PingEvery = 25 * time.Second
	}
	if c.SessionCheck <= 0 {
		c.SessionCheck = 30 * time.Second
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 64 << 10
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 72 * time.Hour
	}
}

// Sessions checks session tokens and reports revocations.
type Sessions interface {
	Lookup(ctx context.Context, token string) (roster.User, error)
	WatchRevoked(ctx context.Context, revoked func(key string)) error
}

// Presence records which users have a live connection, shared by every gateway instance.
type Presence interface {
	TTL() time.Duration
	Connected(ctx context.Context, user, conn string) error
	Disconnected(ctx context.Context, user, conn string) error
	Refresh(ctx context.Context, conns map[string][]string) error
	// Admit records a new connection unless the user or the session has as many open as
	// allowed; then it answers which is full ("user" or "session") and records nothing.
	Admit(ctx context.Context, user, session, conn string, perUser, perSession int) (string, error)
}

// Gateway serves /api/v1/stream.
type Gateway struct {
	cfg       Config
	consults  *consultstore.Store
	sessions  Sessions
	hub       *hub.Hub
	states    *consult.Cache
	log       *slog.Logger
	upgrader  websocket.Upgrader
	stop      chan struct{}
	stopping  bool // guarded by mu
	mu        sync.Mutex
	streams   map[*stream]struct{}   // every open connection; guarded by mu
	bySession map[string]*sessionSet // open connections per session key; guarded by mu
	presence  Presence
	replays   chan struct{} // a slot per replay allowed at once
	instance  string
	connSeq   atomic.Uint64
	checking  atomic.Bool // a session check round is running
	conns     sync.WaitGroup
	now       func() time.Time

	connected metric.Int64UpDownCounter
	delivered metric.Int64Counter
}

// New returns a gateway whose live feed starts at the stream's current end. It records
// presence in p.
func New(ctx context.Context, cfg Config, cs *consultstore.Store, sessions Sessions, p Presence, log *slog.Logger) (*Gateway, error) {
	cfg.defaults()
	last, err := cs.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	m := otel.Meter("notify")
	connected, _ := m.Int64UpDownCounter("stream_connections", metric.WithDescription("open stream connections"))
	delivered, _ := m.Int64Counter("stream_frames_total", metric.WithDescription("events published to this instance's hub"))
	g := &Gateway{cfg: cfg, consults: cs, sessions: sessions, hub: hub.New(last), states: consult.NewCache(20000), log: log,
		stop: make(chan struct{}), streams: map[*stream]struct{}{}, bySession: map[string]*sessionSet{}, replays: make(chan struct{}, 8),
		presence: p, instance: ulid.Make().String(), now: time.Now, connected: connected, delivered: delivered}
	g.upgrader = websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		// The Origin is checked before the upgrade, with a JSON 403 a person can read.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			apierror.WriteJSON(w, status, apierror.Body{Error: apierror.Detail{Code: consult.Invalid,
				Message: "a WebSocket upgrade is required: " + reason.Error()}})
		},
	}
	return g, nil
}

// Run follows the consult stream and publishes every event to the hub, and closes the
// connections of revoked sessions, until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- g.sessions.WatchRevoked(inner, g.revoke) }()
	go func() { errc <- g.follow(inner) }()
	go g.housekeeping(inner)
	// Whichever part stops first stops the gateway: a feed that died must not look alive.
	err := <-errc
	cancel()
	if err2 := <-errc; err == nil {
		err = err2
	}
	if err == nil && ctx.Err() == nil {
		err = errors.New("gateway: feed or session watch ended")
	}
	return err
}

func (g *Gateway) follow(ctx context.Context) error {
	start := g.hub.Seq()
	return g.consults.Follow(ctx, start, func(ctx context.Context, e event.Event) error {
		// An event is not skipped while its consult's history cannot be read: a client past it
		// could not get it by resuming. The feed waits and tries again. Only an event that can
		// never be folded (a poison message, the same on every instance) is reported and passed.
		for wait := 50 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			err := g.publish(ctx, e)
			if err == nil || ctx.Err() != nil {
				return ctx.Err()
			}
			if bus.IsPermanent(err) {
				g.log.Error("event cannot be delivered: it does not fold", "consult_id", e.ConsultID, "seq", e.StreamSeq, "err", err)
				return nil
			}
			g.log.Error("event not delivered yet; retrying", "consult_id", e.ConsultID, "seq", e.StreamSeq, "in", wait, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	})
}

// publish hands one event to the hub with the states before and after it.
func (g *Gateway) publish(ctx context.Context, e event.Event) error {
	before, err := g.stateBefore(ctx, e, g.states)
	if err != nil {
		return err
	}
	after, err := consult.Apply(before, e)
	if err != nil {
		return bus.Permanent(err)
	}
	f, err := g.frame(e, after)
	if err != nil {
		return bus.Permanent(err)
	}
	g.states.Put(after)
	g.hub.Publish(f, before, after)
	g.delivered.Add(ctx, 1)
	return nil
}

// stateBefore returns the consult's state just before e, from cache or from its history.
func (g *Gateway) stateBefore(ctx context.Context, e event.Event, cache *consult.Cache) (*consult.Consult, error) {
	if e.Position == 1 {
		return nil, nil
	}
	if c := cache.Get(e.ConsultID); c != nil && c.Position() == e.Position-1 {
		return c, nil
	}
	hist, err := g.consults.HistoryUpTo(ctx, e.ConsultID, e.Position-1)
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
	g.mu.Lock()
	if !g.stopping {
		g.stopping = true
		close(g.stop)
	}
	for s := range g.streams {
		go s.shut(CloseRestart, "server restarting, resume with after")
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RosterChanged ends the connections of users who were disabled, removed, or given another
// role or clinic: what they may see is decided again when they reconnect.
func (g *Gateway) RosterChanged(r *roster.Roster) {
	n := g.hub.EndWhere(func(a consult.Actor) bool {
		u, ok := r.User(a.ID)
		return !ok || u.Disabled || u.Role != a.Role || u.ClinicID != a.ClinicID
	}, hub.AccessChanged)
	if n > 0 {
		g.log.Info("stream connections closed after a roster change", "connections", n)
	}
	// Coordinators' boards show the on-call schedule: tell them it changed.
	notice, _ := json.Marshal(map[string]any{"type": "roster.changed", "at": g.now().UTC()})
	g.hub.Notify(notice)
}

// Clients is the number of open connections.
func (g *Gateway) Clients() int { return g.hub.Count() }

// ServeHTTP upgrades an authenticated same-origin request and streams to it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.cfg.Hosts.Allows(r.Host) {
		apierror.Write(w, g.log, consult.Errorf(consult.Forbidden, "this server does not answer for that host name"))
		return
	}
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
			apierror.Write(w, g.log, consult.InvalidFields("after must be a sequence number",
				map[string]problem.Problem{"after": problem.NotAWholeNumber()}))
			return
		}
	}
	s := &stream{g: g, user: u.ID, key: session.Key(token), seq: g.connSeq.Add(1)}
	if !g.admit(w, r, s) { // the user's budget of open connections, before anything is set up
		return
	}
	// Counted before the upgrade, under the lock Shutdown takes, so that Shutdown waits for it.
	g.mu.Lock()
	stopping := g.stopping
	if !stopping {
		g.conns.Add(1)
	}
	g.mu.Unlock()
	if stopping {
		g.forget(s)
		apierror.Write(w, g.log, consult.Errorf(consult.Unavailable, "this gateway is shutting down; reconnect"))
		return
	}
	// A client that does not resume gets what happens from its 101 on: it joins the hub first.
	s.client = hub.NewClient(consult.Actor{ID: u.ID, Role: u.Role, ClinicID: u.ClinicID}, g.cfg.Queue, s.wake)
	// Notices (roster.changed) are frames outside the event sequence: only clients that ask for
	// them get them, so that every frame a plain client reads is an event with a seq.
	s.client.Notices = r.URL.Query().Get("notices") == "1"
	client := s.client
	if !resume {
		after = g.hub.Register(client, 0)
	}
	conn, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if !resume {
			g.hub.Unregister(client)
		}
		g.forget(s)
		g.conns.Done()
		return // the upgrader has answered
	}
	// serve returns once the connection is set up, leaving a small reader goroutine, so the
	// server's deep handler stack and request state are not kept for the hours a connection
	// lasts. Only the trace context is carried over.
	ctx := trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(r.Context()))
	s.conn = conn // before the stream goes live; writers start only then
	g.serve(ctx, s, token, after, resume, g.conns.Done)
}
