package gateway

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/redis/presence"
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
			if g.checking.CompareAndSwap(false, true) { // skip a round while the last one runs
				go func() { defer g.checking.Store(false); g.checkSessions(ctx) }()
			}
		}
	}
}

// checkSessions closes the connections of sessions that expired, of users disabled, and of
// users whose role or clinic changed, since the connection decided what they may see.
func (g *Gateway) checkSessions(ctx context.Context) {
	g.mu.Lock()
	type open struct {
		token  string
		actors map[*stream]struct{}
	}
	sessions := make(map[string]open, len(g.bySession))
	for key, set := range g.bySession {
		sessions[key] = open{token: set.token, actors: maps.Clone(set.streams)}
	}
	g.mu.Unlock()
	for key, o := range sessions {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		u, err := g.sessions.Lookup(cctx, o.token)
		cancel()
		switch {
		case errors.Is(err, session.ErrNoSession):
			g.revoke(key)
		case err == nil:
			for s := range o.actors {
				if a := s.client.Actor; a.Role != u.Role || a.ClinicID != u.ClinicID {
					go s.shut(CloseSessionEnded, "access changed, authenticate again")
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// id names s in presence records: unique among every instance's connections, and naming its
// session, by which presence counts a session's connections.
func (s *stream) id() string { return presence.ConnID(s.name(), s.key) }

// name names s among every instance's connections.
func (s *stream) name() string { return s.g.instance + "-" + strconv.FormatUint(s.seq, 10) }
