// Package testenv starts the servers tests run against: an embedded NATS server per test, and a
// real redis-server when one is installed (the in-process one otherwise, saying so). CI installs
// redis-server and sets CONSULT_REQUIRE_REAL_REDIS=1, so nothing silently falls back there.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
	"github.com/regionalconsult/broker/pkg/process/embedded"
)

// Logger returns a logger that writes to the test log when -v is set and discards otherwise.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// NATS starts an embedded NATS server with JetStream in a temporary directory and returns its URL.
func NATS(t testing.TB) string {
	t.Helper()
	n, err := embedded.StartNATS(t.TempDir(), "127.0.0.1", 0)
	require.NoError(t, err)
	t.Cleanup(n.Shutdown)
	return n.URL()
}

// Bus connects to a fresh embedded NATS server.
func Bus(t testing.TB) (*bus.Bus, *nats.Conn) {
	t.Helper()
	url := NATS(t)
	nc, err := bus.Connect(url, t.Name(), Logger(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	b, err := bus.New(nc, 1, Logger(t))
	require.NoError(t, err)
	return b, nc
}

// Consults connects to a fresh embedded NATS server and declares the consult stream.
func Consults(t testing.TB) (*consultstore.Store, *bus.Bus) {
	t.Helper()
	b, _ := Bus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := consultstore.Open(ctx, b)
	require.NoError(t, err)
	return s, b
}

var (
	redisOnce sync.Once
	redisPath string
)

// RedisServerPath returns the path of an installed redis-server, or "".
func RedisServerPath() string {
	redisOnce.Do(func() {
		if p, err := exec.LookPath("redis-server"); err == nil {
			redisPath = p
		}
	})
	return redisPath
}

// RedisKind says which Redis tests use here: "real" or "in-process".
func RedisKind() string {
	if RedisServerPath() != "" {
		return "real"
	}
	return "in-process"
}

// RedisURL starts a Redis for one test and returns its URL: a real redis-server on a free
// loopback port when installed, else the in-process server (which CI forbids).
func RedisURL(t testing.TB) string {
	t.Helper()
	if path := RedisServerPath(); path != "" {
		return startRedisServer(t, path)
	}
	if os.Getenv("CONSULT_REQUIRE_REAL_REDIS") != "" {
		t.Fatal("redis-server is not installed but CONSULT_REQUIRE_REAL_REDIS is set")
	}
	r, err := embedded.StartRedis("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r.URL()
}

func startRedisServer(t testing.TB, path string) string {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "yes")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond,
		"redis-server did not start on port %d", port)
	return url
}

// Redis returns a client of a fresh Redis for one test.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := RedisURL(t)
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c, url
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RepoRoot returns the module root, found by walking up from the working directory to go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the working directory")
		dir = parent
	}
}

// RedisKinds returns a Redis URL per implementation available here, by name ("real",
// "in-process"), for contract suites that must hold for both.
func RedisKinds(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	if path := RedisServerPath(); path != "" {
		out["real"] = startRedisServer(t, path)
	} else if os.Getenv("CONSULT_REQUIRE_REAL_REDIS") != "" {
		t.Fatal("redis-server is not installed but CONSULT_REQUIRE_REAL_REDIS is set")
	}
	r, err := embedded.StartRedis("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(r.Close)
	out["in-process"] = r.URL()
	return out
}
