package keyring

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/seal"
)

// Face index keys: one random key per scope (account and mode) and epoch,
// wrapped by the master key like client keys. A scope's face search index
// rows are sealed under the key of their epoch (see facevault.FaceIndex);
// destroying an epoch's key makes every copy of the rows sealed under it,
// in the record store and in its backups, unreadable.

func faceIndexAAD(s facevault.Scope, epoch int64) []byte {
	return fmt.Appendf(nil, "face index:%s/%s/%d", s.AccountID, s.Mode, epoch)
}

// faceIndexKeyRow is a face index key as stored.
type faceIndexKeyRow struct {
	scope    facevault.Scope
	epoch    int64
	masterID string
	wrapped  []byte
}

// NewFaceIndexKey returns the face index key of s for epoch, making it if
// there is none: a key made for an epoch that was never recorded (the node
// died in between) is taken up again rather than replaced.
func (k *Keyring) NewFaceIndexKey(ctx context.Context, s facevault.Scope, epoch int64) ([]byte, error) {
	if _, err := k.db.faceIndexKey(ctx, s, epoch); errors.Is(err, errNoKey) {
		k.refresh(ctx)
		key, err := seal.NewDataKey()
		if err != nil {
			return nil, err
		}
		m := k.current()
		wrapped, err := m.Wrap(ctx, key, faceIndexAAD(s, epoch))
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("keyring: wrap face index key: %w", err)
		}
		if _, err := k.db.exec(ctx, k.db.q(`INSERT INTO keyring_face_index (account_id, mode, epoch, master_id, wrapped, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, mode, epoch) DO NOTHING`),
			s.AccountID, string(s.Mode), epoch, m.ID(), wrapped, k.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("key store: add face index key: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	return k.FaceIndexKey(ctx, s, epoch)
}

// FaceIndexKey returns the face index key of s for epoch, or an error
// wrapping facevault.ErrNotFound if it was destroyed or never made.
func (k *Keyring) FaceIndexKey(ctx context.Context, s facevault.Scope, epoch int64) ([]byte, error) {
	r, err := k.db.faceIndexKey(ctx, s, epoch)
	if errors.Is(err, errNoKey) {
		return nil, fmt.Errorf("keyring: face index key %s/%s/%d: %w", s.AccountID, s.Mode, epoch, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return k.unwrapFaceIndex(ctx, r)
}

func (k *Keyring) unwrapFaceIndex(ctx context.Context, r *faceIndexKeyRow) ([]byte, error) {
	m := k.master(r.masterID)
	if m == nil {
		m = k.reloadFor(ctx, r.masterID)
	}
	if m == nil {
		return nil, fmt.Errorf("keyring: face index key %s/%s/%d is %w (id %s)", r.scope.AccountID, r.scope.Mode, r.epoch, errUnknownMaster, r.masterID)
	}
	key, err := m.Unwrap(ctx, r.wrapped, faceIndexAAD(r.scope, r.epoch))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap face index key %s/%s/%d: %w", r.scope.AccountID, r.scope.Mode, r.epoch, err)
	}
	return key, nil
}

// DestroyFaceIndexKeys destroys every face index key of s of an epoch
// before the given one, and returns how many it destroyed.
func (k *Keyring) DestroyFaceIndexKeys(ctx context.Context, s facevault.Scope, before int64) (int, error) {
	res, err := k.db.exec(ctx, k.db.q(`DELETE FROM keyring_face_index WHERE account_id = ? AND mode = ? AND epoch < ?`),
		s.AccountID, string(s.Mode), before)
	if err != nil {
		return 0, fmt.Errorf("key store: destroy face index keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (db *DB) faceIndexKey(ctx context.Context, s facevault.Scope, epoch int64) (*faceIndexKeyRow, error) {
	r := &faceIndexKeyRow{scope: s, epoch: epoch}
	err := db.queryRow(ctx, db.q(`SELECT master_id, wrapped FROM keyring_face_index WHERE account_id = ? AND mode = ? AND epoch = ?`),
		s.AccountID, string(s.Mode), epoch).Scan(&r.masterID, &r.wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("key store: read face index key: %w", err)
	}
	return r, nil
}

// rotateFaceIndexKeys rewraps the face index keys wrapped by old with cur,
// each only if it is still the one read, and returns how many it
// rewrapped.
func (k *Keyring) rotateFaceIndexKeys(ctx context.Context, old, cur Master) (int, error) {
	rows, err := k.db.query(ctx, k.db.q(`SELECT account_id, mode, epoch, master_id, wrapped FROM keyring_face_index WHERE master_id = ?`), old.ID())
	if err != nil {
		return 0, fmt.Errorf("key store: list face index keys: %w", err)
	}
	var keys []*faceIndexKeyRow
	for rows.Next() {
		r := &faceIndexKeyRow{}
		var mode string
		if err := rows.Scan(&r.scope.AccountID, &mode, &r.epoch, &r.masterID, &r.wrapped); err != nil {
			rows.Close()
			return 0, fmt.Errorf("key store: list face index keys: %w", err)
		}
		r.scope.Mode = facevault.Mode(mode)
		keys = append(keys, r)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("key store: list face index keys: %w", err)
	}
	n := 0
	for _, r := range keys {
		key, err := k.unwrapFaceIndex(ctx, r)
		if err != nil {
			return n, err
		}
		wrapped, err := cur.Wrap(ctx, key, faceIndexAAD(r.scope, r.epoch))
		clear(key)
		if err != nil {
			return n, fmt.Errorf("keyring: rewrap face index key: %w", err)
		}
		res, err := k.db.exec(ctx, k.db.q(`UPDATE keyring_face_index SET master_id = ?, wrapped = ?
			WHERE account_id = ? AND mode = ? AND epoch = ? AND master_id = ?`),
			cur.ID(), wrapped, r.scope.AccountID, string(r.scope.Mode), r.epoch, old.ID())
		if err != nil {
			return n, fmt.Errorf("key store: rewrap face index key: %w", err)
		}
		if c, err := res.RowsAffected(); err == nil && c == 1 {
			n++
		}
	}
	return n, nil
}
