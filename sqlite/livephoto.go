package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// livePhotoColumns are the columns scanLivePhoto reads.
const livePhotoColumns = `id, client_id, content_type, size, width, height, sha256,
	perform_liveness_check, liveness_check, redacted_at, created_at, updated_at`

func scanLivePhoto(sc scanner) (*facevault.LivePhoto, error) {
	var (
		p                = &facevault.LivePhoto{}
		redacted         sql.NullInt64
		created, updated int64
		check            sql.NullString
	)
	if err := sc.Scan(&p.ID, &p.ClientID, &p.ContentType, &p.Size, &p.Width, &p.Height, &p.SHA256,
		&p.PerformLivenessCheck, &check, &redacted, &created, &updated); err != nil {
		return nil, err
	}
	if check.Valid {
		p.LivenessCheck = new(facevault.LivenessCheck)
		if err := json.Unmarshal([]byte(check.String), p.LivenessCheck); err != nil {
			return nil, fmt.Errorf("decode liveness check of %s: %w", p.ID, err)
		}
	}
	p.RedactedAt = fromNullMS(redacted)
	p.CreatedAt = fromMS(created)
	p.UpdatedAt = fromMS(updated)
	return p, nil
}

// scanLivePhotos reads and closes rows.
func scanLivePhotos(rows *sql.Rows) ([]*facevault.LivePhoto, error) {
	defer rows.Close()
	photos := []*facevault.LivePhoto{}
	for rows.Next() {
		p, err := scanLivePhoto(rows)
		if err != nil {
			return nil, err
		}
		photos = append(photos, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return photos, nil
}

// CreateLivePhoto stores the record p in s. Its timestamps are truncated to
// milliseconds in UTC, as stored. It returns an error wrapping
// facevault.ErrNotFound if p's client does not exist in s.
func (db *DB) CreateLivePhoto(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto) error {
	var check sql.NullString
	if p.LivenessCheck != nil {
		b, err := json.Marshal(p.LivenessCheck)
		if err != nil {
			return fmt.Errorf("sqlite: create live photo: encode liveness check: %w", err)
		}
		check = sql.NullString{String: string(b), Valid: true}
	}
	if _, err := db.write.ExecContext(ctx, `
		INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
			perform_liveness_check, liveness_check, redacted_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, s.AccountID, string(s.Mode), p.ClientID, p.ContentType, p.Size, p.Width, p.Height, p.SHA256,
		p.PerformLivenessCheck, check, nullMS(p.RedactedAt), ms(p.CreatedAt), ms(p.UpdatedAt),
	); err != nil {
		if isForeignKeyError(err) {
			return fmt.Errorf("sqlite: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
		}
		return fmt.Errorf("sqlite: create live photo: %w", err)
	}
	p.RedactedAt = truncMS(p.RedactedAt)
	p.CreatedAt = truncMS(p.CreatedAt)
	p.UpdatedAt = truncMS(p.UpdatedAt)
	return nil
}

// getLivePhoto reads the live photo id of s; sql.ErrNoRows if there is none.
func getLivePhoto(ctx context.Context, q rowQueryer, s facevault.Scope, id string) (*facevault.LivePhoto, error) {
	return scanLivePhoto(q.QueryRowContext(ctx, `
		SELECT `+livePhotoColumns+` FROM live_photos
		WHERE account_id = ? AND mode = ? AND id = ?`,
		s.AccountID, string(s.Mode), id,
	))
}

// LivePhoto returns the live photo id of s, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) LivePhoto(ctx context.Context, s facevault.Scope, id string) (*facevault.LivePhoto, error) {
	p, err := getLivePhoto(ctx, db.read, s, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: live photo %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: live photo %s: %w", id, err)
	}
	return p, nil
}

// livePhotosWhere is the query for the live photos of client clientID of s
// within o's time range: the WHERE clause and its arguments, for a count or
// a page. The page is an index scan of live_photos_client.
func livePhotosWhere(s facevault.Scope, clientID string, o facevault.ListOptions) *query {
	q := scoped(s)
	q.and("client_id = ?", clientID)
	q.timeRange(o.TimeRange)
	return q
}

// livePhotosPage is the SELECT of one page of livePhotosWhere; its last two
// arguments are LIMIT and OFFSET.
func livePhotosPage(q *query) string {
	return `
		SELECT ` + livePhotoColumns + ` FROM live_photos
		WHERE ` + q.String() + `
		ORDER BY created_at DESC, id DESC
		LIMIT ? OFFSET ?`
}

// LivePhotos lists the live photos of the client clientID of s, newest
// first (ties broken by ID, highest first), and counts all of them
// regardless of paging. A zero page is the first page of
// facevault.DefaultPageSize. A client that does not exist in s has none.
func (db *DB) LivePhotos(ctx context.Context, s facevault.Scope, clientID string, o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
	photos := []*facevault.LivePhoto{}
	if o.Impossible {
		return photos, 0, nil
	}
	q := livePhotosWhere(s, clientID, o)
	limit, offset := limits(o.Page)
	var total int
	err := db.inRead(ctx, "list live photos", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM live_photos WHERE `+q.String(), q.args...).Scan(&total); err != nil {
			return fmt.Errorf("sqlite: list live photos: count: %w", err)
		}
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, livePhotosPage(q), slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: list live photos: %w", err)
		}
		if photos, err = scanLivePhotos(rows); err != nil {
			return fmt.Errorf("sqlite: list live photos: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return photos, total, nil
}

// DeleteLivePhoto deletes the live photo id of s. destroy is called with
// the record before the transaction commits; if it fails nothing is deleted
// and its error is returned as is. It returns an error wrapping
// facevault.ErrNotFound, without calling destroy, if the photo does not
// exist. destroy must not use the store.
func (db *DB) DeleteLivePhoto(ctx context.Context, s facevault.Scope, id string, destroy func(ctx context.Context, p *facevault.LivePhoto) error) error {
	return db.inWrite(ctx, "delete live photo", func(tx *sql.Tx) error {
		p, err := getLivePhoto(ctx, tx, s, id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, err)
		}
		if destroy != nil {
			if err := destroy(ctx, p); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM live_photos WHERE account_id = ? AND mode = ? AND id = ?`,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, err)
		}
		return nil
	})
}

// RedactLivePhoto marks the live photo id of s redacted at now and clears
// its digest; a photo already redacted keeps its redaction and update times.
// destroy is called with the record as it was, redacted or not, before the
// transaction commits; if it fails nothing changes and its error is returned
// as is. It returns the record as stored afterwards, or an error wrapping
// facevault.ErrNotFound, without calling destroy, if the photo does not
// exist. destroy must not use the store.
func (db *DB) RedactLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time, destroy func(ctx context.Context, p *facevault.LivePhoto) error) (*facevault.LivePhoto, error) {
	var p *facevault.LivePhoto
	err := db.inWrite(ctx, "redact live photo", func(tx *sql.Tx) error {
		var err error
		p, err = getLivePhoto(ctx, tx, s, id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: redact live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: redact live photo %s: %w", id, err)
		}
		if destroy != nil {
			// destroy gets a copy: p is what is returned.
			c := *p
			if err := destroy(ctx, &c); err != nil {
				return err
			}
		}
		if p.Redacted() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE live_photos SET redacted_at = ?, updated_at = ?, sha256 = ''
			WHERE account_id = ? AND mode = ? AND id = ?`,
			ms(now), ms(now), s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: redact live photo %s: %w", id, err)
		}
		p.RedactedAt, p.UpdatedAt, p.SHA256 = fromMS(ms(now)), fromMS(ms(now)), ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// existingBatch is how many IDs ExistingLivePhotos looks up per query, well
// under SQLite's limit on parameters.
const existingBatch = 500

// ExistingLivePhotos returns which of ids have a record, in any scope: the
// map holds true for each of those, and nothing for the others.
func (db *DB) ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	for batch := range slices.Chunk(ids, existingBatch) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.read.QueryContext(ctx, `
			SELECT id FROM live_photos WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`,
			args...,
		)
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing live photos: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: existing live photos: %w", err)
			}
			found[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing live photos: %w", err)
		}
	}
	return found, nil
}
