package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/facevault/facevault"
)

// The face search index (see facevault.FaceIndexStore and migration
// 00008). A row is deleted in the transaction of whatever ends its face's
// enrolment: DeleteLivePhoto, RedactLivePhoto, DeleteClient, and (for
// good measure) DrainDeletedClients. SQLite has one writer: each write
// below sees the state it checks unchanged until it commits.

// FaceIndexEpochs implements facevault.FaceIndexStore.
func (db *DB) FaceIndexEpochs(ctx context.Context, s facevault.Scope) ([]*facevault.FaceIndexEpoch, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT epoch, cells, centroids, size, created_at FROM face_index_epochs
		WHERE account_id = ? AND mode = ? ORDER BY epoch`, s.AccountID, string(s.Mode))
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index epochs: %w", err)
	}
	defer rows.Close()
	var out []*facevault.FaceIndexEpoch
	for rows.Next() {
		e := &facevault.FaceIndexEpoch{}
		var created int64
		if err := rows.Scan(&e.Epoch, &e.Cells, &e.Centroids, &e.Size, &created); err != nil {
			return nil, fmt.Errorf("sqlite: face index epochs: %w", err)
		}
		e.CreatedAt = fromMS(created)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: face index epochs: %w", err)
	}
	return out, nil
}

// AddFaceIndexEpoch implements facevault.FaceIndexStore.
func (db *DB) AddFaceIndexEpoch(ctx context.Context, s facevault.Scope, e *facevault.FaceIndexEpoch) error {
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO face_index_epochs (account_id, mode, epoch, cells, centroids, size, created_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
		WHERE ?3 = 1 + coalesce((SELECT max(epoch) FROM face_index_epochs WHERE account_id = ?1 AND mode = ?2), 0)
		ON CONFLICT DO NOTHING`,
		s.AccountID, string(s.Mode), e.Epoch, e.Cells, e.Centroids, e.Size, ms(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: add face index epoch %d: %w", e.Epoch, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: add face index epoch %d: %w", e.Epoch, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: add face index epoch %d: %w", e.Epoch, facevault.ErrConflict)
	}
	return nil
}

// RemoveFaceIndexEpochs implements facevault.FaceIndexStore.
func (db *DB) RemoveFaceIndexEpochs(ctx context.Context, s facevault.Scope, before int64) (bool, error) {
	var left bool
	err := db.inWrite(ctx, "remove face index epochs", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM face_index_epochs
			WHERE account_id = ?1 AND mode = ?2 AND epoch < ?3 AND NOT EXISTS (
				SELECT 1 FROM face_index f
				WHERE f.account_id = face_index_epochs.account_id AND f.mode = face_index_epochs.mode
					AND f.epoch = face_index_epochs.epoch)`,
			s.AccountID, string(s.Mode), before); err != nil {
			return fmt.Errorf("sqlite: remove face index epochs: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `
			SELECT EXISTS (SELECT 1 FROM face_index_epochs WHERE account_id = ? AND mode = ? AND epoch < ?)`,
			s.AccountID, string(s.Mode), before).Scan(&left); err != nil {
			return fmt.Errorf("sqlite: remove face index epochs: %w", err)
		}
		return nil
	})
	return !left, err
}

// unindexedWhere is the condition that live photo p is an enrolled face
// with an embedding, of a client not deleted, and not indexed: the partial
// index live_photos_unindexed serves it.
const unindexedWhere = `p.enrolled = 1 AND p.face_embedding IS NOT NULL AND p.redacted_at IS NULL AND p.face_indexed = 0 AND ` + clientLive

func scanUnindexed(rows *sql.Rows) ([]*facevault.UnindexedFace, error) {
	defer rows.Close()
	out := []*facevault.UnindexedFace{}
	for rows.Next() {
		f := &facevault.UnindexedFace{}
		var mode string
		if err := rows.Scan(&f.Scope.AccountID, &mode, &f.PhotoID, &f.ClientID, &f.SealedEmbedding); err != nil {
			return nil, err
		}
		f.Scope.Mode = facevault.Mode(mode)
		out = append(out, f)
	}
	return out, rows.Err()
}

// UnindexedFaces implements facevault.FaceIndexStore.
func (db *DB) UnindexedFaces(ctx context.Context, after string, n int) ([]*facevault.UnindexedFace, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT p.account_id, p.mode, p.id, p.client_id, p.face_embedding FROM live_photos p
		WHERE `+unindexedWhere+` AND p.id > ?
		ORDER BY p.id LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unindexed faces: %w", err)
	}
	faces, err := scanUnindexed(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unindexed faces: %w", err)
	}
	return faces, nil
}

// ScopeUnindexedFaces implements facevault.FaceIndexStore.
func (db *DB) ScopeUnindexedFaces(ctx context.Context, s facevault.Scope) ([]*facevault.UnindexedFace, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT p.account_id, p.mode, p.id, p.client_id, p.face_embedding FROM live_photos p
		WHERE p.account_id = ? AND p.mode = ? AND `+unindexedWhere+`
		ORDER BY p.id`, s.AccountID, string(s.Mode))
	if err != nil {
		return nil, fmt.Errorf("sqlite: unindexed faces: %w", err)
	}
	faces, err := scanUnindexed(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unindexed faces: %w", err)
	}
	return faces, nil
}

