package directory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regionalconsult/broker/internal/testkit/testenv"
	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/nats/directory"
	"github.com/regionalconsult/broker/pkg/roster"
)

func open(t *testing.T, b *bus.Bus) *directory.Directory {
	t.Helper()
	d, err := directory.Open(context.Background(), b, testenv.Logger(t))
	require.NoError(t, err)
	return d
}

// seeded returns a bus with the demo roster stored and a directory over it.
func seeded(t *testing.T) (*bus.Bus, *directory.Directory) {
	t.Helper()
	b, _ := testenv.Bus(t)
	d := open(t, b)
	ok, err := d.Seed(context.Background(), roster.DemoJSON())
	require.NoError(t, err)
	require.True(t, ok, "got the demo roster not seeded into a fresh bucket")
	return b, d
}

// disable returns a change that disables the user id.
func disable(id string) func(*roster.Roster) (*roster.Roster, error) {
	return func(cur *roster.Roster) (*roster.Roster, error) {
		next := cur.Clone()
		i := slices.IndexFunc(next.Users, func(u roster.User) bool { return u.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("no user %s", id)
		}
		next.Users[i].Disabled = true
		return next, nil
	}
}

func disabled(r *roster.Roster, id string) bool {
	u, ok := r.User(id)
	return ok && u.Disabled
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, d := seeded(t)

	got, err := d.Update(ctx, disable("u-onc2"))
	require.NoError(t, err)
	assert.True(t, disabled(got, "u-onc2"), "got onc2 enabled in the returned roster, want disabled")
	assert.True(t, disabled(d.Roster(), "u-onc2"), "got onc2 enabled in the directory's roster, want disabled")
	_, ok := got.OnCallFor("pediatric-oncology", time.Now())
	assert.True(t, ok, "got a returned roster without lookups, want a built one")

	again := open(t, b)
	assert.True(t, disabled(again.Roster(), "u-onc2"), "got onc2 enabled in a directory opened afterwards, want the change stored")
	assert.False(t, disabled(again.Roster(), "u-onc1"), "got onc1 disabled, want only onc2 changed")
}

// TestUpdateStoresNothingOnError checks that an invalid new roster and an error from the change
// leave the stored roster as it was.
func TestUpdateStoresNothingOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, d := seeded(t)
	errNope := errors.New("nope")
	tests := []struct {
		name   string
		change func(*roster.Roster) (*roster.Roster, error)
		check  func(t *testing.T, err error)
	}{
		{"invalid roster", func(cur *roster.Roster) (*roster.Roster, error) {
			next := cur.Clone()
			next.Users[0].Role = "nurse"
			return next, nil
		}, func(t *testing.T, err error) {
			var fe *roster.FieldError
			require.True(t, errors.As(err, &fe), "got %v, want a *roster.FieldError", err)
			assert.Equal(t, "users[0].role", fe.Field, "got field %q, want users[0].role", fe.Field)
		}},
		{"error from the change", func(*roster.Roster) (*roster.Roster, error) { return nil, errNope },
			func(t *testing.T, err error) { assert.ErrorIs(t, err, errNope, "got %v, want the change's error", err) }},
		{"the change edits the clone only", func(cur *roster.Roster) (*roster.Roster, error) {
			next := cur.Clone()
			next.Users[0].Disabled = true
			return nil, errNope
		}, func(t *testing.T, err error) { assert.ErrorIs(t, err, errNope) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Update(ctx, tt.change)
			require.Error(t, err)
			assert.Nil(t, got, "got a roster beside the error, want nil")
			tt.check(t, err)
			assert.False(t, disabled(d.Roster(), "u-referrer1"), "got the current roster changed")
			assert.False(t, disabled(open(t, b).Roster(), "u-referrer1"), "got the stored roster changed")
			assert.Equal(t, "referrer", open(t, b).Roster().Users[0].Role, "got the stored roster changed")
		})
	}
}

