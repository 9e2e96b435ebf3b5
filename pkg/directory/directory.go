// Package directory keeps the roster (users, clinics, specialties, on-call schedules) durably in
// a JetStream key-value bucket and gives every service the current version, updated live when
// it changes.
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

	"github.com/regionalconsult/broker/pkg/bus"
	"github.com/regionalconsult/broker/pkg/roster"
)

const rosterKey = "roster"

// Directory is the live roster.
type Directory struct {
	kv        jetstream.KeyValue
	cur       atomic.Pointer[roster.Roster]
	log       *slog.Logger
	mu        sync.Mutex
	listeners []func(*roster.Roster)
}

// OnChange registers f to be called with every new roster that Watch applies.
func (d *Directory) OnChange(f func(*roster.Roster)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.listeners = append(d.listeners, f)
}

// Open reads the stored roster (an empty one if none is stored yet).
func Open(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Directory, error) {
	kv, err := js.KeyValue(ctx, bus.DirectoryBucket)
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	d := &Directory{kv: kv, log: log}
	empty, _ := roster.Parse([]byte(`{}`))
	d.cur.Store(empty)
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
	return d.set(entry.Value())
}

func (d *Directory) set(data []byte) error {
	r, err := roster.Parse(data)
	if err != nil {
		return err
	}
	d.cur.Store(r)
	return nil
}

// Roster returns the current roster. It never returns nil.
func (d *Directory) Roster() *roster.Roster { return d.cur.Load() }

// Seed stores data as the roster if none is stored yet, and reports whether it did.
func (d *Directory) Seed(ctx context.Context, data []byte) (bool, error) {
	if _, err := roster.Parse(data); err != nil {
		return false, err
	}
	if _, err := d.kv.Create(ctx, rosterKey, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, d.load(ctx)
		}
		return false, fmt.Errorf("seed roster: %w", err)
	}
	return true, d.set(data)
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
			if err := d.set(entry.Value()); err != nil {
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
