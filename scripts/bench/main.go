// Command bench measures the broker against the quality targets that a benchmark can check
// (docs/operations.md lists them): the end-to-end offer latency, the all-in-one binary's cold
// start and idle memory, and the WebSocket gateway's memory per connection and delivery latency
// under many connections.
//
// Mode latency (the default) drives a running broker through its public API, as the browser
// does. It logs in the demo accounts referrer1, onc1 and coord1 (password "demo"), checks that
// onc1 is the primary on call for pediatric-oncology, opens onc1's live stream, sends one
// warm-up consult (not counted) and waits for its offer, then submits -n emergent
// pediatric-oncology consults as referrer1 at -rate per second (a ticker feeding a pool of
// -workers goroutines, each POST with its own Idempotency-Key like the browser's). For each
// consult it records the time just before the POST is sent, when the 201 arrives, and when the
// consult.offered frame for that consult id (offer.specialist_id = onc1) arrives on onc1's
// stream. It prints the achieved submit rate and p50/p90/p99/max of submit→offer and of the
// POST, in milliseconds. It exits non-zero when a POST fails or an offer is not seen within
// -offer-wait (10 s) of the last submit. The offers stay open; they expire after the emergent
// offer timeout (2 minutes by default) and routing then moves on, so leave that long between
// runs against the same broker, or pass -cleanup to have coord1 cancel the run's consults after
// measuring. The bench and the broker share the machine's CPUs when run on one machine.
//
//	go build -o /tmp/consultd ./services/consultd
//	/tmp/consultd --demo --addr 127.0.0.1:18090 --data "$(mktemp -d)" &
//	go run ./scripts/bench -base http://127.0.0.1:18090 -n 1000 -rate 200
//
// Mode coldstart builds ./services/consultd once (from the module root, found by walking up to
// go.mod) and starts it -runs times with --demo on a free loopback port and a fresh data
// directory, then once more on that now-used directory. Each start is timed from just before
// the process is started until GET /readyz answers 200 (polled every 2 ms); after -idle (3 s)
// of idleness it reads the process's resident memory (VmRSS, and the peak VmHWM) from
// /proc/<pid>/status, then stops it with SIGTERM and waits. The child gets an explicit
// environment (PATH, HOME, TMPDIR only; no REDIS_URL or NATS_URL), so it runs fully embedded.
// It prints min/median/max of the ready time and of RSS for fresh and existing data
// directories. Linux only (it reads /proc).
//
//	go run ./scripts/bench -mode coldstart -runs 5
//
// Modes connections and fanout measure the notify gateway against the gateway targets.
// Like coldstart they build ./services/consultd into a temporary directory and start it with
// --demo, fully embedded, on a free loopback port and a fresh data dir, and stop it with SIGTERM
// at the end (with the connections still open; how they ended is reported). They first raise
// RLIMIT_NOFILE to at least 30000 (soft and hard) with syscall.Setrlimit, which the child
// inherits; where the hard limit cannot be raised (no CAP_SYS_RESOURCE) they go to the hard
// limit and fail only when it is below what the run needs. Connections are WebSockets to
// /api/v1/stream, opened through one shared gorilla dialer with at most -dial-concurrency
// handshakes in flight, each with the session cookie of a demo user and one reading goroutine.
// With -src-ips N (by default as many as the ephemeral port range needs) they are spread over
// the loopback sources 127.0.0.1 .. 127.0.0.N. Consults are submitted as referrer1 at -rate with
// -workers, like the latency mode; each is timed from just before its POST to the arrival of its
// consult.requested frame, which the reader finds by scanning the frame's first bytes for type
// and consult_id (a full decode into a two-field struct only when they are not there) and
// records into a slice allocated up front. A warm-up consult (not counted) first proves every
// measured connection live. Frames still missing -offer-wait after the last submit are waited
// for up to -late-wait more and reported as late or lost. The consultd log's WARN and ERROR lines
// are summarized at the end; -keep keeps the directory with the log.
//
// Mode connections logs in the -users (default onc2, hem1), reads consultd's RSS after -rss-idle
// (2 s), opens -conns connections (default 10000) spread round robin over those users' sessions,
// waits -settle (30 s: the runtime hands the connection storm's transient memory back to the
// system over some seconds) and reads RSS again: the difference divided by -conns is the memory
// per idle connection (with the Go heap and stack share and the goroutines per connection from
// /metrics). With those connections open it opens one more as coord1 and times -events consults
// (default 500, at -rate 50/s) to it, then counts how many of the -conns connections are still
// open (after -hold more, if given). The default users receive nothing while the coordinator is
// measured, as most clinicians' screens at any moment; -users coord1,referrer1,onc1,onc2,hem1 is
// a stress variant in which thousands of connections receive every event.
//
//	go run ./scripts/bench -mode connections -conns 10000
//	go run ./scripts/bench -mode connections -conns 10000 -users coord1,referrer1,onc1,onc2,hem1 -hold 130s
//
// Mode fanout opens -subs coordinator connections (coord1's session, default 1000), submits
// -events consults (default 200, at -rate 20/s) and times every consult at every connection:
// p50/p90/p99/max over all (connection, consult) pairs, over the fastest and the slowest
// connection per consult, and the number of frames missing or duplicated (both must be 0).
//
//	go run ./scripts/bench -mode fanout -subs 1000
//
// Mode budgets starts its own consultd like them but with the default budgets of every user,
// and floods them as one account: see budgets.go. The other modes that start consultd lift those
// budgets, and the latency mode needs a broker started with BUDGET_SUBMISSIONS and
// BUDGET_EMERGENT_SUBMISSIONS raised, as all its consults come from referrer1.
//
//	go run ./scripts/bench -mode budgets
//
// -timeout (default 2m; 5m in connections, plus -hold, and 3m in fanout and budgets) caps the whole run in
// latency mode and the measurements (everything after the build) in the other modes. Every
// mode prints the command line, the CPU count and the Go version first.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
)

