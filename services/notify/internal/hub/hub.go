// Package hub owns the live connections of one notify instance: who is connected, which events
// each may see, and fan-out that never blocks the producer. Each client has a bounded queue
// drained by its own writer; a client that falls behind is dropped and resumes with `after`.
package hub

import (
	"sync"
	"sync/atomic"

	"github.com/regionalconsult/broker/pkg/consult"
)

// Reason says why the hub ended a client.
type Reason int32

// Reasons a client is ended.
const (
	// Slow: its queue was full; it resumes with `after`.
	Slow Reason = iota + 1
	// AccessChanged: its user was disabled or changed role or clinic; it must authenticate again.
	AccessChanged
)

// Client is one connection of one user.
type Client struct {
	Actor consult.Actor
	// Notices is set when the client asked for notices as well as events.
	Notices bool
	// Send carries frames to the connection's writer. The hub ends the client instead of
	// blocking when it is full.
	Send chan Frame
	// wake, when set, is called after the hub queued a frame or ended the client, so that the
	// transport writes. It must not block.
	wake   func()
	ended  chan struct{}
	reason atomic.Int32
	once   sync.Once
	// after is the last sequence the client has or will get by replay: live frames at or below
	// it are not sent again.
	after uint64
}

// Frame is one encoded event for the wire.
type Frame struct {
	Seq  uint64
	Data []byte
}

// NewClient returns a client of actor with a queue of queue frames. wake (may be nil) is called,
// without blocking, whenever the hub queued a frame for it or ended it.
func NewClient(actor consult.Actor, queue int, wake func()) *Client {
	return &Client{Actor: actor, Send: make(chan Frame, queue), ended: make(chan struct{}), wake: wake}
}

// Ended is closed when the hub has given up on the client; Reason says why.
func (c *Client) Ended() <-chan struct{} { return c.ended }

// Reason is why the client was ended, once Ended is closed.
func (c *Client) Reason() Reason { return Reason(c.reason.Load()) }

func (c *Client) end(r Reason) {
	c.once.Do(func() {
		c.reason.Store(int32(r))
		close(c.ended)
	})
	c.notify()
}

func (c *Client) notify() {
	if c.wake != nil {
		c.wake()
	}
}

// EndWhere ends every client whose actor matches, for reason r.
func (h *Hub) EndWhere(match func(consult.Actor) bool, r Reason) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.byUser {
		for c := range set {
			if match(c.Actor) {
				c.end(r)
				n++
			}
		}
	}
	return n
}

// Hub is the registry of one instance's clients.
type Hub struct {
	mu           sync.RWMutex
	seq          uint64
	coordinators map[*Client]struct{}
	byClinic     map[string]map[*Client]struct{}
	byUser       map[string]map[*Client]struct{}
	count        int
}

// New returns an empty hub whose feed starts after stream sequence seq.
func New(seq uint64) *Hub {
	return &Hub{seq: seq, coordinators: map[*Client]struct{}{}, byClinic: map[string]map[*Client]struct{}{},
		byUser: map[string]map[*Client]struct{}{}}
}

// Register adds c, which has everything up to after, and returns the sequence from which the
// hub delivers live: the caller replays (after, live] itself, before it starts c's writer, and
// frames the hub queues meanwhile follow the replay in order.
func (h *Hub) Register(c *Client, after uint64) (live uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.after = max(after, h.seq)
	add := func(m map[string]map[*Client]struct{}, k string) {
		if m[k] == nil {
			m[k] = map[*Client]struct{}{}
		}
		m[k][c] = struct{}{}
	}
	switch c.Actor.Role {
	case consult.RoleCoordinator:
		h.coordinators[c] = struct{}{}
	case consult.RoleReferrer:
		add(h.byClinic, c.Actor.ClinicID)
	}
	add(h.byUser, c.Actor.ID)
	h.count++
	return h.seq
}

// Unregister removes c.
func (h *Hub) Unregister(c *Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	del := func(m map[string]map[*Client]struct{}, k string) {
		if set := m[k]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(m, k)
			}
		}
	}
	if _, ok := h.byUser[c.Actor.ID][c]; !ok {
		return
	}
	delete(h.coordinators, c)
	del(h.byClinic, c.Actor.ClinicID)
	del(h.byUser, c.Actor.ID)
	h.count--
}

// Seq is the sequence of the last event published.
func (h *Hub) Seq() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.seq
}

// Count is the number of registered clients.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count
}

// UserClients returns the clients of user id.
func (h *Hub) UserClients(id string) []*Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*Client, 0, len(h.byUser[id]))
	for c := range h.byUser[id] {
		out = append(out, c)
	}
	return out
}

// Publish delivers f, the event that moved a consult from before to after, to every client
// allowed to see it, and records f.Seq as delivered. It never blocks: a client whose queue is
// full is dropped.
func (h *Hub) Publish(f Frame, before, after *consult.Consult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.Seq <= h.seq {
		return
	}
	h.seq = f.Seq
	seen := map[*Client]struct{}{}
	offer := func(set map[*Client]struct{}) {
		for c := range set {
			if _, dup := seen[c]; dup {
				continue
			}
			seen[c] = struct{}{}
			if f.Seq <= c.after || !consult.Sees(c.Actor, before, after) {
				continue
			}
			select {
			case <-c.ended: // it will resume from what it has; nothing after a gap may reach it
				continue
			default:
			}
			select {
			case c.Send <- f:
				c.notify()
			default:
				c.end(Slow)
			}
		}
	}
	offer(h.coordinators)
	offer(h.byClinic[after.ClinicID])
	for _, s := range []*consult.Consult{before, after} {
		if s == nil {
			continue
		}
		for _, id := range s.Holders() {
			offer(h.byUser[id])
		}
		if a := s.Assignee(); a != "" {
			offer(h.byUser[a])
		}
	}
}

// Notify queues data, a notice outside the event sequence (it has no seq and is not replayed),
// to every coordinator that asked for notices. A notice never costs a client its connection: one
// that does not fit the queue is dropped, and the client reloads what it shows when it resumes.
func (h *Hub) Notify(data []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.coordinators {
		if !c.Notices {
			continue
		}
		select {
		case <-c.ended:
			continue
		default:
		}
		select {
		case c.Send <- Frame{Data: data}:
			c.notify()
		default:
		}
	}
}
