package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/acceptance"
	"github.com/regionalconsult/broker/internal/testkit/apiclient"
	"github.com/regionalconsult/broker/internal/testkit/testenv"
)

// syncBuffer is stdout shared between run and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// start runs consultd in process on a free port and returns its base URL and a function that
// stops it (also run at cleanup).
func start(t *testing.T, env map[string]string, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, out, out) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Error("consultd did not shut down within 20s")
			}
		})
	}
	t.Cleanup(stop)
	var base string
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 15*time.Second, 10*time.Millisecond, "consultd did not start: %s", out.String())
	return base, stop
}

func TestConsultdAcceptance(t *testing.T) {
	t.Logf("redis for this test: %s", testenv.RedisKind())
	rdb, url := testenv.Redis(t)
	base, _ := start(t, map[string]string{
		"REDIS_URL": url, "STEP_WAIT_EMERGENT": "5s", "STEP_WAIT_URGENT": "1s", "STEP_WAIT_ROUTINE": "1s",
	}, "--demo", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	acceptance.Run(t, acceptance.Target{
		Base: base,
		FlushRedis: func(t *testing.T) {
			require.NoError(t, rdb.FlushAll(context.Background()).Err())
		},
	})
}

func TestDemoRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", "10.1.2.3:8080", ":8080"} {
		_, err := parse([]string{"--demo", "--addr", addr}, func(string) string { return "" }, &bytes.Buffer{})
		require.Error(t, err, "--demo --addr %s", addr)
	}
	_, err := parse([]string{"--demo", "--addr", "127.0.0.1:8080"}, func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
}

// consultd checks the settings it shares with the service binaries as they do: a replication
// factor the services refuse is refused here too, and the embedded server is a single one.
func TestSharedSettingsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"replicas without a majority", map[string]string{"STREAM_REPLICAS": "2"}, "STREAM_REPLICAS=2: want 1, 3 or 5"},
		{"replicas on the embedded server", map[string]string{"STREAM_REPLICAS": "3"}, "the embedded NATS server is a single server"},
		{"replicas on a cluster", map[string]string{"STREAM_REPLICAS": "3", "NATS_URL": "nats://127.0.0.1:4222"}, ""},
		{"defaults", map[string]string{}, ""},
		{"nats credentials for the embedded server", map[string]string{"NATS_CREDS_FILE": "main.go"}, "apply to an external NATS_URL"},
		{"redis password for the in-process server", map[string]string{"REDIS_PASSWORD_FILE": "main.go"}, "apply to an external REDIS_URL"},
		{"nats credentials for an external server", map[string]string{"NATS_CREDS_FILE": "main.go", "NATS_URL": "nats://127.0.0.1:4222"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var usage bytes.Buffer
			_, err := parse(nil, func(k string) string { return tc.env[k] }, &usage)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRestartKeepsConsults(t *testing.T) {
	// A restart of the whole process on the same data directory loses nothing acknowledged,
	// and a restart with an empty Redis rebuilds the list from the stream.
	ctx := context.Background()
	dir := t.TempDir()
	_, url := testenv.Redis(t)
	env := map[string]string{"REDIS_URL": url}
	base, stop := start(t, env, "--demo", "--addr", "127.0.0.1:0", "--data", dir)
	ref := apiclient.New(base)
	require.NoError(t, ref.Login(ctx, "referrer1", "demo"))
	var c struct{ ID string }
	_, err := ref.Do(ctx, http.MethodPost, "/api/v1/consults", map[string]any{"urgency": "routine", "specialty": "pediatric-hematology",
		"patient": map[string]any{"age_years": 12, "sex": "male"}, "question": "Persistent thrombocytopenia after ITP treatment"}, nil, &c)
	require.NoError(t, err)
	stop()

	for _, redisURL := range []string{url, ""} { // the same Redis, then the in-process one, empty
		base, stop := start(t, map[string]string{"REDIS_URL": redisURL}, "--demo", "--addr", "127.0.0.1:0", "--data", dir)
		coord := apiclient.New(base)
		require.NoError(t, coord.Login(ctx, "coord1", "demo"))
		_, err = coord.Do(ctx, http.MethodGet, "/api/v1/consults/"+c.ID, nil, nil, nil)
		require.NoError(t, err, "the consult after a restart")
		require.Eventually(t, func() bool {
			var list struct{ Consults []struct{ ID string } }
			_, err := coord.Do(ctx, http.MethodGet, "/api/v1/consults", nil, nil, &list)
			return err == nil && len(list.Consults) == 1 && list.Consults[0].ID == c.ID
		}, 10*time.Second, 50*time.Millisecond, "the list after a restart")
		stop()
	}
}
