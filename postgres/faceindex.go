package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// The face search index (see facevault.FaceIndexStore and migration
// 00008). A row is deleted in the transaction of whatever ends its face's
// enrolment: DeleteLivePhoto, RedactLivePhoto, DeleteClient, and (for
// good measure) DrainDeletedClients.

// FaceIndexEpochs implements facevault.FaceIndexStore.
func (db *DB) FaceIndexEpochs(ctx context.Context, s facevault.Scope) ([]*facevault.FaceIndexEpoch, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT epoch, cells, centroids, size, created_at FROM face_index_epochs
		WHERE account_id = $1 AND mode = $2 ORDER BY epoch`, s.AccountID, string(s.Mode))
	if err != nil {
		return nil, fmt.Errorf("postgres: face index epochs: %w", err)
	}
	epochs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.FaceIndexEpoch, error) {
		e := &facevault.FaceIndexEpoch{}
		err := row.Scan(&e.Epoch, &e.Cells, &e.Centroids, &e.Size, &e.CreatedAt)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: face index epochs: %w", err)
	}
	return epochs, nil
}

// AddFaceIndexEpoch implements facevault.FaceIndexStore. The insert is one
// statement that checks the epoch follows the current one; of nodes racing
// to add the same epoch, the primary key lets one win.
func (db *DB) AddFaceIndexEpoch(ctx context.Context, s facevault.Scope, e *facevault.FaceIndexEpoch) error {
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO face_index_epochs (account_id, mode, epoch, cells, centroids, size, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7
		WHERE $3 = 1 + coalesce((SELECT max(epoch) FROM face_index_epochs WHERE account_id = $1 AND mode = $2), 0)
		ON CONFLICT DO NOTHING`,
		s.AccountID, string(s.Mode), e.Epoch, e.Cells, e.Centroids, e.Size, ms(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: add face index epoch %d: %w", e.Epoch, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: add face index epoch %d: %w", e.Epoch, facevault.ErrConflict)
	}
	return nil
}

// RemoveFaceIndexEpochs implements facevault.FaceIndexStore. A row being
// inserted under an epoch holds a lock on the epoch's row that the
// deletion waits for; the foreign key then refuses it. No epoch goes while
// a row moved by the rekey is not packed in the current epoch's pages
// (page -1): the older epoch's pages, which go with it, still hold it.
func (db *DB) RemoveFaceIndexEpochs(ctx context.Context, s facevault.Scope, before int64) (bool, error) {
	_, err := db.pool.Exec(ctx, `
		DELETE FROM face_index_epochs e
		WHERE account_id = $1 AND mode = $2 AND epoch < $3 AND NOT EXISTS (
			SELECT 1 FROM face_index f WHERE f.account_id = e.account_id AND f.mode = e.mode AND f.epoch = e.epoch)
		AND NOT EXISTS (
			SELECT 1 FROM face_index f WHERE f.account_id = $1 AND f.mode = $2 AND f.page < 0)`,
		s.AccountID, string(s.Mode), before)
	if pgCode(err) == foreignKeyViolation {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: remove face index epochs: %w", err)
	}
	var left bool
	if err := db.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM face_index_epochs WHERE account_id = $1 AND mode = $2 AND epoch < $3)`,
		s.AccountID, string(s.Mode), before).Scan(&left); err != nil {
		return false, fmt.Errorf("postgres: remove face index epochs: %w", err)
	}
	return !left, nil
}

// unindexedWhere is the condition that live photo p is an enrolled face
// with an embedding, of a client not deleted, and not indexed: the partial
// index live_photos_unindexed serves it.
const unindexedWhere = `p.enrolled AND p.face_embedding IS NOT NULL AND p.redacted_at IS NULL AND NOT p.face_indexed AND ` + clientLive

func scanUnindexed(rows pgx.Rows) ([]*facevault.UnindexedFace, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.UnindexedFace, error) {
		f := &facevault.UnindexedFace{}
		var mode string
		err := row.Scan(&f.Scope.AccountID, &mode, &f.PhotoID, &f.ClientID, &f.SealedEmbedding)
		f.Scope.Mode = facevault.Mode(mode)
		return f, err
	})
}

// UnindexedFaces implements facevault.FaceIndexStore.
func (db *DB) UnindexedFaces(ctx context.Context, after string, n int) ([]*facevault.UnindexedFace, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT p.account_id, p.mode, p.id, p.client_id, p.face_embedding FROM live_photos p
		WHERE `+unindexedWhere+` AND p.id > $1
		ORDER BY p.id LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: unindexed faces: %w", err)
	}
	faces, err := scanUnindexed(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: unindexed faces: %w", err)
	}
	return faces, nil
}

// ScopeUnindexedFaces implements facevault.FaceIndexStore.
func (db *DB) ScopeUnindexedFaces(ctx context.Context, s facevault.Scope) ([]*facevault.UnindexedFace, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT p.account_id, p.mode, p.id, p.client_id, p.face_embedding FROM live_photos p
		WHERE p.account_id = $1 AND p.mode = $2 AND `+unindexedWhere+`
		ORDER BY p.id`, s.AccountID, string(s.Mode))
	if err != nil {
		return nil, fmt.Errorf("postgres: unindexed faces: %w", err)
	}
	faces, err := scanUnindexed(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: unindexed faces: %w", err)
	}
	return faces, nil
}