const (
	modulePath = "github.com/regionalconsult/broker"
	specialty  = "pediatric-oncology"
)

type options struct {
	mode      string
	base      string
	n         int
	rate      float64
	workers   int
	offerWait time.Duration
	cleanup   bool
	runs      int
	idle      time.Duration
	timeout   time.Duration

	// connections and fanout
	conns    int
	subs     int
	events   int
	dialConc int
	srcIPs   int
	users    string
	rssIdle  time.Duration
	settle   time.Duration
	hold     time.Duration
	lateWait time.Duration
	keep     bool

	// budgets
	submissions int
	sockets     int

	set map[string]bool // flags given on the command line
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "latency", "latency, coldstart, connections, fanout or budgets")
	flag.StringVar(&o.base, "base", "http://127.0.0.1:8080", "latency: the running broker's origin")
	flag.IntVar(&o.n, "n", 1000, "latency: consults to submit")
	flag.Float64Var(&o.rate, "rate", 200, "latency, connections, fanout: target submissions per second (default 200, 50 in connections, 20 in fanout)")
	flag.IntVar(&o.workers, "workers", 32, "latency, connections, fanout, budgets: concurrent submitters (bounded pool)")
	flag.DurationVar(&o.offerWait, "offer-wait", 10*time.Second, "latency, connections, fanout: how long after the last submit every offer (every consult.requested frame) must have arrived")
	flag.BoolVar(&o.cleanup, "cleanup", false, "latency: afterwards, cancel the run's consults as coord1 so no offers stay open")
	flag.IntVar(&o.runs, "runs", 5, "coldstart: starts on a fresh data dir (each followed by one on the used dir)")
	flag.DurationVar(&o.idle, "idle", 3*time.Second, "coldstart: idle time after ready before reading RSS")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "cap on the run (coldstart, connections, fanout: after the build; connections defaults to 5m, fanout to 3m)")
	flag.IntVar(&o.conns, "conns", 10000, "connections: idle stream connections to hold open")
	flag.IntVar(&o.subs, "subs", 1000, "fanout: coordinator stream connections, each measured")
	flag.IntVar(&o.events, "events", 0, "connections, fanout: consults to submit while measuring (default 500 in connections, 200 in fanout)")
	flag.IntVar(&o.dialConc, "dial-concurrency", 200, "connections, fanout, budgets: WebSocket handshakes in flight at once")
	flag.IntVar(&o.srcIPs, "src-ips", 0, "connections, fanout: spread connections over loopback sources 127.0.0.1..127.0.0.N (0: enough for the ephemeral port range)")
	flag.StringVar(&o.users, "users", "onc2,hem1", "connections: demo users whose sessions the idle connections use, round robin (the default receives nothing while measuring, as most clinicians' screens; coord1,referrer1,onc1,onc2,hem1 makes thousands of them receive every event)")
	flag.DurationVar(&o.rssIdle, "rss-idle", 2*time.Second, "connections: idle time after the logins before the first RSS reading")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "connections, fanout: wait after the last connection opened before measuring (the runtime returns the connection storm's transient memory to the system over some seconds)")
	flag.DurationVar(&o.hold, "hold", 0, "connections: keep every connection open this much longer after the events before counting the survivors (e.g. 80s to span three server ping periods)")
	flag.DurationVar(&o.lateWait, "late-wait", 60*time.Second, "connections, fanout: when frames are still missing at -offer-wait, wait up to this much more to tell late frames from lost ones")
	flag.BoolVar(&o.keep, "keep", false, "connections, fanout, budgets: keep the temporary directory (binary, data dir, consultd log)")
	flag.IntVar(&o.submissions, "submissions", 300, "budgets: emergent consults one referrer sends at once")
	flag.IntVar(&o.sockets, "sockets", 2000, "budgets: stream upgrades one user tries at once (on one session, then over five)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail("unexpected arguments: %q", flag.Args())
	}
	o.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { o.set[f.Name] = true })

	fmt.Printf("command: %s\n", commandLine())
	fmt.Printf("machine: %d CPUs (runtime.NumCPU)%s, %s/%s, %s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch o.mode {
	case "latency":
		err = runLatency(ctx, o)
	case "coldstart":
		err = runColdstart(ctx, o)
	case "connections":
		err = runConnections(ctx, o)
	case "fanout":
		err = runFanout(ctx, o)
	case "budgets":
		err = runBudgets(ctx, o)
	default:
		err = fmt.Errorf("-mode %q: want latency, coldstart, connections, fanout or budgets", o.mode)
	}
	if err != nil {
		stop()
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// commandLine is the command as typed: `go run` runs a binary from its build cache, so that
// case is shown as `go run ./scripts/bench`.
func commandLine() string {
	name := os.Args[0]
	if strings.Contains(name, string(filepath.Separator)+"go-build") {
		name = "go run ./scripts/bench"
	}
	parts := []string{name}
	for _, a := range os.Args[1:] {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return " (" + strings.TrimSpace(v) + ")"
		}
	}
	return ""
}

