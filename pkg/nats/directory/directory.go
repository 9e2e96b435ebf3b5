// Package directory keeps the roster (users, clinics, specialties, on-call schedules, escalation
// policies, red flags) durably in a JetStream key-value bucket, gives every service the current
// version, updated live when it changes, and changes it under the bucket's revision so that
// concurrent edits from any instance never overwrite each other.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/regionalconsult/broker/pkg/nats/bus"
	"github.com/regionalconsult/broker/pkg/roster"
)

const rosterKey = "roster"

// updateAttempts bounds how often Update retries after another writer changed the roster first.
const updateAttempts = 5

// ErrBusy means the roster kept changing under an Update until it gave up; the change was not
// stored and may be retried.
var ErrBusy = errors.New("directory: the roster kept changing under the update")

// Directory is the live roster.
type Directory struct {
	kv        jetstream.KeyValue
	cur       atomic.Pointer[version]
	log       *slog.Logger
	mu        sync.Mutex
	listeners []func(*roster.Roster)
}

// version is a roster and the bucket revision it was stored under (0: not stored).
type version struct {
	r   *roster.Roster
	rev uint64
}

// OnChange registers f to be called with every new roster that Watch applies.
func (d *Directory) OnChange(f func(*roster.Roster)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.listeners = append(d.listeners, f)
}

// Bucket is the key-value bucket that holds the roster document.
const Bucket = "directory"

// Open declares the roster's bucket on b and reads the stored roster (an empty one if none is
// stored yet).
func Open(ctx context.Context, b *bus.Bus, log *slog.Logger) (*Directory, error) {
	kv, err := b.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "roster and users", History: 20,
		Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	d := &Directory{kv: kv, log: log}
	empty, _ := roster.Parse([]byte(`{}`))
	d.cur.Store(&version{r: empty})
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Directory) load(ctx context.Context) error {
	entry, err := d.kv.Get(ctx, rosterKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read roster: %w", err)
	}
	return d.set(entry.Value(), entry.Revision())
}

func (d *Directory) set(data []byte, rev uint64) error {
	r, err := roster.Parse(data)
	if err != nil {
		return err
	}
	d.keep(r, rev)
	return nil
}

// keep makes r, stored under rev, the current roster unless a later revision already is.
func (d *Directory) keep(r *roster.Roster, rev uint64) {
	next := &version{r: r, rev: rev}
	for {
		cur := d.cur.Load()
		if cur.rev > rev || d.cur.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Roster returns the current roster. It never returns nil.
func (d *Directory) Roster() *roster.Roster { return d.cur.Load().r }

// Update changes the stored roster: change gets the stored version and returns the new one,
// which is checked by parsing its document before it is stored under the revision change read.
// When another writer stored a version meanwhile, change runs again on that one, so it must
// have no other effect; after a few such conflicts Update gives up with ErrBusy. An error from
// change is returned as it is, a *roster.FieldError when the new version is invalid; either way
// nothing is stored. The stored roster is current in this Directory when Update returns, and
// in every other as its Watch applies it.
func (d *Directory) Update(ctx context.Context, change func(*roster.Roster) (*roster.Roster, error)) (*roster.Roster, error) {
	for range updateAttempts {
		cur, rev, err := d.stored(ctx)
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if err != nil {
			return nil, err
		}
		data, err := next.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode roster: %w", err)
		}
		built, err := roster.Parse(data)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			rev, err = d.kv.Create(ctx, rosterKey, data)
		} else {
			rev, err = d.kv.Update(ctx, rosterKey, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store roster: %w", err)
		}
		d.keep(built, rev)
		return built, nil
	}
	return nil, ErrBusy
}

// stored reads the stored roster and its revision; an empty roster and 0 when none is stored.
func (d *Directory) stored(ctx context.Context) (*roster.Roster, uint64, error) {
	entry, err := d.kv.Get(ctx, rosterKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		empty, _ := roster.Parse([]byte(`{}`))
		return empty, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read roster: %w", err)
	}
	r, err := roster.Parse(entry.Value())
	if err != nil {
		// Not wrapped: the stored version's problem is no *roster.FieldError of the change.
		return nil, 0, fmt.Errorf("stored roster revision %d is invalid: %v", entry.Revision(), err)
	}
	return r, entry.Revision(), nil
}

// Seed stores data as the roster if none is stored yet, and reports whether it did.
func (d *Directory) Seed(ctx context.Context, data []byte) (bool, error) {
	if _, err := roster.Parse(data); err != nil {
		return false, err
	}
	rev, err := d.kv.Create(ctx, rosterKey, data)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, d.load(ctx)
		}
		return false, fmt.Errorf("seed roster: %w", err)
	}
	return true, d.set(data, rev)
}

// Watch applies every change to the stored roster until ctx ends. It starts from the stored
// value, so a change made between Open and Watch is not missed.
func (d *Directory) Watch(ctx context.Context) error {
	w, err := d.kv.Watch(ctx, rosterKey)
	if err != nil {
		return fmt.Errorf("watch roster: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case entry, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if entry == nil || entry.Operation() != jetstream.KeyValuePut {
				continue
			}
			if err := d.set(entry.Value(), entry.Revision()); err != nil {
				d.log.Error("stored roster rejected; keeping the previous one", "revision", entry.Revision(), "err", err)
				continue
			}
			d.log.Info("roster updated", "revision", entry.Revision())
			d.mu.Lock()
			listeners := slices.Clone(d.listeners)
			d.mu.Unlock()
			for _, f := range listeners {
				f(d.Roster())
			}
		}
	}
}
