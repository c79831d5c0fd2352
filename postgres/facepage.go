package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// Packed pages of the face search index (see facevault.FacePageStore and
// migration 00012). A face_index row deleted while packed in a page leaves
// an entry in face_index_dead, inserted by the statement that deletes it;
// PackFaceCell re-packs the pages those entries name.

// FacePages implements facevault.FacePageStore. A page whose version the
// caller knows comes without its data, which PostgreSQL then does not
// read.
func (db *DB) FacePages(ctx context.Context, s facevault.Scope, epoch int64, cells []int, known []facevault.FacePageVersion) ([]facevault.FacePage, error) {
	kc, kp, kv := make([]int32, len(known)), make([]int32, len(known)), make([]int64, len(known))
	for i, k := range known {
		kc[i], kp[i], kv[i] = int32(k.Cell), int32(k.Page), k.Version
	}
	const sel = `
		SELECT p.cell, p.page, p.version, p.faces, CASE WHEN k.version = p.version THEN NULL ELSE p.data END
		FROM face_index_pages p
		LEFT JOIN unnest($4::int[], $5::int[], $6::bigint[]) AS k (cell, page, version) ON k.cell = p.cell AND k.page = p.page
		WHERE p.account_id = $1 AND p.mode = $2 AND p.epoch = $3`
	var rows pgx.Rows
	var err error
	if cells == nil {
		rows, err = db.pool.Query(ctx, sel+` ORDER BY p.cell, p.page`, s.AccountID, string(s.Mode), epoch, kc, kp, kv)
	} else {
		rows, err = db.pool.Query(ctx, sel+` AND p.cell = ANY($7::int[]) ORDER BY p.cell, p.page`,
			s.AccountID, string(s.Mode), epoch, kc, kp, kv, int32s(cells))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: face index pages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (facevault.FacePage, error) {
		p := facevault.FacePage{Epoch: epoch}
		err := row.Scan(&p.Cell, &p.Page, &p.Version, &p.Faces, &p.Data)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: face index pages: %w", err)
	}
	return out, nil
}

func int32s(xs []int) []int32 {
	out := make([]int32, len(xs))
	for i, x := range xs {
		out[i] = int32(x)
	}
	return out
}

// UnpackedFaceRows implements facevault.FacePageStore, from the partial
// index face_index_unpacked.
func (db *DB) UnpackedFaceRows(ctx context.Context, s facevault.Scope, epoch int64, cells []int) ([]facevault.FaceIndexRow, error) {
	const sel = `
		SELECT photo_id, client_id, epoch, cell, vec FROM face_index
		WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND page IS NULL`
	var rows pgx.Rows
	var err error
	if cells == nil {
		rows, err = db.pool.Query(ctx, sel, s.AccountID, string(s.Mode), epoch)
	} else {
		rows, err = db.pool.Query(ctx, sel+` AND cell = ANY($4::int[])`, s.AccountID, string(s.Mode), epoch, int32s(cells))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: unpacked face index rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanFaceIndexRow)
	if err != nil {
		return nil, fmt.Errorf("postgres: unpacked face index rows: %w", err)
	}
	return out, nil
}

// FaceIndexRowsByID implements facevault.FacePageStore.
func (db *DB) FaceIndexRowsByID(ctx context.Context, s facevault.Scope, ids []string) ([]facevault.FaceIndexRow, error) {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `
		SELECT photo_id, client_id, epoch, cell, vec FROM face_index
		WHERE photo_id = ANY($3::text[]) AND account_id = $1 AND mode = $2`, s.AccountID, string(s.Mode), ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows by id: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanFaceIndexRow)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index rows by id: %w", err)
	}
	return out, nil
}