// ---- latency ----

type submission struct {
	sent    time.Time     // just before the POST was sent
	post    time.Duration // until the 201 was read
	id      string
	err     error
	started bool
}

type offerSeen struct {
	at         time.Time
	specialist string
}

// offers collects the first consult.offered frame per consult id from a stream.
type offers struct {
	mu      sync.Mutex
	seen    map[string]offerSeen
	ignored int // frames of other types
	done    chan struct{}
	err     error
}

func collect(st *apiclient.Stream) *offers {
	o := &offers{seen: map[string]offerSeen{}, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for f := range st.Frames() {
			at := time.Now()
			if f.Type != "consult.offered" {
				o.mu.Lock()
				o.ignored++
				o.mu.Unlock()
				continue
			}
			var c struct {
				Offer *struct {
					SpecialistID string `json:"specialist_id"`
				} `json:"offer"`
			}
			_ = json.Unmarshal(f.Consult, &c)
			s := offerSeen{at: at}
			if c.Offer != nil {
				s.specialist = c.Offer.SpecialistID
			}
			o.mu.Lock()
			if _, dup := o.seen[f.ConsultID]; !dup {
				o.seen[f.ConsultID] = s
			}
			o.mu.Unlock()
		}
		o.err = st.Err()
	}()
	return o
}

