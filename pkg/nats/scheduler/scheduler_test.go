package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/deadline"
	"github.com/regionalconsult/broker/pkg/nats/scheduler"
)

func TestScheduledDeadlineFiresOnce(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Bus(t)
	s, err := scheduler.Open(context.Background(), b)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	due := make(chan deadline.Deadline, 4)
	go func() {
		_ = s.Consume(ctx, "test", func(_ context.Context, d deadline.Deadline) error { due <- d; return nil })
	}()
	d := deadline.Deadline{ConsultID: "c1", Position: 2, At: time.Now().Add(1500 * time.Millisecond)}
	require.NoError(t, s.Schedule(ctx, d))
	require.NoError(t, s.Schedule(ctx, d), "scheduling again is harmless")
	select {
	case got := <-due:
		assert.Equal(t, "c1", got.ConsultID)
		assert.Equal(t, 2, got.Position)
		assert.False(t, time.Now().Before(d.At), "fired at %s, before its deadline %s", time.Now(), d.At)
	case <-time.After(10 * time.Second):
		t.Fatal("deadline did not fire within 10s")
	}
	select {
	case got := <-due:
		t.Fatalf("got a second due notice %+v, want one", got)
	case <-time.After(2 * time.Second):
	}
}
