package main

// Modes connections and fanout: the notify gateway of a consultd that the bench builds and
// starts itself, fully embedded, measured against the gateway targets.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
)

// unbudgeted lifts the users' budgets in the child of the connections and fanout modes: they
// measure the gateway with thousands of connections on a few sessions and hundreds of consults
// from one referrer, far beyond what the budgets let one person do (mode budgets measures those).
var unbudgeted = []string{"BUDGET_SUBMISSIONS=1000000", "BUDGET_EMERGENT_SUBMISSIONS=1000000",
	"BUDGET_STREAM_SOCKETS=1000000", "BUDGET_STREAM_SOCKETS_PER_SESSION=1000000"}

// rig is a run's consultd and what the clients need to reach it.
type rig struct {
	o       options
	dir     string
	srv     *child
	dialer  *websocket.Dialer
	wsURL   string
	srcIPs  int
	clients map[string]*apiclient.Client
	cookies map[string]http.Header // per user: the Cookie header of its session
	base    time.Time              // every recorded time is relative to this
	stopped bool
}

// prepare raises the file limit for fds connections, builds consultd into a fresh temporary
// directory, starts it on a fresh data dir and logs in users. It returns the run's context,
// which ends -timeout after the build; finish stops consultd if still running and cleans up.
func prepare(ctx context.Context, o options, fds int, prefix string, users []string) (*rig, context.Context, func(), error) {
	limit, err := raiseNoFile(uint64(max(30000, fds+2000)), uint64(fds+500))
	if err != nil {
		return nil, nil, nil, err
	}
	fmt.Println("limits: " + limit)
	fmt.Println("kernel: " + kernelLimits())
	r := &rig{o: o, srcIPs: o.srcIPs}
	if r.srcIPs <= 0 {
		r.srcIPs = 1
		if ports := ephemeralPorts(); ports > 0 {
			perIP := ports * 3 / 4 // leave room for what else uses the range
			r.srcIPs = max(1, (fds+perIP-1)/perIP)
		}
	}
	r.srcIPs = min(r.srcIPs, 254)
	dir, cleanDir, err := workDir(prefix, o.keep)
	if err != nil {
		return nil, nil, nil, err
	}
	r.dir = dir
	bin := binPath(dir)
	if err := buildConsultd(ctx, bin); err != nil {
		cleanDir()
		return nil, nil, nil, err
	}
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	cleanup := func() { cancel(); cleanDir() }
	fmt.Printf("child: %s --demo --addr 127.0.0.1:<free port> --data %s, env PATH HOME TMPDIR and %s only (no REDIS_URL, NATS_URL: fully embedded)\n",
		bin, filepath.Join(dir, "data"), strings.Join(unbudgeted, " "))
	r.base = time.Now()
	r.srv, err = startChild(runCtx, bin, filepath.Join(dir, "data"), filepath.Join(dir, "consultd.log"), unbudgeted...)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	fmt.Printf("consultd: pid %d on %s, ready in %s, open files %s\n", r.srv.pid(), r.srv.addr, ms(r.srv.ready)+" ms", openFilesLimit(r.srv.pid()))
	finish := func() {
		if !r.stopped { // an early return: show what the server logged
			r.srv.kill()
			printLogSummary(r.srv.logPath)
		}
		cleanup()
	}
	r.wsURL = "ws://" + r.srv.addr + "/api/v1/stream"
	r.dialer = newDialer(r.srcIPs)
	src := "127.0.0.1 (kernel's choice of port)"
	if r.srcIPs > 1 {
		src = fmt.Sprintf("127.0.0.1 .. 127.0.0.%d, round robin", r.srcIPs)
	}
	fmt.Printf("client: gorilla/websocket, one shared dialer, sources %s, %d handshakes in flight at most\n", src, o.dialConc)

	r.clients, r.cookies = map[string]*apiclient.Client{}, map[string]http.Header{}
	u, _ := url.Parse(r.srv.base)
	for _, name := range users {
		if r.clients[name] != nil {
			continue
		}
		c := newClient(r.srv.base, o.workers)
		if err := c.Login(runCtx, name, "demo"); err != nil {
			finish()
			return nil, nil, nil, fmt.Errorf("log in %s: %w", name, err)
		}
		var parts []string
		for _, ck := range c.HTTP.Jar.Cookies(u) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		if len(parts) == 0 {
			finish()
			return nil, nil, nil, fmt.Errorf("log in %s: no session cookie", name)
		}
		r.clients[name] = c
		r.cookies[name] = http.Header{"Cookie": {strings.Join(parts, "; ")}}
	}
	fmt.Printf("logged in: %s\n", strings.Join(uniqueUsers(strings.Join(users, ",")), ", "))
	return r, runCtx, finish, nil
}

