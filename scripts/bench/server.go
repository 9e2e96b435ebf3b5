package main

// Helpers shared by the modes that build and run their own consultd (coldstart, connections,
// fanout): the build, one embedded child on a free loopback port, its memory, CPU and
// metrics, its log, and the file-descriptor limit.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildConsultd builds ./services/consultd of the module around the working directory into bin.
func buildConsultd(ctx context.Context, bin string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	buildCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	build := exec.CommandContext(buildCtx, "go", "build", "-o", bin, "./services/consultd")
	build.Dir = root
	out, err := build.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./services/consultd in %s: %w\n%s", root, err, out)
	}
	fmt.Printf("built: go build -o %s ./services/consultd (in %s) took %.2f s\n", bin, root, time.Since(t0).Seconds())
	return nil
}

// child is one consultd started by the bench, fully embedded, on a free loopback port.
type child struct {
	cmd     *exec.Cmd
	addr    string // 127.0.0.1:port
	base    string // http://127.0.0.1:port
	metrics string // http://127.0.0.1:port of the internal address, for /metrics
	logPath string
	logf    *os.File
	exited  chan struct{}
	waitErr error
	ready   time.Duration
}

// startChild starts `bin --demo --addr 127.0.0.1:<free port> --internal-addr 127.0.0.1:<free
// port> --data dataDir` with the
// explicit environment of childEnv and the settings in env (KEY=value), and waits until /readyz
// answers 200. The child inherits the bench's resource limits (see raiseNoFile).
func startChild(ctx context.Context, bin, dataDir, logPath string, env ...string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	internal, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &child{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logPath: logPath, exited: make(chan struct{})}
	c.base = "http://" + c.addr
	c.metrics = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(internal))
	if c.logf, err = os.Create(logPath); err != nil {
		return nil, err
	}
	c.cmd = exec.Command(bin, "--demo", "--addr", c.addr, "--internal-addr", strings.TrimPrefix(c.metrics, "http://"), "--data", dataDir)
	c.cmd.Env = append(childEnv(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.logf, c.logf
	t0 := time.Now()
	if err := c.cmd.Start(); err != nil {
		c.logf.Close()
		return nil, err
	}
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()

	poll := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.NewTimer(30 * time.Second)
	defer giveUp.Stop()
	for {
		if resp, err := poll.Get(c.base + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.ready = time.Since(t0)
				return c, nil
			}
		}
		select {
		case <-tick.C:
		case <-c.exited:
			c.logf.Close()
			return nil, fmt.Errorf("consultd exited before ready (%v); log:\n%s", c.waitErr, c.logTail(2000))
		case <-giveUp.C:
			c.kill()
			return nil, fmt.Errorf("consultd not ready within 30 s; log:\n%s", c.logTail(2000))
		case <-ctx.Done():
			c.kill()
			return nil, context.Cause(ctx)
		}
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *child) logTail(n int) string { b, _ := os.ReadFile(c.logPath); return tail(b, n) }

// stop sends SIGTERM and waits up to wait for the exit; past that it kills the child. It
// returns how long the exit took and how it ended.
func (c *child) stop(wait time.Duration) (time.Duration, string) {
	defer c.logf.Close()
	if !c.alive() {
		return 0, fmt.Sprintf("had already exited: %v", c.waitErr)
	}
	t0 := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.kill()
		return time.Since(t0), fmt.Sprintf("SIGTERM failed (%v); killed", err)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			return time.Since(t0), "exit: " + c.waitErr.Error()
		}
		return time.Since(t0), "exit 0"
	case <-time.After(wait):
		c.kill()
		return time.Since(t0), fmt.Sprintf("did not exit within %s of SIGTERM; killed", wait)
	}
}

// kill ends the child at once (an error path, or the bench itself being stopped).
func (c *child) kill() {
	if c.alive() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// cpuTime is the child's user+system CPU time so far, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/<pid>/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	// Fields after the command: state(0) ... utime(11) stime(12), in clock ticks; USER_HZ is 100
	// on every Linux this runs on.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// openFilesLimit reads "Max open files" (soft, hard) from /proc/<pid>/limits.
func openFilesLimit(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0] + " soft / " + f[1] + " hard"
			}
		}
	}
	return "?"
}

