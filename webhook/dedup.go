package webhook

import (
	"container/list"
	"sync"
	"time"
)

// deliveries remembers recently seen delivery IDs: at most size of them,
// each for ttl. A delivery is first reserved, then either kept (queued)
// or released (refused), so that two copies arriving at once are not both
// queued and a refused delivery can be redelivered.
type deliveries struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // of *seenDelivery, oldest first
	byID  map[string]*list.Element
}

type seenDelivery struct {
	id   string
	seen time.Time
}

func newDeliveries(size int, ttl time.Duration, now func() time.Time) *deliveries {
	return &deliveries{size: size, ttl: ttl, now: now, order: list.New(), byID: make(map[string]*list.Element)}
}

// reserve records id and reports whether it was new.
func (d *deliveries) reserve(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	// Forget the expired ones, oldest first.
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		s := e.Value.(*seenDelivery)
		if now.Sub(s.seen) < d.ttl {
			break
		}
		d.order.Remove(e)
		delete(d.byID, s.id)
	}
	if _, ok := d.byID[id]; ok {
		return false
	}
	for d.order.Len() >= d.size {
		e := d.order.Front()
		d.order.Remove(e)
		delete(d.byID, e.Value.(*seenDelivery).id)
	}
	d.byID[id] = d.order.PushBack(&seenDelivery{id: id, seen: now})
	return true
}

// release forgets id, so that a redelivery is handled.
func (d *deliveries) release(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.byID[id]; ok {
		d.order.Remove(e)
		delete(d.byID, id)
	}
}
