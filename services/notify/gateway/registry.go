package gateway

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/regionalconsult/broker/pkg/session"
)

// sessionSet is the open connections of one login session.
type sessionSet struct {
	token   string
	streams map[*stream]struct{}
}

// track registers s, opened with token; it returns false once the gateway is shutting down.
func (g *Gateway) track(s *stream, token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return false
	}
	g.streams[s] = struct{}{}
	set := g.bySession[s.key]
	if set == nil {
		set = &sessionSet{token: token, streams: map[*stream]struct{}{}}
		g.bySession[s.key] = set
	}
	set.streams[s] = struct{}{}
	return true
}

func (g *Gateway) untrack(s *stream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.streams, s)
	if set := g.bySession[s.key]; set != nil {
		delete(set.streams, s)
		if len(set.streams) == 0 {
			delete(g.bySession, s.key)
		}
	}
}

// revoke closes every connection of the session with key, as soon as any instance revokes it.
func (g *Gateway) revoke(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if set := g.bySession[key]; set != nil {
		for s := range set.streams {
			go s.shut(CloseSessionEnded, "session ended")
		}
	}
}

// housekeeping pings every connection, keeps this instance's connections present in Redis and
// checks the sessions of open connections for expiry, until ctx ends.
func (g *Gateway) housekeeping(ctx context.Context) {
	ping := time.NewTicker(g.cfg.PingEvery)
	defer ping.Stop()
	present := time.NewTicker(g.presence.TTL() / 3)
	defer present.Stop()
	check := time.NewTicker(g.cfg.SessionCheck)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			g.mu.Lock()
			for s := range g.streams {
				s.pingDue.Store(true)
				s.wake()
			}
			g.mu.Unlock()
		case <-present.C:
			g.mu.Lock()
			conns := map[string][]string{}
			for s := range g.streams {
				conns[s.user] = append(conns[s.user], s.id())
			}
			g.mu.Unlock()
			if err := g.presence.Refresh(ctx, conns); err != nil {
				g.log.Warn("presence not refreshed", "err", err)
			}
		case <-check.C:
			g.mu.Lock()
			tokens := make(map[string]string, len(g.bySession))
			for key, set := range g.bySession {
				tokens[key] = set.token
			}
			g.mu.Unlock()
			for key, token := range tokens {
				if _, err := g.sessions.Lookup(ctx, token); errors.Is(err, session.ErrNoSession) {
					g.revoke(key) // expired, or its user disabled
				}
			}
		}
	}
}

// id names s in presence records.
func (s *stream) id() string { return s.g.instance + "-" + strconv.FormatUint(s.seq, 10) }

// present records s in presence and returns the function that forgets it.
func (g *Gateway) present(ctx context.Context, s *stream) func() {
	if err := g.presence.Connected(ctx, s.user, s.id()); err != nil {
		g.log.Warn("presence not recorded", "user_id", s.user, "err", err)
	}
	return func() {
		if err := g.presence.Disconnected(context.WithoutCancel(ctx), s.user, s.id()); err != nil {
			g.log.Warn("presence not cleared; it lapses by itself", "user_id", s.user, "err", err)
		}
	}
}
