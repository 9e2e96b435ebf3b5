package ratelimit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/redis/ratelimit"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

func TestBudgetsHoldUnderConcurrency(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			l := ratelimit.New(rdb, fmt.Sprintf("t%d:", time.Now().UnixNano()))
			user, addr := ratelimit.Budget{Key: "user:onc2", Limit: 10}, ratelimit.Budget{Key: "addr:10.0.0.1", Limit: 100}

			var granted atomic.Int32
			var wg sync.WaitGroup
			for range 60 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, _, err := l.Take(ctx, time.Minute, user, addr)
					assert.NoError(t, err)
					if ok {
						granted.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(10), granted.Load(), "got %d attempts through, want 10", granted.Load())

			ok, wait, err := l.Take(ctx, time.Minute, user, addr)
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Greater(t, wait, 50*time.Second, "got retry after %s", wait)

			// Another user from the same address still has budget; refused attempts did not spend it.
			ok, _, err = l.Take(ctx, time.Minute, ratelimit.Budget{Key: "user:onc1", Limit: 10}, addr)
			require.NoError(t, err)
			assert.True(t, ok)

			// A returned attempt frees its place.
			require.NoError(t, l.Return(ctx, user, addr))
			ok, _, err = l.Take(ctx, time.Minute, user, addr)
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

// Backoffs count every attempt before its outcome is known, so concurrent attempts cannot slip
// past them; a refusing one refuses, a pacing one only slows, and both grow from the last attempt.
func TestBackoffsUnderConcurrency(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			l := ratelimit.New(rdb, fmt.Sprintf("b%d:", time.Now().UnixNano()))
			pair := ratelimit.Backoff{Key: "pair", Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Hour, Refuse: true}
			account := ratelimit.Backoff{Key: "account", Free: 3, Base: 100 * time.Millisecond, Max: 2 * time.Second, Forget: time.Hour}
			now := time.Now()

			var through atomic.Int32
			var wg sync.WaitGroup
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					refused, _, err := l.Attempt(ctx, now, pair)
					assert.NoError(t, err)
					if refused == 0 {
						through.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(5), through.Load(), "got %d attempts through, want the 5 free ones", through.Load())

			refused, _, err := l.Attempt(ctx, now, pair)
			require.NoError(t, err)
			assert.Equal(t, time.Second, refused, "got a wait of %s after 5 attempts, want 1s", refused)
			refused, _, err = l.Attempt(ctx, now.Add(time.Second), pair)
			require.NoError(t, err)
			assert.Zero(t, refused, "got refused after the wait, want the attempt counted")
			refused, _, err = l.Attempt(ctx, now.Add(time.Second), pair)
			require.NoError(t, err)
			assert.Equal(t, 2*time.Second, refused, "got a wait of %s after 6 attempts, want 2s", refused)

			// Pacing never refuses; past its free attempts it slows, doubling up to its maximum.
			var paces []time.Duration
			for range 10 {
				refused, pace, err := l.Attempt(ctx, now, account)
				require.NoError(t, err)
				require.Zero(t, refused, "a pacing backoff refused")
				paces = append(paces, pace)
			}
			assert.Equal(t, []time.Duration{0, 0, 0, 100 * time.Millisecond}, paces[:4], "got %v, want three free attempts, then 100ms", paces)
			assert.Equal(t, 2*time.Second, paces[9], "got %v, want the pacing capped at 2s", paces)

			require.NoError(t, l.Clear(ctx, pair))
			refused, _, err = l.Attempt(ctx, now.Add(time.Second), pair)
			require.NoError(t, err)
			assert.Zero(t, refused, "got refused after Clear")
		})
	}
}
