package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// RetentionDue implements facevault.RetentionStore.
func (db *DB) RetentionDue(ctx context.Context, now time.Time, n int) ([]facevault.PhotoRef, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT p.id, p.client_id, p.account_id, p.mode, p.sha256
		FROM live_photos p
		JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
		LEFT JOIN retention_defaults d ON d.account_id = p.account_id AND d.mode = p.mode
		WHERE c.deleted_at IS NULL
		  AND coalesce((c.doc->'retention'->>'legalHold')::boolean, false) = false
		  AND ((c.doc->'retention'->>'retainUntil')::timestamptz <= $1
		       OR p.created_at <= $1 - make_interval(days => coalesce((c.doc->'retention'->>'days')::int, d.days)))
		ORDER BY p.created_at, p.id
		LIMIT $2`, now, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: retention due: %w", err)
	}
	defer rows.Close()
	var out []facevault.PhotoRef
	for rows.Next() {
		var r facevault.PhotoRef
		var mode string
		if err := rows.Scan(&r.PhotoID, &r.ClientID, &r.Scope.AccountID, &mode, &r.SHA256); err != nil {
			return nil, fmt.Errorf("postgres: retention due: %w", err)
		}
		r.Scope.Mode = facevault.Mode(mode)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: retention due: %w", err)
	}
	return out, nil
}

// RetentionDefault implements facevault.RetentionStore.
func (db *DB) RetentionDefault(ctx context.Context, s facevault.Scope) (int, error) {
	var days int
	err := db.pool.QueryRow(ctx, `SELECT days FROM retention_defaults WHERE account_id = $1 AND mode = $2`,
		s.AccountID, string(s.Mode)).Scan(&days)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: retention default: %w", err)
	}
	return days, nil
}

// SetRetentionDefault implements facevault.RetentionStore.
func (db *DB) SetRetentionDefault(ctx context.Context, s facevault.Scope, days int) error {
	var err error
	if days == 0 {
		_, err = db.pool.Exec(ctx, `DELETE FROM retention_defaults WHERE account_id = $1 AND mode = $2`, s.AccountID, string(s.Mode))
	} else {
		_, err = db.pool.Exec(ctx, `
			INSERT INTO retention_defaults (account_id, mode, days) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, mode) DO UPDATE SET days = excluded.days`, s.AccountID, string(s.Mode), days)
	}
	if err != nil {
		return fmt.Errorf("postgres: set retention default: %w", err)
	}
	return nil
}
