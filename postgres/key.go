package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// EnsureAccount returns the account named name, creating it (created at now)
// if it does not exist. Concurrent calls with one name agree on the account.
func (db *DB) EnsureAccount(ctx context.Context, name string, now time.Time) (*facevault.Account, error) {
	// Two statements, not one transaction: at READ COMMITTED the SELECT
	// sees the row of a concurrent insert that made this one do nothing.
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`,
		facevault.NewID(now), name, ms(now),
	); err != nil {
		return nil, fmt.Errorf("postgres: ensure account: %w", err)
	}
	a := &facevault.Account{Name: name}
	if err := db.pool.QueryRow(ctx, `
		SELECT id, created_at FROM accounts WHERE name = $1`,
		name,
	).Scan(&a.ID, &a.CreatedAt); err != nil {
		return nil, fmt.Errorf("postgres: ensure account: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// CreateKey stores key. Its timestamps are truncated to milliseconds in UTC,
// as stored. The key's account must exist, and no other key may have its ID
// or hash.
func (db *DB) CreateKey(ctx context.Context, key *facevault.APIKey) error {
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO api_keys (id, account_id, mode, hint, hash, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		key.ID, key.AccountID, string(key.Mode), key.Hint, key.Hash, ms(key.CreatedAt), nullMS(key.RevokedAt),
	); err != nil {
		return fmt.Errorf("postgres: create key: %w", err)
	}
	key.CreatedAt = ms(key.CreatedAt)
	key.RevokedAt = ms(key.RevokedAt)
	return nil
}

// keyColumns are the columns scanKey reads, from api_keys k joined with
// accounts a.
const keyColumns = `k.id, k.account_id, a.name, k.mode, k.hint, k.hash, k.created_at, k.revoked_at`

func scanKey(row pgx.Row) (*facevault.APIKey, error) {
	var (
		k       facevault.APIKey
		mode    string
		revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.AccountName, &mode, &k.Hint, &k.Hash, &k.CreatedAt, &revoked); err != nil {
		return nil, err
	}
	k.Mode = facevault.Mode(mode)
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = fromNull(revoked)
	return &k, nil
}

// KeyByHash returns the key with that hash, revoked or not, with the name of
// its account; an error wrapping facevault.ErrNotFound if there is none.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (*facevault.APIKey, error) {
	k, err := scanKey(db.pool.QueryRow(ctx, `
		SELECT `+keyColumns+`
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.hash = $1`,
		hash,
	))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: key by hash: %w", facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: key by hash: %w", err)
	}
	return k, nil
}

// ListKeys lists every key of every account, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*facevault.APIKey, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+keyColumns+`
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		ORDER BY k.created_at, k.id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.APIKey, error) { return scanKey(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked at now, unless it already is revoked, in
// which case it keeps its first revocation time. It returns an error
// wrapping facevault.ErrNotFound if no key has that ID.
func (db *DB) RevokeKey(ctx context.Context, id string, now time.Time) error {
	if !storable(id) {
		return fmt.Errorf("postgres: revoke key %q: %w", id, facevault.ErrNotFound)
	}
	tag, err := db.pool.Exec(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
		ms(now), id,
	)
	if err != nil {
		return fmt.Errorf("postgres: revoke key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke key %s: %w", id, facevault.ErrNotFound)
	}
	return nil
}

// HasKeys reports whether any key exists, revoked or not.
func (db *DB) HasKeys(ctx context.Context) (bool, error) {
	var ok bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: has keys: %w", err)
	}
	return ok, nil
}
