package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/facevault/facevault"
)

// BeginIdempotent implements facevault.IdempotencyStore. The claim is one
// upsert on the single writer: it inserts the record, or replaces one that
// has expired or whose lease has passed; otherwise it reads the record that
// holds the key, in the same transaction.
func (db *DB) BeginIdempotent(ctx context.Context, r *facevault.IdempotentRequest, expired time.Time) (*facevault.IdempotentRequest, error) {
	var held *facevault.IdempotentRequest
	err := db.inWrite(ctx, "begin idempotent request", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO idempotency_requests (account_id, mode, key, token, created_at, lease_until)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (account_id, mode, key) DO UPDATE SET
				token = excluded.token, fingerprint = '', status = 0, body = NULL, client_id = '',
				resource_id = '', created_at = excluded.created_at, lease_until = excluded.lease_until
			WHERE idempotency_requests.created_at <= ?
			   OR (idempotency_requests.status = 0 AND idempotency_requests.lease_until <= ?)`,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token, ms(r.CreatedAt), ms(r.LeaseUntil),
			ms(expired), ms(r.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: begin idempotent request: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: begin idempotent request: %w", err)
		} else if n == 1 {
			return nil
		}
		held = &facevault.IdempotentRequest{Scope: r.Scope, Key: r.Key}
		var created, lease int64
		err = tx.QueryRowContext(ctx, `
			SELECT token, fingerprint, status, body, client_id, resource_id, created_at, lease_until
			FROM idempotency_requests WHERE account_id = ? AND mode = ? AND key = ?`,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key,
		).Scan(&held.Token, &held.Fingerprint, &held.Status, &held.Body, &held.ClientID, &held.ResourceID, &created, &lease)
		if err != nil {
			return fmt.Errorf("sqlite: begin idempotent request: read the record that holds the key: %w", err)
		}
		held.CreatedAt, held.LeaseUntil = fromMS(created), fromMS(lease)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return held, nil
}

// FinishIdempotent implements facevault.IdempotencyStore.
func (db *DB) FinishIdempotent(ctx context.Context, r *facevault.IdempotentRequest) (bool, error) {
	stored := false
	err := db.inWrite(ctx, "finish idempotent request", func(tx *sql.Tx) error {
		if r.Status < 300 && r.ClientID != "" {
			var one int
			err := tx.QueryRowContext(ctx, `
				SELECT 1 FROM clients WHERE account_id = ? AND mode = ? AND id = ? AND deleted_at IS NULL`,
				r.Scope.AccountID, string(r.Scope.Mode), r.ClientID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				// Deleted since: the answer must not be kept.
				_, err = tx.ExecContext(ctx, `
					DELETE FROM idempotency_requests WHERE account_id = ? AND mode = ? AND key = ? AND token = ?`,
					r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token)
				if err != nil {
					return fmt.Errorf("sqlite: finish idempotent request: %w", err)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("sqlite: finish idempotent request: client: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE idempotency_requests SET fingerprint = ?, status = ?, body = ?, client_id = ?, resource_id = ?
			WHERE account_id = ? AND mode = ? AND key = ? AND token = ? AND status = 0`,
			r.Fingerprint, r.Status, r.Body, r.ClientID, r.ResourceID,
			r.Scope.AccountID, string(r.Scope.Mode), r.Key, r.Token)
		if err != nil {
			return fmt.Errorf("sqlite: finish idempotent request: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: finish idempotent request: %w", err)
		}
		stored = n == 1
		return nil
	})
	return stored, err
}

// AbandonIdempotent implements facevault.IdempotencyStore.
func (db *DB) AbandonIdempotent(ctx context.Context, s facevault.Scope, key, token string) error {
	if _, err := db.write.ExecContext(ctx, `
		DELETE FROM idempotency_requests WHERE account_id = ? AND mode = ? AND key = ? AND token = ? AND status = 0`,
		s.AccountID, string(s.Mode), key, token); err != nil {
		return fmt.Errorf("sqlite: abandon idempotent request: %w", err)
	}
	return nil
}

// ExpireIdempotent implements facevault.IdempotencyStore.
func (db *DB) ExpireIdempotent(ctx context.Context, before time.Time, n int) (int, error) {
	res, err := db.write.ExecContext(ctx, `
		DELETE FROM idempotency_requests WHERE rowid IN (
			SELECT rowid FROM idempotency_requests WHERE created_at <= ? LIMIT ?)`, ms(before), n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire idempotency records: %w", err)
	}
	removed, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire idempotency records: %w", err)
	}
	return int(removed), nil
}

// forgetIdempotentForClient deletes the stored answers that show the client
// id of s: deleting a client deletes them in its transaction.
func forgetIdempotentForClient(ctx context.Context, tx *sql.Tx, s facevault.Scope, id string) error {
	if _, err := tx.ExecContext(ctx, `
		DELETE FROM idempotency_requests WHERE account_id = ? AND mode = ? AND client_id = ?`,
		s.AccountID, string(s.Mode), id); err != nil {
		return fmt.Errorf("sqlite: delete stored answers of client %s: %w", id, err)
	}
	return nil
}
