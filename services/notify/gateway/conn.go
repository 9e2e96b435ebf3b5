package gateway

import (
	"context"
	"errors"
	"net"
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

// serve runs one connection: replay when resuming, then live frames, pings and session checks, until the
// client goes, falls behind, loses its session, or the gateway shuts down.
func (g *Gateway) serve(ctx context.Context, conn *websocket.Conn, u roster.User, token string, after uint64, resume bool) {
	defer conn.Close()
	if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(g.cfg.SendBuffer)
	}
	actor := consult.Actor{ID: u.ID, Role: u.Role, ClinicID: u.ClinicID}
	c := hub.NewClient(actor, g.cfg.Queue)
	live := g.hub.Register(c, after)
	defer g.hub.Unregister(c)
	g.connected.Add(ctx, 1)
	defer g.connected.Add(ctx, -1)
	defer g.present(ctx, u.ID)()

	revoked, release := g.watchSession(session.Key(token)) // before the replay, which may take a while
	defer release()
	if resume && after < live {
		if at, err := g.bus.StoredAt(ctx, after+1); err == nil && g.now().Sub(at) > g.cfg.ReplayWindow {
			g.close(conn, CloseHistoryGone, "history older than the replay window: reload, then reconnect without after")
			return
		}
		if err := g.replay(ctx, conn, actor, after, live); err != nil {
			g.log.Warn("replay failed; closing so the client retries", "user_id", u.ID, "after", after, "err", err)
			g.close(conn, websocket.CloseTryAgainLater, "replay failed, reconnect")
			return
		}
	}

	gone := make(chan struct{})
	go g.read(conn, gone)
	ping := time.NewTicker(g.cfg.PingEvery)
	defer ping.Stop()
	check := time.NewTicker(g.cfg.SessionCheck)
	defer check.Stop()
	for {
		select {
		case f := <-c.Send:
			if err := g.write(conn, f.Data); err != nil {
				return
			}
		case <-c.Ended():
			if c.Reason() == hub.Slow {
				g.close(conn, CloseSlow, "too slow, resume with after")
			} else {
				g.close(conn, CloseSessionEnded, "access changed, authenticate again")
			}
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		case <-revoked:
			g.close(conn, CloseSessionEnded, "session ended")
			return
		case <-check.C: // catches expiry and a user disabled in the roster
			if _, err := g.sessions.Lookup(ctx, token); errors.Is(err, session.ErrNoSession) {
				g.close(conn, CloseSessionEnded, "session ended")
				return
			}
		case <-g.stop:
			g.close(conn, CloseRestart, "server restarting, resume with after")
			return
		case <-gone:
			return
		}
	}
}

// read consumes what the client sends (nothing is expected but control frames) and notices
// when it goes away.
func (g *Gateway) read(conn *websocket.Conn, gone chan<- struct{}) {
	defer close(gone)
	conn.SetReadLimit(maxInbound)
	wait := 3 * g.cfg.PingEvery
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wait)) })
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
	}
}

func (g *Gateway) write(conn *websocket.Conn, data []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return conn.WriteMessage(websocket.TextMessage, data)
}

func (g *Gateway) close(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// replay sends the events in (after, upto] that actor may see, in order.
func (g *Gateway) replay(ctx context.Context, conn *websocket.Conn, actor consult.Actor, after, upto uint64) error {
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
		return g.write(conn, f.Data)
	})
}
