package profile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Cache is every stored profile in memory, kept current by Watch. Reads never wait on the
// network; until Watch has read the bucket once (Synced), every user reads as Default.
type Cache struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu        sync.RWMutex
	byUser    map[string]Profile
	listeners []func(userID string, p Profile)

	synced   chan struct{}
	syncOnce sync.Once
}

// NewCache returns an empty cache of s's profiles; run Watch to fill it and keep it current.
func NewCache(s *Store, log *slog.Logger) *Cache {
	return &Cache{kv: s.kv, log: log, byUser: map[string]Profile{}, synced: make(chan struct{})}
}

// Availability returns userID's availability: Available unless the user set another.
func (c *Cache) Availability(userID string) string {
	return c.Profile(userID).Availability
}

// Profile returns userID's profile, Default when none is stored.
func (c *Cache) Profile(userID string) Profile {
	c.mu.RLock()
	p, ok := c.byUser[userID]
	c.mu.RUnlock()
	if !ok {
		return Default
	}
	return p
}

// Synced is closed once Watch has read every stored profile.
func (c *Cache) Synced() <-chan struct{} { return c.synced }

// OnChange registers f to be called, from Watch's goroutine, with each profile that changes
// after the first read of the bucket. f must not block.
func (c *Cache) OnChange(f func(userID string, p Profile)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, f)
}

// Watch reads every stored profile, then applies each change until ctx ends. A watch that
// breaks off is started again; it returns nil when ctx ends.
func (c *Cache) Watch(ctx context.Context) error {
	for {
		err := c.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("profile watch ended; starting it again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (c *Cache) watch(ctx context.Context) error {
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch profiles: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch profiles: updates closed")
			}
			if e == nil { // every stored profile has been read
				c.syncOnce.Do(func() { close(c.synced) })
				continue
			}
			c.apply(e)
		}
	}
}

func (c *Cache) apply(e jetstream.KeyValueEntry) {
	id, ok := userID(e.Key())
	if !ok {
		return
	}
	p := Default
	if e.Operation() == jetstream.KeyValuePut {
		var err error
		if p, err = decode(e.Value()); err != nil {
			c.log.Error("stored profile unreadable; using the default", "user_id", id, "revision", e.Revision(), "err", err)
			p = Default
		}
	}
	c.mu.Lock()
	before, had := c.byUser[id]
	if !had {
		before = Default
	}
	if e.Operation() == jetstream.KeyValuePut {
		c.byUser[id] = p
	} else {
		delete(c.byUser, id)
	}
	listeners := slices.Clone(c.listeners)
	c.mu.Unlock()
	select {
	case <-c.synced:
	default:
		return // the first read: nothing changed
	}
	if before != p {
		for _, f := range listeners {
			f(id, p)
		}
	}
}
