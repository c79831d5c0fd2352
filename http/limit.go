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
