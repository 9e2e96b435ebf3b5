package gateway

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

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

	mu        sync.Mutex
	live      bool // the replay is done: live frames may be written; guarded by mu
	writing   bool // a writer goroutine is running; guarded by mu
	pingDue   atomic.Bool
	closeOnce sync.Once
}

// serve sets up one connection (replay when resuming) and hands it to a reader goroutine of its
// own, calling ended once the connection is over. Live frames arrive through the hub.
// A client that does not resume is registered in the hub already, as of after.
func (g *Gateway) serve(ctx context.Context, s *stream, token string, after uint64, resume bool, ended func()) {
	conn, client := s.conn, s.client
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
	if !resume {
		cleanup = append(cleanup, func() { g.hub.Unregister(client) })
	}
	// Admitted (and so present) before the upgrade; forgotten after untrack, so that no refresh
	// brings it back.
	cleanup = append(cleanup, func() { g.forget(s) })
	if !g.track(s, token) {
		s.shut(CloseRestart, "server restarting, resume with after")
		finish()
		return
	}
	cleanup = append(cleanup, func() { g.untrack(s) })

	if resume {
		var ok bool
		if after, ok = g.catchUp(ctx, s, after, finish); !ok {
			return
		}
	}
	g.connected.Add(ctx, 1)
	cleanup = append(cleanup, func() { g.connected.Add(ctx, -1) })
	if resume {
		live := g.hub.Register(client, after)
		cleanup = append(cleanup, func() { g.hub.Unregister(client) })
		if err := g.replay(ctx, s, after, live); err != nil {
			g.replayFailed(s, after, err, finish)
			return
		}
	}
	s.mu.Lock()
	s.live = true
	s.mu.Unlock()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live && !s.writing {
		s.writing = true
		go s.write()
	}
}

// write drains the queue, then exits. Only one runs per connection at a time.
func (s *stream) write() {
	for {
		if closed(s.client.Ended()) {
			if s.client.Reason() == hub.Slow {
				s.shut(CloseSlow, "too slow, resume with after")
			} else {
				s.shut(CloseSessionEnded, "access changed, authenticate again")
			}
			return // writing stays set: nothing more is written
		}
		if s.pingDue.CompareAndSwap(true, false) {
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				s.conn.Close() // the reader notices and cleans up
				return
			}
		}
		select {
		case f := <-s.client.Send:
			if err := s.send(f.Data); err != nil {
				s.conn.Close()
				return
			}
			continue
		default:
		}
		// Nothing left: stop, unless something arrived since (wake holds the same lock).
		s.mu.Lock()
		if len(s.client.Send) == 0 && !s.pingDue.Load() && !closed(s.client.Ended()) {
			s.writing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
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
