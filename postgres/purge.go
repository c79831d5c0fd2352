package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// queuePurges queues image keys for purging, due at once, in tx. A key
// already queued keeps its place and its attempts. The stored answers of
// idempotent requests that show the photos are deleted with them.
func queuePurges(ctx context.Context, tx pgx.Tx, now time.Time, keys []string) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO purges (key, queued_at, not_before)
		SELECT k, $2, $2 FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO NOTHING`,
		keys, ms(now),
	); err != nil {
		return fmt.Errorf("postgres: queue purges: %w", err)
	}
	// The stored answers that show the photos go with their records.
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_requests WHERE resource_id = ANY($1::text[])`, keys); err != nil {
		return fmt.Errorf("postgres: delete stored answers of purged photos: %w", err)
	}
	return nil
}

// DrainDeletedClients removes up to n live photo records of deleted clients
// and queues their image keys, in one transaction, and returns the keys.
// Rows another node is draining at the same moment are skipped, not waited
// for. When it finds fewer than n, it also removes the deleted clients that
// have no photo left.
func (db *DB) DrainDeletedClients(ctx context.Context, now time.Time, n int) ([]string, error) {
	var keys []string
	err := db.inTx(ctx, "drain deleted clients", pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH batch AS (
				SELECT p.id FROM clients c
				JOIN live_photos p ON p.account_id = c.account_id AND p.mode = c.mode AND p.client_id = c.id
				WHERE c.deleted_at IS NOT NULL
				LIMIT $1
				FOR UPDATE OF p SKIP LOCKED
			)
			DELETE FROM live_photos WHERE id IN (SELECT id FROM batch)
			RETURNING id`, n)
		if err != nil {
			return fmt.Errorf("postgres: drain deleted clients: %w", err)
		}
		if keys, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("postgres: drain deleted clients: %w", err)
		}
		if len(keys) > 0 {
			if err := deleteFaceIndexRows(ctx, tx, keys); err != nil {
				return err
			}
			if err := queuePurges(ctx, tx, now, keys); err != nil {
				return err
			}
		}
		if len(keys) < n {
			// The foreign key makes this wait for, or fail on, a photo
			// being drained by another node; SKIP LOCKED on the clients
			// leaves those to that node.
			if _, err := tx.Exec(ctx, `
				DELETE FROM clients WHERE id IN (
					SELECT c.id FROM clients c
					WHERE c.deleted_at IS NOT NULL AND NOT EXISTS (
						SELECT 1 FROM live_photos p
						WHERE p.account_id = c.account_id AND p.mode = c.mode AND p.client_id = c.id)
					FOR UPDATE SKIP LOCKED)`,
			); err != nil {
				return fmt.Errorf("postgres: drain deleted clients: remove clients: %w", err)
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
	rows, err := db.pool.Query(ctx, `
		SELECT key, attempts FROM purges WHERE not_before <= $1 ORDER BY not_before, key LIMIT $2`,
		now, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: due purges: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (facevault.Purge, error) {
		var p facevault.Purge
		err := row.Scan(&p.Key, &p.Attempts)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: due purges: %w", err)
	}
	return due, nil
}

// FinishPurges takes keys off the queue.
func (db *DB) FinishPurges(ctx context.Context, keys []string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM purges WHERE key = ANY($1)`, keys); err != nil {
		return fmt.Errorf("postgres: finish purges: %w", err)
	}
	return nil
}

// maxErrorLen bounds the cause kept with a failed purge.
const maxErrorLen = 500

// RetryPurge counts a failed attempt on key, keeps its cause, and makes the
// next attempt due at next.
func (db *DB) RetryPurge(ctx context.Context, key string, next time.Time, cause string) error {
	if len(cause) > maxErrorLen {
		cause = cause[:maxErrorLen]
	}
	cause = strings.ToValidUTF8(strings.ReplaceAll(cause, "\x00", ""), "")
	if _, err := db.pool.Exec(ctx, `
		UPDATE purges SET attempts = attempts + 1, not_before = $1, last_error = $2 WHERE key = $3`,
		next, cause, key,
	); err != nil {
		return fmt.Errorf("postgres: retry purge of %s: %w", key, err)
	}
	return nil
}

// PurgeBacklog counts the keys queued and the deleted clients not yet
// removed.
func (db *DB) PurgeBacklog(ctx context.Context) (facevault.PurgeBacklog, error) {
	var b facevault.PurgeBacklog
	err := db.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM purges), (SELECT count(*) FROM clients WHERE deleted_at IS NOT NULL)`,
	).Scan(&b.Keys, &b.DeletedClients)
	if err != nil {
		return b, fmt.Errorf("postgres: purge backlog: %w", err)
	}
	return b, nil
}
