package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/facevault/facevault"
)

// StoreID returns the id of the FaceVault store the database belongs to, or
// "" if none is recorded.
func (db *DB) StoreID(ctx context.Context) (string, error) {
	var id string
	err := db.read.QueryRowContext(ctx, `SELECT id FROM store_identity WHERE singleton = 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: store id: %w", err)
	}
	return id, nil
}

// BindStoreID records id unless an id is recorded already, and returns the
// id recorded.
func (db *DB) BindStoreID(ctx context.Context, id string) (string, error) {
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("sqlite: bind store id: invalid id %q", id)
	}
	var got string
	err := db.inWrite(ctx, "bind store id", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO store_identity (singleton, id, created_at) VALUES (1, ?, ?)
			ON CONFLICT (singleton) DO NOTHING`, id, ms(time.Now())); err != nil {
			return fmt.Errorf("sqlite: bind store id: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT id FROM store_identity WHERE singleton = 1`).Scan(&got); err != nil {
			return fmt.Errorf("sqlite: bind store id: %w", err)
		}
		return nil
	})
	return got, err
}