func uniqueUsers(list string) []string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// serverMem is the child's memory as the kernel and the Go runtime see it.
type serverMem struct {
	rssKiB, hwmKiB int64
	metrics        map[string]float64
}

var memMetrics = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes",
	"go_memstats_sys_bytes", "go_memstats_heap_alloc_bytes", "stream_connections"}

func (r *rig) memory(ctx context.Context) (serverMem, error) {
	var m serverMem
	var err error
	if m.rssKiB, m.hwmKiB, err = memory(r.srv.pid()); err != nil {
		return m, err
	}
	m.metrics = scrapeMetrics(ctx, r.srv.metrics, memMetrics...)
	return m, nil
}

// eventRun is the measured submissions of one run and what the subscribers saw of them.
type eventRun struct {
	sent, accepted int
	rate           float64
	span           time.Duration
	postLat        []time.Duration
	postErrs       []error
	short          int   // subscribers still without every frame at the -offer-wait deadline
	late           int64 // consult.requested frames that arrived after that deadline
	cpu, wall      time.Duration
	benchCPU       time.Duration
	machine, steal time.Duration
	d              delivery
}

// runEvents submits a warm-up consult (not counted) and waits until every subscriber has its
// consult.requested, then submits the measured consults as referrer1 at -rate and waits up to
// -offer-wait after the last one for every subscriber's frames.
func (r *rig) runEvents(ctx context.Context, subs []*subscriber) (eventRun, error) {
	var e eventRun
	ref := r.clients["referrer1"]
	warm := submit(ctx, ref, consultBody(0))
	if warm.err != nil {
		return e, fmt.Errorf("warm-up consult: %w", warm.err)
	}
	warmKey, _ := keyOf([]byte(warm.id))
	if short := waitSubscribers(ctx, subs, 1, time.Now().Add(10*time.Second)); short > 0 {
		return e, fmt.Errorf("warm-up consult %s: %d of %d measured connections had no consult.requested within 10 s", warm.id, short, len(subs))
	}
	ended := 0
	for _, s := range subs {
		if s.ended() {
			ended++
		}
	}
	if ended > 0 {
		return e, fmt.Errorf("warm-up: %d of %d measured connections ended", ended, len(subs))
	}
	fmt.Printf("warm-up: consult %s reached all %d measured connections; submitting %d consults as referrer1 at %.0f/s\n",
		warm.id, len(subs), r.o.events, r.o.rate)

	cpu0, _ := cpuTime(r.srv.pid())
	self0 := selfCPU()
	busy0, steal0 := machineCPU()
	t0 := time.Now()
	results := submitPaced(ctx, ref, r.o.events, r.o.rate, r.o.workers)
	var first, last time.Time
	var events []sentEvent
	for _, s := range results {
		if !s.started {
			continue
		}
		e.sent++
		if first.IsZero() || s.sent.Before(first) {
			first = s.sent
		}
		if s.sent.After(last) {
			last = s.sent
		}
		if s.err != nil {
			e.postErrs = append(e.postErrs, s.err)
			continue
		}
		e.accepted++
		e.postLat = append(e.postLat, s.post)
		k, ok := keyOf([]byte(s.id))
		if !ok {
			e.postErrs = append(e.postErrs, fmt.Errorf("consult id %q longer than %d bytes", s.id, len(idKey{})))
			continue
		}
		events = append(events, sentEvent{id: k, sent: s.sent.Sub(r.base)})
	}
	if e.sent > 1 && last.After(first) {
		e.span = last.Sub(first)
		e.rate = float64(e.sent-1) / e.span.Seconds()
	}
	want := int64(1 + len(events))
	e.short = waitSubscribers(ctx, subs, want, last.Add(r.o.offerWait))
	e.wall = time.Since(t0)
	cpu1, _ := cpuTime(r.srv.pid())
	e.cpu = cpu1 - cpu0
	e.benchCPU = selfCPU() - self0
	busy1, steal1 := machineCPU()
	e.machine, e.steal = busy1-busy0, steal1-steal0
	if e.short > 0 && r.o.lateWait > 0 {
		// Tell late frames from lost ones: wait longer, and count what still comes.
		var atDeadline int64
		for _, s := range subs {
			atDeadline += s.n.Load()
		}
		fmt.Printf("%d measured connections still short of frames %s after the last submit; waiting up to %s more to tell late from lost\n",
			e.short, r.o.offerWait, r.o.lateWait)
		waitSubscribers(ctx, subs, want, time.Now().Add(r.o.lateWait))
		for _, s := range subs {
			e.late += s.n.Load()
		}
		e.late -= atDeadline
	}
	e.d = measureDelivery(subs, events, warmKey)
	return e, nil
}

