package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/pkg/session"
	"github.com/regionalconsult/broker/services/notify/internal/hub"
)

const (
	writeTimeout = 10 * time.Second
	maxInbound   = 4 << 10
)

// stream is one open connection. An idle connection costs one goroutine, the reader: frames,
// pings and the closing frame are written by a writer goroutine that runs only while there is
// something to write, so ten thousand idle clinicians cost little.
type stream struct {
	g      *Gateway
	conn   *websocket.Conn
	client *hub.Client
	user   string
	key    string // session key
	seq    uint64 // numbers the connection within this instance

	live      atomic.Bool // the replay is done: live frames may be written
	writing   atomic.Bool // a writer goroutine is running
	pingDue   atomic.Bool
	closeOnce sync.Once
}

// serve sets up one connection (replay when resuming) and hands it to a reader goroutine of its
// own, calling ended once the connection is over. Live frames arrive through the hub.
func (g *Gateway) serve(ctx context.Context, conn *websocket.Conn, u roster.User, token string, after uint64, resume bool, ended func()) {
	var cleanup []func()
	finish := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		_ = conn.Close()
		ended()
	}
	if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(g.cfg.SendBuffer)
	}
	actor := consult.Actor{ID: u.ID, Role: u.Role, ClinicID: u.ClinicID}
	s := &stream{g: g, conn: conn, client: hub.NewClient(actor, g.cfg.Queue), user: u.ID, key: session.Key(token),
		seq: g.connSeq.Add(1)}
	s.client.Wake = s.wake
	if !g.track(s, token) {
		s.shut(CloseRestart, "server restarting, resume with after")
		finish()
		return
	}
	cleanup = append(cleanup, func() { g.untrack(s) })
	live := g.hub.Register(s.client, after)
	cleanup = append(cleanup, func() { g.hub.Unregister(s.client) })
	g.connected.Add(ctx, 1)
	cleanup = append(cleanup, func() { g.connected.Add(ctx, -1) })
	cleanup = append(cleanup, g.present(ctx, s))

	if resume && after < live {
		if at, err := g.bus.StoredAt(ctx, after+1); err == nil && g.now().Sub(at) > g.cfg.ReplayWindow {
			s.shut(CloseHistoryGone, "history older than the replay window: reload, then reconnect without after")
			finish()
			return
		}
		if err := g.replay(ctx, s, actor, after, live); err != nil {
			g.log.Warn("replay failed; closing so the client retries", "user_id", u.ID, "after", after, "err", err)
			s.shut(websocket.CloseTryAgainLater, "replay failed, reconnect")
			finish()
			return
		}
	}
	s.live.Store(true)
	s.wake() // frames that arrived during the replay
	// The setup above ran deep calls (Redis, tracing) that grew this goroutine's stack; the hours
	// of waiting for the client run on a fresh, small one, and this one ends.
	go func() {
		defer finish()
		s.read()
	}()
}

// read consumes what the client sends (nothing is expected but control frames) until the
// connection fails or is closed; a client silent for three ping periods is gone.
func (s *stream) read() {
	s.conn.SetReadLimit(maxInbound)
	wait := 3 * s.g.cfg.PingEvery
	_ = s.conn.SetReadDeadline(time.Now().Add(wait))
	s.conn.SetPongHandler(func(string) error { return s.conn.SetReadDeadline(time.Now().Add(wait)) })
	for {
		if _, _, err := s.conn.NextReader(); err != nil {
			return
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(wait))
	}
}

// wake makes sure a writer runs if there is anything to write. The hub calls it after queueing
// a frame or ending the client; the housekeeping loop after asking for a ping.
func (s *stream) wake() {
	if s.live.Load() && s.writing.CompareAndSwap(false, true) {
		go s.write()
	}
}

// write drains the queue, then exits. Only one runs per connection at a time.
func (s *stream) write() {
	for {
		select {
		case <-s.client.Ended():
			if s.client.Reason() == hub.Slow {
				s.shut(CloseSlow, "too slow, resume with after")
			} else {
				s.shut(CloseSessionEnded, "access changed, authenticate again")
			}
			return // writing stays set: nothing more is written
		case f := <-s.client.Send:
			if err := s.send(f.Data); err != nil {
				s.conn.Close() // the reader notices and cleans up
				return
			}
			continue
		default:
		}
		if s.pingDue.CompareAndSwap(true, false) {
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				s.conn.Close()
				return
			}
			continue
		}
		s.writing.Store(false)
		// A frame queued between the last check and the store above must not wait for the next.
		if len(s.client.Send) == 0 && !s.pingDue.Load() && !closed(s.client.Ended()) {
			return
		}
		if !s.writing.CompareAndSwap(false, true) {
			return // another writer took over
		}
	}
}

func (s *stream) send(data []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return s.conn.WriteMessage(websocket.TextMessage, data)
}

// shut tells the client why it is being closed and closes the connection, once. It may block for
// up to a second, so callers holding locks run it on a goroutine of its own.
func (s *stream) shut(code int, reason string) {
	s.closeOnce.Do(func() {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = s.conn.Close()
	})
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// replay sends the events in (after, upto] that actor may see, in order, before any live frame.
func (g *Gateway) replay(ctx context.Context, s *stream, actor consult.Actor, after, upto uint64) error {
	// A restart sends every client back at once; replays take turns so the live feed and the
	// stream keep up. Frames queued meanwhile wait in the client's queue.
	select {
	case g.replays <- struct{}{}:
		defer func() { <-g.replays }()
	case <-g.stop:
		return errors.New("shutting down")
	}
	local := consult.NewCache(4096)
	return g.bus.Replay(ctx, after, upto, func(e event.Event) error {
		before, err := g.stateBefore(ctx, e, local)
		if err != nil {
			return err
		}
		next, err := consult.Apply(before, e)
		if err != nil {
			return err
		}
		local.Put(next)
		if !consult.Sees(actor, before, next) {
			return nil
		}
		f, err := g.frame(e, next)
		if err != nil {
			return err
		}
		return s.send(f.Data)
	})
}