// TestUpdateRetriesAfterAConflict has another instance store a change while the first one is
// deciding its own: the first one's store is refused and its change runs again on the newer
// version, so neither change is lost.
func TestUpdateRetriesAfterAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, first := seeded(t)
	second := open(t, b)

	calls := 0
	got, err := first.Update(ctx, func(cur *roster.Roster) (*roster.Roster, error) {
		calls++
		if calls == 1 {
			_, err := second.Update(ctx, disable("u-hem2"))
			require.NoError(t, err, "the other instance's update")
			assert.False(t, disabled(cur, "u-hem2"), "got the newer version on the first call, want the one read before")
		} else {
			assert.True(t, disabled(cur, "u-hem2"), "got the old version on call %d, want the other instance's", calls)
		}
		return disable("u-rad3")(cur)
	})
	require.NoError(t, err)
	assert.Equal(t, 2, calls, "got the change run %d times, want twice", calls)
	for _, id := range []string{"u-hem2", "u-rad3"} {
		assert.True(t, disabled(got, id), "got %s enabled in the result, want both changes kept", id)
		assert.True(t, disabled(open(t, b).Roster(), id), "got %s enabled in the stored roster, want both changes kept", id)
	}
}

// TestUpdateGivesUpWhenAlwaysBeaten has another instance win every time: Update gives up with
// ErrBusy and its own change is not stored.
func TestUpdateGivesUpWhenAlwaysBeaten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, first := seeded(t)
	second := open(t, b)
	calls := 0
	_, err := first.Update(ctx, func(cur *roster.Roster) (*roster.Roster, error) {
		calls++
		next := cur.Clone()
		next.Clinics = append(next.Clinics, roster.Clinic{ID: fmt.Sprintf("clinic-%d", calls)})
		_, err := second.Update(ctx, func(cur *roster.Roster) (*roster.Roster, error) {
			other := cur.Clone()
			other.Clinics = append(other.Clinics, roster.Clinic{ID: fmt.Sprintf("other-%d", calls)})
			return other, nil
		})
		require.NoError(t, err)
		return next, nil
	})
	assert.ErrorIs(t, err, directory.ErrBusy, "got %v, want ErrBusy", err)
	stored := open(t, b).Roster()
	assert.False(t, slices.ContainsFunc(stored.Clinics, func(c roster.Clinic) bool { return c.ID == "clinic-1" }),
		"got the beaten change stored")
	assert.Greater(t, calls, 1, "got no retry")
}

// TestUpdateConcurrent runs updates from two instances at once; every one is kept.
func TestUpdateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, first := seeded(t)
	dirs := []*directory.Directory{first, open(t, b)}
	var wg sync.WaitGroup
	const n = 6
	for i := range n {
		wg.Go(func() {
			for {
				_, err := dirs[i%2].Update(ctx, func(cur *roster.Roster) (*roster.Roster, error) {
					next := cur.Clone()
					next.Clinics = append(next.Clinics, roster.Clinic{ID: fmt.Sprintf("c%d", i)})
					return next, nil
				})
				if !errors.Is(err, directory.ErrBusy) {
					assert.NoError(t, err)
					return
				}
			}
		})
	}
	wg.Wait()
	stored := open(t, b).Roster()
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		assert.True(t, slices.ContainsFunc(stored.Clinics, func(c roster.Clinic) bool { return c.ID == id }), "got clinic %s lost", id)
	}
}

// TestUpdateWithoutAStoredRoster creates the roster when none is stored yet.
func TestUpdateWithoutAStoredRoster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := testenv.Bus(t)
	d := open(t, b)
	got, err := d.Update(ctx, func(cur *roster.Roster) (*roster.Roster, error) {
		assert.Empty(t, cur.Users, "got users in a roster never stored")
		return roster.Parse(roster.DemoJSON())
	})
	require.NoError(t, err)
	_, ok := got.ByUsername("onc1")
	assert.True(t, ok, "got no onc1 after storing the demo roster")
	seeded, err := d.Seed(ctx, roster.DemoJSON())
	require.NoError(t, err)
	assert.False(t, seeded, "got a second seed, want the stored roster kept")
}

// TestWatchAppliesAnotherInstancesUpdate checks that an update made through one instance
// reaches another's Roster and change listeners.
func TestWatchAppliesAnotherInstancesUpdate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	b, writer := seeded(t)
	reader := open(t, b)
	changed := make(chan *roster.Roster, 10)
	reader.OnChange(func(r *roster.Roster) { changed <- r })
	done := make(chan error, 1)
	go func() { done <- reader.Watch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	_, err := writer.Update(context.Background(), disable("u-neuro2"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return disabled(reader.Roster(), "u-neuro2") }, 10*time.Second, 10*time.Millisecond,
		"got the other instance's roster unchanged")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-changed:
			if disabled(r, "u-neuro2") {
				return
			}
		case <-deadline:
			t.Fatal("got no change listener call with the update")
		}
	}
}