func (o *offers) get(id string) (offerSeen, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.seen[id]
	return s, ok
}

// waitAll waits until every id has an offer, the deadline passes, the stream ends or ctx ends,
// and returns the ids still without one.
func (o *offers) waitAll(ctx context.Context, ids []string, deadline time.Time) []string {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var missing []string
		o.mu.Lock()
		for _, id := range ids {
			if _, ok := o.seen[id]; !ok {
				missing = append(missing, id)
			}
		}
		o.mu.Unlock()
		if len(missing) == 0 || !time.Now().Before(deadline) {
			return missing
		}
		select {
		case <-tick.C:
		case <-o.done:
			deadline = time.Now() // nothing more will arrive; one last look
		case <-ctx.Done():
			return missing
		}
	}
}

func newClient(base string, conns int) *apiclient.Client {
	c := apiclient.New(base)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * conns
	tr.MaxIdleConnsPerHost = conns // the default of 2 would reconnect most requests
	c.HTTP.Transport = tr
	return c
}

func consultBody(i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"urgency": "emergent", "specialty": specialty,
		"patient":  map[string]any{"age_years": 7, "sex": "female", "reference": fmt.Sprintf("BENCH-%06d", i)},
		"question": fmt.Sprintf("Benchmark consult %d: febrile neutropenia on induction, start which empirical cover?", i),
		"summary":  "ALL, induction day 12. ANC 0.2, T 39.1. Blood cultures drawn. Synthetic benchmark data.",
		"language": "ar",
	})
	return b
}

func submit(ctx context.Context, c *apiclient.Client, body []byte) submission {
	h := http.Header{"Idempotency-Key": {ulid.Make().String()}}
	var out struct {
		ID string `json:"id"`
	}
	s := submission{started: true, sent: time.Now()}
	status, err := c.Do(ctx, http.MethodPost, "/api/v1/consults", body, h, &out)
	s.post = time.Since(s.sent)
	switch {
	case err != nil:
		s.err = err
	case status != http.StatusCreated:
		s.err = fmt.Errorf("POST /api/v1/consults: HTTP %d, want 201", status)
	case out.ID == "":
		s.err = errors.New("POST /api/v1/consults: 201 without an id")
	default:
		s.id = out.ID
	}
	return s
}

