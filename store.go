package facevault

import (
	"context"
	"io"
	"time"
)

// Page selects one page of a list: Page is 1-based.
type Page struct {
	Page     int
	PageSize int
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Page - 1) * p.PageSize }

// Default and maximum page sizes (docs/contract.md section 4).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// TimeRange holds the list filters on createdAt and updatedAt. Bounds are
// strict; a zero time means no bound.
type TimeRange struct {
	CreatedAfter, CreatedBefore time.Time
	UpdatedAfter, UpdatedBefore time.Time
}

// ListOptions is what every list takes: paging and the time filters.
// Impossible is set when a filter was malformed: ComplyCube answers such a
// list with no items rather than an error, and stores must do the same.
//
// A page is read in chunks, so that neither the service nor the database
// holds a whole page of up to MaxPageSize large items at once: the first
// call returns the first Limit items of the page and the list's total; each
// next call sets After to the last item returned and reads the Limit items
// that follow it in list order, without counting.
type ListOptions struct {
	Page
	TimeRange
	Impossible bool
	// Limit, when positive, bounds the items one call returns (at most the
	// rest of the page); zero means the whole page.
	Limit int
	// After, when set, continues a page: the call returns items strictly
	// after this position in list order, ignores the page's offset, and
	// does not count (it returns -1 as the total).
	After *Cursor
}

// Chunk returns the LIMIT and OFFSET of the chunk a store call for o reads:
// the first o.Limit items of the page (all of it if Limit is 0), or, when
// o.After is set, o.Limit items from there (the offset is then 0). A page
// below 1 is the first page; a page size below 1 is the default.
func (o ListOptions) Chunk() (limit, offset int) {
	p := o.Page
	if p.PageSize < 1 {
		p.PageSize = DefaultPageSize
	}
	if p.Page < 1 {
		p.Page = 1
	}
	limit = p.PageSize
	if o.Limit > 0 {
		limit = min(limit, o.Limit)
	}
	if o.After != nil {
		return limit, 0
	}
	return limit, p.Offset()
}

// Filtered reports whether any time filter is set: an unfiltered list's
// total is a count the stores keep, a filtered one must be counted.
func (o ListOptions) Filtered() bool { return o.TimeRange != TimeRange{} }

// Cursor is a position in a list: lists are ordered newest first, ties
// broken by ID, highest first.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ClientFilter narrows a client list by equality on attributes. Fields maps a
// dotted attribute path (for example "email", "personDetails.firstName",
// "metadata.tier") to the value it must equal. All filters combine with AND.
type ClientFilter struct {
	ListOptions
	Fields map[string]string
}

// ClientFilterFields are the client attributes a list can filter on, other
// than metadata keys ("metadata.<key>").
var ClientFilterFields = []string{
	"type", "email", "mobile", "telephone", "externalId", "joinedDate",
	"personDetails.firstName", "personDetails.middleName", "personDetails.lastName",
	"personDetails.dob", "personDetails.gender", "personDetails.nationality",
	"personDetails.birthCountry", "personDetails.ssn", "personDetails.socialInsuranceNumber",
	"personDetails.nationalIdentityNumber", "personDetails.taxIdentificationNumber",
	"companyDetails.name", "companyDetails.website", "companyDetails.registrationNumber",
	"companyDetails.incorporationCountry", "companyDetails.incorporationType",
}

// KeyStore holds accounts and API keys.
type KeyStore interface {
	// EnsureAccount returns the account with the given name, creating it if
	// it does not exist.
	EnsureAccount(ctx context.Context, name string, now time.Time) (*Account, error)
	// CreateKey stores a key (its hash only).
	CreateKey(ctx context.Context, key *APIKey) error
	// KeyByHash returns the key with that hash, revoked or not, or
	// ErrNotFound.
	KeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListKeys lists every key of every account, oldest first.
	ListKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeKey marks a key revoked; ErrNotFound if no key has that ID.
	RevokeKey(ctx context.Context, id string, now time.Time) error
	// HasKeys reports whether any key exists at all.
	HasKeys(ctx context.Context) (bool, error)
}

