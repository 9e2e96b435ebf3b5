package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/http/hosts"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/nats/session"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
	"github.com/regionalconsult/broker/pkg/roster"
	"github.com/regionalconsult/broker/services/notify/gateway"
)

// env is one broker's worth of infrastructure: NATS, Redis, the directory and sessions.
type env struct {
	b        *consultstore.Store
	raw      *bus.Bus
	dir      *directory.Directory
	sessions *session.Store
	tracker  *presence.Tracker
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	b, raw := testenv.Consults(t)
	_, url := testenv.Redis(t)
	rdb, err := readmodel.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	dir, err := directory.Open(ctx, raw, testenv.Logger(t))
	require.NoError(t, err)
	_, err = dir.Seed(ctx, roster.DemoJSON())
	require.NoError(t, err)
	sessions, err := session.Open(ctx, raw, dir, session.Limits{})
	require.NoError(t, err)
	return &env{b: b, raw: raw, dir: dir, sessions: sessions, tracker: presence.New(rdb, "t:", 30*time.Second)}
}

// gateway starts one gateway instance and returns its stream URL.
func (e *env) gateway(t *testing.T, cfg gateway.Config) (string, *gateway.Gateway) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := gateway.New(ctx, cfg, e.b, e.sessions, e.tracker, testenv.Logger(t))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = gw.Run(ctx) }()
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = gw.Shutdown(sctx)
		srv.Close()
		cancel()
		<-done
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/stream", gw
}

func (e *env) login(t *testing.T, user string) string {
	t.Helper()
	token, _, err := e.sessions.Login(context.Background(), user, "demo")
	require.NoError(t, err)
	return token
}

// submit stores a new consult from referrer1 and returns its id.
func (e *env) submit(t *testing.T) string {
	t.Helper()
	age := 4
	id := ulid.Make().String()
	ev, err := consult.Submit(consult.Actor{ID: "u-referrer1", Role: consult.RoleReferrer, ClinicID: "hebron"},
		consult.Draft{Urgency: "urgent", Specialty: "pediatric-oncology", Patient: &consult.DraftPatient{AgeYears: &age, Sex: "female"}, Question: "q"},
		id, "", consult.Policy{KnownSpecialty: func(string) bool { return true }}, time.Now())
	require.NoError(t, err)
	ev.ID = ulid.Make().String()
	_, err = e.b.Append(context.Background(), nil, ev)
	require.NoError(t, err)
	return id
}

type frame struct {
	Seq       uint64 `json:"seq"`
	Type      string `json:"type"`
	ConsultID string `json:"consult_id"`
}

func dial(t *testing.T, url, token string, after int64, opts ...func(*websocket.Dialer)) *websocket.Conn {
	t.Helper()
	if after >= 0 {
		url += fmt.Sprintf("?after=%d", after)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&d)
	}
	conn, _, err := d.Dial(url, http.Header{"Cookie": {session.CookieName + "=" + token}})
	require.NoError(t, err)
	return conn
}

// dialNotices opens a stream that also receives notices (roster.changed).
func dialNotices(t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(url+"?notices=1", http.Header{"Cookie": {session.CookieName + "=" + token}})
	require.NoError(t, err)
	return conn
}

func read(conn *websocket.Conn, wait time.Duration) (frame, error) {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	var f frame
	_, data, err := conn.ReadMessage()
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(data, &f)
}

// readUntil reads frames until one with seq >= last arrives and returns their seqs.
func readUntil(t *testing.T, conn *websocket.Conn, last uint64) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		f, err := read(conn, 10*time.Second)
		require.NoError(t, err, "after %d frames", len(seqs))
		seqs = append(seqs, f.Seq)
		if f.Seq >= last {
			return seqs
		}
	}
}

func closeCode(err error) int {
	if ce, ok := err.(*websocket.CloseError); ok {
		return ce.Code
	}
	return 0
}

func TestTwoGatewaysDeliverTheSameEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url1, _ := e.gateway(t, gateway.Config{})
	url2, _ := e.gateway(t, gateway.Config{})
	token := e.login(t, "coord1")
	c1, c2 := dial(t, url1, token, -1), dial(t, url2, token, -1)
	defer c1.Close()
	defer c2.Close()
	for range 20 {
		e.submit(t)
	}
	last, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	s1, s2 := readUntil(t, c1, last), readUntil(t, c2, last)
	assert.Len(t, s1, 20)
	assert.Equal(t, s1, s2, "got different sequences from the two gateways")
}