func runLatency(ctx context.Context, o options) error {
	if o.n < 1 || o.rate <= 0 || o.workers < 1 {
		return errors.New("-n, -rate and -workers must be positive")
	}
	fmt.Printf("mode: latency against %s: %d emergent %s consults at %.0f/s, %d workers, offers awaited %s after the last submit, timeout %s\n",
		o.base, o.n, specialty, o.rate, o.workers, o.offerWait, o.timeout)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	ref, onc, coord := newClient(o.base, o.workers), newClient(o.base, 2), newClient(o.base, o.workers)
	for _, l := range []struct {
		user string
		c    *apiclient.Client
	}{{"referrer1", ref}, {"onc1", onc}, {"coord1", coord}} {
		if err := l.c.Login(ctx, l.user, "demo"); err != nil {
			return fmt.Errorf("log in %s at %s: %w", l.user, o.base, err)
		}
	}
	var me struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if _, err := onc.Do(ctx, http.MethodGet, "/api/v1/session", nil, nil, &me); err != nil {
		return fmt.Errorf("onc1's session: %w", err)
	}
	oncID := me.User.ID
	type onCall struct {
		Specialty string `json:"specialty"`
		PrimaryID string `json:"primary_id"`
	}
	var oc struct {
		OnCall []onCall `json:"oncall"`
	}
	if _, err := coord.Do(ctx, http.MethodGet, "/api/v1/oncall", nil, nil, &oc); err != nil {
		return fmt.Errorf("on-call list: %w", err)
	}
	if i := slices.IndexFunc(oc.OnCall, func(x onCall) bool { return x.Specialty == specialty }); i < 0 || oc.OnCall[i].PrimaryID != oncID {
		return fmt.Errorf("onc1 (%s) is not the primary on call for %s (want the --demo roster)", oncID, specialty)
	}

	st, err := onc.Stream(ctx, -1)
	if err != nil {
		return fmt.Errorf("open onc1's stream: %w", err)
	}
	defer st.Close()
	seen := collect(st)

	// Warm-up: proves the path from POST to onc1's stream is live (the gateway registers the
	// connection just after the upgrade) and opens the first connection. Not counted.
	warm := submit(ctx, ref, consultBody(0))
	if warm.err != nil {
		return fmt.Errorf("warm-up consult: %w", warm.err)
	}
	if missing := seen.waitAll(ctx, []string{warm.id}, time.Now().Add(10*time.Second)); len(missing) > 0 {
		return fmt.Errorf("warm-up consult %s: no consult.offered on onc1's stream within 10 s (stream: %s)", warm.id, streamState(seen))
	}
	fmt.Printf("warm-up: consult %s offered to %s; measuring\n", warm.id, oncID)

	results := submitPaced(ctx, ref, o.n, o.rate, o.workers)

	var first, last time.Time
	var ids []string
	var postErrs []error
	sent := 0
	for _, r := range results {
		if !r.started {
			continue
		}
		sent++
		if first.IsZero() || r.sent.Before(first) {
			first = r.sent
		}
		if r.sent.After(last) {
			last = r.sent
		}
		if r.err != nil {
			postErrs = append(postErrs, r.err)
			continue
		}
		ids = append(ids, r.id)
	}
	missing := seen.waitAll(ctx, ids, last.Add(o.offerWait))

	var offerLat, postLat []time.Duration
	wrong := 0
	for _, r := range results {
		if !r.started || r.err != nil {
			continue
		}
		postLat = append(postLat, r.post)
		if s, ok := seen.get(r.id); ok {
			offerLat = append(offerLat, s.at.Sub(r.sent))
			if s.specialist != oncID {
				wrong++
			}
		}
	}
	seen.mu.Lock()
	ignored := seen.ignored
	seen.mu.Unlock()

	rate := 0.0
	if sent > 1 && last.After(first) {
		rate = float64(sent-1) / last.Sub(first).Seconds()
	}
	fmt.Println()
	fmt.Printf("submitted (POST sent)      %d of %d\n", sent, o.n)
	fmt.Printf("accepted (201)             %d\n", len(ids))
	fmt.Printf("offers seen on onc1        %d\n", len(offerLat))
	fmt.Printf("achieved submit rate       %.2f/s over %.2f s (target %.0f/s)\n", rate, last.Sub(first).Seconds(), o.rate)
	fmt.Printf("other frames ignored       %d\n", ignored)
	fmt.Println()
	fmt.Printf("%-22s %6s %9s %9s %9s %9s   %s\n", "latency (ms)", "count", "p50", "p90", "p99", "max", "target")
	printRow := func(name string, d []time.Duration, target string) {
		slices.Sort(d)
		line := fmt.Sprintf("%-22s %6d %9s %9s %9s %9s   %s", name, len(d), ms(pct(d, 50)), ms(pct(d, 90)), ms(pct(d, 99)), ms(pct(d, 100)), target)
		fmt.Println(strings.TrimRight(line, " "))
	}
	printRow("submit -> offer", offerLat, "p50 <= 5, p99 <= 25 at 200/s on 2 cores")
	printRow("POST -> 201", postLat, "")
	fmt.Println()

	if o.cleanup {
		cleanup(ctx, coord, append([]string{warm.id}, ids...), o.workers)
	}

	var problems []string
	if ctx.Err() != nil {
		problems = append(problems, fmt.Sprintf("stopped early: %v (-timeout %s)", context.Cause(ctx), o.timeout))
	}
	if sent < o.n {
		problems = append(problems, fmt.Sprintf("only %d of %d consults were submitted", sent, o.n))
	}
	if len(postErrs) > 0 {
		problems = append(problems, fmt.Sprintf("%d POSTs failed, the first: %v", len(postErrs), postErrs[0]))
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d consults had no consult.offered on onc1's stream within %s of the last submit (e.g. %s; stream: %v)",
			len(missing), o.offerWait, strings.Join(missing[:min(3, len(missing))], ", "), streamState(seen)))
	}
	if wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d offers named a specialist other than onc1 (%s)", wrong, oncID))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("ok: every consult was accepted and its offer reached onc1's stream")
	return nil
}

