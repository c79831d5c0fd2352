package facevault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/facevault/facevault/imagecheck"
	"github.com/facevault/facevault/internal/metastrip"
	"github.com/facevault/facevault/seal"
)

// Vault runs the workflows that span the record store and the blob store:
// upload, delete, redact, client deletion and the orphan sweep. It is
// written once, over the interfaces, for every pair of back ends.
type Vault struct {
	Store Store
	Blobs BlobStore
	// Keys, when set, encrypts every image at rest under a data key of its
	// own, kept in Keys: deleting or redacting a photo, or deleting its
	// client, destroys the key first. Nil stores images as they are.
	Keys ImageKeys
	// IndexKeys keeps the face search index's keys; nil uses Keys if it
	// keeps them too (see FaceIndexKeys). Without either, no face is
	// indexed and a search opens every enrolled face with its photo key.
	IndexKeys FaceIndexKeys
	// FaceIndex tunes the face search index.
	FaceIndex FaceIndexConfig
	Limits    imagecheck.Limits
	// Analyzer runs the liveness check on uploads that ask for it; nil
	// records no check.
	Analyzer Analyzer
	// RefuseLive refuses live-mode uploads in which the liveness check finds
	// no face, several faces, or pixels that do not decode (422). Test-mode
	// uploads are never refused: ComplyCube's sandbox always accepts.
	RefuseLive bool
	// StripMetadata removes location and device metadata (EXIF, XMP,
	// IPTC, comments, PNG text chunks) from uploads as they arrive, keeping
	// the image data, the colour profile and the EXIF orientation (package
	// internal/metastrip says what it keeps): what is hashed, checked and
	// stored, and the size recorded, are those of the stripped image. The
	// image limits apply to the image as sent. An image whose structure the
	// filter cannot follow is refused (EInvalid, param data).
	StripMetadata bool
	// Ages runs age estimation checks; nil refuses them as unavailable.
	Ages AgeEstimator
	// MinimumAge is the age an age estimation check validates against
	// (DefaultMinimumAge when 0).
	MinimumAge int
	Logger     *slog.Logger
	// Webhooks configure webhook URLs and deliveries.
	Webhooks WebhookOptions
	// Observer, if set, is told of finished checks and of the background
	// work (package metrics implements it).
	Observer Observer
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// Forget, if set, is told of every photo whose image is being
	// destroyed (deleted, redacted, past its retention: photoID set) and
	// of every client deleted (clientID set), as soon as the change has
	// committed, so that what this process holds derived from their images
	// (the review console's thumbnails) goes at once. It must not block.
	Forget func(photoID, clientID string)

	wake       chan struct{}   // tells RunPurge there is work
	checkWake  chan struct{}   // tells RunChecks there is a new check
	indexCache *faceIndexCache // face index keys and partitions, briefly
	pagesOnce  sync.Once
	pageCache  *facePageCache // opened face index pages (see facePages)

	senderOnce sync.Once
	send       *Sender // sends webhook deliveries; see sender
}

// Observer receives measurements of a vault's checks and background work.
type Observer interface {
	// CheckFinished is a check stored complete or failed: its type,
	// status, outcome ("" when failed) and how long its run took.
	CheckFinished(typ, status, outcome string, d time.Duration)
	// Background is one run of a background task ("purge": images
	// destroyed; "retention": photos deleted; "idempotency": records
	// expired; "webhooks": deliveries that succeeded; "webhookFailures":
	// attempts a receiver failed, which are no error of the service's):
	// the items it handled, and its error.
	Background(task string, items int, err error)
}