// raiseNoFile sets RLIMIT_NOFILE of the bench to at least want (soft and hard). A limit set with
// syscall.Setrlimit is what children started afterwards inherit (os/exec restores the limit the
// process started with only while nobody has called Setrlimit). Raising the hard limit needs
// CAP_SYS_RESOURCE; without it the soft limit goes to the hard one and it is an error only when
// that is below need.
func raiseNoFile(want, need uint64) (string, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return "", fmt.Errorf("getrlimit: %w", err)
	}
	before := fmt.Sprintf("%d/%d", r.Cur, r.Max)
	n := syscall.Rlimit{Cur: want, Max: max(r.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err != nil {
		n = syscall.Rlimit{Cur: r.Max, Max: r.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err2 != nil || r.Max < need {
			return "", fmt.Errorf("RLIMIT_NOFILE: cannot raise %s to %d (%v) and %d files are needed; run as root or raise the hard limit (ulimit -Hn)", before, want, err, need)
		}
		return fmt.Sprintf("RLIMIT_NOFILE %s -> %d/%d (could not raise to %d: %v)", before, n.Cur, n.Max, want, err), nil
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return fmt.Sprintf("RLIMIT_NOFILE %s -> %d/%d (soft/hard; consultd inherits it)", before, r.Cur, r.Max), nil
}

// kernelLimits reads the knobs that decide how many loopback connections can be opened.
func kernelLimits() string {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "?"
		}
		return strings.Join(strings.Fields(string(b)), "-")
	}
	return fmt.Sprintf("net.core.somaxconn=%s net.ipv4.ip_local_port_range=%s net.ipv4.tcp_max_syn_backlog=%s fs.nr_open=%s",
		read("/proc/sys/net/core/somaxconn"), read("/proc/sys/net/ipv4/ip_local_port_range"),
		read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), read("/proc/sys/fs/nr_open"))
}

// ephemeralPorts is the size of the local port range (0 if unknown).
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0
	}
	return hi - lo + 1
}

// scrapeMetrics reads the named series from base/metrics (Prometheus text), summing over labels.
// Missing series are absent from the map.
func scrapeMetrics(ctx context.Context, base string, names ...string) map[string]float64 {
	out := map[string]float64{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 || !slices.Contains(names, line[:end]) {
			continue
		}
		rest := line[end:]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[line[:end]] += v
		}
	}
	return out
}

// logSummary counts the child's WARN and ERROR lines by message and returns a few examples.
func logSummary(path string) (lines, warns, errs int, byMsg map[string]int, examples []string) {
	byMsg = map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines++
		var lvl string
		switch {
		case strings.Contains(line, "level=WARN"):
			warns++
			lvl = "WARN"
		case strings.Contains(line, "level=ERROR"), strings.HasPrefix(line, "panic"), strings.HasPrefix(line, "fatal"):
			errs++
			lvl = "ERROR"
		default:
			continue
		}
		msg := line
		if i := strings.Index(line, "msg="); i >= 0 {
			msg = line[i+4:]
			if strings.HasPrefix(msg, `"`) {
				if j := strings.Index(msg[1:], `"`); j >= 0 {
					msg = msg[:j+2]
				}
			} else if j := strings.IndexByte(msg, ' '); j >= 0 {
				msg = msg[:j]
			}
		}
		key := lvl + " " + msg
		if byMsg[key] == 0 && len(examples) < 8 {
			examples = append(examples, line)
		}
		byMsg[key]++
	}
	return
}

func printLogSummary(path string) {
	lines, warns, errs, byMsg, examples := logSummary(path)
	fmt.Printf("consultd log: %d lines, %d WARN, %d ERROR (%s)\n", lines, warns, errs, path)
	keys := make([]string, 0, len(byMsg))
	for k := range byMsg {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return byMsg[b] - byMsg[a] })
	for _, k := range keys {
		fmt.Printf("  %6d x %s\n", byMsg[k], k)
	}
	for _, e := range examples {
		fmt.Printf("  e.g. %s\n", truncate(e, 400))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// workDir makes the run's temporary directory; keep leaves it (and the child's log) in place.
func workDir(prefix string, keep bool) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		return dir, func() { fmt.Printf("kept %s (binary, data dir, consultd log)\n", dir) }, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// binPath is where a run builds consultd.
func binPath(dir string) string { return filepath.Join(dir, "consultd") }

// machineCPU is the whole machine's busy and steal time so far (every CPU, every process and
// the kernel's softirq work, which on loopback is often not charged to either end), from
// /proc/stat.
func machineCPU() (busy, steal time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	tick := 10 * time.Millisecond
	return time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick, time.Duration(v[7]) * tick
}