// submitPaced submits n consults (bodies 1..n) through c at rate per second with a pool of
// workers and returns one result per consult (started false for those never sent, when ctx
// ended first). At each tick the pool gets every consult due by now (so a late tick catches
// up), never more than n in all; a busy pool holds the dispatcher back, which shows as a lower
// achieved rate.
func submitPaced(ctx context.Context, c *apiclient.Client, n int, rate float64, workers int) []submission {
	results := make([]submission, n)
	jobs := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				body := consultBody(i + 1)
				results[i] = submit(ctx, c, body)
			}
		})
	}
	interval := max(time.Duration(float64(time.Second)/rate), 200*time.Microsecond)
	tick := time.NewTicker(interval)
	start := time.Now()
	next := 0
dispatch:
	for next < n {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for ; next < due; next++ {
			select {
			case jobs <- next:
			case <-ctx.Done():
				break dispatch
			}
		}
		if next == n {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			break dispatch
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	return results
}

func streamState(o *offers) string {
	select {
	case <-o.done:
		return fmt.Sprintf("ended: %v", o.err)
	default:
		return "open"
	}
}

// cleanup cancels the run's consults as coord1, so that their offers do not expire into a
// later run. Failures are reported, not fatal: the measurement is done.
func cleanup(ctx context.Context, coord *apiclient.Client, ids []string, workers int) {
	jobs := make(chan string)
	var mu sync.Mutex
	var failed int
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := range jobs {
				_, err := coord.Do(ctx, http.MethodPost, "/api/v1/consults/"+id+"/cancel", map[string]string{"reason": "benchmark cleanup"}, nil, nil)
				if err != nil {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("cleanup: coord1 cancelled %d of %d consults", len(ids)-failed, len(ids))
	if firstErr != nil {
		fmt.Printf(" (first failure: %v)", firstErr)
	}
	fmt.Println()
}

// pct is the p-th percentile of sorted d by the nearest-rank method (100 is the maximum).
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// ---- coldstart ----

type startResult struct {
	ready   time.Duration
	rssKiB  int64
	hwmKiB  int64
	stopped time.Duration
	exit    string
}

func runColdstart(ctx context.Context, o options) error {
	if o.runs < 1 {
		return errors.New("-runs must be positive")
	}
	if _, err := moduleRoot(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "consultd-coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "consultd")
	fmt.Printf("mode: coldstart: %d runs, each a start on a fresh data dir then one on that used dir; /readyz polled every 2 ms; RSS read after %s idle; timeout %s after the build\n",
		o.runs, o.idle, o.timeout)
	fmt.Printf("child: %s --demo --addr 127.0.0.1:<free port> --data <dir>, env PATH HOME TMPDIR only (no REDIS_URL, NATS_URL: fully embedded)\n", bin)

	if err := buildConsultd(ctx, bin); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	env := childEnv()
	var fresh, existing []startResult
	fmt.Println()
	fmt.Printf("%-4s %-9s %10s %10s %10s %10s  %s\n", "run", "data dir", "ready ms", "RSS MiB", "peak MiB", "stop ms", "exit")
	for i := 1; i <= o.runs; i++ {
		dir, err := os.MkdirTemp(tmp, fmt.Sprintf("data-%d-", i))
		if err != nil {
			return err
		}
		for _, kind := range []string{"fresh", "existing"} {
			s, err := measureStart(ctx, bin, dir, env, filepath.Join(tmp, fmt.Sprintf("consultd-%d-%s.log", i, kind)), o.idle)
			if err != nil {
				return fmt.Errorf("run %d (%s data dir): %w", i, kind, err)
			}
			fmt.Printf("%-4d %-9s %10s %10.2f %10.2f %10s  %s\n", i, kind, ms(s.ready), mib(s.rssKiB), mib(s.hwmKiB), ms(s.stopped), s.exit)
			if kind == "fresh" {
				fresh = append(fresh, s)
			} else {
				existing = append(existing, s)
			}
		}
	}

	fmt.Println()
	fmt.Printf("%-34s %5s %9s %9s %9s   %s\n", "cold start", "runs", "min", "median", "max", "target")
	row := func(name string, v []float64, target string) {
		slices.Sort(v)
		line := fmt.Sprintf("%-34s %5d %9.2f %9.2f %9.2f   %s", name, len(v), v[0], median(v), v[len(v)-1], target)
		fmt.Println(strings.TrimRight(line, " "))
	}
	pick := func(ss []startResult, f func(startResult) float64) []float64 {
		var v []float64
		for _, s := range ss {
			v = append(v, f(s))
		}
		return v
	}
	readyMs := func(s startResult) float64 { return float64(s.ready) / float64(time.Millisecond) }
	rss := func(s startResult) float64 { return mib(s.rssKiB) }
	hwm := func(s startResult) float64 { return mib(s.hwmKiB) }
	row("ready, fresh data dir (ms)", pick(fresh, readyMs), "<= 1000")
	row("ready, existing data dir (ms)", pick(existing, readyMs), "<= 1000")
	row("idle RSS, fresh data dir (MiB)", pick(fresh, rss), "<= 60")
	row("idle RSS, existing data dir (MiB)", pick(existing, rss), "<= 60")
	row("peak RSS, fresh data dir (MiB)", pick(fresh, hwm), "")
	row("peak RSS, existing data dir (MiB)", pick(existing, hwm), "")
	return nil
}

// moduleRoot walks up from the working directory to the broker's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if strings.TrimSpace(strings.TrimPrefix(first, "module")) != modulePath {
				return "", fmt.Errorf("%s/go.mod is not module %s; run from inside the broker's module", dir, modulePath)
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run from inside the broker's module")
		}
		dir = parent
	}
}

// childEnv is the consultd child's whole environment: enough to run, nothing that configures
// the broker (REDIS_URL, NATS_URL, OTEL_*, ...).
func childEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if t := os.Getenv("TMPDIR"); t != "" {
		env = append(env, "TMPDIR="+t)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// measureStart starts consultd on dir, times it to ready, lets it idle, reads its memory and
// stops it. The child never outlives the call.
func measureStart(ctx context.Context, bin, dir string, env []string, logPath string, idle time.Duration) (startResult, error) {
	var s startResult
	port, err := freePort()
	if err != nil {
		return s, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.Create(logPath)
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--demo", "--addr", addr, "--data", dir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	poll := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	logTail := func() string { b, _ := os.ReadFile(logPath); return tail(b, 2000) }

	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.NewTimer(30 * time.Second)
	defer giveUp.Stop()
	for {
		if resp, err := poll.Get("http://" + addr + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(t0)
				break
			}
		}
		select {
		case <-tick.C:
		case err := <-exited:
			stopped = true
			return s, fmt.Errorf("consultd exited before ready (%v); log:\n%s", err, logTail())
		case <-giveUp.C:
			return s, fmt.Errorf("consultd not ready within 30 s; log:\n%s", logTail())
		case <-ctx.Done():
			return s, context.Cause(ctx)
		}
	}

	select {
	case <-time.After(idle):
	case err := <-exited:
		stopped = true
		return s, fmt.Errorf("consultd exited while idle (%v); log:\n%s", err, logTail())
	case <-ctx.Done():
		return s, context.Cause(ctx)
	}
	if s.rssKiB, s.hwmKiB, err = memory(cmd.Process.Pid); err != nil {
		return s, err
	}

	t1 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return s, err
	}
	select {
	case err := <-exited:
		stopped = true
		s.stopped = time.Since(t1)
		s.exit = "0"
		if err != nil {
			s.exit = err.Error()
		}
	case <-time.After(10 * time.Second):
		return s, fmt.Errorf("consultd did not stop within 10 s of SIGTERM; log:\n%s", logTail())
	}
	return s, nil
}

// memory reads VmRSS and VmHWM (KiB) from /proc/<pid>/status.
func memory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s %q: %w", k, v, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
