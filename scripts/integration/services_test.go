//go:build integration

// Package integration runs the acceptance suite against the three service binaries as separate
// processes, with a real nats-server (built from the module version the project pins) and a real
// redis-server started with the shipped configurations (TLS, a user per service with its
// permissions: deployment_test.go), all on loopback ports; and checks those permissions
// (permissions_test.go).
// Run it with `go test -tags integration ./scripts/integration/`; `make test` does when
// redis-server is installed, and CI always does.
package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/acceptance"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
)

// build compiles the service binaries and nats-server once.
func build(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	bin := t.TempDir()
	for name, pkg := range map[string]string{
		"intake": "./services/intake", "routing": "./services/routing", "notify": "./services/notify",
		"nats-server": "github.com/nats-io/nats-server/v2",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "build %s: %s", name, out)
	}
	return bin
}

// proc is a child process that the test can kill and start again.
type proc struct {
	t    *testing.T
	name string
	path string
	args []string
	env  []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *os.File
}

func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	require.NoError(p.t, cmd.Start(), "start %s", p.name)
	p.cmd = cmd
}

// kill stops the process without warning, as a crash would.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func spawn(t *testing.T, dir, name, path string, args []string, env ...string) *proc {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	p := &proc{t: t, name: name, path: path, args: args, env: env, log: f}
	p.start()
	t.Cleanup(func() {
		p.kill()
		_ = f.Close()
		if t.Failed() {
			data, _ := os.ReadFile(f.Name())
			t.Logf("--- %s log ---\n%s", name, tail(string(data), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "%s never became ready", url)
}

func TestServicesAcceptance(t *testing.T) {
	if testenv.RedisServerPath() == "" {
		t.Fatal("this suite needs a real redis-server (apt-get install redis-server)")
	}
	bin := build(t)
	dir := t.TempDir()
	root := testenv.RepoRoot(t)

	// The servers as the deployments run them: TLS, a user per service with the shipped
	// permissions (deploy/nats/authorization.conf, deploy/redis/users.acl).
	d := startDeployment(t, bin)

	ports := map[string]int{"intake": testenv.FreePort(t), "routing": testenv.FreePort(t), "routing-b": testenv.FreePort(t), "notify": testenv.FreePort(t)}
	notifyURL := fmt.Sprintf("http://127.0.0.1:%d", ports["notify"])

	// notify answers for intake's name too: intake forwards the browser's upgrade with its Host.
	spawn(t, dir, "notify", filepath.Join(bin, "notify"), nil, append(d.env("notify"), fmt.Sprintf("ADDR=127.0.0.1:%d", ports["notify"]),
		fmt.Sprintf("INTERNAL_ADDR=127.0.0.1:%d", testenv.FreePort(t)), fmt.Sprintf("ALLOWED_HOSTS=127.0.0.1:%d", ports["intake"]))...)
	// Two routers side by side, as a deployment runs them: the stream settles every decision.
	// Clipped, so that each router's append below makes its own copy instead of sharing one.
	routingEnv := slices.Clip(append(d.env("routing"), "STEP_WAIT_EMERGENT=5s", "STEP_WAIT_URGENT=1s", "STEP_WAIT_ROUTINE=1s"))
	routing := spawn(t, dir, "routing", filepath.Join(bin, "routing"), nil, append(routingEnv, fmt.Sprintf("ADDR=127.0.0.1:%d", ports["routing"]))...)
	routingB := spawn(t, dir, "routing-b", filepath.Join(bin, "routing"), nil, append(routingEnv, fmt.Sprintf("ADDR=127.0.0.1:%d", ports["routing-b"]))...)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports["intake"])
	spawn(t, dir, "intake", filepath.Join(bin, "intake"), nil, append(d.env("intake"), fmt.Sprintf("ADDR=127.0.0.1:%d", ports["intake"]),
		fmt.Sprintf("INTERNAL_ADDR=127.0.0.1:%d", testenv.FreePort(t)), "STREAM_UPSTREAM="+notifyURL, "ROSTER_FILE="+filepath.Join(root, "pkg/roster/demo.json"))...)
	routingURL := fmt.Sprintf("http://127.0.0.1:%d", ports["routing"])
	routingBURL := fmt.Sprintf("http://127.0.0.1:%d", ports["routing-b"])
	for _, u := range []string{base, routingURL, routingBURL, notifyURL} {
		waitReady(t, u)
	}

	acceptance.Run(t, acceptance.Target{
		Base: base, // the stream goes through intake's forwarding to notify, as browsers use it
		FlushRedis: func(t *testing.T) {
			require.NoError(t, d.redis(t, "admin").FlushAll(context.Background()).Err())
		},
		RestartRouting: func(t *testing.T) {
			// Both die, so that nothing but the stream carries the offer across the restart.
			routing.kill()
			routingB.kill()
			routing.start()
			routingB.start()
			waitReady(t, routingURL)
			waitReady(t, routingBURL)
		},
		KillRouting: func(t *testing.T) func() {
			routingB.kill()
			return func() {
				routingB.start()
				waitReady(t, routingBURL)
			}
		},
	})
	// The whole suite ran with the shipped permissions, and none of it was refused.
	d.assertNoRefusals(t)
}
