package presence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/redis/presence"
	"github.com/regionalconsult/broker/pkg/redis/readmodel"
)

func TestPresenceContract(t *testing.T) {
	for kind, url := range testenv.RedisKinds(t) {
		t.Run(kind, func(t *testing.T) {
			rdb, err := readmodel.Dial(url)
			require.NoError(t, err)
			defer rdb.Close()
			ctx := context.Background()
			p := presence.New(rdb, fmt.Sprintf("t%d:", time.Now().UnixNano()), 600*time.Millisecond)

			online := func(user string) bool {
				t.Helper()
				ok, err := p.Online(ctx, user)
				require.NoError(t, err)
				return ok
			}
			assert.False(t, online("u-onc1"))
			require.NoError(t, p.Connected(ctx, "u-onc1", "gw1-1"))
			require.NoError(t, p.Connected(ctx, "u-onc1", "gw2-1"))
			assert.True(t, online("u-onc1"))
			require.NoError(t, p.Disconnected(ctx, "u-onc1", "gw1-1"))
			assert.True(t, online("u-onc1"), "a connection on the other gateway is still open")

			// gw2 crashes: it stops refreshing, and its entry lapses by itself.
			require.Eventually(t, func() bool { return !online("u-onc1") }, 3*time.Second, 50*time.Millisecond)

			// A live gateway keeps its users online past the TTL.
			require.NoError(t, p.Connected(ctx, "u-onc2", "gw1-2"))
			for range 4 {
				time.Sleep(250 * time.Millisecond)
				require.NoError(t, p.Refresh(ctx, map[string][]string{"u-onc2": {"gw1-2"}}))
			}
			assert.True(t, online("u-onc2"))
		})
	}
}
