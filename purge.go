package facevault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Purge settings.
const (
	// purgeBatch bounds the records one transaction of the purge removes,
	// and so how long it holds the database's writer: deleting a client
	// with any number of photos never holds it longer than one batch.
	purgeBatch = 100
	// purgeNowTimeout bounds destroying a photo's bytes right after its
	// delete or redaction committed; what is not done by then is left to
	// the background purge.
	purgeNowTimeout = time.Minute
	// maxPurgeBackoff bounds the wait between attempts at bytes that could
	// not be destroyed.
	maxPurgeBackoff = 15 * time.Minute
)

// PurgeResult counts what a purge pass did.
type PurgeResult struct {
	Drained   int // photo records of deleted clients removed
	Destroyed int // images destroyed and taken off the queue
	Failed    int // attempts that failed and were put back for later
}

// purgeBackoff is how long to wait before attempt n+1 at a key after n
// failed attempts: 1s, 2s, 4s, ... up to maxPurgeBackoff.
func purgeBackoff(failed int) time.Duration {
	if failed >= 10 {
		return maxPurgeBackoff
	}
	return min(time.Second<<failed, maxPurgeBackoff)
}

// purgeNow destroys the bytes of key, whose removal or redaction has just
// committed, and takes it off the queue. It runs on a context detached from
// the request's, so that a caller who hangs up does not interrupt it; a
// failure is logged and left to the background purge, which retries until
// the bytes are gone.
func (v *Vault) purgeNow(ctx context.Context, key string, why Destruction) {
	if v.Forget != nil {
		v.Forget(key, "")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), purgeNowTimeout)
	defer cancel()
	var res PurgeResult
	if err := v.destroy(ctx, []Purge{{Key: key}}, why, &res); err != nil {
		v.Logger.WarnContext(ctx, "destroy image now; left to the background purge", "livePhotoId", key, "err", err)
	}
}

// Purge runs the purge until nothing is due: it removes the photo records
// of deleted clients, a bounded batch per transaction, queuing their keys;
// then it destroys the bytes of every due key and takes it off the queue.
// Bytes that cannot be destroyed stay queued and are retried later, with a
// growing wait. Purge is safe to run on several nodes at once.
func (v *Vault) Purge(ctx context.Context) (PurgeResult, error) {
	var res PurgeResult
	for {
		keys, err := v.Store.DrainDeletedClients(ctx, v.Now(), purgeBatch)
		if err != nil {
			return res, fmt.Errorf("purge: remove records of deleted clients: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		res.Drained += len(keys)
		batch := make([]Purge, len(keys))
		for i, k := range keys {
			batch[i] = Purge{Key: k}
		}
		if err := v.destroy(ctx, batch, DestroyPurged, &res); err != nil {
			return res, err
		}
	}
	for {
		due, err := v.Store.DuePurges(ctx, v.Now(), purgeBatch)
		if err != nil {
			return res, fmt.Errorf("purge: read queue: %w", err)
		}
		if len(due) == 0 {
			return res, nil
		}
		if err := v.destroy(ctx, due, DestroyPurged, &res); err != nil {
			return res, err
		}
	}
}

// destroy destroys the bytes of each queued key, then takes those destroyed
// off the queue. A key whose bytes cannot be destroyed is put back with its
// next attempt delayed, so that a pass never meets it twice. It returns an
// error only when the queue itself cannot be updated, or ctx ends.
func (v *Vault) destroy(ctx context.Context, batch []Purge, why Destruction, res *PurgeResult) error {
	done := make([]string, 0, len(batch))
	var stopped error
	if v.Keys != nil {
		// Keys first: destroyed, the bytes are unreadable wherever they are.
		keys := make([]string, len(batch))
		for i, p := range batch {
			keys[i] = p.Key
		}
		if _, err := v.Keys.DestroyPhotoKeys(ctx, keys, why); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := purgeBackoff(batch[0].Attempts)
			v.Logger.WarnContext(ctx, "destroy image keys failed; will retry", "keys", len(keys), "retryIn", wait, "err", err)
			for _, p := range batch {
				if rerr := v.Store.RetryPurge(ctx, p.Key, v.Now().Add(purgeBackoff(p.Attempts)), err.Error()); rerr != nil {
					return fmt.Errorf("purge: put back %s: %w", p.Key, rerr)
				}
				res.Failed++
			}
			return nil
		}
	}
	for _, p := range batch {
		err := v.Blobs.Delete(ctx, p.Key)
		if err == nil {
			done = append(done, p.Key)
			continue
		}
		if ctx.Err() != nil {
			// Not the image store's failure: the key stays due as it is.
			stopped = ctx.Err()
			break
		}
		wait := purgeBackoff(p.Attempts)
		v.Logger.WarnContext(ctx, "destroy image failed; will retry", "livePhotoId", p.Key,
			"attempts", p.Attempts+1, "retryIn", wait, "err", err)
		if rerr := v.Store.RetryPurge(ctx, p.Key, v.Now().Add(wait), err.Error()); rerr != nil {
			stopped = fmt.Errorf("purge: put back %s: %w", p.Key, rerr)
			break
		}
		res.Failed++
	}
	if len(done) > 0 {
		// Even when ctx has ended: the bytes are gone, the queue must say so.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := v.Store.FinishPurges(fctx, done); err != nil {
			return errors.Join(stopped, fmt.Errorf("purge: take destroyed images off the queue: %w", err))
		}
		res.Destroyed += len(done)
	}
	return stopped
}

// wakePurge tells RunPurge that there is work, without waiting.
func (v *Vault) wakePurge() {
	if v.wake == nil {
		return
	}
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// RunPurge runs Purge at once, whenever DeleteClient queues work, and every
// interval (which retries failed attempts as they fall due), until ctx is
// done; after each Purge it runs Retain and ExpireIdempotent.
func (v *Vault) RunPurge(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := v.Purge(ctx)
		if err != nil && ctx.Err() == nil {
			v.Logger.ErrorContext(ctx, "purge failed", "err", err)
		}
		if res != (PurgeResult{}) {
			v.Logger.InfoContext(ctx, "purge", "recordsRemoved", res.Drained, "imagesDestroyed", res.Destroyed, "failedAttempts", res.Failed)
		}
		v.observeBackground(ctx, "purge", res.Destroyed, err)
		// Photos whose retention is up go the same way, with receipts.
		n, err := v.Retain(ctx)
		if err != nil && ctx.Err() == nil {
			v.Logger.ErrorContext(ctx, "retention failed", "err", err)
		}
		v.observeBackground(ctx, "retention", n, err)
		// So do the stored answers of idempotent requests, after a day.
		n, err = v.ExpireIdempotent(ctx)
		if err != nil && ctx.Err() == nil {
			v.Logger.ErrorContext(ctx, "expire idempotency records failed", "err", err)
		}
		v.observeBackground(ctx, "idempotency", n, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.wake:
		}
	}
}

// observeBackground tells the observer, if any, of one run of a
// background task; a run cut short by ctx is no failure.
func (v *Vault) observeBackground(ctx context.Context, task string, items int, err error) {
	if v.Observer == nil {
		return
	}
	if ctx.Err() != nil {
		err = nil
	}
	v.Observer.Background(task, items, err)
}