// NewVault returns a Vault with the contract's image limits and the real
// clock.
func NewVault(store Store, blobs BlobStore, logger *slog.Logger) *Vault {
	return &Vault{Store: store, Blobs: blobs, Limits: imagecheck.DefaultLimits(), Logger: logger, Now: now,
		wake: make(chan struct{}, 1), checkWake: make(chan struct{}, 1), indexCache: newFaceIndexCache()}
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Upload is a live photo being received. Write the decoded image bytes to
// it, then pass it to Vault.FinishUpload, or call Abort. Writes fail with an
// *Error as soon as the bytes cannot be an acceptable image.
type Upload struct {
	// Enrol makes the photo one of its client's faces for the checks that
	// compare faces (the upload's "enrol" field; true unless it says
	// false).
	Enrol bool

	id      string
	created time.Time
	blob    BlobWriter
	dataKey []byte // the key the blob is sealed with; nil if not sealed
	check   *imagecheck.Checker
	strip   *metastrip.Writer // removes metadata before store; nil if the Vault keeps it
	hash    hash.Hash
	size    int64 // bytes stored
	done    bool
}

// BeginUpload starts receiving a live photo. With Keys set, the bytes are
// sealed under a new data key as they arrive: nothing of the image reaches
// the image store, or its temporary files, in the clear.
func (v *Vault) BeginUpload(ctx context.Context) (*Upload, error) {
	t := v.Now()
	id := NewID(t)
	w, err := v.Blobs.Create(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("begin upload: %w", err)
	}
	u := &Upload{id: id, created: t, blob: w, check: imagecheck.New(v.Limits), hash: sha256.New(), Enrol: true}
	if v.StripMetadata {
		u.strip = metastrip.NewWriter(writerFunc(u.store))
	}
	if v.Keys != nil {
		if u.dataKey, err = seal.NewDataKey(); err != nil {
			w.Abort()
			return nil, fmt.Errorf("begin upload: %w", err)
		}
		sw, err := seal.NewWriter(w, u.dataKey)
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("begin upload: %w", err)
		}
		u.blob = &sealedWriter{BlobWriter: w, w: sw}
	}
	return u, nil
}

// Write checks p, then hashes and stores it, or what the metadata filter
// keeps of it.
func (u *Upload) Write(p []byte) (int, error) {
	if _, err := u.check.Write(p); err != nil {
		return 0, imageError(err)
	}
	if u.strip != nil {
		return u.writeStripped(p)
	}
	return u.store(p)
}

