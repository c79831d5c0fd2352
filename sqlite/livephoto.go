package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

// livePhotoColumns are the columns scanLivePhoto reads.
const livePhotoColumns = `id, client_id, content_type, size, width, height, sha256,
	perform_liveness_check, liveness_check, redacted_at, created_at, updated_at, face_embedding, enrolled,
	liveness_outcome, liveness_reasons, reviewed_at, reviewer, review_note`

func scanLivePhoto(sc scanner) (*facevault.LivePhoto, error) {
	var (
		p                = &facevault.LivePhoto{}
		redacted         sql.NullInt64
		created, updated int64
		check            sql.NullString
		reasons          string
		reviewed         sql.NullInt64
		review           facevault.Review
	)
	if err := sc.Scan(&p.ID, &p.ClientID, &p.ContentType, &p.Size, &p.Width, &p.Height, &p.SHA256,
		&p.PerformLivenessCheck, &check, &redacted, &created, &updated, &p.SealedEmbedding, &p.Enrolled,
		&p.LivenessOutcome, &reasons, &reviewed, &review.Reviewer, &review.Note); err != nil {
		return nil, err
	}
	p.LivenessReasons = facevault.ParseReasonsColumn(reasons)
	if reviewed.Valid {
		review.ReviewedAt = fromMS(reviewed.Int64)
		p.Review = &review
	}
	if check.Valid {
		if err := facevault.SetLivenessColumn(p, []byte(check.String)); err != nil {
			return nil, err
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
	b, err := facevault.LivenessColumn(p)
	if err != nil {
		return fmt.Errorf("sqlite: create live photo: encode liveness check: %w", err)
	}
	if b != nil {
		check = sql.NullString{String: string(b), Valid: true}
	}
	err = db.inWrite(ctx, "create live photo", func(tx *sql.Tx) error {
		// Counting the photo on its client also checks that the client
		// exists and is not deleted.
		res, err := tx.ExecContext(ctx, `
			UPDATE clients SET photo_count = photo_count + 1
			WHERE account_id = ? AND mode = ? AND id = ? AND deleted_at IS NULL`,
			s.AccountID, string(s.Mode), p.ClientID,
		)
		if err != nil {
			return fmt.Errorf("sqlite: create live photo: count: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create live photo: count: %w", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
				perform_liveness_check, liveness_check, redacted_at, created_at, updated_at, face_embedding, enrolled,
				liveness_outcome, liveness_reasons)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, s.AccountID, string(s.Mode), p.ClientID, p.ContentType, p.Size, p.Width, p.Height, p.SHA256,
			p.PerformLivenessCheck, check, nullMS(p.RedactedAt), ms(p.CreatedAt), ms(p.UpdatedAt), p.SealedEmbedding, p.Enrolled,
			p.LivenessOutcome, facevault.ReasonsColumn(p.LivenessReasons),
		); err != nil {
			if isForeignKeyError(err) {
				return fmt.Errorf("sqlite: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
			}
			return fmt.Errorf("sqlite: create live photo: %w", err)
		}
		return emit(ctx, tx, s, facevault.LivePhotoEvent(facevault.EventLivePhotoCreated, p))
	})
	if err != nil {
		return err
	}
	p.RedactedAt = truncMS(p.RedactedAt)
	p.CreatedAt = truncMS(p.CreatedAt)
	p.UpdatedAt = truncMS(p.UpdatedAt)
	return nil
}

// getLivePhoto reads the live photo id of s; sql.ErrNoRows if there is none,
// or its client is deleted.
func getLivePhoto(ctx context.Context, q rowQueryer, s facevault.Scope, id string) (*facevault.LivePhoto, error) {
	return scanLivePhoto(q.QueryRowContext(ctx, `
		SELECT `+livePhotoColumns+` FROM live_photos p
		WHERE account_id = ? AND mode = ? AND id = ? AND EXISTS (
			SELECT 1 FROM clients c
			WHERE c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id AND c.deleted_at IS NULL)`,
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
// within o's time range, and after o.After if set: the WHERE clause and its
// arguments, for a count or a chunk. A chunk is an index scan of
// live_photos_client.
func livePhotosWhere(s facevault.Scope, clientID string, o facevault.ListOptions) *query {
	q := scoped(s)
	q.and("client_id = ?", clientID)
	q.timeRange(o.TimeRange)
	if o.After != nil {
		q.after(*o.After)
	}
	return q
}

// livePhotosPage is the SELECT of one chunk of the photos of q, newest first
// (ties broken by ID, highest first); its last two arguments are LIMIT and
// OFFSET. It pages in two steps, so that a deep page reads no row it skips:
// the subquery walks the index live_photos_client alone (it holds the
// scope, client, creation time and ID: a covering index), skipping OFFSET
// entries, and yields the chunk's IDs; only those rows are then read, by
// primary key, and put back in order.
func livePhotosPage(q *query) string {
	return `
		SELECT ` + livePhotoColumns + ` FROM (
			SELECT id AS page_id, created_at AS page_created_at FROM live_photos
			WHERE ` + q.String() + `
			ORDER BY created_at DESC, id DESC
			LIMIT ? OFFSET ?
		) JOIN live_photos ON id = page_id
		ORDER BY page_created_at DESC, page_id DESC`
}

// LivePhotos lists the live photos of the client clientID of s, newest
// first (ties broken by ID, highest first), a chunk at a time (see
// facevault.ListOptions), and counts all of them regardless of paging when
// o.After is not set; the chunk and the count come from one snapshot. The
// count of a list without time filters is the one kept on the client. A
// client that does not exist in s, or is deleted, has none.
func (db *DB) LivePhotos(ctx context.Context, s facevault.Scope, clientID string, o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
	photos := []*facevault.LivePhoto{}
	if o.Impossible {
		return photos, 0, nil
	}
	q := livePhotosWhere(s, clientID, o)
	limit, offset := o.Chunk()
	total := -1
	err := db.inRead(ctx, "list live photos", func(tx *sql.Tx) error {
		var kept int
		err := tx.QueryRowContext(ctx, `
			SELECT photo_count FROM clients
			WHERE account_id = ? AND mode = ? AND id = ? AND deleted_at IS NULL`,
			s.AccountID, string(s.Mode), clientID,
		).Scan(&kept)
		if errors.Is(err, sql.ErrNoRows) {
			total = 0
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: list live photos: client: %w", err)
		}
		if o.After == nil {
			total = kept
			if o.Filtered() {
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM live_photos WHERE `+q.String(), q.args...).Scan(&total); err != nil {
					return fmt.Errorf("sqlite: list live photos: count: %w", err)
				}
			}
			if offset >= total {
				return nil
			}
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

// DeleteLivePhoto deletes the live photo id of s, takes it off its client's
// count and queues its image key for purging, in one transaction. It
// returns the record as it was, or an error wrapping facevault.ErrNotFound
// if the photo does not exist.
func (db *DB) DeleteLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time) (*facevault.LivePhoto, error) {
	var p *facevault.LivePhoto
	err := db.inWrite(ctx, "delete live photo", func(tx *sql.Tx) error {
		var err error
		p, err = getLivePhoto(ctx, tx, s, id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, err)
		}
		if used, err := checkUsesPhoto(ctx, tx, s, id); err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: checks: %w", id, err)
		} else if used {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, facevault.ErrInUse)
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM live_photos WHERE account_id = ? AND mode = ? AND id = ?`,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE clients SET photo_count = photo_count - 1 WHERE account_id = ? AND mode = ? AND id = ?`,
			s.AccountID, string(s.Mode), p.ClientID,
		); err != nil {
			return fmt.Errorf("sqlite: delete live photo %s: count: %w", id, err)
		}
		if err := deleteFaceIndexRows(ctx, tx, []string{id}); err != nil {
			return err
		}
		if err := emit(ctx, tx, s, facevault.LivePhotoDeletedEvent(id, p.ClientID, now)); err != nil {
			return err
		}
		return queuePurges(ctx, tx, now, []string{id})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// RedactLivePhoto marks the live photo id of s redacted at now, clears its
// digest and queues its image key for purging, in one transaction; a photo
// already redacted is left as it is, with its redaction and update times.
// It returns the record as stored afterwards, or an error wrapping
// facevault.ErrNotFound if the photo does not exist.
func (db *DB) RedactLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time) (*facevault.LivePhoto, error) {
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
		if p.Redacted() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE live_photos SET redacted_at = ?, updated_at = ?, sha256 = '', face_embedding = NULL, enrolled = 0,
				liveness_outcome = '', liveness_reasons = ''
			WHERE account_id = ? AND mode = ? AND id = ?`,
			ms(now), ms(now), s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: redact live photo %s: %w", id, err)
		}
		p.RedactedAt, p.UpdatedAt, p.SHA256, p.SealedEmbedding, p.Enrolled = fromMS(ms(now)), fromMS(ms(now)), "", nil, false
		p.LivenessOutcome, p.LivenessReasons = "", nil
		if err := deleteFaceIndexRows(ctx, tx, []string{id}); err != nil {
			return err
		}
		if err := emit(ctx, tx, s, facevault.LivePhotoEvent(facevault.EventLivePhotoRedacted, p)); err != nil {
			return err
		}
		return queuePurges(ctx, tx, now, []string{id})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// existingBatch is how many IDs ExistingLivePhotos looks up per query, well
// under SQLite's limit on parameters.
const existingBatch = 500

// ExistingLivePhotos returns which of ids the store accounts for, in any
// scope: a live photo record (of a deleted client too) or a queued purge.
// The map holds true for each of those, and nothing for the others.
func (db *DB) ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	for batch := range slices.Chunk(ids, existingBatch) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.read.QueryContext(ctx, `
			SELECT id FROM live_photos WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)
			UNION ALL
			SELECT key FROM purges WHERE key IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`,
			slices.Concat(args, args)...,
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

// LivePhotoOwners implements facevault.LivePhotoStore.
func (db *DB) LivePhotoOwners(ctx context.Context, ids []string) (map[string]facevault.PhotoRef, error) {
	owners := make(map[string]facevault.PhotoRef)
	for batch := range slices.Chunk(ids, existingBatch) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.read.QueryContext(ctx, `
			SELECT p.id, p.client_id, p.account_id, p.mode, p.sha256 FROM live_photos p
			JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
			WHERE c.deleted_at IS NULL AND p.id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: live photo owners: %w", err)
		}
		for rows.Next() {
			var r facevault.PhotoRef
			var mode string
			if err := rows.Scan(&r.PhotoID, &r.ClientID, &r.Scope.AccountID, &mode, &r.SHA256); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: live photo owners: %w", err)
			}
			r.Scope.Mode = facevault.Mode(mode)
			owners[r.PhotoID] = r
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: live photo owners: %w", err)
		}
	}
	return owners, nil
}
