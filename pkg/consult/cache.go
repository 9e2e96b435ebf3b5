package consult

import (
	"container/list"
	"sync"
)

// Cache keeps the newest known state of recently used consults, bounded in count. It is safe for
// concurrent use; the states it holds are never modified (Apply returns new ones).
type Cache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

// NewCache returns a cache of at most size consults.
func NewCache(size int) *Cache {
	return &Cache{max: size, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the cached state of consult id, or nil.
func (f *Cache) Get(id string) *Consult {
	f.mu.Lock()
	defer f.mu.Unlock()
	el, ok := f.items[id]
	if !ok {
		return nil
	}
	f.order.MoveToFront(el)
	return el.Value.(*Consult)
}

// Put caches c unless a later state of the same consult is cached already.
func (f *Cache) Put(c *Consult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if el, ok := f.items[c.ID]; ok {
		if el.Value.(*Consult).Position() < c.Position() {
			el.Value = c
		}
		f.order.MoveToFront(el)
		return
	}
	f.items[c.ID] = f.order.PushFront(c)
	if f.order.Len() > f.max {
		old := f.order.Back()
		f.order.Remove(old)
		delete(f.items, old.Value.(*Consult).ID)
	}
}