func (e eventRun) print(o options) {
	fmt.Printf("submitted (POST sent)      %d of %d\n", e.sent, o.events)
	fmt.Printf("accepted (201)             %d\n", e.accepted)
	fmt.Printf("achieved submit rate       %.2f/s over %.2f s (target %.0f/s)\n", e.rate, e.span.Seconds(), o.rate)
	cores := func(d time.Duration) string {
		return fmt.Sprintf("%.2f s = %.2f cores", d.Seconds(), d.Seconds()/e.wall.Seconds())
	}
	fmt.Printf("CPU from the first submit to the last frame or the -offer-wait deadline (%.2f s), of %d cores: consultd %s, bench %s, whole machine busy %s (steal %s)\n",
		e.wall.Seconds(), runtime.NumCPU(), cores(e.cpu), cores(e.benchCPU), cores(e.machine), cores(e.steal))
	if e.late > 0 {
		fmt.Printf("late frames                %d consult.requested frames arrived after the -offer-wait deadline (%s after the last submit); included in the latencies below\n", e.late, o.offerWait)
	}
}

func latencyHeader() {
	fmt.Printf("%-40s %7s %9s %9s %9s %9s   %s\n", "latency (ms)", "count", "p50", "p90", "p99", "max", "target")
}

func latencyRow(name string, d []time.Duration, target string) {
	d = slices.Clone(d)
	slices.Sort(d)
	line := fmt.Sprintf("%-40s %7d %9s %9s %9s %9s   %s", name, len(d), ms(pct(d, 50)), ms(pct(d, 90)), ms(pct(d, 99)), ms(pct(d, 100)), target)
	fmt.Println(strings.TrimRight(line, " "))
}

func figureRow(name, value, target string) {
	fmt.Println(strings.TrimRight(fmt.Sprintf("%-44s %16s   %s", name, value, target), " "))
}

func kib(bytes float64) float64 { return bytes / 1024 }

// ---- connections ----