// ClientStore holds clients. Every method acts within one Scope only, and
// sees only clients that are not deleted.
type ClientStore interface {
	CreateClient(ctx context.Context, s Scope, c *Client) error
	// Client returns the client, or ErrNotFound.
	Client(ctx context.Context, s Scope, id string) (*Client, error)
	// UpdateClient reads the client, calls fn on it and stores the result,
	// all in one transaction. ErrNotFound if it does not exist; an error from
	// fn aborts the update and is returned as is.
	UpdateClient(ctx context.Context, s Scope, id string, fn func(*Client) error) (*Client, error)
	// DeleteClient marks the client deleted at now, in one short
	// transaction whatever the number of its photos: from its commit on,
	// the client and every one of its live photos are gone for every other
	// method. The photo records and their image bytes are removed
	// afterwards, in bounded batches, through the PurgeQueue. Its checks
	// are deleted in the same transaction. ErrNotFound if no such client.
	DeleteClient(ctx context.Context, s Scope, id string, now time.Time) error
	// Clients lists clients matching f, newest first, in chunks (see
	// ListOptions), and the total count (-1 when f.After is set).
	Clients(ctx context.Context, s Scope, f ClientFilter) ([]*Client, int, error)
	// ExistingClients returns which of ids are clients that exist and are
	// not deleted, in any scope: the sweep destroys the keys of the others.
	ExistingClients(ctx context.Context, ids []string) (map[string]bool, error)
}

// LivePhotoStore holds live photo records. A photo of a deleted client does
// not exist for any of its methods but ExistingLivePhotos.
type LivePhotoStore interface {
	// CreateLivePhoto inserts the record. ErrNotFound if its client does not
	// exist in s, or is deleted before the record commits.
	CreateLivePhoto(ctx context.Context, s Scope, p *LivePhoto) error
	// LivePhoto returns the record, or ErrNotFound.
	LivePhoto(ctx context.Context, s Scope, id string) (*LivePhoto, error)
	// LivePhotos lists a client's photos, newest first, in chunks (see
	// ListOptions), and the total count (-1 when o.After is set). A client
	// that does not exist in s has no photos.
	LivePhotos(ctx context.Context, s Scope, clientID string, o ListOptions) ([]*LivePhoto, int, error)
	// DeleteLivePhoto deletes the record and queues its image bytes for
	// purging, in one transaction, and returns the record as it was.
	// ErrNotFound if there is no such photo, ErrInUse if a check uses it.
	DeleteLivePhoto(ctx context.Context, s Scope, id string, now time.Time) (*LivePhoto, error)
	// RedactLivePhoto marks the record redacted at now, clears its digest
	// and queues its image bytes for purging, in one transaction; a photo
	// already redacted is left as it is. It returns the record as stored
	// afterwards, or ErrNotFound.
	RedactLivePhoto(ctx context.Context, s Scope, id string, now time.Time) (*LivePhoto, error)
	// ExistingLivePhotos returns which of ids are image keys the store
	// accounts for, in any scope: a live photo record (of a deleted client
	// too) or a purge not yet done. The orphan sweep leaves those alone.
	ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error)
	// LivePhotoOwners returns, for those of ids that are live photos of a
	// client that is not deleted, in any scope, the photo's scope, client
	// and digest: what encrypting an image stored before encryption at
	// rest needs.
	LivePhotoOwners(ctx context.Context, ids []string) (map[string]PhotoRef, error)
}

// PurgeQueue is the durable record of image bytes that must be destroyed:
// a key is queued in the same transaction that removes or redacts its
// record, and leaves the queue only once its bytes are gone, so that a
// crash, a cancelled request or an image store that is down never leaves a
// listed photo without its bytes, nor bytes without a record that nothing
// will destroy. Destroying bytes twice is harmless: several nodes may work
// the queue at once.
type PurgeQueue interface {
	// DrainDeletedClients removes up to n live photo records of deleted
	// clients and queues their keys, in one transaction, and returns the
	// keys. Deleted clients with no photo left are removed with it. It
	// returns no keys once no deleted client has photos.
	DrainDeletedClients(ctx context.Context, now time.Time, n int) ([]string, error)
	// DuePurges returns up to n queued keys whose next attempt is due at
	// now, oldest first.
	DuePurges(ctx context.Context, now time.Time, n int) ([]Purge, error)
	// FinishPurges removes keys whose bytes are destroyed from the queue.
	FinishPurges(ctx context.Context, keys []string) error
	// RetryPurge records a failed attempt on key (counting it in the key's
	// Attempts), its cause, and when to try again.
	RetryPurge(ctx context.Context, key string, next time.Time, cause string) error
	// PurgeBacklog reports what is left to do: keys queued, and deleted
	// clients whose photos are not all drained yet.
	PurgeBacklog(ctx context.Context) (PurgeBacklog, error)
}

