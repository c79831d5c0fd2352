package facevault

import (
	"context"
	"sync"
	"time"
)

// AuditBatcher is an AuditAppender that appends the entries of concurrent
// calls together, in one call to the appender it wraps (group commit):
// while one append is in progress, the calls that arrive wait, and the
// first of them then appends the entries of all, in one transaction and one
// sync. A call alone is appended at once. Every call returns only once its
// entries are appended, or failed to be; a failed batch fails each of its
// calls. Entries that fail Check are refused at once, on their own, so that
// they never fail a batch.
type AuditBatcher struct {
	next  AuditAppender
	mu    sync.Mutex
	busy  bool             // an append is in progress
	queue []*pendingAppend // calls waiting for the next append
}

// pendingAppend is a call waiting in the queue: it is told the outcome of
// the append that took its entries (done), or to append the queue itself
// (lead).
type pendingAppend struct {
	now     time.Time
	entries []*AuditEntry
	done    chan error
	lead    chan struct{}
}

var _ AuditAppender = (*AuditBatcher)(nil)

// NewAuditBatcher returns an AuditBatcher appending through next.
func NewAuditBatcher(next AuditAppender) *AuditBatcher {
	return &AuditBatcher{next: next}
}

// AppendAudit appends entries, with those of concurrent calls, as the
// wrapped appender does. The batch is appended with the context of the
// call that leads it and the latest now of its calls.
func (b *AuditBatcher) AppendAudit(ctx context.Context, now time.Time, entries ...*AuditEntry) error {
	for _, e := range entries {
		if err := e.Check(); err != nil {
			return err
		}
	}
	p := &pendingAppend{now: now, entries: entries, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.busy {
		b.mu.Unlock()
		select {
		case err := <-p.done:
			return err
		case <-p.lead:
		}
		b.mu.Lock()
	}
	b.busy = true
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()

	var all []*AuditEntry
	for _, q := range batch {
		all = append(all, q.entries...)
		if q.now.After(now) {
			now = q.now
		}
	}
	err := b.next.AppendAudit(ctx, now, all...)
	for _, q := range batch {
		if q != p {
			q.done <- err
		}
	}

	b.mu.Lock()
	if len(b.queue) > 0 {
		b.queue[0].lead <- struct{}{}
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	return err
}