// AddFaceIndexRows implements facevault.FaceIndexStore, in one statement:
// it locks the rows' clients (FOR SHARE, which a DeleteClient's update
// waits for, or which waits for it and then finds the client deleted) and
// marks each photo indexed by an update whose conditions are checked
// again on the photo's latest version should a deletion or redaction
// commit meanwhile; only the photos it marked get a row, and only while
// epoch is the current one.
func (db *DB) AddFaceIndexRows(ctx context.Context, s facevault.Scope, epoch int64, rows []facevault.FaceIndexRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	ids, clients, cells, vecs := make([]string, len(rows)), make([]string, len(rows)), make([]int32, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		ids[i], clients[i], cells[i], vecs[i] = r.PhotoID, r.ClientID, int32(r.Cell), r.Vec
	}
	tag, err := db.pool.Exec(ctx, `
		WITH r AS (
			SELECT * FROM unnest($4::text[], $5::text[], $6::int[], $7::bytea[]) AS r (photo_id, client_id, cell, vec)
		), cur AS (
			SELECT max(epoch) AS epoch FROM face_index_epochs WHERE account_id = $1 AND mode = $2
		), live AS (
			SELECT c.id FROM clients c
			WHERE c.account_id = $1 AND c.mode = $2 AND c.id = ANY($5::text[]) AND c.deleted_at IS NULL
			FOR SHARE
		), marked AS (
			UPDATE live_photos p SET face_indexed = true
			FROM r, cur
			WHERE cur.epoch = $3 AND p.id = r.photo_id AND p.account_id = $1 AND p.mode = $2
				AND p.client_id = r.client_id AND p.client_id IN (SELECT id FROM live)
				AND p.enrolled AND p.face_embedding IS NOT NULL AND p.redacted_at IS NULL AND NOT p.face_indexed
			RETURNING p.id
		)
		INSERT INTO face_index (photo_id, account_id, mode, client_id, epoch, cell, vec)
		SELECT r.photo_id, $1, $2, r.client_id, $3, r.cell, r.vec FROM r JOIN marked ON marked.id = r.photo_id
		ON CONFLICT (photo_id) DO NOTHING`,
		s.AccountID, string(s.Mode), epoch, ids, clients, cells, vecs)
	if err != nil {
		return 0, fmt.Errorf("postgres: add face index rows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func scanFaceIndexRow(row pgx.CollectableRow) (facevault.FaceIndexRow, error) {
	var r facevault.FaceIndexRow
	err := row.Scan(&r.PhotoID, &r.ClientID, &r.Epoch, &r.Cell, &r.Vec)
	return r, err
}

// FaceIndexRows implements facevault.FaceIndexStore: an index-only scan of
// face_index_cells, which includes the sealed vectors.
func (db *DB) FaceIndexRows(ctx context.Context, s facevault.Scope, epoch int64, cells []int) ([]facevault.FaceIndexRow, error) {
	var rows pgx.Rows
	var err error
	if cells == nil {
		rows, err = db.pool.Query(ctx, `
			SELECT photo_id, client_id, epoch, cell, vec FROM face_index
			WHERE account_id = $1 AND mode = $2 AND epoch = $3`, s.AccountID, string(s.Mode), epoch)
	} else {
		c := make([]int32, len(cells))
		for i, x := range cells {
			c[i] = int32(x)
		}
		rows, err = db.pool.Query(ctx, `
			SELECT photo_id, client_id, epoch, cell, vec FROM face_index
			WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = ANY($4::int[])`, s.AccountID, string(s.Mode), epoch, c)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanFaceIndexRow)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows: %w", err)
	}
	return out, nil
}

// FaceIndexRowsBefore implements facevault.FaceIndexStore.
func (db *DB) FaceIndexRowsBefore(ctx context.Context, s facevault.Scope, before int64, after string, n int) ([]facevault.FaceIndexRow, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT photo_id, client_id, epoch, cell, vec FROM face_index
		WHERE account_id = $1 AND mode = $2 AND epoch < $3 AND photo_id > $4
		ORDER BY photo_id LIMIT $5`, s.AccountID, string(s.Mode), before, after, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanFaceIndexRow)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows: %w", err)
	}
	return out, nil
}

// MoveFaceIndexRows implements facevault.FaceIndexStore.
func (db *DB) MoveFaceIndexRows(ctx context.Context, s facevault.Scope, to int64, rows []facevault.FaceIndexRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	ids, olds, cells, vecs := make([]string, len(rows)), make([]int64, len(rows)), make([]int32, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		ids[i], olds[i], cells[i], vecs[i] = r.PhotoID, r.Epoch, int32(r.Cell), r.Vec
	}
	tag, err := db.pool.Exec(ctx, `
		UPDATE face_index f SET epoch = $3, cell = r.cell, vec = r.vec,
			page = CASE WHEN f.page IS NULL THEN NULL ELSE -1 END
		FROM unnest($4::text[], $5::bigint[], $6::int[], $7::bytea[]) AS r (photo_id, old, cell, vec)
		WHERE f.photo_id = r.photo_id AND f.epoch = r.old AND f.account_id = $1 AND f.mode = $2`,
		s.AccountID, string(s.Mode), to, ids, olds, cells, vecs)
	if err != nil {
		return 0, fmt.Errorf("postgres: move face index rows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// FaceIndexScopes implements facevault.FaceIndexStore.
func (db *DB) FaceIndexScopes(ctx context.Context) ([]facevault.FaceIndexScope, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT e.account_id, e.mode,
			(SELECT count(*) FROM face_index f WHERE f.account_id = e.account_id AND f.mode = e.mode)
		FROM (SELECT DISTINCT account_id, mode FROM face_index_epochs) e
		ORDER BY e.account_id, e.mode`)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index scopes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (facevault.FaceIndexScope, error) {
		var sc facevault.FaceIndexScope
		var mode string
		err := row.Scan(&sc.Scope.AccountID, &mode, &sc.Rows)
		sc.Scope.Mode = facevault.Mode(mode)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: face index scopes: %w", err)
	}
	return out, nil
}

