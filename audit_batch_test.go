package facevault_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// gatedAppender records each call's entries. While gate is set, each call
// waits for a value on it before it returns err.
type gatedAppender struct {
	mu      sync.Mutex
	calls   [][]*facevault.AuditEntry
	entered chan struct{}
	gate    chan error
}

func (g *gatedAppender) AppendAudit(_ context.Context, _ time.Time, es ...*facevault.AuditEntry) error {
	g.mu.Lock()
	g.calls = append(g.calls, es)
	g.mu.Unlock()
	g.entered <- struct{}{}
	return <-g.gate
}

func entry() *facevault.AuditEntry {
	return facevault.NewSystemEntry(facevault.Scope{AccountID: "a", Mode: facevault.ModeTest}, facevault.ActionRead, facevault.AuditClient, "x", "x")
}

// TestAuditBatcher: calls that arrive while an append is in progress are
// appended together, in one call, once it is done; each call returns the
// outcome of the append that took its entries.
func TestAuditBatcher(t *testing.T) {
	g := &gatedAppender{entered: make(chan struct{}, 10), gate: make(chan error)}
	b := facevault.NewAuditBatcher(g)
	ctx := context.Background()
	errs := make(chan error, 10)
	var waiting sync.WaitGroup
	waiting.Go(func() { errs <- b.AppendAudit(ctx, time.Now(), entry()) })
	<-g.entered // the first append is in progress
	for range 5 {
		waiting.Go(func() { errs <- b.AppendAudit(ctx, time.Now(), entry(), entry()) })
	}
	// The five queue behind the first; give them time to arrive.
	time.Sleep(50 * time.Millisecond)
	g.gate <- nil // the first returns
	<-g.entered   // the five, as one append
	injected := errors.New("injected")
	g.gate <- injected
	waiting.Wait()
	close(errs)
	var ok, failed int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, injected):
			failed++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 || failed != 5 {
		t.Errorf("%d calls succeeded and %d failed, want 1 and 5", ok, failed)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.calls) != 2 || len(g.calls[0]) != 1 || len(g.calls[1]) != 10 {
		t.Errorf("appends of %d calls, want one of 1 entry and one of 10", len(g.calls))
	}
}

// TestAuditBatcherRefusesAlone: an entry that fails Check is refused at
// once, without an append, and does not fail the entries of others.
func TestAuditBatcherRefusesAlone(t *testing.T) {
	g := &gatedAppender{entered: make(chan struct{}, 10), gate: make(chan error, 10)}
	b := facevault.NewAuditBatcher(g)
	bad := entry()
	bad.Count = 0
	if err := b.AppendAudit(context.Background(), time.Now(), entry(), bad); err == nil {
		t.Errorf("AppendAudit of an entry with count 0 = nil, want an error")
	}
	if len(g.calls) != 0 {
		t.Errorf("%d appends, want none", len(g.calls))
	}
	g.gate <- nil
	if err := b.AppendAudit(context.Background(), time.Now(), entry()); err != nil {
		t.Errorf("AppendAudit after a refusal: %v", err)
	}
}

// TestAuditBatcherConcurrent: under many concurrent calls every entry is
// appended exactly once.
func TestAuditBatcherConcurrent(t *testing.T) {
	var mu sync.Mutex
	seen := map[*facevault.AuditEntry]int{}
	b := facevault.NewAuditBatcher(appenderFunc(func(es []*facevault.AuditEntry) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range es {
			seen[e]++
		}
		time.Sleep(time.Millisecond)
		return nil
	}))
	var wg sync.WaitGroup
	var all sync.Map
	for range 32 {
		wg.Go(func() {
			for range 20 {
				e := entry()
				all.Store(e, true)
				if err := b.AppendAudit(context.Background(), time.Now(), e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	all.Range(func(k, _ any) bool {
		n++
		if c := seen[k.(*facevault.AuditEntry)]; c != 1 {
			t.Errorf("an entry appended %d times, want 1", c)
		}
		return true
	})
	if n != 640 || len(seen) != 640 {
		t.Errorf("%d entries made, %d appended; want 640", n, len(seen))
	}
}

type appenderFunc func([]*facevault.AuditEntry) error

func (f appenderFunc) AppendAudit(_ context.Context, _ time.Time, es ...*facevault.AuditEntry) error {
	return f(es)
}
