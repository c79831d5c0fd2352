package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// beginAttempts bounds the tries of BeginIdempotent when the record that
// held the key disappears between the claim and the read (abandoned or
// expired meanwhile): the next try claims it.
const beginAttempts = 5

// BeginIdempotent implements facevault.IdempotencyStore. The claim is one
// INSERT … ON CONFLICT DO UPDATE … WHERE: of nodes racing for a key, the
// primary key lets one insert it, and a record that has expired or whose
// lease has passed is taken over by one of them (the row is locked by the
// update); the others read the record that holds the key.
func (db *DB) BeginIdempotent(ctx context.Context, r *facevault.IdempotentRequest, expired time.Time) (*facevault.IdempotentRequest, error) {
	for range beginAttempts {
		tag, err := db.pool.Exec(ctx, `
			INSERT INTO idempotency_requests (account_id, mode, key, token, created_at, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account_id, mode, key) DO UPDATE SET
				token = excluded.token, fingerprint = '', status = 0, body = NULL, client_id = '',
				resource_id = '', created_at = excluded.created_at, lease_until = excluded.lease_until
			WHERE idempotency_requests.created_at <= $7
			   OR (idempotency_requests.status = 0 AND idempotency_requests.lease_until <= $5)`,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token, ms(r.CreatedAt), ms(r.LeaseUntil), ms(expired))
		if err != nil {
			return nil, fmt.Errorf("postgres: begin idempotent request: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		held := &facevault.IdempotentRequest{Scope: r.Scope, Key: r.Key}
		err = db.pool.QueryRow(ctx, `
			SELECT token, fingerprint, status, body, client_id, resource_id, created_at, lease_until
			FROM idempotency_requests WHERE account_id = $1 AND mode = $2 AND key = $3`,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key,
		).Scan(&held.Token, &held.Fingerprint, &held.Status, &held.Body, &held.ClientID, &held.ResourceID,
			&held.CreatedAt, &held.LeaseUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: begin idempotent request: read the record that holds the key: %w", err)
		}
		held.CreatedAt, held.LeaseUntil = held.CreatedAt.UTC(), held.LeaseUntil.UTC()
		return held, nil
	}
	return nil, fmt.Errorf("postgres: begin idempotent request: the key changed hands %d times", beginAttempts)
}

// FinishIdempotent implements facevault.IdempotencyStore. The client of a
// success is locked (FOR SHARE) while the answer is stored: a delete of the
// client waits for the commit, and then deletes the answer with it; a
// delete that came first is seen, and the answer is not stored.
func (db *DB) FinishIdempotent(ctx context.Context, r *facevault.IdempotentRequest) (bool, error) {
	clientID, resourceID := r.ClientID, r.ResourceID
	if !storable(clientID) {
		clientID = "" // names no client that exists
	}
	if !storable(resourceID) {
		resourceID = ""
	}
	stored := false
	err := db.inTx(ctx, "finish idempotent request", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if r.Status < 300 && r.ClientID != "" {
			var one int
			err := tx.QueryRow(ctx, `
				SELECT 1 FROM clients WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL
				FOR SHARE`,
				r.Scope.AccountID, string(r.Scope.Mode), clientID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				// Deleted since: the answer must not be kept.
				_, err = tx.Exec(ctx, `
					DELETE FROM idempotency_requests WHERE account_id = $1 AND mode = $2 AND key = $3 AND token = $4`,
					r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token)
				if err != nil {
					return fmt.Errorf("postgres: finish idempotent request: %w", err)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("postgres: finish idempotent request: client: %w", err)
			}
		}
		tag, err := tx.Exec(ctx, `
			UPDATE idempotency_requests SET fingerprint = $1, status = $2, body = $3, client_id = $4, resource_id = $5
			WHERE account_id = $6 AND mode = $7 AND key = $8 AND token = $9 AND status = 0`,
			r.Fingerprint, r.Status, r.Body, clientID, resourceID,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token)
		if err != nil {
			return fmt.Errorf("postgres: finish idempotent request: %w", err)
		}
		stored = tag.RowsAffected() == 1
		return nil
	})
	return stored, err
}

// AbandonIdempotent implements facevault.IdempotencyStore.
func (db *DB) AbandonIdempotent(ctx context.Context, s facevault.Scope, key, token string) error {
	if _, err := db.pool.Exec(ctx, `
		DELETE FROM idempotency_requests WHERE account_id = $1 AND mode = $2 AND key = $3 AND token = $4 AND status = 0`,
		s.AccountID, string(s.Mode), key, token); err != nil {
		return fmt.Errorf("postgres: abandon idempotent request: %w", err)
	}
	return nil
}

// ExpireIdempotent implements facevault.IdempotencyStore.
func (db *DB) ExpireIdempotent(ctx context.Context, before time.Time, n int) (int, error) {
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM idempotency_requests WHERE ctid IN (
			SELECT ctid FROM idempotency_requests WHERE created_at <= $1 LIMIT $2)`, ms(before), n)
	if err != nil {
		return 0, fmt.Errorf("postgres: expire idempotency records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// forgetIdempotentForClient deletes the stored answers that show the client
// id of s: deleting a client deletes them in its transaction.
func forgetIdempotentForClient(ctx context.Context, tx pgx.Tx, s facevault.Scope, id string) error {
	if _, err := tx.Exec(ctx, `
		DELETE FROM idempotency_requests WHERE account_id = $1 AND mode = $2 AND client_id = $3`,
		s.AccountID, string(s.Mode), id); err != nil {
		return fmt.Errorf("postgres: delete stored answers of client %s: %w", id, err)
	}
	return nil
}
