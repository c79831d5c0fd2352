package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// StoreID returns the id of the FaceVault store the database belongs to, or
// "" if none is recorded.
func (db *DB) StoreID(ctx context.Context) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id FROM store_identity WHERE singleton`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: store id: %w", err)
	}
	return id, nil
}

// BindStoreID records id unless an id is recorded already, and returns the
// id recorded. Of nodes binding at once, the first insert wins; the others
// read its id.
func (db *DB) BindStoreID(ctx context.Context, id string) (string, error) {
	if !facevault.ValidStoreID(id) {
		return "", fmt.Errorf("postgres: bind store id: invalid id %q", id)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO store_identity (singleton, id, created_at) VALUES (true, $1, $2)
		ON CONFLICT (singleton) DO NOTHING`, id, ms(time.Now())); err != nil {
		return "", fmt.Errorf("postgres: bind store id: %w", err)
	}
	got, err := db.StoreID(ctx)
	if err != nil {
		return "", err
	}
	if got == "" {
		return "", errors.New("postgres: bind store id: no id recorded after the insert")
	}
	return got, nil
}