// store hashes and stores bytes of the image as it is kept.
func (u *Upload) store(p []byte) (int, error) {
	u.hash.Write(p)
	if _, err := u.blob.Write(p); err != nil {
		return 0, err
	}
	u.size += int64(len(p))
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
	clear(u.dataKey)
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
	if err := u.finishStrip(); err != nil {
		return nil, err
	}
	info.Size = u.size // the stored image's
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
		if errors.Is(err, ErrOverBudget) {
			return nil, Errorf(EOverBudget, "The image needs more memory to check than this server allows the liveness check; "+
				"send a smaller image, or upload it with performLivenessCheck false")
		}
		if err != nil {
			return nil, fmt.Errorf("liveness check: %w", err)
		}
		if s.Mode == ModeLive && v.RefuseLive {
			if err := Refusal(check); err != nil {
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
		Enrolled:             u.Enrol,
	}
	if check != nil {
		p.LivenessOutcome, p.LivenessReasons = check.Outcome, LivenessReasons(check)
	}
	if info.Format == imagecheck.PNG {
		p.ContentType = ContentTypePNG
	}
	// The key and the bytes it opens are made durable at once (each is
	// useless without the other), and both before the record that lists
	// them. The liveness check is sealed under the key too.
	var keyErr error
	var storingKey sync.WaitGroup
	if u.dataKey != nil {
		if err := sealLiveness(p, u.dataKey); err != nil {
			return nil, err
		}
		if check != nil && check.Embedding != nil {
			if p.SealedEmbedding, err = sealEmbedding(check.Embedding, u.dataKey, p.ID); err != nil {
				return nil, err
			}
		}
		ref := PhotoRef{Scope: s, ClientID: clientID, PhotoID: p.ID, SHA256: p.SHA256}
		storingKey.Go(func() { keyErr = v.Keys.AddPhotoKey(ctx, ref, u.dataKey) })
	}
	commitErr := u.blob.Commit(ctx)
	storingKey.Wait()
	if commitErr != nil || keyErr != nil {
		if keyErr == nil {
			v.destroyUploadKey(ctx, u)
		}
		if commitErr == nil {
			// Committed bytes without their key: take them back out; if
			// that fails too, the sweep removes them later.
			if derr := v.Blobs.Delete(context.WithoutCancel(ctx), p.ID); derr != nil {
				v.Logger.ErrorContext(ctx, "remove image of failed upload", "livePhotoId", p.ID, "err", derr)
			}
			return nil, fmt.Errorf("store key of live photo: %w", keyErr)
		}
		return nil, fmt.Errorf("commit image: %w", commitErr)
	}
	u.done = true
	clear(u.dataKey)
	// The record's timestamp is taken after the bytes are durable, so that a
	// photo never appears in a list before it can be downloaded.
	p.CreatedAt = v.Now()
	p.UpdatedAt = p.CreatedAt
	if err := v.Store.CreateLivePhoto(ctx, s, p); err != nil {
		// The bytes are committed but have no record: take them back out.
		// If that fails too, the sweep removes them later.
		v.destroyUploadKey(ctx, u)
		if derr := v.Blobs.Delete(context.WithoutCancel(ctx), p.ID); derr != nil {
			v.Logger.ErrorContext(ctx, "remove image of failed upload", "livePhotoId", p.ID, "err", derr)
		}
		if errors.Is(err, ErrNotFound) {
			return nil, ErrClientNotFound(clientID)
		}
		return nil, fmt.Errorf("create live photo record: %w", err)
	}
	p.SealedLivenessCheck = nil // the caller has the check in the clear
	p.SealedEmbedding = nil
	return p, nil
}

// destroyUploadKey destroys the key of an upload that did not commit; if
// that fails, the orphan sweep destroys it later.
func (v *Vault) destroyUploadKey(ctx context.Context, u *Upload) {
	if u.dataKey == nil {
		return
	}
	if _, err := v.Keys.DestroyPhotoKeys(context.WithoutCancel(ctx), []string{u.id}, NoReceipt); err != nil {
		v.Logger.ErrorContext(ctx, "destroy key of failed upload", "livePhotoId", u.id, "err", err)
	}
}

// Refusal returns the 422 a live-mode upload gets for what the liveness
// check found, or nil if the photo is accepted: an *Error with code
// EUnreadable (the pixels do not decode), ENoFace or EMultipleFaces. Every
// other finding is recorded, not refused: the integrator decides.
// FinishUpload applies it when the Vault's RefuseLive is set.
func Refusal(c *LivenessCheck) error {
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
	if err != nil {
		return nil, err
	}
	if err := v.openLiveness(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// LivePhotos returns one page of a client's photos: the list's total, and
// the page's items as a sequence that reads them from the store in chunks
// as it is consumed (see Paged). A client id that names no client of the
// scope has no photos.
func (v *Vault) LivePhotos(ctx context.Context, s Scope, clientID string, o ListOptions) (int, iter.Seq2[*LivePhoto, error], error) {
	if !ValidID(clientID) {
		o.Impossible = true
	}
	return Paged(o, ListChunk, func(o ListOptions) ([]*LivePhoto, int, error) {
		photos, total, err := v.Store.LivePhotos(ctx, s, clientID, o)
		if err == nil {
			err = v.openLiveness(ctx, photos...)
		}
		return photos, total, err
	}, func(p *LivePhoto) Cursor { return Cursor{p.CreatedAt, p.ID} })
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
	plain, err := v.openSealed(ctx, id, r)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return p, plain, nil
}

// DeleteLivePhoto deletes a photo: its record goes, and its image bytes are
// queued for destruction in the same transaction, then destroyed at once:
// their key first (see Keys), then the bytes.
// Once it returns nil the photo is gone for every request; if the bytes
// cannot be destroyed right now (the image store is down), the background
// purge keeps trying, across restarts, until they are.
func (v *Vault) DeleteLivePhoto(ctx context.Context, s Scope, id string) error {
	if !ValidID(id) {
		return ErrLivePhotoNotFound(id)
	}
	if err := v.photoHold(ctx, s, id); err != nil {
		return err
	}
	// Refused before the key's destruction is noted; the store refuses
	// too, should a check come meanwhile.
	if used, err := v.photoInUse(ctx, s, id); err != nil {
		return err
	} else if used {
		return errInUse(id)
	}
	if err := v.noteDestruction(ctx, id, DestroyDeleted); err != nil {
		return err
	}
	_, err := v.Store.DeleteLivePhoto(ctx, s, id, v.Now())
	if errors.Is(err, ErrNotFound) {
		return ErrLivePhotoNotFound(id)
	}
	if errors.Is(err, ErrInUse) {
		return errInUse(id)
	}
	if err != nil {
		return err
	}
	v.purgeNow(ctx, id, DestroyDeleted)
	return nil
}

// RedactLivePhoto keeps a photo's record, marked redacted, and destroys its
// image bytes as DeleteLivePhoto does. Redacting again succeeds and changes
// nothing.
func (v *Vault) RedactLivePhoto(ctx context.Context, s Scope, id string) (*LivePhoto, error) {
	if !ValidID(id) {
		return nil, ErrLivePhotoNotFound(id)
	}
	if err := v.photoHold(ctx, s, id); err != nil {
		return nil, err
	}
	if err := v.noteDestruction(ctx, id, DestroyRedacted); err != nil {
		return nil, err
	}
	p, err := v.Store.RedactLivePhoto(ctx, s, id, v.Now())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrLivePhotoNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	v.purgeNow(ctx, id, DestroyRedacted)
	return p, nil
}

// photoHold refuses a deletion or redaction of photo id while its client
// is on legal hold. An unknown photo is left to the deletion to answer.
func (v *Vault) photoHold(ctx context.Context, s Scope, id string) error {
	p, err := v.Store.LivePhoto(ctx, s, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return v.checkHold(ctx, s, p.ClientID)
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

// UpdateClient applies a partial update to a client. It returns the client
// as updated and the paths of the attributes whose values changed (see
// ChangedAttributes), for the audit log.
func (v *Vault) UpdateClient(ctx context.Context, s Scope, id string, p *ClientPatch) (*Client, []string, error) {
	if !ValidID(id) {
		return nil, nil, ErrClientNotFound(id)
	}
	var changed []string
	c, err := v.Store.UpdateClient(ctx, s, id, func(c *Client) error {
		before := ClientAttributes(c)
		if err := p.Apply(c); err != nil {
			return err
		}
		changed = ChangedAttributes(before, ClientAttributes(c))
		c.UpdatedAt = v.Now()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrClientNotFound(id)
	}
	if err != nil {
		return nil, nil, err
	}
	return c, changed, nil
}

// DeleteClient deletes a client with its live photos. It commits one small
// transaction that marks the client deleted, whatever the number of its
// photos: from then on the client and its photos are gone for every
// request. The photo records and their image bytes are then removed by the
// purge, in bounded batches, in the background; DeleteClient wakes it.
func (v *Vault) DeleteClient(ctx context.Context, s Scope, id string) error {
	if !ValidID(id) {
		return ErrClientNotFound(id)
	}
	if err := v.checkHold(ctx, s, id); err != nil {
		return err
	}
	err := v.Store.DeleteClient(ctx, s, id, v.Now())
	if errors.Is(err, ErrNotFound) {
		return ErrClientNotFound(id)
	}
	if err != nil {
		return err
	}
	if v.Forget != nil {
		v.Forget("", id)
	}
	v.shredClient(ctx, id)
	v.wakePurge()
	return nil
}

// shredClient destroys the key of a client whose deletion has just
// committed, before anything else of it is removed: from then on no copy of
// its images, wherever it is, can be decrypted. It runs to the end even if
// the caller hangs up; a failure is logged, and the orphan sweep, which
// destroys every key whose client is gone, destroys it later.
func (v *Vault) shredClient(ctx context.Context, id string) {
	if v.Keys == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), purgeNowTimeout)
	defer cancel()
	if _, err := v.Keys.DestroyClientKeys(ctx, []string{id}, DestroyClientDeleted); err != nil {
		v.Logger.ErrorContext(ctx, "destroy key of deleted client; left to the sweep", "clientId", id, "err", err)
	}
}

// Clients returns one page of the scope's clients matching f, as
// LivePhotos does.
func (v *Vault) Clients(ctx context.Context, s Scope, f ClientFilter) (int, iter.Seq2[*Client, error], error) {
	return Paged(f.ListOptions, ListChunk, func(o ListOptions) ([]*Client, int, error) {
		f.ListOptions = o
		return v.Store.Clients(ctx, s, f)
	}, func(c *Client) Cursor { return Cursor{c.CreatedAt, c.ID} })
}

// ListChunk is how many items a list reads from the store at a time: a page
// of up to MaxPageSize items is read and sent in chunks of this many, so
// that memory per list request stays small and no database connection or
// snapshot is held while a slow caller reads.
const ListChunk = 64

// Paged reads one page of a list through fetch, chunk items at a time. The first
// chunk is read at once, with the list's total, so that an error there can
// still be answered as an error; the sequence yields its items, then reads
// and yields each next chunk (continuing after the last item yielded) as
// the consumer reaches it. An error reading a later chunk is yielded once,
// and ends the sequence.
func Paged[T any](o ListOptions, chunk int, fetch func(ListOptions) ([]T, int, error), pos func(T) Cursor) (int, iter.Seq2[T, error], error) {
	size := o.PageSize
	if size < 1 {
		size = DefaultPageSize
	}
	o.After = nil
	o.Limit = min(size, chunk)
	first, total, err := fetch(o)
	if err != nil {
		return 0, nil, err
	}
	seq := func(yield func(T, error) bool) {
		items, left := first, size
		for {
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			left -= len(items)
			if left <= 0 || len(items) < o.Limit {
				return
			}
			after := pos(items[len(items)-1])
			o.After, o.Limit = &after, min(left, chunk)
			if items, _, err = fetch(o); err != nil {
				var zero T
				yield(zero, err)
				return
			}
		}
	}
	return total, seq, nil
}

// SweepOptions say what a sweep does.
type SweepOptions struct {
	// Before: only images last modified before it are considered, so that
	// uploads in flight (bytes written, record not yet committed) are left
	// alone.
	Before time.Time
	// QuarantineFor is how long orphans are kept in the image store's
	// quarantine before a sweep destroys them; 0 destroys them at once. The
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
	Expired     int // images whose time in quarantine was over, destroyed
	// Keys examined in the key store (photo keys made before
	// SweepOptions.Before, and client keys), and of them those without a
	// record, which the sweep destroyed.
	KeysExamined, KeysDestroyed int
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
	// Keys is set when what was refused is destroying keys of the key
	// store, rather than images.
	Keys bool
}

func (e *SweepRefusedError) Error() string {
	what := "images"
	if e.Keys {
		what = "keys"
	}
	return fmt.Sprintf("sweep refused: %d of the %d %s examined have no record, more than the %d a sweep removes unforced; nothing was removed",
		e.Orphans, e.Examined, what, e.Limit)
}

// sweepBatch is how many keys a sweep looks up at once.
const sweepBatch = 500

// Sweep removes image bytes that have no record: what an upload leaves when
// the process dies between writing the image and committing its record. It
// first destroys quarantined images older than o.QuarantineFor, then lists
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
		n, err := v.expireQuarantine(ctx, q, v.Now().Add(-o.QuarantineFor))
		res.Expired = n
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
	if err := v.sweepKeys(ctx, o, &res); err != nil {
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

// sweepKeys destroys the keys that nothing needs: photo keys made before
// o.Before without a photo record (an upload that died between its key and
// its record), and client keys whose client is deleted or gone (a deletion
// whose key could not be destroyed at once). Like the images, it destroys
// none if they are more than SweepLimit of the keys, unless o.Force: a key
// store paired with the wrong record store must not be shredded.
func (v *Vault) sweepKeys(ctx context.Context, o SweepOptions, res *SweepResult) error {
	if v.Keys == nil {
		return nil
	}
	photos, n, err := keysWithout(ctx, func(after string) ([]string, error) {
		return v.Keys.PhotoKeyIDs(ctx, o.Before, after, sweepBatch)
	}, v.Store.ExistingLivePhotos)
	if err != nil {
		return err
	}
	clients, m, err := keysWithout(ctx, func(after string) ([]string, error) {
		return v.Keys.ClientKeyIDs(ctx, after, sweepBatch)
	}, v.Store.ExistingClients)
	if err != nil {
		return err
	}
	examined := n + m
	res.KeysExamined = examined
	orphans := len(photos) + len(clients)
	if limit := SweepLimit(examined); orphans > limit && !o.Force {
		return &SweepRefusedError{Orphans: orphans, Examined: examined, Limit: limit, Keys: true}
	}
	for batch := range slices.Chunk(photos, sweepBatch) {
		// Looked up once more: a record that appeared meanwhile keeps its key.
		exist, err := v.Store.ExistingLivePhotos(ctx, batch)
		if err != nil {
			return fmt.Errorf("sweep keys: %w", err)
		}
		batch = slices.DeleteFunc(slices.Clone(batch), func(id string) bool { return exist[id] })
		// Keys of uploads that never committed: no photo to give a receipt for.
		n, err := v.Keys.DestroyPhotoKeys(ctx, batch, NoReceipt)
		res.KeysDestroyed += n
		if err != nil {
			return fmt.Errorf("sweep keys: %w", err)
		}
	}
	for batch := range slices.Chunk(clients, sweepBatch) {
		exist, err := v.Store.ExistingClients(ctx, batch)
		if err != nil {
			return fmt.Errorf("sweep keys: %w", err)
		}
		batch = slices.DeleteFunc(slices.Clone(batch), func(id string) bool { return exist[id] })
		// A client gone whose key stayed: its deletion's key, destroyed late.
		n, err := v.Keys.DestroyClientKeys(ctx, batch, DestroyClientDeleted)
		res.KeysDestroyed += n
		if err != nil {
			return fmt.Errorf("sweep keys: %w", err)
		}
	}
	if res.KeysDestroyed > 0 {
		v.Logger.InfoContext(ctx, "destroyed keys without a record", "keys", res.KeysDestroyed)
	}
	return nil
}

// keysWithout pages through the ids of keys, list giving those after an id,
// and returns those that exist says have no record, and how many it read.
func keysWithout(ctx context.Context, list func(after string) ([]string, error),
	exist func(context.Context, []string) (map[string]bool, error)) ([]string, int, error) {
	var orphans []string
	n := 0
	for after := ""; ; {
		ids, err := list(after)
		if err != nil {
			return nil, n, fmt.Errorf("sweep keys: %w", err)
		}
		if len(ids) == 0 {
			return orphans, n, nil
		}
		after = ids[len(ids)-1]
		n += len(ids)
		found, err := exist(ctx, ids)
		if err != nil {
			return nil, n, fmt.Errorf("sweep keys: %w", err)
		}
		for _, id := range ids {
			if !found[id] {
				orphans = append(orphans, id)
			}
		}
	}
}

// expireQuarantine destroys the quarantined images set aside before cutoff.
func (v *Vault) expireQuarantine(ctx context.Context, q Quarantine, cutoff time.Time) (int, error) {
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
		if err := q.DestroyQuarantined(ctx, k); err != nil {
			return i, fmt.Errorf("sweep: destroy quarantined image %s: %w", k, err)
		}
		v.Logger.InfoContext(ctx, "destroyed quarantined image", "livePhotoId", k)
	}
	return len(expired), nil
}
