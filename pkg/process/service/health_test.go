package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/process/service"
)

// /readyz names what is not ready and keeps why to the log: a Redis that refuses connections
// and a NATS that does not answer are each reported as themselves, each under its own
// deadline, and no error text reaches the caller.
func TestReadyzNamesFailingChecksOnly(t *testing.T) {
	ctx := context.Background()
	conns, err := service.Open(ctx, service.Config{ServiceName: "test", NATSURL: testenv.NATS(t), RedisURL: testenv.RedisURL(t)}, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(conns.Close)

	answer := func(checks service.Checks) (int, string) {
		t.Helper()
		mux := http.NewServeMux()
		conns.Health(mux, testenv.Logger(t), checks)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code == http.StatusOK {
			return rec.Code, rec.Body.String()
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, "unavailable", body.Error.Code)
		return rec.Code, body.Error.Message
	}

	ok := func(context.Context) error { return nil }
	status, _ := answer(conns.Checks(ok))
	assert.Equal(t, http.StatusOK, status, "got %d with NATS and Redis answering, want 200", status)

	gone := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), MaxRetries: 0})
	t.Cleanup(func() { _ = gone.Close() })
	hung := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() } // a paused NATS
	status, msg := answer(service.Checks{"nats": hung, "redis": func(ctx context.Context) error { return gone.Ping(ctx).Err() }})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "not ready: nats, redis", msg, "got %q, want the failing checks named and nothing else", msg)

	// A paused NATS does not use up Redis's time: Redis answering is not reported.
	status, msg = answer(conns.Checks(hung))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "not ready: nats", msg, "got %q, want NATS named alone", msg)

	status, msg = answer(service.Checks{"nats": ok, "redis": func(ctx context.Context) error { return gone.Ping(ctx).Err() }})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "not ready: redis", msg, "got %q, want Redis named alone and without its error text", msg)
}

// The public /readyz, which anyone may ask, costs NATS and Redis one check a second however many
// ask, and says nothing of why.
func TestPublicReadyzSharesItsAnswer(t *testing.T) {
	ctx := context.Background()
	conns, err := service.Open(ctx, service.Config{ServiceName: "test", NATSURL: testenv.NATS(t), RedisURL: testenv.RedisURL(t)}, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(conns.Close)
	var calls atomic.Int32
	mux := http.NewServeMux()
	conns.PublicHealth(mux, testenv.Logger(t), service.Checks{"nats": func(context.Context) error { calls.Add(1); return errors.New("stream leader lost") }})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.NotContains(t, rec.Body.String(), "leader", "got %s, want no reason on the public address", rec.Body.String())
			assert.NotContains(t, rec.Body.String(), "nats", "got %s, want no check named on the public address", rec.Body.String())
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), calls.Load(), "got %d checks for 50 probes within a second, want 1", calls.Load())
}