// Purge is a queued key: the image bytes to destroy, and how many attempts
// at it have failed.
type Purge struct {
	Key      string
	Attempts int
}

// PurgeBacklog is the work a PurgeQueue holds.
type PurgeBacklog struct {
	Keys           int // image keys queued for destruction
	DeletedClients int // deleted clients whose records are not all removed
}

// Leaser grants named, time-limited leases. Nodes that share a store use a
// lease so that only one of them runs the orphan sweep at a time.
type Leaser interface {
	// AcquireLease takes the lease called name for holder until now+ttl, or
	// renews it if holder has it already. It reports whether holder has the
	// lease; another holder's unexpired lease is not an error, just false.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// Identity records which FaceVault store a record store or an image store
// belongs to: an id (see NewStoreID) written to both on first use, so that a
// record store is never used with another store's images. See Bind for the
// rules that compare them.
type Identity interface {
	// StoreID returns the id of the store this part belongs to, or "" if
	// none was recorded yet.
	StoreID(ctx context.Context) (string, error)
	// BindStoreID records id as the store id unless one is recorded
	// already, durably, and returns the id recorded afterwards: id, or the
	// one recorded before (which it never replaces). Of callers racing to
	// bind, one wins and all get its id.
	BindStoreID(ctx context.Context, id string) (string, error)
}

// Store is everything the service keeps in its database.
type Store interface {
	KeyStore
	ClientStore
	LivePhotoStore
	CheckStore
	ReviewStore
	FaceIndexStore
	RetentionStore
	PurgeQueue
	Leaser
	Identity
	AuditLog
	WebhookStore
	IdempotencyStore
	ConsoleStore
	Close() error
}

// BlobWriter receives the bytes of a new blob. Nothing is visible under the
// blob's key until Commit returns nil; Abort discards everything written.
type BlobWriter interface {
	io.Writer
	// ReadAt reads back bytes already written, before Commit: the liveness
	// check reads the image from here rather than holding it in memory.
	io.ReaderAt
	// Commit makes the blob durable under its key.
	Commit(ctx context.Context) error
	// Abort discards the blob. It is safe to call after Commit (it then
	// does nothing) and more than once.
	Abort() error
}

// BlobStore holds image bytes, one blob per live photo, keyed by photo ID.
type BlobStore interface {
	// Create starts a new blob under key.
	Create(ctx context.Context, key string) (BlobWriter, error)
	// Open returns the blob's bytes, or an error wrapping ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete destroys the blob's bytes. Deleting a missing blob is not an
	// error.
	Delete(ctx context.Context, key string) error
	// Keys calls fn with the key of every committed blob last modified
	// before the given time.
	Keys(ctx context.Context, before time.Time, fn func(key string) error) error
}

// QuarantinedBlob is an image that a sweep set aside.
type QuarantinedBlob struct {
	Key  string
	Size int64
	// Since is when it was set aside, as the image store records it (an
	// S3 server's clock, to the second).
	Since time.Time
}

// Quarantine is what an image store offers, beside BlobStore, to set images
// aside instead of destroying them: the orphan sweep moves images without a
// record there, where they are kept for a while and then purged, so that an
// operator's mistake can be undone. A quarantined image is in the same
// image store (no bytes leave it), but Open, Keys and Delete no longer see
// it.
type Quarantine interface {
	// Quarantine moves the blob under key into the quarantine, durably,
	// and stamps it with the time of the move. An error wrapping
	// ErrNotFound if there is no blob under key.
	Quarantine(ctx context.Context, key string) error
	// Restore moves a quarantined blob back under its key. An error
	// wrapping ErrNotFound if the quarantine holds no such blob, and one
	// wrapping ErrExist if a blob under key exists: Restore never
	// overwrites.
	Restore(ctx context.Context, key string) error
	// Quarantined calls fn for every blob in the quarantine.
	Quarantined(ctx context.Context, fn func(QuarantinedBlob) error) error
	// DestroyQuarantined destroys a quarantined blob's bytes as Delete destroys a
	// blob's. Destroying a blob that is not there is not an error.
	DestroyQuarantined(ctx context.Context, key string) error
}
