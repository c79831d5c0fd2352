package facevault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"time"

	"github.com/facevault/facevault/imagecheck"
)

// Vault runs the workflows that span the record store and the blob store:
// upload, delete, redact, client deletion and the orphan sweep. It is
// written once, over the interfaces, for every pair of back ends.
type Vault struct {
	Store  Store
	Blobs  BlobStore
	Limits imagecheck.Limits
	// Analyzer runs the liveness check on uploads that ask for it; nil
	// records no check.
	Analyzer Analyzer
	// RefuseLive refuses live-mode uploads in which the liveness check finds
	// no face, several faces, or pixels that do not decode (422). Test-mode
	// uploads are never refused: ComplyCube's sandbox always accepts.
	RefuseLive bool
	Logger     *slog.Logger
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// NewVault returns a Vault with the contract's image limits and the real
// clock.
func NewVault(store Store, blobs BlobStore, logger *slog.Logger) *Vault {
	return &Vault{Store: store, Blobs: blobs, Limits: imagecheck.DefaultLimits(), Logger: logger, Now: now}
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Upload is a live photo being received. Write the decoded image bytes to
// it, then pass it to Vault.FinishUpload, or call Abort. Writes fail with an
// *Error as soon as the bytes cannot be an acceptable image.
type Upload struct {
	id      string
	created time.Time
	blob    BlobWriter
	check   *imagecheck.Checker
	hash    hash.Hash
	done    bool
}

// BeginUpload starts receiving a live photo.
func (v *Vault) BeginUpload(ctx context.Context) (*Upload, error) {
	t := v.Now()
	id := NewID(t)
	w, err := v.Blobs.Create(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("begin upload: %w", err)
	}
	return &Upload{id: id, created: t, blob: w, check: imagecheck.New(v.Limits), hash: sha256.New()}, nil
}

// Write checks, hashes and stores p.
func (u *Upload) Write(p []byte) (int, error) {
	if _, err := u.check.Write(p); err != nil {
		return 0, imageError(err)
	}
	u.hash.Write(p)
	if _, err := u.blob.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Abort discards the upload and everything written to it.
func (u *Upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.check.Close()
	u.blob.Abort()
}

func imageError(err error) error {
	var ie *imagecheck.Error
	if errors.As(err, &ie) {
		return Invalid("data", "%s", ie.Message)
	}
	return err
}

// FinishUpload completes an upload for the client: it checks the image is
// whole and within bounds, makes the bytes durable, then commits the record.
// Only when it returns the photo are both durable. On any error nothing of
// the upload remains. It returns an *Error with code ENotFound if the client
// does not exist in s, and EInvalid if the image is refused.
func (v *Vault) FinishUpload(ctx context.Context, s Scope, u *Upload, clientID string, performLivenessCheck bool) (*LivePhoto, error) {
	defer u.Abort()
	info, err := u.check.Finish()
	if err != nil {
		return nil, imageError(err)
	}
	if !ValidID(clientID) {
		return nil, ErrClientNotFound(clientID)
	}
	// Fail fast on an unknown client before the costly check. The record's
	// foreign key still decides, should the client go in the meantime.
	if _, err := v.Store.Client(ctx, s, clientID); errors.Is(err, ErrNotFound) {
		return nil, ErrClientNotFound(clientID)
	} else if err != nil {
		return nil, fmt.Errorf("upload: look up client: %w", err)
	}
	var check *LivenessCheck
	if performLivenessCheck && v.Analyzer != nil {
		check, err = v.Analyzer.Analyze(ctx, io.NewSectionReader(u.blob, 0, info.Size))
		if err != nil {
			return nil, fmt.Errorf("liveness check: %w", err)
		}
		if s.Mode == ModeLive && v.RefuseLive {
			if err := refusal(check); err != nil {
				return nil, err
			}
		}
	}
	p := &LivePhoto{
		ID:                   u.id,
		ClientID:             clientID,
		ContentType:          ContentTypeJPEG,
		Size:                 info.Size,
		Width:                info.Width,
		Height:               info.Height,
		SHA256:               hex.EncodeToString(u.hash.Sum(nil)),
		PerformLivenessCheck: performLivenessCheck,
		LivenessCheck:        check,
	}
	if info.Format == imagecheck.PNG {
		p.ContentType = ContentTypePNG
	}
	if err := u.blob.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit image: %w", err)
	}
	u.done = true
	// The record's timestamp is taken after the bytes are durable, so that a
	// photo never appears in a list before it can be downloaded.
	p.CreatedAt = v.Now()
	p.UpdatedAt = p.CreatedAt
	if err := v.Store.CreateLivePhoto(ctx, s, p); err != nil {
		// The bytes are committed but have no record: take them back out.
		// If that fails too, the sweep removes them later.
		if derr := v.Blobs.Delete(context.WithoutCancel(ctx), p.ID); derr != nil {
			v.Logger.ErrorContext(ctx, "remove image of failed upload", "livePhotoId", p.ID, "err", derr)
		}
		if errors.Is(err, ErrNotFound) {
			return nil, ErrClientNotFound(clientID)
		}
		return nil, fmt.Errorf("create live photo record: %w", err)
	}
	return p, nil
}

// refusal returns the 422 a live-mode upload gets for what the liveness
// check found, or nil if the photo is accepted. Every other finding is
// recorded, not refused: the integrator decides.
func refusal(c *LivenessCheck) error {
	b := c.Breakdown.IntegrityAnalysis.Breakdown
	switch {
	case !b.ImageReadable:
		return Errorf(EUnreadable, "The image could not be read: its header is valid but its pixels do not decode")
	case b.FaceCount == 0:
		return Errorf(ENoFace, "No face was detected in the live photo")
	case b.FaceCount > 1:
		return Errorf(EMultipleFaces, "More than one face was detected in the live photo (%d)", b.FaceCount)
	}
	return nil
}

// LivePhoto returns a photo record of the scope.
func (v *Vault) LivePhoto(ctx context.Context, s Scope, id string) (*LivePhoto, error) {
	if !ValidID(id) {
		return nil, ErrLivePhotoNotFound(id)
	}
	p, err := v.Store.LivePhoto(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrLivePhotoNotFound(id)
	}
	return p, err
}

// LivePhotos lists a client's photos. A client id that names no client of
// the scope has no photos.
func (v *Vault) LivePhotos(ctx context.Context, s Scope, clientID string, o ListOptions) ([]*LivePhoto, int, error) {
	if !ValidID(clientID) {
		return nil, 0, nil
	}
	return v.Store.LivePhotos(ctx, s, clientID, o)
}

// OpenImage returns a photo's record and its image bytes. A redacted photo
// is an ENotFound error saying so.
func (v *Vault) OpenImage(ctx context.Context, s Scope, id string) (*LivePhoto, io.ReadCloser, error) {
	p, err := v.LivePhoto(ctx, s, id)
	if err != nil {
		return nil, nil, err
	}
	if p.Redacted() {
		return nil, nil, Errorf(ENotFound, "Live photo '%s' has been redacted", id)
	}
	r, err := v.Blobs.Open(ctx, id)
	if err != nil {
		// A record without bytes is a broken invariant, not a 404.
		return nil, nil, fmt.Errorf("open image of live photo %s: %w", id, err)
	}
	return p, r, nil
}

// DeleteLivePhoto destroys a photo's bytes and deletes its record. If the
// bytes cannot be destroyed the record stays and the error is returned, so
// the caller can retry.
func (v *Vault) DeleteLivePhoto(ctx context.Context, s Scope, id string) error {
	if !ValidID(id) {
		return ErrLivePhotoNotFound(id)
	}
	err := v.Store.DeleteLivePhoto(ctx, s, id, v.destroyOne)
	if errors.Is(err, ErrNotFound) {
		return ErrLivePhotoNotFound(id)
	}
	return err
}

// RedactLivePhoto destroys a photo's bytes and keeps its record, marked
// redacted. Redacting again succeeds and changes nothing.
func (v *Vault) RedactLivePhoto(ctx context.Context, s Scope, id string) (*LivePhoto, error) {
	if !ValidID(id) {
		return nil, ErrLivePhotoNotFound(id)
	}
	p, err := v.Store.RedactLivePhoto(ctx, s, id, v.Now(), v.destroyOne)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrLivePhotoNotFound(id)
	}
	return p, err
}

func (v *Vault) destroyOne(ctx context.Context, p *LivePhoto) error {
	if err := v.Blobs.Delete(ctx, p.ID); err != nil {
		return fmt.Errorf("destroy image of live photo %s: %w", p.ID, err)
	}
	return nil
}

// CreateClient validates and stores a new client.
func (v *Vault) CreateClient(ctx context.Context, s Scope, p *ClientPatch) (*Client, error) {
	c, err := NewClient(p, v.Now())
	if err != nil {
		return nil, err
	}
	if err := v.Store.CreateClient(ctx, s, c); err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return c, nil
}

// Client returns a client of the scope.
func (v *Vault) Client(ctx context.Context, s Scope, id string) (*Client, error) {
	if !ValidID(id) {
		return nil, ErrClientNotFound(id)
	}
	c, err := v.Store.Client(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrClientNotFound(id)
	}
	return c, err
}

// UpdateClient applies a partial update to a client.
func (v *Vault) UpdateClient(ctx context.Context, s Scope, id string, p *ClientPatch) (*Client, error) {
	if !ValidID(id) {
		return nil, ErrClientNotFound(id)
	}
	c, err := v.Store.UpdateClient(ctx, s, id, func(c *Client) error {
		if err := p.Apply(c); err != nil {
			return err
		}
		c.UpdatedAt = v.Now()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrClientNotFound(id)
	}
	return c, err
}

// DeleteClient deletes a client with its live photos, destroying their
// bytes. If any bytes cannot be destroyed nothing is deleted.
func (v *Vault) DeleteClient(ctx context.Context, s Scope, id string) error {
	if !ValidID(id) {
		return ErrClientNotFound(id)
	}
	err := v.Store.DeleteClient(ctx, s, id, func(ctx context.Context, photos []*LivePhoto) error {
		for _, p := range photos {
			if err := v.destroyOne(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return ErrClientNotFound(id)
	}
	return err
}

// Clients lists the scope's clients.
func (v *Vault) Clients(ctx context.Context, s Scope, f ClientFilter) ([]*Client, int, error) {
	return v.Store.Clients(ctx, s, f)
}

// SweepOptions say what a sweep does.
type SweepOptions struct {
	// Before: only images last modified before it are considered, so that
	// uploads in flight (bytes written, record not yet committed) are left
	// alone.
	Before time.Time
	// QuarantineFor is how long orphans are kept in the image store's
	// quarantine before a sweep purges them; 0 destroys them at once. The
	// image store must implement Quarantine for it to be positive.
	QuarantineFor time.Duration
	// Force removes orphans even when they are more than SweepLimit of the
	// images considered.
	Force bool
}

// SweepResult counts what a sweep found and did.
type SweepResult struct {
	Examined    int // images considered (older than SweepOptions.Before)
	Orphans     int // of them, images without a record
	Quarantined int // orphans moved to quarantine
	Destroyed   int // orphans destroyed at once (QuarantineFor 0)
	Purged      int // images whose time in quarantine was over, destroyed
}

// SweepLimit is how many of n images a sweep removes without being forced:
// max(n/100, min(16, n/2)). A crash orphans at most one image per upload in
// flight, and serve runs 16 at once by default, so 16 orphans are ordinary
// on a large store; on a small store, never more than half of it; on a
// very large one, 1% (orphans left while sweeps were off add up). A record
// store that is not the image store's own finds (nearly) every image an
// orphan, far above the limit.
func SweepLimit(n int) int {
	return max(n/100, min(16, n/2))
}

// SweepRefusedError is a sweep that found more orphans than SweepLimit and
// removed none.
type SweepRefusedError struct {
	Orphans, Examined, Limit int
}

func (e *SweepRefusedError) Error() string {
	return fmt.Sprintf("sweep refused: %d of the %d images examined have no record, more than the %d a sweep removes unforced; nothing was removed",
		e.Orphans, e.Examined, e.Limit)
}

// sweepBatch is how many keys a sweep looks up at once.
const sweepBatch = 500

// Sweep removes image bytes that have no record: what an upload leaves when
// the process dies between writing the image and committing its record. It
// first purges quarantined images older than o.QuarantineFor, then lists
// the images older than o.Before and looks their records up. If more of
// them lack a record than SweepLimit allows, it removes none and returns a
// *SweepRefusedError (unless o.Force). Otherwise it looks each orphan's
// record up once more, just before removing it (a record that appeared
// meanwhile saves its image), and moves it to quarantine, or destroys it if
// o.QuarantineFor is 0.
func (v *Vault) Sweep(ctx context.Context, o SweepOptions) (SweepResult, error) {
	var res SweepResult
	q, _ := v.Blobs.(Quarantine)
	if o.QuarantineFor > 0 && q == nil {
		return res, errors.New("sweep: the image store has no quarantine: sweep with a quarantine time of 0")
	}
	if q != nil {
		n, err := v.purge(ctx, q, v.Now().Add(-o.QuarantineFor))
		res.Purged = n
		if err != nil {
			return res, err
		}
	}

	var orphans, batch []string
	lookup := func() error {
		if len(batch) == 0 {
			return nil
		}
		exist, err := v.Store.ExistingLivePhotos(ctx, batch)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		for _, k := range batch {
			if !exist[k] {
				orphans = append(orphans, k)
			}
		}
		batch = batch[:0]
		return nil
	}
	err := v.Blobs.Keys(ctx, o.Before, func(key string) error {
		res.Examined++
		batch = append(batch, key)
		if len(batch) == sweepBatch {
			return lookup()
		}
		return nil
	})
	if err == nil {
		err = lookup()
	}
	if err != nil {
		return res, err
	}
	res.Orphans = len(orphans)
	if limit := SweepLimit(res.Examined); len(orphans) > limit && !o.Force {
		return res, &SweepRefusedError{Orphans: len(orphans), Examined: res.Examined, Limit: limit}
	}

	for len(orphans) > 0 {
		batch := orphans[:min(sweepBatch, len(orphans))]
		orphans = orphans[len(batch):]
		exist, err := v.Store.ExistingLivePhotos(ctx, batch)
		if err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
		for _, k := range batch {
			if exist[k] {
				continue // its upload committed after all
			}
			if o.QuarantineFor <= 0 {
				if err := v.Blobs.Delete(ctx, k); err != nil {
					return res, fmt.Errorf("sweep: %w", err)
				}
				res.Destroyed++
				v.Logger.InfoContext(ctx, "removed orphan image", "livePhotoId", k)
				continue
			}
			if err := q.Quarantine(ctx, k); errors.Is(err, ErrNotFound) {
				continue // gone meanwhile
			} else if err != nil {
				return res, fmt.Errorf("sweep: %w", err)
			}
			res.Quarantined++
			v.Logger.InfoContext(ctx, "moved orphan image to quarantine", "livePhotoId", k, "keptFor", o.QuarantineFor.String())
		}
	}
	return res, nil
}

// purge destroys the quarantined images set aside before cutoff.
func (v *Vault) purge(ctx context.Context, q Quarantine, cutoff time.Time) (int, error) {
	var expired []string
	err := q.Quarantined(ctx, func(b QuarantinedBlob) error {
		if b.Since.Before(cutoff) {
			expired = append(expired, b.Key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep: list quarantine: %w", err)
	}
	for i, k := range expired {
		if err := q.Purge(ctx, k); err != nil {
			return i, fmt.Errorf("sweep: purge quarantined image %s: %w", k, err)
		}
		v.Logger.InfoContext(ctx, "purged quarantined image", "livePhotoId", k)
	}
	return len(expired), nil
}
