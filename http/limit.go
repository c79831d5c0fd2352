package http

import (
	"sync"
	"time"

	"github.com/facevault/facevault"
)

// limiter is a token bucket per (account, mode).
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	mu    sync.Mutex
	b     map[facevault.Scope]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	if burst <= 0 {
		burst = max(1, int(rate))
	}
	return &limiter{rate: rate, burst: float64(burst), b: make(map[facevault.Scope]*bucket)}
}

// allow takes a token for the scope. If none is left it reports how long
// until one is.
func (l *limiter) allow(s facevault.Scope, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.b[s]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.b[s] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// inflight bounds the uploads in flight, from the first byte of the body to
// the answer: per (account, mode), and in all. Each holds a temporary file,
// a file descriptor and the parser's buffers until it ends.
type inflight struct {
	perScope, total int
	mu              sync.Mutex
	n               map[facevault.Scope]int
	all             int
}

func newInflight(perScope, total int) *inflight {
	return &inflight{perScope: perScope, total: total, n: make(map[facevault.Scope]int)}
}

// enter admits an upload of the scope, or returns the contract's 429 at
// once if the scope or the node has as many uploads in flight as allowed.
// release (harmless to call twice) ends the upload.
func (f *inflight) enter(s facevault.Scope) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[s] >= f.perScope {
		return nil, facevault.Errorf(facevault.ERateLimited,
			"Too many uploads in progress for this account (%d at once); retry when one has finished", f.perScope)
	}
	if f.all >= f.total {
		return nil, facevault.Errorf(facevault.ERateLimited, "Too many uploads in progress; retry shortly")
	}
	f.n[s]++
	f.all++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.n[s]--; f.n[s] == 0 {
				delete(f.n, s)
			}
			f.all--
		})
	}, nil
}
