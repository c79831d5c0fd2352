package http

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Health probes. GET /healthz answers 200 while the process serves HTTP;
// GET /readyz answers 200 when every part the API needs (the record store,
// the image store, the key store) answers within ReadyTimeout, and 503
// naming the parts that do not. Neither needs a key, reads any data, or is
// recorded in the audit log: load balancers and orchestrators call them.

// ReadyTimeout bounds each part's answer to a readiness probe.
const ReadyTimeout = 2 * time.Second

// pinger is a store that can say whether it answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// readyPart is one thing readiness depends on.
type readyPart struct {
	name string
	p    pinger
}

// readyParts are the parts of s that readiness probes: those of the
// vault's stores, and the API key store, that can be pinged (the same
// store is probed once).
func (s *Server) readyParts() []readyPart {
	var parts []readyPart
	seen := map[pinger]bool{}
	add := func(name string, v any) {
		p, ok := v.(pinger)
		if !ok || seen[p] {
			return
		}
		seen[p] = true
		parts = append(parts, readyPart{name, p})
	}
	add("recordStore", s.vault.Store)
	add("imageStore", s.vault.Blobs)
	add("keyStore", s.vault.Keys)
	add("apiKeyStore", s.keys)
	return parts
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	parts := s.readyParts()
	results := make(map[string]string, len(parts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, part := range parts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			defer cancel()
			err := part.p.Ping(ctx)
			state := "ok"
			switch {
			case errors.Is(err, context.DeadlineExceeded) || err != nil && ctx.Err() != nil:
				state = "timeout"
			case err != nil:
				state = "error"
			}
			if err != nil {
				s.logger.WarnContext(r.Context(), "readiness: a store does not answer", "part", part.name, "err", err)
			}
			mu.Lock()
			results[part.name] = state
			mu.Unlock()
		})
	}
	wg.Wait()
	status, word := http.StatusOK, "ready"
	for _, v := range results {
		if v != "ok" {
			status, word = http.StatusServiceUnavailable, "unavailable"
		}
	}
	s.writeJSON(w, r, status, map[string]any{"status": word, "parts": results})
}
