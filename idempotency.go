package facevault

import (
	"context"
	"fmt"
	"time"
)

// Idempotent requests (docs/contract.md, "Idempotent requests"): a POST
// sent with an Idempotency-Key header is executed once per (account, mode,
// key); a retry with the same request gets the stored answer of the first.
const (
	// EIdempotencyKeyReused (422): the key was used before with a
	// different request.
	EIdempotencyKeyReused = "idempotency_key_reused"
	// EIdempotencyKeyInUse (409): a request with the key is still in
	// progress.
	EIdempotencyKeyInUse = "idempotency_key_in_use"
)

// IdempotencyTTL is how long the answer to a request with an idempotency
// key is kept. An older record is ignored, and removed by RunPurge.
const IdempotencyTTL = 24 * time.Hour

// idempotencyBatch bounds the expired records one transaction removes.
const idempotencyBatch = 500

// IdempotentRequest is the record of a request sent with an idempotency
// key: in progress (Status 0) while one node executes it under a lease,
// then done, with the answer to replay.
type IdempotentRequest struct {
	Scope Scope
	Key   string
	// Token identifies the execution that holds an in-progress record:
	// only it may finish or abandon the record.
	Token string
	// Fingerprint identifies the request: method, path and a digest of
	// its body. Empty while in progress.
	Fingerprint string
	// Status and Body are the answer stored; Status is 0 while the
	// request is in progress.
	Status int
	Body   []byte
	// ClientID and ResourceID name the client and the resource (a live
	// photo, a check, a client) the answer shows, if any: deleting the
	// client, or deleting or redacting the photo, deletes the record with
	// it, so that no stored answer outlives the data it shows.
	ClientID   string
	ResourceID string
	CreatedAt  time.Time
	// LeaseUntil is when an in-progress record whose execution has not
	// finished is taken to be abandoned (its node died): from then on
	// another request with the key may execute.
	LeaseUntil time.Time
}

// Done reports whether the record holds an answer.
func (r *IdempotentRequest) Done() bool { return r.Status != 0 }

// IdempotencyStore keeps the records of requests sent with an idempotency
// key. It is the source of truth for every node: a record is unique per
// (scope, key), so two executions of one key never run at once.
type IdempotencyStore interface {
	// BeginIdempotent claims (r.Scope, r.Key) for the execution r.Token,
	// with an in-progress record created at r.CreatedAt and leased until
	// r.LeaseUntil. It returns nil if it claimed the key, or the record
	// that holds it: done, or in progress with its lease unexpired. A
	// record created at or before expired, or in progress with its lease
	// passed at r.CreatedAt, is replaced as if absent.
	BeginIdempotent(ctx context.Context, r *IdempotentRequest, expired time.Time) (*IdempotentRequest, error)
	// FinishIdempotent stores the answer r carries (Fingerprint, Status,
	// Body, ClientID, ResourceID) on the in-progress record of r.Token.
	// It reports false, storing nothing, if the record is no longer that
	// execution's, or if the answer is a success (Status below 300) whose
	// client is not a client of r.Scope that exists and is not deleted:
	// the answer shows data deleted meanwhile. A false leaves the key free
	// to execute again.
	FinishIdempotent(ctx context.Context, r *IdempotentRequest) (bool, error)
	// AbandonIdempotent removes the in-progress record of token, so that
	// the request may be retried. A record no longer that execution's is
	// left alone.
	AbandonIdempotent(ctx context.Context, s Scope, key, token string) error
	// ExpireIdempotent removes up to n records created at or before
	// before, and returns how many it removed.
	ExpireIdempotent(ctx context.Context, before time.Time, n int) (int, error)
}

// ExpireIdempotent removes the records of idempotent requests older than
// IdempotencyTTL, in bounded batches, and returns how many it removed.
func (v *Vault) ExpireIdempotent(ctx context.Context) (int, error) {
	before := v.Now().Add(-IdempotencyTTL)
	total := 0
	for {
		n, err := v.Store.ExpireIdempotent(ctx, before, idempotencyBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("expire idempotency records: %w", err)
		}
		if n < idempotencyBatch {
			return total, nil
		}
	}
}
