package liveness

import (
	"container/list"
	"context"
	"sync"

	"github.com/facevault/facevault"
)

// ErrOverBudget is returned (wrapped) by Analyze for an image whose
// analysis would need more memory than Config.MemoryBudget allows in total,
// so that it could never run. With the default budget no legal image (see
// Config.MaxSide, MaxPixels, MaxBytes) is refused; a caller should answer
// it as a client error (the image is too demanding for this server), not as
// a server failure.
var ErrOverBudget = facevault.ErrOverBudget

// budget is a weighted semaphore over bytes of memory: analyses reserve
// what they will allocate before they allocate it, and wait, first come
// first served, while the budget is spent. (golang.org/x/sync/semaphore
// does the same; this one also reports its accounting to the tests.)
type budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	peak    int64     // the most ever reserved at once
	waiters list.List // of *waiter, first come first
	waits   int       // reservations that had to wait
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the reservation is granted
}

func newBudget(size int64) *budget {
	return &budget{size: size}
}

// acquire reserves n bytes (0 < n ≤ size), waiting until they are free or
// ctx is done; in the latter case it reserves nothing and returns ctx's
// error.
func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if b.used+n <= b.size && b.waiters.Len() == 0 {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return err
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.waits++
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while being cancelled: give it back.
			b.used -= n
		default:
			isFront := b.waiters.Front() == elem
			b.waiters.Remove(elem)
			if !isFront {
				b.mu.Unlock()
				return ctx.Err()
			}
		}
		// The front waiter left (or gave its bytes back): the next ones may fit now.
		b.grant()
		b.mu.Unlock()
		return ctx.Err()
	}
}

// release returns n bytes reserved by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("liveness: budget released more than reserved")
	}
	b.grant()
	b.mu.Unlock()
}

// take reserves n bytes; b.mu is held.
func (b *budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant wakes the waiters at the front of the queue that now fit, in order;
// b.mu is held.
func (b *budget) grant() {
	for {
		front := b.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*waiter)
		if b.used+w.n > b.size {
			return
		}
		b.take(w.n)
		b.waiters.Remove(front)
		close(w.ready)
	}
}

// budgetState is a snapshot of a budget's accounting.
type budgetState struct {
	size, used, peak int64
	waiting, waits   int
}

func (b *budget) state() budgetState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return budgetState{size: b.size, used: b.used, peak: b.peak, waiting: b.waiters.Len(), waits: b.waits}
}
