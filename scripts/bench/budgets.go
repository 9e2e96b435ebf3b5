package main

// Mode budgets: one account's flood against the users' budgets of a consultd with its default
// settings, as an incident once had it: -submissions emergent consults (default 300) sent by
// referrer1 as fast as -workers (32) senders can, each with its own Idempotency-Key, then
// -sockets stream upgrades (default 2000) on that one session, -dial-concurrency at a time, each
// kept open until every upgrade has been tried; then the same number spread over five sessions
// of referrer1. It prints how many got through, how many were refused with 429 (by budget) and
// the wall time of each flood, how soon a closed stream's place is free again, what the
// coordinators' list of throttled users shows and the refusal counters in /metrics.
//
//	go run ./scripts/bench -mode budgets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/regionalconsult/broker/internal/testkit/apiclient"
)

// outcomes counts the answers of a flood: by HTTP status, and the 429s by budget.
type outcomes struct {
	mu       sync.Mutex
	byStatus map[int]int
	byBudget map[string]int
	errs     map[string]int
}

func newOutcomes() *outcomes {
	return &outcomes{byStatus: map[int]int{}, byBudget: map[string]int{}, errs: map[string]int{}}
}

func (o *outcomes) add(status int, budget string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if status == 0 {
		o.errs[truncate(fmt.Sprint(err), 120)]++
		return
	}
	o.byStatus[status]++
	if status == http.StatusTooManyRequests {
		o.byBudget[budget]++
	}
}