// Clients that drop at random moments during a burst and resume with `after` on either
// gateway end up with exactly the sequence a client that never dropped saw.
func TestResumeIsExactUnderRandomDrops(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	urls := make([]string, 2)
	urls[0], _ = e.gateway(t, gateway.Config{})
	urls[1], _ = e.gateway(t, gateway.Config{})
	start, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	coord, ref := e.login(t, "coord1"), e.login(t, "referrer1")
	steady := dial(t, urls[0], coord, -1)
	defer steady.Close()

	const consults = 120
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range consults {
			e.submit(t)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	type flaky struct {
		token string
		seqs  []uint64
	}
	clients := []*flaky{{token: coord}, {token: coord}, {token: ref}, {token: ref}}
	var wg sync.WaitGroup
	var last uint64
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			after := int64(start)
			for k := 0; ; k++ {
				conn := dial(t, urls[k%2], c.token, after) // alternate instances on every reconnect
				n := 1 + rng.IntN(12)
				for range n {
					f, err := read(conn, 3*time.Second)
					if err != nil {
						break // nothing more for now: the burst may be over
					}
					c.seqs = append(c.seqs, f.Seq)
					after = int64(f.Seq)
				}
				conn.Close() // an abrupt drop, mid-burst
				select {
				case <-done:
					if k > 50 || after >= int64(lastSeen(&last)) && lastSeen(&last) > 0 {
						return
					}
				default:
				}
			}
		}()
	}
	<-done
	final, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	setLast(&last, final)
	wg.Wait()
	want := readUntil(t, steady, final)
	require.Len(t, want, consults)
	for i, c := range clients {
		if c.token == coord {
			assert.Equal(t, want, c.seqs, "client %d (coordinator): got a different sequence", i)
		} else {
			assert.Equal(t, want, c.seqs, "client %d (referrer of the same clinic): got a different sequence", i)
		}
	}
}

var lastMu sync.Mutex

func lastSeen(p *uint64) uint64   { lastMu.Lock(); defer lastMu.Unlock(); return *p }
func setLast(p *uint64, v uint64) { lastMu.Lock(); defer lastMu.Unlock(); *p = v }

func TestSlowClientIsDroppedOthersUnharmed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, gw := e.gateway(t, gateway.Config{Queue: 128, SendBuffer: 8 << 10})
	token := e.login(t, "coord1")
	fast := dial(t, url, token, -1)
	defer fast.Close()
	slow := dial(t, url, token, -1, func(d *websocket.Dialer) {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		}
	})
	defer slow.Close()
	require.Eventually(t, func() bool { return gw.Clients() == 2 }, 5*time.Second, 10*time.Millisecond)

	const events = 1500
	start, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	fastGot := make(chan int, 1)
	go func() { // the fast client keeps reading while the events are produced
		n := 0
		for uint64(n) < events {
			if _, err := read(fast, 10*time.Second); err != nil {
				break
			}
			n++
		}
		fastGot <- n
	}()
	for range events {
		e.submit(t)
	}
	last, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	require.Equal(t, start+events, last)
	assert.Equal(t, events, <-fastGot, "the fast client must get every event")
	require.Eventually(t, func() bool { return gw.Clients() == 1 }, 10*time.Second, 20*time.Millisecond, "the slow client was not dropped")

	// The slow client drains what reached its socket, then learns it must resume.
	got := 0
	for {
		_, err := read(slow, 5*time.Second)
		if err != nil {
			// 4008 when the close frame still fit into the socket; 1006 (closed without a frame)
			// when even that could not be written to a client this far behind.
			code := closeCode(err)
			assert.Contains(t, []int{gateway.CloseSlow, websocket.CloseAbnormalClosure}, code, "got close code %d (%v)", code, err)
			break
		}
		got++
	}
	assert.Less(t, got, events, "the slow client got everything; the test did not make it slow")
}

func TestDisabledUserIsDisconnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, gw := e.gateway(t, gateway.Config{})
	e.dir.OnChange(gw.RosterChanged)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.dir.Watch(ctx) }()
	onc1 := dial(t, url, e.login(t, "onc1"), -1)
	defer onc1.Close()
	coord := dialNotices(t, url, e.login(t, "coord1"))
	defer coord.Close()
	plain := dial(t, url, e.login(t, "coord1"), -1)
	defer plain.Close()
	require.Eventually(t, func() bool { return gw.Clients() == 3 }, 5*time.Second, 10*time.Millisecond)

	r, err := roster.Parse(roster.DemoJSON())
	require.NoError(t, err)
	for i := range r.Users {
		if r.Users[i].Username == "onc1" {
			r.Users[i].Disabled = true
		}
	}
	data, err := r.Marshal()
	require.NoError(t, err)
	kv, err := e.raw.JetStream().KeyValue(ctx, directory.Bucket)
	require.NoError(t, err)
	_, err = kv.Put(ctx, "roster", data)
	require.NoError(t, err)

	_, err = read(onc1, 5*time.Second)
	assert.Equal(t, gateway.CloseSessionEnded, closeCode(err), "got %v, want close %d", err, gateway.CloseSessionEnded)
	require.Eventually(t, func() bool { return gw.Clients() == 2 }, 5*time.Second, 10*time.Millisecond)
	// The coordinator stays connected and, having asked for notices, is told the roster changed,
	// outside the sequence; one who did not ask gets nothing.
	_ = coord.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := coord.ReadMessage()
	require.NoError(t, err, "the coordinator must stay connected")
	var notice map[string]any
	require.NoError(t, json.Unmarshal(msg, &notice))
	assert.Equal(t, "roster.changed", notice["type"])
	assert.NotContains(t, notice, "seq", "a notice is not part of the resume sequence")
	_ = plain.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, msg, err = plain.ReadMessage()
	assert.Error(t, err, "a client that did not ask for notices got %s", msg)
}