func runConnections(ctx context.Context, o options) error {
	if !o.set["rate"] {
		o.rate = 50
	}
	if o.events == 0 {
		o.events = 500
	}
	if !o.set["timeout"] {
		o.timeout = 5*time.Minute + o.hold
	}
	users := uniqueUsers(o.users)
	if o.conns < 1 || o.events < 1 || o.rate <= 0 || o.workers < 1 || o.dialConc < 1 || len(users) == 0 {
		return errors.New("-conns, -events, -rate, -workers, -dial-concurrency must be positive and -users not empty")
	}
	fmt.Printf("mode: connections: %d idle stream connections (sessions of %s, round robin), then %d consults at %.0f/s timed to one more coordinator connection; RSS after %s idle and %s after the last connection opened; timeout %s after the build\n",
		o.conns, strings.Join(users, ", "), o.events, o.rate, o.rssIdle, o.settle, o.timeout)

	r, ctx, finish, err := prepare(ctx, o, o.conns+1, "consultd-connections-", append(slices.Clone(users), "coord1", "referrer1"))
	if err != nil {
		return err
	}
	defer finish()

	if err := sleepCtx(ctx, o.rssIdle); err != nil {
		return err
	}
	before, err := r.memory(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("idle: consultd RSS %.2f MiB, %0.f goroutines\n", mib(before.rssKiB), before.metrics["go_goroutines"])

	cpu0, _ := cpuTime(r.srv.pid())
	step := max(o.conns/5, 1)
	dial0 := time.Now()
	conns, st := dialAll(ctx, r.dialer, r.wsURL, o.conns, o.dialConc,
		func(i int) http.Header { return r.cookies[users[i%len(users)]] },
		func(n int) {
			if n%step == 0 {
				fmt.Printf("  %d connections open after %.2f s\n", n, time.Since(dial0).Seconds())
			}
		})
	cpu1, _ := cpuTime(r.srv.pid())
	bg := startBackground(conns)
	opened := int(bg.open.Load())
	fmt.Printf("opened %d of %d connections in %.2f s (%.0f/s), %d retries; failed attempts: %s; consultd CPU %.2f s\n",
		opened, o.conns, st.took.Seconds(), float64(opened)/st.took.Seconds(), st.retries, formatCounts(st.failures), (cpu1 - cpu0).Seconds())
	defer bg.close()
	if opened < o.conns {
		return fmt.Errorf("only %d of %d connections opened (%s); consultd log:\n%s", opened, o.conns, formatCounts(st.failures), r.srv.logTail(2000))
	}
	if err := sleepCtx(ctx, o.settle); err != nil {
		return err
	}
	after, err := r.memory(ctx)
	if err != nil {
		return err
	}
	openAfterSettle := bg.open.Load()
	fmt.Printf("with connections: consultd RSS %.2f MiB (peak %.2f), %0.f goroutines, stream_connections %0.f; client side %d open\n",
		mib(after.rssKiB), mib(after.hwmKiB), after.metrics["go_goroutines"], after.metrics["stream_connections"], openAfterSettle)

	// The measured coordinator dashboard: one more connection, coord1's session.
	extra, st2 := dialAll(ctx, r.dialer, r.wsURL, 1, 1, func(int) http.Header { return r.cookies["coord1"] }, nil)
	if extra[0] == nil {
		return fmt.Errorf("the measured coordinator connection did not open: %s", formatCounts(st2.failures))
	}
	sub := startSubscriber(extra[0], r.base, o.events+64)
	defer sub.conn.Close()
	fmt.Println()
	ev, err := r.runEvents(ctx, []*subscriber{sub})
	if err != nil {
		return err
	}

	if o.hold > 0 {
		fmt.Printf("holding every connection open %s more (the server pings every 25 s and drops a client silent for 75 s)\n", o.hold)
		if err := sleepCtx(ctx, o.hold); err != nil {
			return err
		}
	}
	end, _ := r.memory(ctx)
	openEnd := bg.open.Load()
	droppedBy := bg.ended.String()
	subOpen := !sub.ended()
	var frames int64
	perUser := map[string]int64{}
	for i := range bg.frames {
		n := bg.frames[i].Load()
		frames += n
		perUser[users[i%len(users)]] += n
	}

	fmt.Println()
	ev.print(o)
	fmt.Printf("frames to the idle conns   %d in all; per user (summed over its connections): %s\n", frames, formatUserFrames(users, perUser, o.conns))
	fmt.Println()
	perConn := float64(after.rssKiB-before.rssKiB) / float64(o.conns)
	delta := func(name string) float64 { return (after.metrics[name] - before.metrics[name]) / float64(o.conns) }
	figureRow("figure", "value", "target")
	figureRow("concurrent stream connections", fmt.Sprint(openAfterSettle), ">= 10,000 on one 2-core machine")
	figureRow("consultd RSS idle, before (MiB)", fmt.Sprintf("%.2f", mib(before.rssKiB)), "")
	figureRow(fmt.Sprintf("consultd RSS, %d connections (MiB)", o.conns), fmt.Sprintf("%.2f", mib(after.rssKiB)), "")
	figureRow("memory per connection (KiB): RSS delta/conns", fmt.Sprintf("%.2f", perConn), "<= 20 KiB each")
	figureRow("  of which Go heap in use (KiB)", fmt.Sprintf("%.2f", kib(delta("go_memstats_heap_inuse_bytes"))), "")
	figureRow("  of which goroutine stacks (KiB)", fmt.Sprintf("%.2f", kib(delta("go_memstats_stack_inuse_bytes"))), "")
	figureRow("  goroutines per connection", fmt.Sprintf("%.2f", delta("go_goroutines")), "")
	figureRow("consultd RSS at the end (MiB)", fmt.Sprintf("%.2f", mib(end.rssKiB)), "")
	figureRow("  Go heap in use at the end, per conn (KiB)", fmt.Sprintf("%.2f", kib((end.metrics["go_memstats_heap_inuse_bytes"]-before.metrics["go_memstats_heap_inuse_bytes"])/float64(o.conns))), "")
	figureRow("consultd peak RSS (VmHWM, MiB)", fmt.Sprintf("%.2f", mib(end.hwmKiB)), "")
	figureRow("connections still open at the end", fmt.Sprintf("%d of %d", openEnd, o.conns), "all (none dropped)")
	figureRow("  server's stream_connections gauge", fmt.Sprintf("%.0f", end.metrics["stream_connections"]), fmt.Sprintf("%d (with the measured one)", o.conns+1))
	fmt.Println()
	latencyHeader()
	latencyRow("submit -> consult.requested on coord", ev.d.all, fmt.Sprintf("p99 <= 50 with %d connected", o.conns))
	latencyRow("POST -> 201", ev.postLat, "")
	fmt.Println()

	var problems []string
	problems = append(problems, ev.problems(o, 1)...)
	if openEnd < int64(o.conns) {
		problems = append(problems, fmt.Sprintf("%d of %d idle connections were closed during the run: %s", int64(o.conns)-openEnd, o.conns, droppedBy))
	}
	if !subOpen {
		problems = append(problems, fmt.Sprintf("the measured coordinator connection ended: %v", errReason(sub.err)))
	}
	problems = append(problems, r.stop(bg)...)
	return verdict(problems, "every connection stayed open and every consult.requested reached the coordinator")
}

func formatUserFrames(users []string, perUser map[string]int64, conns int) string {
	var parts []string
	for k, u := range users {
		n := conns / len(users)
		if k < conns%len(users) {
			n++
		}
		parts = append(parts, fmt.Sprintf("%s %d (%d conns)", u, perUser[u], n))
	}
	return strings.Join(parts, ", ")
}

// problems are what makes a run fail on the delivery side.
func (e eventRun) problems(o options, subs int) []string {
	var p []string
	if e.sent < o.events {
		p = append(p, fmt.Sprintf("only %d of %d consults were submitted", e.sent, o.events))
	}
	if len(e.postErrs) > 0 {
		p = append(p, fmt.Sprintf("%d POSTs failed, the first: %v", len(e.postErrs), e.postErrs[0]))
	}
	if e.late > 0 {
		p = append(p, fmt.Sprintf("%d of %d (connection, consult) consult.requested frames arrived later than %s after the last submit", e.late, subs*e.accepted, o.offerWait))
	}
	if e.d.missing > 0 {
		p = append(p, fmt.Sprintf("%d of %d (connection, consult) consult.requested frames never arrived (waited %s after the last submit, then up to -late-wait %s more)",
			e.d.missing, subs*e.accepted, o.offerWait, o.lateWait))
	}
	if e.d.duplicates > 0 {
		p = append(p, fmt.Sprintf("%d duplicate consult.requested frames", e.d.duplicates))
	}
	if e.d.bad > 0 || e.d.overflow > 0 {
		p = append(p, fmt.Sprintf("%d undecodable frames, %d beyond the recording capacity", e.d.bad, e.d.overflow))
	}
	return p
}

// stop sends consultd SIGTERM with the connections still open, reports how it went and how the
// connections ended, and closes the client side.
func (r *rig) stop(bg *background) []string {
	r.stopped = true
	took, how := r.srv.stop(30 * time.Second)
	fmt.Printf("consultd stopped: SIGTERM -> %s in %.2f s\n", how, took.Seconds())
	var p []string
	if how != "exit 0" {
		p = append(p, "consultd: "+how)
	}
	if bg != nil {
		// Give the readers a moment to see the close frames of the shutdown.
		deadline := time.Now().Add(5 * time.Second)
		for bg.open.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Printf("how the idle connections ended (all, including the shutdown): %s; still open %d\n", bg.ended.String(), bg.open.Load())
		bg.close()
	}
	printLogSummary(r.srv.logPath)
	return p
}

func verdict(problems []string, ok string) error {
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("ok: " + ok)
	return nil
}

// ---- fanout ----

func runFanout(ctx context.Context, o options) error {
	if !o.set["rate"] {
		o.rate = 20
	}
	if o.events == 0 {
		o.events = 200
	}
	if !o.set["timeout"] {
		o.timeout = 3 * time.Minute
	}
	if o.subs < 1 || o.events < 1 || o.rate <= 0 || o.workers < 1 || o.dialConc < 1 {
		return errors.New("-subs, -events, -rate, -workers and -dial-concurrency must be positive")
	}
	fmt.Printf("mode: fanout: %d coordinator stream connections (coord1's session), %d consults at %.0f/s as referrer1, each timed at every connection; timeout %s after the build\n",
		o.subs, o.events, o.rate, o.timeout)

	r, ctx, finish, err := prepare(ctx, o, o.subs, "consultd-fanout-", []string{"coord1", "referrer1"})
	if err != nil {
		return err
	}
	defer finish()

	conns, st := dialAll(ctx, r.dialer, r.wsURL, o.subs, o.dialConc, func(int) http.Header { return r.cookies["coord1"] }, nil)
	subs := make([]*subscriber, 0, len(conns))
	for _, c := range conns {
		if c != nil {
			subs = append(subs, startSubscriber(c, r.base, o.events+64))
		}
	}
	defer func() {
		for _, s := range subs {
			_ = s.conn.Close()
		}
	}()
	fmt.Printf("opened %d of %d connections in %.2f s, %d retries; failed attempts: %s\n",
		len(subs), o.subs, st.took.Seconds(), st.retries, formatCounts(st.failures))
	if len(subs) < o.subs {
		return fmt.Errorf("only %d of %d connections opened (%s)", len(subs), o.subs, formatCounts(st.failures))
	}
	if err := sleepCtx(ctx, o.settle); err != nil {
		return err
	}
	mem, err := r.memory(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("with connections: consultd RSS %.2f MiB, %0.f goroutines, stream_connections %0.f\n",
		mib(mem.rssKiB), mem.metrics["go_goroutines"], mem.metrics["stream_connections"])
	fmt.Println()
	ev, err := r.runEvents(ctx, subs)
	if err != nil {
		return err
	}
	end, _ := r.memory(ctx)
	open := 0
	for _, s := range subs {
		if !s.ended() {
			open++
		}
	}

	fmt.Println()
	ev.print(o)
	fmt.Printf("other frames (not consult.requested) %d, fully decoded (head without type/consult_id) %d\n", ev.d.other, ev.d.slow)
	fmt.Printf("consultd RSS at the end    %.2f MiB (peak %.2f)\n", mib(end.rssKiB), mib(end.hwmKiB))
	fmt.Println()
	figureRow("figure", "value", "target")
	figureRow("(connection, consult) pairs expected", fmt.Sprint(len(subs)*ev.accepted), "")
	figureRow("consult.requested frames missing", fmt.Sprint(ev.d.missing), "0")
	figureRow("duplicate frames", fmt.Sprint(ev.d.duplicates), "0")
	figureRow("connections still open at the end", fmt.Sprintf("%d of %d", open, len(subs)), "all")
	fmt.Println()
	latencyHeader()
	latencyRow("submit -> consult.requested, all pairs", ev.d.all, "p99 <= 50 (dashboard delivery)")
	latencyRow("  first connection per consult", ev.d.first, "")
	latencyRow("  last connection per consult", ev.d.last, "")
	latencyRow("POST -> 201", ev.postLat, "")
	fmt.Println()

	problems := ev.problems(o, len(subs))
	if open < len(subs) {
		problems = append(problems, fmt.Sprintf("%d of %d connections ended during the run: %s", len(subs)-open, len(subs), formatCounts(ev.d.ended)))
	}
	problems = append(problems, r.stop(nil)...)
	return verdict(problems, "every connection received every consult.requested once")
}

// selfCPU is the bench's own user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