// EnrolledFaceIDs implements facevault.FaceIndexStore.
func (db *DB) EnrolledFaceIDs(ctx context.Context, s facevault.Scope, clientID string) ([]string, error) {
	if !storable(clientID) {
		return []string{}, nil
	}
	rows, err := db.pool.Query(ctx, `
		SELECT p.id FROM live_photos p
		WHERE p.account_id = $1 AND p.mode = $2 AND p.client_id = $3
			AND p.enrolled AND p.face_embedding IS NOT NULL AND p.redacted_at IS NULL AND `+clientLive+`
		ORDER BY p.id`, s.AccountID, string(s.Mode), clientID)
	if err != nil {
		return nil, fmt.Errorf("postgres: enrolled face ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: enrolled face ids: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// deleteFaceIndexRows deletes, in tx, the index rows of photos ids, and
// lists those packed in a page in face_index_dead (see PackFaceCell).
func deleteFaceIndexRows(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, `
		WITH d AS (DELETE FROM face_index WHERE photo_id = ANY($1) RETURNING account_id, mode, epoch, cell, page, photo_id)
		`+insertDead, ids); err != nil {
		return fmt.Errorf("postgres: delete face index rows: %w", err)
	}
	return nil
}

// insertDead ends a statement whose CTE d returns deleted face_index rows:
// it lists those packed in a page in face_index_dead.
const insertDead = `INSERT INTO face_index_dead (account_id, mode, epoch, cell, page, photo_id)
		SELECT account_id, mode, epoch, cell, page, photo_id FROM d WHERE page >= 0
		ON CONFLICT DO NOTHING`
