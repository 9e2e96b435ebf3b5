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
