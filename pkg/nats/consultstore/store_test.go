package consultstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/consultstore"
)

func request(id string) event.Event {
	return event.Event{ID: ulid.Make().String(), Type: event.Requested, ConsultID: id, Position: 1, At: time.Now().UTC(),
		ActorID: "u-ref", Request: &event.Request{Urgency: "emergent", Specialty: "pediatric-oncology", ClinicID: "hebron",
			Patient: event.Patient{AgeYears: 7, Sex: "female"}, Question: "q"}}
}

func TestAppendLoadAndConflict(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Consults(t)
	ctx := context.Background()
	id := ulid.Make().String()

	_, err := b.Load(ctx, id)
	require.ErrorIs(t, err, consultstore.ErrNotFound)

	c, err := b.Append(ctx, nil, request(id))
	require.NoError(t, err)
	_, err = b.Append(ctx, nil, request(id))
	assert.ErrorIs(t, err, consultstore.ErrConflict, "a second first event must lose")

	// Two writers decide on the same state; exactly one wins, every time.
	const writers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := c.Accept(consult.Actor{ID: "u-x", Role: consult.RoleSpecialist}, time.Now())
			if err != nil { // not offered: build the offer path instead
				e, err = c.OfferTo([]string{"u-spec" + string(rune('a'+i))}, 1, 1, time.Now().Add(time.Minute), time.Now())
				require.NoError(t, err)
			}
			e.ID = ulid.Make().String()
			if _, err := b.Append(ctx, c, e); err == nil {
				wins.Add(1)
			} else {
				assert.ErrorIs(t, err, consultstore.ErrConflict)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load(), "got %d winners, want 1", wins.Load())

	got, err := b.Load(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, consult.StatusOffered, got.Status)
	assert.Len(t, got.Events, 2)

	hist, err := b.History(ctx, id)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	assert.Equal(t, got.LastStreamSeq, hist[1].StreamSeq)
}

func TestAppendSameEventTwiceIsDeduplicated(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Consults(t)
	ctx := context.Background()
	e := request(ulid.Make().String())
	_, err := b.Append(ctx, nil, e)
	require.NoError(t, err)
	seq, err := b.LastSeq(ctx)
	require.NoError(t, err)
	_, _ = b.Append(ctx, nil, e) // a retry after a lost acknowledgement
	seq2, err := b.LastSeq(ctx)
	require.NoError(t, err)
	assert.Equal(t, seq, seq2, "got last seq %d after retry, want %d", seq2, seq)
}

func TestReplayAndFollow(t *testing.T) {
	t.Parallel()
	b, _ := testenv.Consults(t)
	ctx := context.Background()
	for range 5 {
		_, err := b.Append(ctx, nil, request(ulid.Make().String()))
		require.NoError(t, err)
	}
	var seqs []uint64
	require.NoError(t, b.Replay(ctx, 2, 4, func(e event.Event) error { seqs = append(seqs, e.StreamSeq); return nil }))
	assert.Equal(t, []uint64{3, 4}, seqs)

	fctx, cancel := context.WithCancel(ctx)
	got := make(chan uint64, 10)
	go func() {
		_ = b.Follow(fctx, 5, func(_ context.Context, e event.Event) error { got <- e.StreamSeq; return nil })
	}()
	_, err := b.Append(ctx, nil, request(ulid.Make().String()))
	require.NoError(t, err)
	select {
	case s := <-got:
		assert.Equal(t, uint64(6), s)
	case <-time.After(5 * time.Second):
		t.Fatal("follow delivered nothing")
	}
	cancel()
}

func TestPoisonMessagesAreTerminatedNotRetried(t *testing.T) {
	t.Parallel()
	b, raw := testenv.Consults(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := raw.JetStream().Publish(ctx, consultstore.Subject("garbage"), []byte("{not json"))
	require.NoError(t, err)
	bad := request(ulid.Make().String())
	_, err = b.Append(ctx, nil, bad)
	require.NoError(t, err)
	good := request(ulid.Make().String())
	_, err = b.Append(ctx, nil, good)
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[string]int{}
	go func() {
		_ = b.ConsumeEvents(ctx, "poison-test", func(_ context.Context, e event.Event) error {
			mu.Lock()
			defer mu.Unlock()
			seen[e.ConsultID]++
			if e.ConsultID == bad.ConsultID {
				return bus.Permanent(assert.AnError)
			}
			return nil
		})
	}()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[good.ConsultID] == 1
	}, 5*time.Second, 10*time.Millisecond, "the message after the poison ones was not handled")
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, seen[bad.ConsultID], "a permanently failing message was retried")
	assert.Zero(t, seen["garbage"], "an undecodable message reached the handler")
}
