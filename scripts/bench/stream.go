package main

// The client side of the connections and fanout modes: many WebSocket connections to
// /api/v1/stream through one shared gorilla dialer, each with one goroutine reading. Idle
// ("background") connections only read, which also answers the server's pings; measured
// ("subscriber") connections find each frame's type and consult_id in its first bytes and
// record the arrival time of consult.requested frames into a slice allocated up front.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// newDialer is the one dialer every connection of a run shares. With srcIPs > 1 it spreads
// connections over the loopback source addresses 127.0.0.1 .. 127.0.0.srcIPs (each has its
// own ephemeral port range); with 1 the kernel picks 127.0.0.1 itself.
func newDialer(srcIPs int) *websocket.Dialer {
	d := &websocket.Dialer{
		HandshakeTimeout: 15 * time.Second,
		ReadBufferSize:   4096, // a backlog of frames is read in few syscalls
		WriteBufferSize:  256,  // the client only ever writes pongs and a close
		WriteBufferPool:  &sync.Pool{},
	}
	if srcIPs <= 1 {
		nd := &net.Dialer{Timeout: 15 * time.Second}
		d.NetDialContext = nd.DialContext
		return d
	}
	dialers := make([]*net.Dialer, srcIPs)
	for i := range dialers {
		dialers[i] = &net.Dialer{Timeout: 15 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}}
	}
	var next atomic.Uint64
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialers[next.Add(1)%uint64(len(dialers))].DialContext(ctx, network, addr)
	}
	return d
}

// dialStats describes how opening a batch of connections went.
type dialStats struct {
	took     time.Duration
	retries  int
	failures map[string]int // reasons of attempts that failed (retried or not)
}

// dialAll opens n connections to url, header(i) giving connection i's headers (its session
// cookie), at most conc handshakes at a time. An attempt that fails is retried twice after a
// pause; a connection that still fails is nil in the result. progress, if set, is called as
// connections open.
func dialAll(ctx context.Context, d *websocket.Dialer, url string, n, conc int, header func(i int) http.Header, progress func(opened int)) ([]*websocket.Conn, dialStats) {
	conns := make([]*websocket.Conn, n)
	st := dialStats{failures: map[string]int{}}
	var mu sync.Mutex
	var opened atomic.Int64
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
				if attempt > 0 {
					mu.Lock()
					st.retries++
					mu.Unlock()
					time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
				}
				c, resp, err := d.DialContext(ctx, url, header(i))
				if err == nil {
					conns[i] = c
					if k := opened.Add(1); progress != nil {
						progress(int(k))
					}
					return
				}
				reason := errReason(err)
				if resp != nil {
					reason = fmt.Sprintf("HTTP %d", resp.StatusCode)
				}
				mu.Lock()
				st.failures[reason]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.took = time.Since(t0)
	return conns, st
}

// errReason names why a connection failed or ended, without addresses and ports, so that
// reasons can be counted.
func errReason(err error) string {
	var ce *websocket.CloseError
	var oe *net.OpError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d %q", ce.Code, ce.Text)
	case errors.As(err, &oe):
		return oe.Op + ": " + oe.Err.Error()
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected EOF (closed without a close frame)"
	default:
		return err.Error()
	}
}

// tally counts reasons.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[reason]++
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return formatCounts(t.m)
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return m[b] - m[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d x %s", m[k], k)
	}
	return strings.Join(parts, "; ")
}

// background is a set of connections that only read: frames are counted and dropped unread
// (NextReader skips the rest of the previous message), pings are answered by gorilla's
// default ping handler inside NextReader.
type background struct {
	conns  []*websocket.Conn
	frames []atomic.Int64 // per connection
	open   atomic.Int64
	ended  tally
	wg     sync.WaitGroup
}

func startBackground(conns []*websocket.Conn) *background {
	b := &background{conns: conns, frames: make([]atomic.Int64, len(conns))}
	for i, c := range conns {
		if c == nil {
			continue
		}
		b.open.Add(1)
		b.wg.Go(func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					b.open.Add(-1)
					b.ended.add(errReason(err))
					return
				}
				b.frames[i].Add(1)
			}
		})
	}
	return b
}

// close closes every connection and waits for the readers.
func (b *background) close() {
	for _, c := range b.conns {
		if c != nil {
			_ = c.Close()
		}
	}
	b.wg.Wait()
}

// idKey holds a consult id without allocating (ULIDs have 26 characters, UUIDs 36).
type idKey [40]byte

func keyOf(id []byte) (idKey, bool) {
	var k idKey
	if len(id) == 0 || len(id) > len(k) {
		return k, false
	}
	copy(k[:], id)
	return k, true
}

type arrival struct {
	at time.Duration // since the run's base time
	id idKey
}

// subscriber is a measured connection: it records when each consult.requested frame arrived.
type subscriber struct {
	conn     *websocket.Conn
	base     time.Time
	arr      []arrival    // fixed capacity, written only by the reader
	n        atomic.Int64 // arr[:n] is published
	overflow atomic.Int64 // consult.requested frames that did not fit
	other    atomic.Int64 // frames of other types
	slow     atomic.Int64 // frames whose head did not hold type and consult_id (fully decoded)
	bad      atomic.Int64 // frames that could not be decoded at all
	done     chan struct{}
	err      error // why the reader ended, once done is closed
}

const typeRequested = "consult.requested"

func startSubscriber(conn *websocket.Conn, base time.Time, capacity int) *subscriber {
	s := &subscriber{conn: conn, base: base, arr: make([]arrival, capacity), done: make(chan struct{})}
	go s.read()
	return s
}

