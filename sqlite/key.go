package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/facevault/facevault"
)

// EnsureAccount returns the account named name, creating it (created at now)
// if it does not exist.
func (db *DB) EnsureAccount(ctx context.Context, name string, now time.Time) (*facevault.Account, error) {
	var a *facevault.Account
	err := db.inWrite(ctx, "ensure account", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`,
			facevault.NewID(now), name, ms(now),
		); err != nil {
			return fmt.Errorf("sqlite: ensure account: %w", err)
		}
		a = &facevault.Account{Name: name}
		var created int64
		if err := tx.QueryRowContext(ctx, `
			SELECT id, created_at FROM accounts WHERE name = ?`,
			name,
		).Scan(&a.ID, &created); err != nil {
			return fmt.Errorf("sqlite: ensure account: %w", err)
		}
		a.CreatedAt = fromMS(created)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// CreateKey stores key. Its timestamps are truncated to milliseconds in UTC,
// as stored. The key's account must exist.
func (db *DB) CreateKey(ctx context.Context, key *facevault.APIKey) error {
	if _, err := db.write.ExecContext(ctx, `
		INSERT INTO api_keys (id, account_id, mode, hint, hash, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		key.ID, key.AccountID, string(key.Mode), key.Hint, key.Hash, ms(key.CreatedAt), nullMS(key.RevokedAt),
	); err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	key.CreatedAt = truncMS(key.CreatedAt)
	key.RevokedAt = truncMS(key.RevokedAt)
	return nil
}

// keyColumns are the columns scanKey reads, from api_keys k joined with
// accounts a.
const keyColumns = `k.id, k.account_id, a.name, k.mode, k.hint, k.hash, k.created_at, k.revoked_at`

func scanKey(sc scanner) (*facevault.APIKey, error) {
	var (
		k       facevault.APIKey
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.AccountID, &k.AccountName, &k.Mode, &k.Hint, &k.Hash, &created, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMS(created)
	k.RevokedAt = fromNullMS(revoked)
	return &k, nil
}

// KeyByHash returns the key with that hash, revoked or not, with the name of
// its account; an error wrapping facevault.ErrNotFound if there is none.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (*facevault.APIKey, error) {
	k, err := scanKey(db.read.QueryRowContext(ctx, `
		SELECT `+keyColumns+`
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.hash = ?`,
		hash,
	))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: key by hash: %w", facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: key by hash: %w", err)
	}
	return k, nil
}

// ListKeys lists every key of every account, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*facevault.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+keyColumns+`
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		ORDER BY k.created_at, k.id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	keys := []*facevault.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked at now, unless it already is revoked, in
// which case it keeps its first revocation time. It returns an error
// wrapping facevault.ErrNotFound if no key has that ID.
func (db *DB) RevokeKey(ctx context.Context, id string, now time.Time) error {
	res, err := db.write.ExecContext(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
		ms(now), id,
	)
	if err != nil {
		return fmt.Errorf("sqlite: revoke key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: revoke key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: revoke key %s: %w", id, facevault.ErrNotFound)
	}
	return nil
}

// HasKeys reports whether any key exists, revoked or not.
func (db *DB) HasKeys(ctx context.Context) (bool, error) {
	var ok bool
	if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("sqlite: has keys: %w", err)
	}
	return ok, nil
}