func TestResumeBeyondTheReplayWindowIsToldToReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, _ := e.gateway(t, gateway.Config{ReplayWindow: time.Millisecond})
	start, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	e.submit(t)
	e.submit(t)
	time.Sleep(10 * time.Millisecond)
	token := e.login(t, "coord1")
	conn := dial(t, url, token, int64(start))
	defer conn.Close()
	_, err = read(conn, 5*time.Second)
	assert.Equal(t, gateway.CloseHistoryGone, closeCode(err), "got %v, want close %d", err, gateway.CloseHistoryGone)

	// Without after, the client goes on live.
	live := dial(t, url, token, -1)
	defer live.Close()
	e.submit(t)
	f, err := read(live, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "consult.requested", f.Type)
}

func TestUnauthenticatedAndForeignOriginAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, _ := e.gateway(t, gateway.Config{AllowedOrigins: []string{"https://consult.example.org"}})
	token := e.login(t, "coord1")
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no session", http.Header{}, http.StatusUnauthorized},
		{"unknown session", http.Header{"Cookie": {session.CookieName + "=forged"}}, http.StatusUnauthorized},
		{"foreign origin", http.Header{"Cookie": {session.CookieName + "=" + token}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := websocket.DefaultDialer.Dial(url, tc.header)
			require.Error(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, tc.want, resp.StatusCode)
		})
	}
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Cookie": {session.CookieName + "=" + token}, "Origin": {"https://consult.example.org"}})
	require.NoError(t, err, "a configured origin")
	conn.Close()
}

// A page of another site that points its name at the gateway (DNS rebinding) sends that name as
// Host and Origin alike, which a same-origin check lets through: the Host is refused.
func TestUnknownHostIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, _ := e.gateway(t, gateway.Config{Hosts: hosts.New("", nil, "https://consult.example.org")})
	token := e.login(t, "coord1")
	dialer := websocket.Dialer{}
	h := http.Header{"Cookie": {session.CookieName + "=" + token}, "Origin": {"http://evil.example"}, "Host": {"evil.example"}}
	_, resp, err := dialer.Dial(url, h)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "got %d for Host evil.example, want 403", resp.StatusCode)
	h.Set("Host", "consult.example.org")
	h.Set("Origin", "https://consult.example.org")
	conn, _, err := dialer.Dial(url, h)
	require.NoError(t, err, "the configured public name")
	conn.Close()
}

// A client that resumes while events keep coming catches up from the stream and joins the live
// feed, instead of being dropped as too slow while it replays.
func TestResumeUnderSustainedLoadCatchesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url, _ := e.gateway(t, gateway.Config{})
	token := e.login(t, "coord1")
	start, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)

	// About 300 events a second, without pause, for the whole test.
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				e.submit(t)
			}
		}
	}()
	var once sync.Once
	halt := func() { once.Do(func() { close(stop); <-produced }) }
	t.Cleanup(halt)

	time.Sleep(time.Second) // a backlog builds while the client is away
	conn := dial(t, url, token, int64(start))
	defer conn.Close()
	var got []uint64
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		f, err := read(conn, 5*time.Second)
		require.NoError(t, err, "after %d frames the client was closed", len(got))
		got = append(got, f.Seq)
	}
	halt()
	last, err := e.b.LastSeq(context.Background())
	require.NoError(t, err)
	if len(got) == 0 || got[len(got)-1] < last {
		got = append(got, readUntil(t, conn, last)...)
	}
	want := make([]uint64, 0, last-start)
	for s := start + 1; s <= last; s++ {
		want = append(want, s)
	}
	assert.Equal(t, want, got, "got %d frames, want every one of %d in order", len(got), len(want))
}
