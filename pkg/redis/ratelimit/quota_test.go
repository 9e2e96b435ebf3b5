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

// Per-user quotas: each user has their own; several are charged all or none; the one that is
// spent is named with the wait; a refund frees a use; concurrent requests cannot overdraw.
func TestQuotasPerUser(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			l := ratelimit.New(rdb, fmt.Sprintf("q%d:", time.Now().UnixNano()))
			all := ratelimit.Quota{Name: "submissions", Limit: 5, Window: 10 * time.Minute}
			emergent := ratelimit.Quota{Name: "emergent_submissions", Limit: 2, Window: 5 * time.Minute}

			spend := func(user string, qs ...ratelimit.Quota) (string, time.Duration) {
				t.Helper()
				spent, wait, err := l.Spend(ctx, user, qs...)
				require.NoError(t, err)
				return spent, wait
			}
			for i := range 2 {
				spent, _ := spend("u-ref1", all, emergent)
				require.Empty(t, spent, "emergent submission %d refused", i+1)
			}
			spent, wait := spend("u-ref1", all, emergent)
			assert.Equal(t, "emergent_submissions", spent, "got %q spent by the 3rd emergent, want emergent_submissions", spent)
			assert.Greater(t, wait, 4*time.Minute, "got a wait of %s, want about the emergent window (5m)", wait)
			assert.LessOrEqual(t, wait, 5*time.Minute)
			// The refused emergent charged nothing to the overall quota: 3 more routine ones fit.
			for i := range 3 {
				spent, _ := spend("u-ref1", all)
				require.Empty(t, spent, "routine submission %d refused after a refused emergent one", i+1)
			}
			spent, wait = spend("u-ref1", all)
			assert.Equal(t, "submissions", spent)
			assert.Greater(t, wait, 9*time.Minute, "got a wait of %s, want about 10m", wait)
			spent, _ = spend("u-ref2", all, emergent)
			assert.Empty(t, spent, "another user was refused by u-ref1's use")
			require.NoError(t, l.Refund(ctx, "u-ref1", all))
			spent, _ = spend("u-ref1", all)
			assert.Empty(t, spent, "a refunded use was not free again")

			var through atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					spent, _, err := l.Spend(ctx, "u-ref3", ratelimit.Quota{Name: "messages", Limit: 10, Window: time.Minute})
					assert.NoError(t, err)
					if spent == "" {
						through.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(10), through.Load(), "got %d of 50 concurrent messages through, want 10", through.Load())
		})
	}
}

// A quota's window ends by itself: once it has, the user may go on.
func TestQuotaWindowEnds(t *testing.T) {
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	l := ratelimit.New(rdb, "w:")
	q := ratelimit.Quota{Name: "uploads", Limit: 1, Window: 300 * time.Millisecond}
	spent, _, err := l.Spend(ctx, "u-ref1", q)
	require.NoError(t, err)
	require.Empty(t, spent)
	spent, wait, err := l.Spend(ctx, "u-ref1", q)
	require.NoError(t, err)
	require.Equal(t, "uploads", spent)
	assert.LessOrEqual(t, wait, 300*time.Millisecond, "got a wait of %s, want at most the window", wait)
	require.Eventually(t, func() bool {
		spent, _, err := l.Spend(ctx, "u-ref1", q)
		return err == nil && spent == ""
	}, 5*time.Second, 50*time.Millisecond, "the window never ended")
}

// Refusals are kept for the coordinators as runs: one per user and budget, counted, starting
// again after a quiet window; newest first; at most a bounded number.
func TestRefusalsAreKeptForCoordinators(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			l := ratelimit.New(rdb, fmt.Sprintf("r%d:", time.Now().UnixNano()))
			t0 := time.Now().Truncate(time.Millisecond)
			refuse := func(at time.Time, user, budget string) bool {
				t.Helper()
				first, err := l.Refused(ctx, at, user, budget, time.Minute)
				require.NoError(t, err)
				return first
			}
			assert.True(t, refuse(t0, "u-ref1", "submissions"), "the first refusal does not start a run")
			for i := range 4 {
				assert.False(t, refuse(t0.Add(time.Duration(i+1)*time.Second), "u-ref1", "submissions"), "refusal %d started a new run", i+2)
			}
			assert.True(t, refuse(t0.Add(10*time.Second), "u-ref1", "stream_sockets"), "another budget's refusal did not start its own run")
			got, err := l.ThrottledSince(ctx, t0.Add(-time.Hour), 50)
			require.NoError(t, err)
			require.Len(t, got, 2, "got %+v, want two runs", got)
			assert.Equal(t, ratelimit.Throttled{UserID: "u-ref1", Budget: "stream_sockets", First: t0.Add(10 * time.Second).UTC(),
				Last: t0.Add(10 * time.Second).UTC(), Refusals: 1}, got[0], "got %+v first, want the newest run", got[0])
			assert.Equal(t, ratelimit.Throttled{UserID: "u-ref1", Budget: "submissions", First: t0.UTC(), Last: t0.Add(4 * time.Second).UTC(), Refusals: 5}, got[1])

			// After a quiet window a refusal starts a new run, counted from one.
			assert.True(t, refuse(t0.Add(5*time.Minute), "u-ref1", "submissions"), "a refusal after a quiet window did not start a new run")
			got, err = l.ThrottledSince(ctx, t0.Add(4*time.Minute), 50)
			require.NoError(t, err)
			require.Len(t, got, 1, "got %+v, want only the run refused after the given time", got)
			assert.Equal(t, 1, got[0].Refusals, "got %d refusals in the new run, want 1", got[0].Refusals)

			// Bounded: only the newest runs are kept.
			for i := range 600 {
				refuse(t0.Add(6*time.Minute+time.Duration(i)*time.Millisecond), fmt.Sprintf("u-%d", i), "messages")
			}
			got, err = l.ThrottledSince(ctx, t0.Add(-time.Hour), 1000)
			require.NoError(t, err)
			assert.Len(t, got, 500, "got %d runs kept, want the newest 500", len(got))
			assert.Equal(t, "u-599", got[0].UserID)
		})
	}
}
