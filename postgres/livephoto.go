package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// livePhotoColumns are the columns scanLivePhoto reads.
const livePhotoColumns = `id, client_id, content_type, size, width, height, sha256,
	perform_liveness_check, liveness_check, redacted_at, created_at, updated_at`

func scanLivePhoto(row pgx.Row) (*facevault.LivePhoto, error) {
	var (
		p        = &facevault.LivePhoto{}
		check    []byte
		redacted *time.Time
	)
	if err := row.Scan(&p.ID, &p.ClientID, &p.ContentType, &p.Size, &p.Width, &p.Height, &p.SHA256,
		&p.PerformLivenessCheck, &check, &redacted, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	if check != nil {
		p.LivenessCheck = new(facevault.LivenessCheck)
		if err := json.Unmarshal(check, p.LivenessCheck); err != nil {
			return nil, fmt.Errorf("decode liveness check of %s: %w", p.ID, err)
		}
	}
	p.RedactedAt = fromNull(redacted)
	p.CreatedAt = p.CreatedAt.UTC()
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// scanLivePhotoRow is scanLivePhoto for pgx.CollectRows.
func scanLivePhotoRow(row pgx.CollectableRow) (*facevault.LivePhoto, error) {
	return scanLivePhoto(row)
}

// newestFirst orders photos as lists do: newest first, ties broken by ID,
// highest first.
func newestFirst(a, b *facevault.LivePhoto) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// CreateLivePhoto stores the record p in s. Its timestamps are truncated to
// milliseconds in UTC, as stored. It returns an error wrapping
// facevault.ErrNotFound if p's client does not exist in s (PostgreSQL's
// foreign key check, which also waits for a DeleteClient of that client in
// progress, and fails if it commits). A record with an existing ID is an
// error.
func (db *DB) CreateLivePhoto(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto) error {
	if !storable(p.ClientID) {
		return fmt.Errorf("postgres: create live photo: client %q: %w", p.ClientID, facevault.ErrNotFound)
	}
	var check []byte
	if p.LivenessCheck != nil {
		var err error
		if check, err = json.Marshal(p.LivenessCheck); err != nil {
			return fmt.Errorf("postgres: create live photo: encode liveness check: %w", err)
		}
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
			perform_liveness_check, liveness_check, redacted_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, s.AccountID, string(s.Mode), p.ClientID, p.ContentType, p.Size, p.Width, p.Height, p.SHA256,
		p.PerformLivenessCheck, check, nullMS(p.RedactedAt), ms(p.CreatedAt), ms(p.UpdatedAt),
	); err != nil {
		if pgCode(err) == foreignKeyViolation {
			return fmt.Errorf("postgres: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
		}
		return fmt.Errorf("postgres: create live photo: %w", err)
	}
	p.RedactedAt = ms(p.RedactedAt)
	p.CreatedAt = ms(p.CreatedAt)
	p.UpdatedAt = ms(p.UpdatedAt)
	return nil
}

// LivePhoto returns the live photo id of s, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) LivePhoto(ctx context.Context, s facevault.Scope, id string) (*facevault.LivePhoto, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: live photo %q: %w", id, facevault.ErrNotFound)
	}
	p, err := scanLivePhoto(db.pool.QueryRow(ctx, `
		SELECT `+livePhotoColumns+` FROM live_photos
		WHERE account_id = $1 AND mode = $2 AND id = $3`,
		s.AccountID, string(s.Mode), id,
	))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: live photo %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: live photo %s: %w", id, err)
	}
	return p, nil
}

// livePhotosWhere is the query for the live photos of client clientID of s
// within o's time range: the WHERE clause and its arguments, for a count or
// a page.
func livePhotosWhere(s facevault.Scope, clientID string, o facevault.ListOptions) *query {
	q := scoped(s)
	q.and("client_id = " + q.arg(clientID))
	q.timeRange(o.TimeRange)
	return q
}

// livePhotosPage is the SELECT of one page of the photos of q, newest first
// (ties broken by ID, highest first); its arguments are q's followed by
// limit and offset.
//
// It pages in two steps, so that however many photos a client has, and
// however deep the page, nothing is sorted and only the page's rows are
// read from the table. The subquery pages through the index
// live_photos_client alone (an index-only scan: the equalities on
// account_id, mode and client_id and the created_at bounds are its index
// conditions, and updated_at, an included column, is filtered there too),
// yielding the page's IDs in order; the join then fetches those rows by
// primary key, in a nested loop that keeps that order. The outer query
// needs no scope conditions: the IDs come from the scoped subquery.
func livePhotosPage(q *query, limit, offset int) (string, []any) {
	clause, args := q.page(limit, offset)
	return `
		SELECT ` + livePhotoColumns + `
		FROM (
			SELECT id AS page_id, created_at AS page_created_at FROM live_photos
			WHERE ` + q.String() + `
			ORDER BY created_at DESC, id DESC
			` + clause + `
		) page
		JOIN live_photos ON id = page_id
		ORDER BY page_created_at DESC, page_id DESC`, args
}