func (s *subscriber) read() {
	defer close(s.done)
	var head [512]byte
	var full []byte
	for {
		_, r, err := s.conn.NextReader()
		if err != nil {
			s.err = err
			return
		}
		at := time.Since(s.base)
		n, rerr := io.ReadFull(r, head[:])
		typ, id, ok := scanHead(head[:n])
		if !ok {
			// Rare: the fields are not in the frame's first bytes. Decode the whole frame, into
			// a struct of just those two fields.
			s.slow.Add(1)
			full = append(full[:0], head[:n]...)
			if rerr == nil {
				if full, rerr = appendAll(full, r); rerr != nil {
					s.err = rerr
					return
				}
			}
			var f struct {
				Type      string `json:"type"`
				ConsultID string `json:"consult_id"`
			}
			if json.Unmarshal(full, &f) != nil {
				s.bad.Add(1)
				continue
			}
			typ, id = []byte(f.Type), []byte(f.ConsultID)
		}
		if string(typ) != typeRequested {
			s.other.Add(1)
			continue
		}
		k, good := keyOf(id)
		if !good {
			s.bad.Add(1)
			continue
		}
		i := s.n.Load()
		if int(i) == len(s.arr) {
			s.overflow.Add(1)
			continue
		}
		s.arr[i] = arrival{at: at, id: k}
		s.n.Store(i + 1)
	}
}

func (s *subscriber) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func appendAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// scanHead reads the top-level members of a JSON object from the start of b until it has the
// string members "type" and "consult_id", without allocating. It gives up (ok false) at a
// nested value, an escaped string or the end of b before both were found; the caller then
// decodes the whole frame. The gateway writes seq, type, consult_id and at before the consult,
// so the first few dozen bytes suffice.
func scanHead(b []byte) (typ, id []byte, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, nil, false
	}
	i++
	for {
		i = skipSpace(b, i)
		key, j, good := scanString(b, i)
		if !good {
			return nil, nil, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, nil, false
		}
		switch c := b[i]; {
		case c == '"':
			v, j, good := scanString(b, i)
			if !good {
				return nil, nil, false
			}
			switch string(key) {
			case "type":
				typ = v
			case "consult_id":
				id = v
			}
			i = j
		case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
			for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
				i++
			}
		default: // an object or array
			return nil, nil, false
		}
		if typ != nil && id != nil {
			return typ, id, true
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return nil, nil, false
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the contents of the string starting at b[i] (a quote) and the index after
// it; ok is false for an escape sequence or a string cut off by the end of b.
func scanString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			return nil, i, false
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, i, false
}

// waitSubscribers waits until every subscriber has recorded at least want frames or has ended,
// until deadline or ctx ends. It returns how many subscribers fell short.
func waitSubscribers(ctx context.Context, subs []*subscriber, want int64, deadline time.Time) int {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		short := 0
		for _, s := range subs {
			if s.n.Load() < want && !s.ended() {
				short++
			}
		}
		if short == 0 || !time.Now().Before(deadline) {
			return short
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return short
		}
	}
}

// sent is one measured consult: its id and when its POST was about to be sent.
type sentEvent struct {
	id   idKey
	sent time.Duration // since the run's base time
}

// delivery is what the subscribers saw of the measured events.
type delivery struct {
	all        []time.Duration // every (subscriber, event) pair seen
	first      []time.Duration // per event, the fastest subscriber
	last       []time.Duration // per event, the slowest subscriber (events every subscriber saw)
	missing    int             // (subscriber, event) pairs not seen
	duplicates int
	unknown    int // consult.requested frames for consults the run did not submit
	other      int64
	slow       int64
	bad        int64
	overflow   int64
	ended      map[string]int // subscribers whose connection ended, by reason
}

// measureDelivery matches each subscriber's arrivals to the events (skipping the warm-up
// consult) after the readers have recorded what they will.
func measureDelivery(subs []*subscriber, events []sentEvent, warm idKey) delivery {
	var d delivery
	d.ended = map[string]int{}
	index := make(map[idKey]int, len(events))
	for i, e := range events {
		index[e.id] = i
	}
	first := make([]time.Duration, len(events))
	last := make([]time.Duration, len(events))
	count := make([]int, len(events))
	seen := make([]bool, len(events))
	d.all = make([]time.Duration, 0, len(subs)*len(events))
	for _, s := range subs {
		clear(seen)
		n := int(s.n.Load())
		for _, a := range s.arr[:n] {
			i, ok := index[a.id]
			if !ok {
				if a.id != warm {
					d.unknown++
				}
				continue
			}
			if seen[i] {
				d.duplicates++
				continue
			}
			seen[i] = true
			lat := a.at - events[i].sent
			d.all = append(d.all, lat)
			if count[i] == 0 || lat < first[i] {
				first[i] = lat
			}
			if count[i] == 0 || lat > last[i] {
				last[i] = lat
			}
			count[i]++
		}
		for _, ok := range seen {
			if !ok {
				d.missing++
			}
		}
		d.other += s.other.Load()
		d.slow += s.slow.Load()
		d.bad += s.bad.Load()
		d.overflow += s.overflow.Load()
		if s.ended() {
			d.ended[errReason(s.err)]++
		}
	}
	for i := range events {
		if count[i] > 0 {
			d.first = append(d.first, first[i])
		}
		if count[i] == len(subs) {
			d.last = append(d.last, last[i])
		}
	}
	return d
}
