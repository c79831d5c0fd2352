package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

// defaultQuarantineFor is how long the sweep keeps orphans in quarantine
// unless --quarantine-for says otherwise.
const defaultQuarantineFor = 7 * 24 * time.Hour

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
// sweep lease, so that one node sweeps at a time. It moves orphans to the
// image store's quarantine for quarantineFor (0: destroys them), purges what
// was quarantined longer ago, and removes nothing when orphans are more than
// facevault.SweepLimit of the images, unless force.
type sweeper struct {
	vault     *facevault.Vault
	leases    facevault.Leaser
	logger    *slog.Logger
	holder    string
	exclusive bool
	// keepFor, when positive, keeps the lease between sweeps: each sweep
	// renews it for this long, so that the node that sweeps periodically
	// stays the one. Otherwise each sweep releases the lease when done.
	keepFor       time.Duration
	quarantineFor time.Duration
	force         bool
	// sealAtStart seals the images stored in the clear in the sweep at
	// start-up too, not only in the later ones.
	sealAtStart bool
	sealed      facevault.SealResult // what the last sweep sealed
}

// sweep runs one sweep, atStart marking the one at start-up (or by hand).
// It reports what it did, and whether it ran at all: it does not while
// another node holds the sweep lease. A sweep that found too many orphans
// returns a *facevault.SweepRefusedError.
func (s *sweeper) sweep(ctx context.Context, atStart bool) (res facevault.SweepResult, ran bool, err error) {
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
			return res, false, fmt.Errorf("take sweep lease: %w", err)
		}
		if !ok {
			s.logger.DebugContext(ctx, "another node holds the sweep lease")
			return res, false, nil
		}
		if s.keepFor <= 0 {
			defer s.release(context.WithoutCancel(ctx))
		}
	}
	res, err = s.vault.Sweep(ctx, facevault.SweepOptions{Before: before, QuarantineFor: s.quarantineFor, Force: s.force})
	if n := res.Quarantined + res.Destroyed; n > 0 {
		s.logger.InfoContext(ctx, "sweep removed orphan images", "count", n, "startup", atStart,
			"quarantined", res.Quarantined, "quarantineFor", s.quarantineFor.String())
	}
	if res.Expired > 0 {
		s.logger.InfoContext(ctx, "sweep destroyed images whose quarantine was over", "count", res.Expired, "quarantineFor", s.quarantineFor.String())
	}
	if err == nil && (!atStart || s.sealAtStart) {
		// Images stored in the clear by a release before encryption at
		// rest: sealed in the sweeps after start-up (serve starts at once
		// on a large store, and seals in the background).
		var sealed facevault.SealResult
		sealed, err = s.vault.SealLegacy(ctx, now)
		s.sealed = sealed
	}
	return res, true, err
}

// logRefusal logs a sweep that found too many orphans, and says what to do.
// It reports whether err was such a refusal.
func (s *sweeper) logRefusal(ctx context.Context, err error) bool {
	var refused *facevault.SweepRefusedError
	if !errors.As(err, &refused) {
		return false
	}
	s.logger.ErrorContext(ctx, "sweep refused", "err", err, "orphans", refused.Orphans, "examined", refused.Examined,
		"limit", refused.Limit, "hint", refusalHint(s.quarantineFor))
	return true
}

// refusalHint says what to do about a refused sweep.
func refusalHint(quarantineFor time.Duration) string {
	keep := "they are destroyed at once (--quarantine-for 0)"
	if quarantineFor > 0 {
		keep = fmt.Sprintf("they go to quarantine for %v, whence 'facevault quarantine restore' brings them back", quarantineFor)
	}
	return "check that --db and --blobs (or --data) name the record store and the image store of one FaceVault store. " +
		"If they do and these images really have no record, run 'facevault sweep --force' with the same flags: " + keep
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
		res, ran, err := s.sweep(ctx, false)
		if err != nil && ctx.Err() == nil && !s.logRefusal(ctx, err) {
			s.logger.ErrorContext(ctx, "sweep failed", "err", err)
		}
		if s.vault.Observer != nil && (ran || err != nil) && ctx.Err() == nil {
			s.vault.Observer.Background("sweep", res.Quarantined+res.Destroyed+res.Expired+res.KeysDestroyed, err)
		}
	}
}
