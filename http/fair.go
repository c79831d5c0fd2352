package http

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errQueueTimeout is what fairSlots.acquire returns when no slot came free
// in time.
var errQueueTimeout = errors.New("http: no upload slot came free in time")

// fairSlots is a counting semaphore shared fairly between keys (accounts).
// A slot is taken at once while one is free. Otherwise the request waits,
// and a released slot goes to the waiting key that holds the fewest slots
// at that moment; among those, to the request that has waited longest. So
// an account that holds many slots cannot keep the others out: each
// release serves the account furthest behind.
type fairSlots[K comparable] struct {
	mu      sync.Mutex
	free    int
	held    map[K]int
	waiting map[K][]*slotWaiter[K] // per key, oldest first
	nwait   int
	seq     uint64
}

type slotWaiter[K comparable] struct {
	key     K
	seq     uint64        // arrival order
	ready   chan struct{} // closed when the slot is handed over
	granted bool          // under fairSlots.mu
}

func newFairSlots[K comparable](n int) *fairSlots[K] {
	return &fairSlots[K]{free: n, held: make(map[K]int), waiting: make(map[K][]*slotWaiter[K])}
}

// acquire takes a slot for key, waiting at most timeout. It returns the
// function that gives the slot back (calling it more than once is
// harmless), or errQueueTimeout, or ctx's error if ctx ends first. On error
// no slot is held.
func (s *fairSlots[K]) acquire(ctx context.Context, key K, timeout time.Duration) (release func(), err error) {
	s.mu.Lock()
	if s.free > 0 {
		// A free slot means nobody waits: release hands slots to waiters.
		s.free--
		s.held[key]++
		s.mu.Unlock()
		return s.releaser(key), nil
	}
	s.seq++
	w := &slotWaiter[K]{key: key, seq: s.seq, ready: make(chan struct{})}
	s.waiting[key] = append(s.waiting[key], w)
	s.nwait++
	s.mu.Unlock()

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.ready:
		return s.releaser(key), nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = errQueueTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		// Handed over between the wake-up and the lock.
		if ctx.Err() == nil {
			return s.releaser(key), nil
		}
		s.releaseLocked(key)
		return nil, err
	}
	q := s.waiting[key]
	for i, o := range q {
		if o == w {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(s.waiting, key)
	} else {
		s.waiting[key] = q
	}
	s.nwait--
	return nil, err
}

func (s *fairSlots[K]) releaser(key K) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.releaseLocked(key)
			s.mu.Unlock()
		})
	}
}

// releaseLocked gives back a slot of key: to the waiter that should have
// it, or to the free pool if none waits.
func (s *fairSlots[K]) releaseLocked(key K) {
	if s.held[key]--; s.held[key] <= 0 {
		delete(s.held, key)
	}
	var next *slotWaiter[K]
	for k, q := range s.waiting {
		w := q[0]
		if next == nil || s.held[k] < s.held[next.key] || (s.held[k] == s.held[next.key] && w.seq < next.seq) {
			next = w
		}
	}
	if next == nil {
		s.free++
		return
	}
	q := s.waiting[next.key]
	q[0] = nil
	if q = q[1:]; len(q) == 0 {
		delete(s.waiting, next.key)
	} else {
		s.waiting[next.key] = q
	}
	s.nwait--
	s.held[next.key]++
	next.granted = true
	close(next.ready)
}

// state reports the free slots, the slots each key holds and the number of
// requests waiting, for tests.
func (s *fairSlots[K]) state() (free int, held map[K]int, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held = make(map[K]int, len(s.held))
	for k, n := range s.held {
		held[k] = n
	}
	return s.free, held, s.nwait
}
