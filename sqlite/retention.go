package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/facevault/facevault"
)

// RetentionDue implements facevault.RetentionStore.
func (db *DB) RetentionDue(ctx context.Context, now time.Time, n int) ([]facevault.PhotoRef, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT p.id, p.client_id, p.account_id, p.mode, p.sha256
		FROM live_photos p
		JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
		LEFT JOIN retention_defaults d ON d.account_id = p.account_id AND d.mode = p.mode
		WHERE c.deleted_at IS NULL
		  AND coalesce(json_extract(c.doc, '$.retention.legalHold'), 0) = 0
		  AND (json_extract(c.doc, '$.retention.retainUntil') <= ?
		       OR p.created_at <= ? - coalesce(json_extract(c.doc, '$.retention.days'), d.days) * 86400000)
		ORDER BY p.created_at, p.id
		LIMIT ?`,
		facevault.FormatRetainUntil(now), ms(now), n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: retention due: %w", err)
	}
	defer rows.Close()
	var out []facevault.PhotoRef
	for rows.Next() {
		var r facevault.PhotoRef
		var mode string
		if err := rows.Scan(&r.PhotoID, &r.ClientID, &r.Scope.AccountID, &mode, &r.SHA256); err != nil {
			return nil, fmt.Errorf("sqlite: retention due: %w", err)
		}
		r.Scope.Mode = facevault.Mode(mode)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: retention due: %w", err)
	}
	return out, nil
}

// RetentionDefault implements facevault.RetentionStore.
func (db *DB) RetentionDefault(ctx context.Context, s facevault.Scope) (int, error) {
	var days int
	err := db.read.QueryRowContext(ctx, `SELECT days FROM retention_defaults WHERE account_id = ? AND mode = ?`,
		s.AccountID, string(s.Mode)).Scan(&days)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: retention default: %w", err)
	}
	return days, nil
}

// SetRetentionDefault implements facevault.RetentionStore.
func (db *DB) SetRetentionDefault(ctx context.Context, s facevault.Scope, days int) error {
	return db.inWrite(ctx, "set retention default", func(tx *sql.Tx) error {
		var err error
		if days == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM retention_defaults WHERE account_id = ? AND mode = ?`, s.AccountID, string(s.Mode))
		} else {
			_, err = tx.ExecContext(ctx, `
				INSERT INTO retention_defaults (account_id, mode, days) VALUES (?, ?, ?)
				ON CONFLICT (account_id, mode) DO UPDATE SET days = excluded.days`, s.AccountID, string(s.Mode), days)
		}
		if err != nil {
			return fmt.Errorf("sqlite: set retention default: %w", err)
		}
		return nil
	})
}