// FaceCellsToPack implements facevault.FacePageStore.
func (db *DB) FaceCellsToPack(ctx context.Context, s facevault.Scope, epoch int64) ([]int, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT cell FROM face_index WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND (page IS NULL OR page < 0)
		UNION
		SELECT cell FROM face_index_dead WHERE account_id = $1 AND mode = $2 AND epoch = $3
		ORDER BY 1`, s.AccountID, string(s.Mode), epoch)
	if err != nil {
		return nil, fmt.Errorf("postgres: face index cells to pack: %w", err)
	}
	cells, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("postgres: face index cells to pack: %w", err)
	}
	return cells, nil
}

type pageState struct {
	page    int
	version int64
	faces   int
}

// PackFaceCell implements facevault.FacePageStore. It locks the cell's
// pages first (FOR UPDATE); the rows it packs are marked with their page
// by an update that skips a row deleted meanwhile, and the pages are built
// from the rows as they are after that update. A deletion that commits
// while the cell is packed inserts its face_index_dead entry all the same
// (its row's page is the one this transaction gave it, or had), and the
// next pass re-packs that page: only the entries read at the start, of
// deletions committed before the pages were built, are removed.
func (db *DB) PackFaceCell(ctx context.Context, s facevault.Scope, epoch int64, cell, perPage int,
	build func(p facevault.FacePage, rows []facevault.FaceIndexRow) ([]byte, error)) (facevault.PackResult, error) {
	var res facevault.PackResult
	err := db.inTx(ctx, "pack face index cell", pgx.TxOptions{}, func(tx pgx.Tx) error {
		res = facevault.PackResult{}
		a, m := s.AccountID, string(s.Mode)
		rows, err := tx.Query(ctx, `
			SELECT page, version, faces FROM face_index_pages
			WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4 ORDER BY page FOR UPDATE`, a, m, epoch, cell)
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: pages: %w", err)
		}
		pages, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pageState, error) {
			var p pageState
			err := row.Scan(&p.page, &p.version, &p.faces)
			return p, err
		})
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: pages: %w", err)
		}
		byPage := map[int]pageState{}
		for _, p := range pages {
			byPage[p.page] = p
		}
		rows, err = tx.Query(ctx, `
			SELECT page, photo_id FROM face_index_dead
			WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4`, a, m, epoch, cell)
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: dead: %w", err)
		}
		var deadPages []int32
		var deadIDs []string
		dead := map[int]int{}
		var dp int32
		var did string
		if _, err := pgx.ForEachRow(rows, []any{&dp, &did}, func() error {
			deadPages, deadIDs = append(deadPages, dp), append(deadIDs, did)
			dead[int(dp)]++
			return nil
		}); err != nil {
			return fmt.Errorf("postgres: pack face index cell: dead: %w", err)
		}
		rows, err = tx.Query(ctx, `
			SELECT photo_id FROM face_index
			WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4 AND (page IS NULL OR page < 0)
			ORDER BY photo_id`, a, m, epoch, cell)
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: unpacked: %w", err)
		}
		unpacked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: unpacked: %w", err)
		}
		if len(unpacked) == 0 && len(deadIDs) == 0 {
			return nil
		}
		targets := map[int]bool{}
		for p := range dead {
			if _, ok := byPage[p]; ok {
				targets[p] = true
			}
		}
		var ids []string
		var to []int32
		next := 0
		if len(pages) > 0 {
			next = pages[len(pages)-1].page + 1
		}
		if len(unpacked) > 0 && len(pages) > 0 {
			tail := pages[len(pages)-1]
			if room := perPage - (tail.faces - dead[tail.page]); room > 0 {
				k := min(room, len(unpacked))
				for _, id := range unpacked[:k] {
					ids, to = append(ids, id), append(to, int32(tail.page))
				}
				unpacked = unpacked[k:]
				targets[tail.page] = true
			}
		}
		for len(unpacked) > 0 {
			k := min(perPage, len(unpacked))
			for _, id := range unpacked[:k] {
				ids, to = append(ids, id), append(to, int32(next))
			}
			unpacked = unpacked[k:]
			targets[next] = true
			next++
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `
				UPDATE face_index f SET page = r.page
				FROM unnest($5::text[], $6::int[]) AS r (photo_id, page)
				WHERE f.photo_id = r.photo_id AND f.account_id = $1 AND f.mode = $2 AND f.epoch = $3 AND f.cell = $4
					AND (f.page IS NULL OR f.page < 0)`, a, m, epoch, cell, ids, to); err != nil {
				return fmt.Errorf("postgres: pack face index cell: assign: %w", err)
			}
		}
		list := make([]int32, 0, len(targets))
		for p := range targets {
			list = append(list, int32(p))
		}
		slices.Sort(list)
		rows, err = tx.Query(ctx, `
			SELECT photo_id, client_id, epoch, cell, vec, page FROM face_index
			WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4 AND page = ANY($5::int[])
			ORDER BY page, photo_id`, a, m, epoch, cell, list)
		if err != nil {
			return fmt.Errorf("postgres: pack face index cell: rows: %w", err)
		}
		members := map[int][]facevault.FaceIndexRow{}
		var r facevault.FaceIndexRow
		var page int32
		if _, err := pgx.ForEachRow(rows, []any{&r.PhotoID, &r.ClientID, &r.Epoch, &r.Cell, &r.Vec, &page}, func() error {
			members[int(page)] = append(members[int(page)], r)
			r = facevault.FaceIndexRow{}
			return nil
		}); err != nil {
			return fmt.Errorf("postgres: pack face index cell: rows: %w", err)
		}
		for _, p := range list {
			old, exists := byPage[int(p)]
			faces := members[int(p)]
			if len(faces) == 0 {
				if exists {
					if _, err := tx.Exec(ctx, `
						DELETE FROM face_index_pages WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4 AND page = $5`,
						a, m, epoch, cell, p); err != nil {
						return fmt.Errorf("postgres: pack face index cell: remove page: %w", err)
					}
					res.Removed++
				}
				continue
			}
			var version int64
			if err := tx.QueryRow(ctx, `SELECT nextval('face_index_page_versions')`).Scan(&version); err != nil {
				return fmt.Errorf("postgres: pack face index cell: version: %w", err)
			}
			fp := facevault.FacePage{Epoch: epoch, Cell: cell, Page: int(p), Version: version, Faces: len(faces)}
			data, err := build(fp, faces)
			if err != nil {
				return err
			}
			if exists {
				tag, err := tx.Exec(ctx, `
					UPDATE face_index_pages SET version = $6, faces = $7, data = $8
					WHERE account_id = $1 AND mode = $2 AND epoch = $3 AND cell = $4 AND page = $5 AND version = $9`,
					a, m, epoch, cell, p, version, len(faces), data, old.version)
				if err != nil {
					return fmt.Errorf("postgres: pack face index cell: write page: %w", err)
				}
				if tag.RowsAffected() != 1 {
					return fmt.Errorf("postgres: pack face index cell %d page %d: %w", cell, p, facevault.ErrConflict)
				}
			} else if _, err := tx.Exec(ctx, `
				INSERT INTO face_index_pages (account_id, mode, epoch, cell, page, version, faces, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a, m, epoch, cell, p, version, len(faces), data); err != nil {
				return fmt.Errorf("postgres: pack face index cell: write page: %w", err)
			}
			res.Written++
		}
		if len(deadIDs) > 0 {
			tag, err := tx.Exec(ctx, `
				DELETE FROM face_index_dead d USING unnest($5::int[], $6::text[]) AS r (page, photo_id)
				WHERE d.account_id = $1 AND d.mode = $2 AND d.epoch = $3 AND d.cell = $4
					AND d.page = r.page AND d.photo_id = r.photo_id`, a, m, epoch, cell, deadPages, deadIDs)
			if err != nil {
				return fmt.Errorf("postgres: pack face index cell: dead: %w", err)
			}
			res.Dead = int(tag.RowsAffected())
		}
		return nil
	})
	return res, err
}
