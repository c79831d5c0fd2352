package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

// queuePurges queues image keys for purging, due at once, in tx. A key
// already queued keeps its place and its attempts. The stored answers of
// idempotent requests that show the photos are deleted with them.
func queuePurges(ctx context.Context, tx *sql.Tx, now time.Time, keys []string) error {
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO purges (key, queued_at, not_before) VALUES (?, ?, ?)
			ON CONFLICT (key) DO NOTHING`,
			k, ms(now), ms(now),
		); err != nil {
			return fmt.Errorf("sqlite: queue purge of %s: %w", k, err)
		}
		// The stored answers that show the photo go with its record.
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_requests WHERE resource_id = ?`, k); err != nil {
			return fmt.Errorf("sqlite: delete stored answers of %s: %w", k, err)
		}
	}
	return nil
}

// DrainDeletedClients removes up to n live photo records of deleted clients
// and queues their image keys, in one transaction, and returns the keys.
// When it finds fewer than n, it also removes the deleted clients that have
// no photo left.
func (db *DB) DrainDeletedClients(ctx context.Context, now time.Time, n int) ([]string, error) {
	var keys []string
	err := db.inWrite(ctx, "drain deleted clients", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT p.id FROM clients c
			JOIN live_photos p ON p.account_id = c.account_id AND p.mode = c.mode AND p.client_id = c.id
			WHERE c.deleted_at IS NOT NULL
			LIMIT ?`, n)
		if err != nil {
			return fmt.Errorf("sqlite: drain deleted clients: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: drain deleted clients: %w", err)
			}
			keys = append(keys, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlite: drain deleted clients: %w", err)
		}
		if len(keys) > 0 {
			args := make([]any, len(keys))
			for i, k := range keys {
				args[i] = k
			}
			if _, err := tx.ExecContext(ctx, `
				DELETE FROM live_photos WHERE id IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`, args...,
			); err != nil {
				return fmt.Errorf("sqlite: drain deleted clients: %w", err)
			}
			if err := deleteFaceIndexRows(ctx, tx, keys); err != nil {
				return err
			}
			if err := queuePurges(ctx, tx, now, keys); err != nil {
				return err
			}
		}
		if len(keys) < n {
			if _, err := tx.ExecContext(ctx, `
				DELETE FROM clients
				WHERE deleted_at IS NOT NULL AND NOT EXISTS (
					SELECT 1 FROM live_photos p
					WHERE p.account_id = clients.account_id AND p.mode = clients.mode AND p.client_id = clients.id)`,
			); err != nil {
				return fmt.Errorf("sqlite: drain deleted clients: remove clients: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// DuePurges returns up to n queued keys due at now, longest due first.
func (db *DB) DuePurges(ctx context.Context, now time.Time, n int) ([]facevault.Purge, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT key, attempts FROM purges WHERE not_before <= ? ORDER BY not_before, key LIMIT ?`,
		ms(now), n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due purges: %w", err)
	}
	defer rows.Close()
	var due []facevault.Purge
	for rows.Next() {
		var p facevault.Purge
		if err := rows.Scan(&p.Key, &p.Attempts); err != nil {
			return nil, fmt.Errorf("sqlite: due purges: %w", err)
		}
		due = append(due, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due purges: %w", err)
	}
	return due, nil
}

// FinishPurges takes keys off the queue.
func (db *DB) FinishPurges(ctx context.Context, keys []string) error {
	return db.inWrite(ctx, "finish purges", func(tx *sql.Tx) error {
		for batch := range slices.Chunk(keys, existingBatch) {
			args := make([]any, len(batch))
			for i, k := range batch {
				args[i] = k
			}
			if _, err := tx.ExecContext(ctx, `
				DELETE FROM purges WHERE key IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...,
			); err != nil {
				return fmt.Errorf("sqlite: finish purges: %w", err)
			}
		}
		return nil
	})
}

// maxErrorLen bounds the cause kept with a failed purge.
const maxErrorLen = 500

// RetryPurge counts a failed attempt on key, keeps its cause, and makes the
// next attempt due at next.
func (db *DB) RetryPurge(ctx context.Context, key string, next time.Time, cause string) error {
	if len(cause) > maxErrorLen {
		cause = strings.ToValidUTF8(cause[:maxErrorLen], "")
	}
	_, err := db.write.ExecContext(ctx, `
		UPDATE purges SET attempts = attempts + 1, not_before = ?, last_error = ? WHERE key = ?`,
		ms(next), cause, key)
	if err != nil {
		return fmt.Errorf("sqlite: retry purge of %s: %w", key, err)
	}
	return nil
}

// PurgeBacklog counts the keys queued and the deleted clients not yet
// removed.
func (db *DB) PurgeBacklog(ctx context.Context) (facevault.PurgeBacklog, error) {
	var b facevault.PurgeBacklog
	err := db.read.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM purges), (SELECT count(*) FROM clients WHERE deleted_at IS NOT NULL)`,
	).Scan(&b.Keys, &b.DeletedClients)
	if err != nil {
		return b, fmt.Errorf("sqlite: purge backlog: %w", err)
	}
	return b, nil
}
