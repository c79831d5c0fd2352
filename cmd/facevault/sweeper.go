package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/facevault/facevault"
)

// sweepGrace is how old an image without a record must be before a sweep
// of a shared store removes it: far longer than any upload takes between
// writing its bytes and committing its record.
const sweepGrace = 10 * time.Minute

// sweepLease is the lease that lets one node at a time sweep a shared store.
const sweepLease = "sweep"

// sweepLeaseTTL is how long a sweep lease lasts when it is not kept between
// periodic sweeps: long enough for one sweep, which releases it when done.
const sweepLeaseTTL = time.Hour

// leaseHolder names this process in leases.
func leaseHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// sweeper removes images that have no record. On an image store this
// process owns (local files, locked) it can remove every orphan; on a shared
// one it leaves recent images alone, since another node's upload may be
// between its bytes and its record, and it sweeps only while it holds the
// sweep lease, so that one node sweeps at a time.
type sweeper struct {
	vault     *facevault.Vault
	leases    facevault.Leaser
	logger    *slog.Logger
	holder    string
	exclusive bool
	// keepFor, when positive, keeps the lease between sweeps: each sweep
	// renews it for this long, so that the node that sweeps periodically
	// stays the one. Otherwise each sweep releases the lease when done.
	keepFor time.Duration
}

// sweep runs one sweep, atStart marking the one at start-up (or by hand).
// It reports how many images it removed, and whether it ran at all: it does
// not while another node holds the sweep lease.
func (s *sweeper) sweep(ctx context.Context, atStart bool) (removed int, ran bool, err error) {
	now := time.Now()
	before := now.Add(-sweepGrace)
	if s.exclusive {
		if atStart {
			before = now.Add(time.Second) // no upload can be in flight
		}
	} else {
		ttl := s.keepFor
		if ttl <= 0 {
			ttl = sweepLeaseTTL
		}
		ok, err := s.leases.AcquireLease(ctx, sweepLease, s.holder, now, ttl)
		if err != nil {
			return 0, false, fmt.Errorf("take sweep lease: %w", err)
		}
		if !ok {
			s.logger.DebugContext(ctx, "another node holds the sweep lease")
			return 0, false, nil
		}
		if s.keepFor <= 0 {
			defer s.release(context.WithoutCancel(ctx))
		}
	}
	n, err := s.vault.Sweep(ctx, before)
	if n > 0 {
		s.logger.InfoContext(ctx, "sweep removed orphan images", "count", n, "startup", atStart)
	}
	return n, true, err
}

// release gives the sweep lease up: renewing it to expire now lets any other
// node take it at once.
func (s *sweeper) release(ctx context.Context) {
	if _, err := s.leases.AcquireLease(ctx, sweepLease, s.holder, time.Now(), 0); err != nil {
		s.logger.WarnContext(ctx, "release sweep lease", "err", err)
	}
}

// run sweeps every interval until ctx is done, then releases the lease.
func (s *sweeper) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	if !s.exclusive {
		defer s.release(context.WithoutCancel(ctx))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := s.sweep(ctx, false); err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "sweep failed", "err", err)
		}
	}
}
