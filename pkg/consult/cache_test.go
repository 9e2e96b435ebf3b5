package consult_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/event"
)

// stateOf folds steps as the history of consult id.
func stateOf(t *testing.T, id string, steps ...event.Event) *consult.Consult {
	t.Helper()
	events := hist(steps...)
	for i := range events {
		events[i].ConsultID = id
	}
	c, err := consult.Fold(events)
	require.NoError(t, err)
	return c
}

func TestCacheGetPut(t *testing.T) {
	t.Parallel()
	f := consult.NewCache(4)
	assert.Nil(t, f.Get("a"), "got a state from an empty cache, want nil")

	a := stateOf(t, "a", hOffered...)
	f.Put(a)
	assert.Same(t, a, f.Get("a"), "got another state back, want the one put")
	assert.Nil(t, f.Get("b"), "got a state for an id never put, want nil")
}

func TestCacheKeepsNewest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		first, then []event.Event
		wantSecond  bool // whether the state put second is the one kept
	}{
		{"newer replaces older", hOffered, hAccepted, true},
		{"older never replaces newer", hAccepted, hOffered, false},
		{"much older never replaces newer", hCompleted, hRequested, false},
		{"same position keeps the first", hDeclined, then(hOffered, accepted(onc1)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := consult.NewCache(4)
			first, second := stateOf(t, "a", tt.first...), stateOf(t, "a", tt.then...)
			f.Put(first)
			f.Put(second)
			want := first
			if tt.wantSecond {
				want = second
			}
			got := f.Get("a")
			require.NotNil(t, got, "got nil, want a state")
			assert.Same(t, want, got, "got the state at position %d, want the one at %d", got.Position(), want.Position())
		})
	}
}

func TestCacheEvicts(t *testing.T) {
	t.Parallel()
	t.Run("least recently put goes first", func(t *testing.T) {
		t.Parallel()
		f := consult.NewCache(2)
		for _, id := range []string{"a", "b", "c"} {
			f.Put(stateOf(t, id, hRequested...))
		}
		assert.Nil(t, f.Get("a"), "got a, want it evicted")
		assert.NotNil(t, f.Get("b"), "got b evicted, want it kept")
		assert.NotNil(t, f.Get("c"), "got c evicted, want it kept")
	})
	t.Run("a Get keeps a state fresh", func(t *testing.T) {
		t.Parallel()
		f := consult.NewCache(2)
		f.Put(stateOf(t, "a", hRequested...))
		f.Put(stateOf(t, "b", hRequested...))
		require.NotNil(t, f.Get("a"))
		f.Put(stateOf(t, "c", hRequested...))
		assert.NotNil(t, f.Get("a"), "got a evicted after it was used, want it kept")
		assert.Nil(t, f.Get("b"), "got b, want it evicted as least recently used")
	})
	t.Run("a Put of a known id keeps it fresh without growing", func(t *testing.T) {
		t.Parallel()
		f := consult.NewCache(2)
		f.Put(stateOf(t, "a", hRequested...))
		f.Put(stateOf(t, "b", hRequested...))
		f.Put(stateOf(t, "a", hOffered...))
		f.Put(stateOf(t, "c", hRequested...))
		got := f.Get("a")
		if assert.NotNil(t, got, "got a evicted, want it kept") {
			assert.Equal(t, 2, got.Position(), "got position %d, want 2", got.Position())
		}
		assert.Nil(t, f.Get("b"), "got b, want it evicted")
		assert.NotNil(t, f.Get("c"), "got c evicted, want it kept")
	})
	t.Run("never more than its size", func(t *testing.T) {
		t.Parallel()
		const size = 16
		f := consult.NewCache(size)
		for i := range 100 {
			f.Put(stateOf(t, fmt.Sprintf("c-%03d", i), hRequested...))
		}
		kept := 0
		for i := range 100 {
			if f.Get(fmt.Sprintf("c-%03d", i)) != nil {
				kept++
			}
		}
		assert.Equal(t, size, kept, "got %d states kept, want %d", kept, size)
		for i := 100 - size; i < 100; i++ {
			assert.NotNil(t, f.Get(fmt.Sprintf("c-%03d", i)), "got c-%03d evicted, want the newest %d kept", i, size)
		}
	})
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	const goroutines, others = 8, 20
	f := consult.NewCache(goroutines*others + 1) // room for all: nothing is evicted
	states := make([]*consult.Consult, 0, 4)
	for _, steps := range [][]event.Event{hRequested, hOffered, hAccepted, hCompleted} {
		states = append(states, stateOf(t, "a", steps...))
	}
	var other [goroutines][others]*consult.Consult
	for g := range goroutines {
		for i := range others {
			other[g][i] = stateOf(t, fmt.Sprintf("x-%d-%d", g, i), hRequested...)
		}
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				f.Put(states[(g+i)%len(states)])
				f.Put(other[g][i%others])
				_ = f.Get("a")
			}
		}()
	}
	wg.Wait()
	got := f.Get("a")
	require.NotNil(t, got, "got a evicted, want it kept")
	assert.Same(t, states[3], got, "got position %d, want the newest %d", got.Position(), states[3].Position())
}