// LivePhotos lists the live photos of the client clientID of s, newest
// first (ties broken by ID, highest first), and counts all of them
// regardless of paging; both come from one snapshot. A zero page is the
// first page of facevault.DefaultPageSize. A client that does not exist in s
// has none.
func (db *DB) LivePhotos(ctx context.Context, s facevault.Scope, clientID string, o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
	photos := []*facevault.LivePhoto{}
	if o.Impossible || !storable(clientID) {
		return photos, 0, nil
	}
	q := livePhotosWhere(s, clientID, o)
	limit, offset := limits(o.Page)
	var total int
	err := db.inTx(ctx, "list live photos", readOnly(), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM live_photos WHERE `+q.String(), q.args...).Scan(&total); err != nil {
			return fmt.Errorf("postgres: list live photos: count: %w", err)
		}
		if offset < 0 || offset >= total {
			return nil
		}
		sql, args := livePhotosPage(q, limit, offset)
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("postgres: list live photos: %w", err)
		}
		if photos, err = pgx.CollectRows(rows, scanLivePhotoRow); err != nil {
			return fmt.Errorf("postgres: list live photos: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return photos, total, nil
}

// DeleteLivePhoto deletes the live photo id of s. destroy is called with
// the record deleted, as the last step before the transaction commits; if
// it fails nothing is deleted and its error is returned as is. It returns an
// error wrapping facevault.ErrNotFound, without calling destroy, if the
// photo does not exist. destroy must not use the store.
func (db *DB) DeleteLivePhoto(ctx context.Context, s facevault.Scope, id string, destroy func(ctx context.Context, p *facevault.LivePhoto) error) error {
	if !storable(id) {
		return fmt.Errorf("postgres: delete live photo %q: %w", id, facevault.ErrNotFound)
	}
	return db.inTx(ctx, "delete live photo", pgx.TxOptions{}, func(tx pgx.Tx) error {
		p, err := scanLivePhoto(tx.QueryRow(ctx, `
			DELETE FROM live_photos
			WHERE account_id = $1 AND mode = $2 AND id = $3
			RETURNING `+livePhotoColumns,
			s.AccountID, string(s.Mode), id,
		))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: delete live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: delete live photo %s: %w", id, err)
		}
		if destroy != nil {
			return destroy(ctx, p)
		}
		return nil
	})
}

// RedactLivePhoto marks the live photo id of s redacted at now and clears
// its digest; a photo already redacted keeps its redaction and update times.
// The record is read and locked first, so concurrent redactions take turns.
// destroy is called with the record as it was, redacted or not, as the last
// step before the transaction commits; if it fails nothing changes and its
// error is returned as is. It returns the record as stored afterwards, or an
// error wrapping facevault.ErrNotFound, without calling destroy, if the
// photo does not exist. destroy must not use the store.
func (db *DB) RedactLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time, destroy func(ctx context.Context, p *facevault.LivePhoto) error) (*facevault.LivePhoto, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: redact live photo %q: %w", id, facevault.ErrNotFound)
	}
	var p *facevault.LivePhoto
	err := db.inTx(ctx, "redact live photo", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		p, err = scanLivePhoto(tx.QueryRow(ctx, `
			SELECT `+livePhotoColumns+` FROM live_photos
			WHERE account_id = $1 AND mode = $2 AND id = $3
			FOR NO KEY UPDATE`,
			s.AccountID, string(s.Mode), id,
		))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: redact live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: redact live photo %s: %w", id, err)
		}
		// destroy gets the record as it was; p becomes what is returned.
		before := *p
		if !p.Redacted() {
			at := ms(now)
			if _, err := tx.Exec(ctx, `
				UPDATE live_photos SET redacted_at = $1, updated_at = $1, sha256 = ''
				WHERE account_id = $2 AND mode = $3 AND id = $4`,
				at, s.AccountID, string(s.Mode), id,
			); err != nil {
				return fmt.Errorf("postgres: redact live photo %s: %w", id, err)
			}
			p.RedactedAt, p.UpdatedAt, p.SHA256 = at, at, ""
		}
		if destroy != nil {
			return destroy(ctx, &before)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// existingBatch is how many IDs ExistingLivePhotos looks up per query, as
// one array parameter.
const existingBatch = 10_000

// ExistingLivePhotos returns which of ids have a record, in any scope: the
// map holds true for each of those, and nothing for the others.
func (db *DB) ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	// IDs PostgreSQL cannot hold as text cannot exist.
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
	for batch := range slices.Chunk(ids, existingBatch) {
		rows, err := db.pool.Query(ctx, `SELECT id FROM live_photos WHERE id = ANY($1)`, batch)
		if err != nil {
			return nil, fmt.Errorf("postgres: existing live photos: %w", err)
		}
		existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("postgres: existing live photos: %w", err)
		}
		for _, id := range existing {
			found[id] = true
		}
	}
	return found, nil
}
