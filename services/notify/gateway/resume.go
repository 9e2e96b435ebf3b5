package gateway

// How a client resumes its stream. Every frame carries the stream sequence of its event; a
// client that reconnects with ?after=<the last seq it saw> gets, before any live frame, every
// event after it that it may see, in order, and then the live feed, with no gap and no
// duplicate. A resume from beyond the stream's end, or from further back than the replay
// window, is closed with CloseHistoryGone (4009): the client reloads its view and reconnects
// without after. A replay that fails closes with "try again later"; the client retries.

import (
	"context"
	"errors"

	"github.com/gorilla/websocket"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// catchUpGap is how far behind the live feed a resuming client may join it; beyond that it
// first catches up from the stream.
const catchUpGap = 16

// replayFailed closes a connection whose replay failed, so that its client tries again.
func (g *Gateway) replayFailed(s *stream, after uint64, err error, finish func()) {
	g.log.Warn("replay failed; closing so the client retries", "user_id", s.user, "after", after, "err", err)
	s.shut(websocket.CloseTryAgainLater, "replay failed, reconnect")
	finish()
}

// catchUp checks that a resume from after can be served, then replays from the stream while
// the client is far behind the live feed. It returns where the client now is, or false when
// it closed the connection (and called finish).
func (g *Gateway) catchUp(ctx context.Context, s *stream, after uint64, finish func()) (uint64, bool) {
	last, err := g.consults.LastSeq(ctx)
	if err == nil && after > last {
		s.shut(CloseHistoryGone, "after is beyond this stream's history: reload, then reconnect without after")
		finish()
		return 0, false
	}
	if after < last {
		if at, err := g.consults.StoredAt(ctx, after+1); err == nil && g.now().Sub(at) > g.cfg.ReplayWindow {
			s.shut(CloseHistoryGone, "history older than the replay window: reload, then reconnect without after")
			finish()
			return 0, false
		}
	}
	// Catch up from the stream while far behind, before joining the live feed, so that the
	// frames queued for the client meanwhile stay few.
	for target := g.hub.Seq(); target > after+catchUpGap; target = g.hub.Seq() {
		if err := g.replay(ctx, s, after, target); err != nil {
			g.replayFailed(s, after, err, finish)
			return 0, false
		}
		after = target
	}
	return after, true
}

// replay sends the events in (after, upto] that actor may see, in order, before any live frame.
func (g *Gateway) replay(ctx context.Context, s *stream, after, upto uint64) error {
	actor := s.client.Actor
	// A restart sends every client back at once; replays take turns so the live feed and the
	// stream keep up. Frames queued meanwhile wait in the client's queue.
	select {
	case g.replays <- struct{}{}:
		defer func() { <-g.replays }()
	case <-g.stop:
		return errors.New("shutting down")
	}
	local := consult.NewCache(4096)
	return g.consults.Replay(ctx, after, upto, func(e event.Event) error {
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