func (o *outcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var parts []string
	statuses := make([]int, 0, len(o.byStatus))
	for s := range o.byStatus {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	for _, s := range statuses {
		part := fmt.Sprintf("%d x %d", o.byStatus[s], s)
		if s == http.StatusTooManyRequests {
			var bs []string
			for b, n := range o.byBudget {
				bs = append(bs, fmt.Sprintf("%s %d", b, n))
			}
			slices.Sort(bs)
			part += " (" + strings.Join(bs, ", ") + ")"
		}
		parts = append(parts, part)
	}
	for e, n := range o.errs {
		parts = append(parts, fmt.Sprintf("%d x no answer: %s", n, e))
	}
	return strings.Join(parts, ", ")
}

func (o *outcomes) count(status int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byStatus[status]
}

func runBudgets(ctx context.Context, o options) error {
	if !o.set["timeout"] {
		o.timeout = 3 * time.Minute
	}
	if o.submissions < 1 || o.sockets < 1 || o.workers < 1 || o.dialConc < 1 {
		return errors.New("-submissions, -sockets, -workers and -dial-concurrency must be positive")
	}
	fmt.Printf("mode: budgets: %d emergent submissions by referrer1 (%d senders), then %d stream upgrades on one session and %d over five sessions (%d in flight), against consultd's default budgets; timeout %s after the build\n",
		o.submissions, o.workers, o.sockets, o.sockets, o.dialConc, o.timeout)
	limit, err := raiseNoFile(uint64(max(30000, 2*o.sockets+2000)), uint64(o.sockets+500))
	if err != nil {
		return err
	}
	fmt.Println("limits: " + limit)
	dir, cleanDir, err := workDir("consultd-budgets-", o.keep)
	if err != nil {
		return err
	}
	defer cleanDir()
	bin := binPath(dir)
	if err := buildConsultd(ctx, bin); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	fmt.Printf("child: %s --demo --addr 127.0.0.1:<free port> --data %s, env PATH HOME TMPDIR only: the default budgets, fully embedded\n",
		bin, filepath.Join(dir, "data"))
	srv, err := startChild(ctx, bin, filepath.Join(dir, "data"), filepath.Join(dir, "consultd.log"))
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.kill()
			printLogSummary(srv.logPath)
		}
	}()
	fmt.Printf("consultd: pid %d on %s, ready in %s ms\n", srv.pid(), srv.addr, ms(srv.ready))

	ref := newClient(srv.base, o.workers)
	if err := ref.Login(ctx, "referrer1", "demo"); err != nil {
		return fmt.Errorf("log in referrer1: %w", err)
	}
	coord := newClient(srv.base, 1)
	if err := coord.Login(ctx, "coord1", "demo"); err != nil {
		return fmt.Errorf("log in coord1: %w", err)
	}

	// 1. The submissions, as fast as the senders go.
	subs := newOutcomes()
	jobs := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				var apiErr *apiclient.Error
				status, err := ref.Do(ctx, http.MethodPost, "/api/v1/consults", consultBody(i),
					http.Header{"Idempotency-Key": {ulid.Make().String()}}, nil)
				budget := ""
				if errors.As(err, &apiErr) {
					budget, err = apiErr.Body.Error.Budget, nil
				}
				subs.add(status, budget, err)
			}
		}()
	}
	for i := range o.submissions {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(t0)
	fmt.Printf("submissions: %d emergent as referrer1 in %.2f s: %d stored (201), %d refused (429); answers: %s\n",
		o.submissions, took.Seconds(), subs.count(http.StatusCreated), subs.count(http.StatusTooManyRequests), subs)

	// 2. The stream upgrades on the one session, then over five sessions of the same user.
	cookie := func(c *apiclient.Client) http.Header {
		u, _ := url.Parse(srv.base)
		var parts []string
		for _, ck := range c.HTTP.Jar.Cookies(u) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		return http.Header{"Cookie": {strings.Join(parts, "; ")}, "Origin": {srv.base}}
	}
	wsURL := "ws://" + srv.addr + "/api/v1/stream"
	dialer := newDialer(1)
	flood := func(headers []http.Header) (*outcomes, []*websocket.Conn, time.Duration) {
		out := newOutcomes()
		var mu sync.Mutex
		var open []*websocket.Conn
		sem := make(chan struct{}, o.dialConc)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range o.sockets {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				conn, resp, err := dialer.DialContext(ctx, wsURL, headers[i%len(headers)])
				if err == nil {
					mu.Lock()
					open = append(open, conn)
					mu.Unlock()
					go func() { // read, which answers pings, until closed
						for {
							if _, _, err := conn.NextReader(); err != nil {
								return
							}
						}
					}()
					out.add(http.StatusSwitchingProtocols, "", nil)
					return
				}
				if resp == nil {
					out.add(0, "", err)
					return
				}
				out.add(resp.StatusCode, budgetOf(resp), nil)
			}()
		}
		wg.Wait()
		return out, open, time.Since(t0)
	}
	closeAll := func(conns []*websocket.Conn) {
		for _, c := range conns {
			_ = c.Close()
		}
	}

	one, open, took := flood([]http.Header{cookie(ref)})
	fmt.Printf("sockets, one session: %d upgrades in %.2f s: %d open (101), %d refused (429); answers: %s\n",
		o.sockets, took.Seconds(), one.count(http.StatusSwitchingProtocols), one.count(http.StatusTooManyRequests), one)
	closeAll(open)
	t1 := time.Now()
	freed := false
	for time.Since(t1) < 10*time.Second && ctx.Err() == nil {
		conn, resp, err := dialer.DialContext(ctx, wsURL, cookie(ref))
		if err == nil {
			conn.Close()
			freed = true
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if freed {
		fmt.Printf("sockets: after closing them, a new upgrade was admitted within %s ms\n", ms(time.Since(t1)))
	} else {
		fmt.Println("sockets: after closing them, no upgrade was admitted within 10 s")
	}
	headers := []http.Header{cookie(ref)}
	for range 4 {
		c := newClient(srv.base, 1)
		if err := c.Login(ctx, "referrer1", "demo"); err != nil {
			return fmt.Errorf("log in referrer1 again: %w", err)
		}
		headers = append(headers, cookie(c))
	}
	five, open, took := flood(headers)
	fmt.Printf("sockets, five sessions of one user: %d upgrades in %.2f s: %d open (101), %d refused (429); answers: %s\n",
		o.sockets, took.Seconds(), five.count(http.StatusSwitchingProtocols), five.count(http.StatusTooManyRequests), five)
	closeAll(open)

	// 3. What the coordinators and the metrics show.
	var list struct {
		Throttled []struct {
			UserID   string `json:"user_id"`
			Budget   string `json:"budget"`
			Refusals int    `json:"refusals"`
		} `json:"throttled"`
	}
	if _, err := coord.Do(ctx, http.MethodGet, "/api/v1/throttled", nil, nil, &list); err != nil {
		return fmt.Errorf("GET /api/v1/throttled: %w", err)
	}
	for _, t := range list.Throttled {
		fmt.Printf("coordinators see: %s held back by %s, %d refusals\n", t.UserID, t.Budget, t.Refusals)
	}
	for _, line := range metricLines(ctx, srv.metrics, "budget_refusals_total") {
		fmt.Println("metrics: " + line)
	}
	stopped = true
	took, how := srv.stop(30 * time.Second)
	fmt.Printf("consultd stopped: SIGTERM -> %s in %.2f s\n", how, took.Seconds())
	printLogSummary(srv.logPath)
	return nil
}

// budgetOf reads the budget named by a refused upgrade's error envelope.
func budgetOf(resp *http.Response) string {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	const field = `"budget":"`
	i := strings.Index(string(data), field)
	if i < 0 {
		return ""
	}
	rest := string(data[i+len(field):])
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// metricLines returns the lines of base/metrics of the series name, labels and all.
func metricLines(ctx context.Context, base, name string) []string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name+"{") {
			out = append(out, sc.Text())
		}
	}
	return out
}