// AddFaceIndexRows implements facevault.FaceIndexStore.
func (db *DB) AddFaceIndexRows(ctx context.Context, s facevault.Scope, epoch int64, rows []facevault.FaceIndexRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	added := 0
	err := db.inWrite(ctx, "add face index rows", func(tx *sql.Tx) error {
		added = 0
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(epoch) FROM face_index_epochs WHERE account_id = ? AND mode = ?`,
			s.AccountID, string(s.Mode)).Scan(&cur); err != nil {
			return fmt.Errorf("sqlite: add face index rows: %w", err)
		}
		if !cur.Valid || cur.Int64 != epoch {
			return nil
		}
		for _, r := range rows {
			res, err := tx.ExecContext(ctx, `
				UPDATE live_photos AS p SET face_indexed = 1
				WHERE p.account_id = ? AND p.mode = ? AND p.id = ? AND p.client_id = ? AND `+unindexedWhere,
				s.AccountID, string(s.Mode), r.PhotoID, r.ClientID)
			if err != nil {
				return fmt.Errorf("sqlite: add face index rows: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("sqlite: add face index rows: %w", err)
			} else if n == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO face_index (photo_id, account_id, mode, client_id, epoch, cell, vec)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (photo_id) DO NOTHING`,
				r.PhotoID, s.AccountID, string(s.Mode), r.ClientID, epoch, r.Cell, r.Vec); err != nil {
				return fmt.Errorf("sqlite: add face index rows: %w", err)
			}
			added++
		}
		return nil
	})
	return added, err
}

func scanFaceIndexRows(rows *sql.Rows) ([]facevault.FaceIndexRow, error) {
	defer rows.Close()
	var out []facevault.FaceIndexRow
	for rows.Next() {
		var r facevault.FaceIndexRow
		if err := rows.Scan(&r.PhotoID, &r.ClientID, &r.Epoch, &r.Cell, &r.Vec); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FaceIndexRows implements facevault.FaceIndexStore.
func (db *DB) FaceIndexRows(ctx context.Context, s facevault.Scope, epoch int64, cells []int) ([]facevault.FaceIndexRow, error) {
	q := `SELECT photo_id, client_id, epoch, cell, vec FROM face_index WHERE account_id = ? AND mode = ? AND epoch = ?`
	args := []any{s.AccountID, string(s.Mode), epoch}
	if cells != nil {
		if len(cells) == 0 {
			return nil, nil
		}
		q += ` AND cell IN (?` + strings.Repeat(", ?", len(cells)-1) + `)`
		for _, c := range cells {
			args = append(args, c)
		}
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index rows: %w", err)
	}
	out, err := scanFaceIndexRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index rows: %w", err)
	}
	return out, nil
}

// FaceIndexRowsBefore implements facevault.FaceIndexStore.
func (db *DB) FaceIndexRowsBefore(ctx context.Context, s facevault.Scope, before int64, after string, n int) ([]facevault.FaceIndexRow, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT photo_id, client_id, epoch, cell, vec FROM face_index
		WHERE account_id = ? AND mode = ? AND epoch < ? AND photo_id > ?
		ORDER BY photo_id LIMIT ?`, s.AccountID, string(s.Mode), before, after, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index rows: %w", err)
	}
	out, err := scanFaceIndexRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index rows: %w", err)
	}
	return out, nil
}

// MoveFaceIndexRows implements facevault.FaceIndexStore.
func (db *DB) MoveFaceIndexRows(ctx context.Context, s facevault.Scope, to int64, rows []facevault.FaceIndexRow) (int, error) {
	moved := 0
	err := db.inWrite(ctx, "move face index rows", func(tx *sql.Tx) error {
		moved = 0
		for _, r := range rows {
			res, err := tx.ExecContext(ctx, `
				UPDATE face_index SET epoch = ?, cell = ?, vec = ?
				WHERE photo_id = ? AND epoch = ? AND account_id = ? AND mode = ?`,
				to, r.Cell, r.Vec, r.PhotoID, r.Epoch, s.AccountID, string(s.Mode))
			if err != nil {
				return fmt.Errorf("sqlite: move face index rows: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: move face index rows: %w", err)
			}
			moved += int(n)
		}
		return nil
	})
	return moved, err
}

// FaceIndexScopes implements facevault.FaceIndexStore.
func (db *DB) FaceIndexScopes(ctx context.Context) ([]facevault.FaceIndexScope, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT e.account_id, e.mode,
			(SELECT count(*) FROM face_index f WHERE f.account_id = e.account_id AND f.mode = e.mode)
		FROM (SELECT DISTINCT account_id, mode FROM face_index_epochs) e
		ORDER BY e.account_id, e.mode`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: face index scopes: %w", err)
	}
	defer rows.Close()
	var out []facevault.FaceIndexScope
	for rows.Next() {
		var sc facevault.FaceIndexScope
		var mode string
		if err := rows.Scan(&sc.Scope.AccountID, &mode, &sc.Rows); err != nil {
			return nil, fmt.Errorf("sqlite: face index scopes: %w", err)
		}
		sc.Scope.Mode = facevault.Mode(mode)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: face index scopes: %w", err)
	}
	return out, nil
}

// EnrolledFaceIDs implements facevault.FaceIndexStore.
func (db *DB) EnrolledFaceIDs(ctx context.Context, s facevault.Scope, clientID string) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT p.id FROM live_photos p
		WHERE p.account_id = ? AND p.mode = ? AND p.client_id = ?
			AND p.enrolled = 1 AND p.face_embedding IS NOT NULL AND p.redacted_at IS NULL AND `+clientLive+`
		ORDER BY p.id`, s.AccountID, string(s.Mode), clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: enrolled face ids: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: enrolled face ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: enrolled face ids: %w", err)
	}
	return ids, nil
}

// deleteFaceIndexRows deletes, in tx, the index rows of photos ids.
func deleteFaceIndexRows(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM face_index WHERE photo_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...); err != nil {
		return fmt.Errorf("sqlite: delete face index rows: %w", err)
	}
	return nil
}

// clientLive is the condition that the live photo p's client is not
// deleted.
const clientLive = `EXISTS (
	SELECT 1 FROM clients c
	WHERE c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id AND c.deleted_at IS NULL)`
