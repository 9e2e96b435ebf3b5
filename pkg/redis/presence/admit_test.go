package presence_test

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
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

// Admit bounds a user's open connections across every gateway, and one session's: atomically
// under concurrent upgrades, freed by Disconnected, and freed by itself when a gateway that held
// some crashes and stops refreshing them.
func TestAdmitBoundsConnections(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			p := presence.New(rdb, fmt.Sprintf("a%d:", time.Now().UnixNano()), 30*time.Second)
			const perUser, perSession = 5, 3
			admit := func(session, conn string) string {
				t.Helper()
				full, err := p.Admit(ctx, "u-ref1", session, conn, perUser, perSession)
				require.NoError(t, err)
				return full
			}
			// Concurrent upgrades of one session never overdraw its bound (a few may be refused
			// that would have fit: they try again)...
			var in atomic.Int32
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					full, err := p.Admit(ctx, "u-ref1", "sessionAAAAAAAAAAAAAAAA", fmt.Sprintf("gw1-%d", i), perUser, perSession)
					assert.NoError(t, err)
					if full == "" {
						in.Add(1)
					} else {
						assert.Contains(t, []string{presence.FullSession, presence.FullUser}, full)
					}
				}()
			}
			wg.Wait()
			require.LessOrEqual(t, in.Load(), int32(perSession), "got %d connections of one session admitted at once, want at most %d", in.Load(), perSession)
			// ... and one at a time fill it exactly.
			for i := in.Load(); i < perSession; i++ {
				require.Empty(t, admit("sessionAAAAAAAAAAAAAAAA", fmt.Sprintf("gw1-again-%d", i)), "place %d of the session refused", i+1)
			}
			assert.Equal(t, presence.FullSession, admit("sessionAAAAAAAAAAAAAAAA", "gw1-over"), "got a 4th connection of the session admitted")
			// Another session of the same user fills the user's bound.
			assert.Empty(t, admit("sessionBBBBBBBBBBBBBBBB", "gw2-1"))
			assert.Empty(t, admit("sessionBBBBBBBBBBBBBBBB", "gw2-2"))
			assert.Equal(t, presence.FullUser, admit("sessionCCCCCCCCCCCCCCCC", "gw2-3"), "got a 6th connection of the user admitted")
			online, err := p.Online(ctx, "u-ref1")
			require.NoError(t, err)
			assert.True(t, online, "admitted connections do not count as presence")

			// A closed connection frees its place.
			require.NoError(t, p.Disconnected(ctx, "u-ref1", presence.ConnID("gw2-1", "sessionBBBBBBBBBBBBBBBB")))
			assert.Empty(t, admit("sessionCCCCCCCCCCCCCCCC", "gw2-3"), "a place freed by a disconnect was not given")
			// Other users are not counted against u-ref1.
			full, err := p.Admit(ctx, "u-ref2", "sessionDDDDDDDDDDDDDDDD", "gw1-99", perUser, perSession)
			require.NoError(t, err)
			assert.Empty(t, full)
		})
	}
}

// The connections of a gateway that crashed stop counting once they lapse: only a live
// gateway's refreshes keep its connections counted.
func TestAdmitForgetsACrashedGateway(t *testing.T) {
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	p := presence.New(rdb, "c:", time.Second)
	for i := range 2 {
		full, err := p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", fmt.Sprintf("crashed-%d", i), 3, 3)
		require.NoError(t, err)
		require.Empty(t, full)
	}
	full, err := p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", "live-1", 3, 3)
	require.NoError(t, err)
	require.Empty(t, full)
	live := map[string][]string{"u-onc1": {presence.ConnID("live-1", "sessionAAAAAAAAAAAAAAAA")}}
	full, err = p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", "live-2", 3, 3)
	require.NoError(t, err)
	require.Equal(t, presence.FullSession, full, "got a 4th connection admitted over a bound of 3")
	// The live gateway keeps refreshing its connection; the crashed one's two lapse.
	require.Eventually(t, func() bool {
		require.NoError(t, p.Refresh(ctx, live))
		full, err := p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", "live-2", 3, 3)
		require.NoError(t, err)
		return full == ""
	}, 5*time.Second, 100*time.Millisecond, "the crashed gateway's connections still count")
	full, err = p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", "live-3", 3, 3)
	require.NoError(t, err)
	assert.Empty(t, full, "got %q, want the second crashed place free too", full)
	for _, c := range []string{"live-2", "live-3"} {
		live["u-onc1"] = append(live["u-onc1"], presence.ConnID(c, "sessionAAAAAAAAAAAAAAAA"))
	}
	require.NoError(t, p.Refresh(ctx, live))
	full, err = p.Admit(ctx, "u-onc1", "sessionAAAAAAAAAAAAAAAA", "live-4", 3, 3)
	require.NoError(t, err)
	assert.Equal(t, presence.FullSession, full, "the live gateway's refreshed connection stopped counting")
}
