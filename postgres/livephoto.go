package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// livePhotoColumns are the columns scanLivePhoto reads.
const livePhotoColumns = `id, client_id, content_type, size, width, height, sha256,
	perform_liveness_check, liveness_check, redacted_at, created_at, updated_at, face_embedding, enrolled,
	liveness_outcome, liveness_reasons, reviewed_at, reviewer, review_note`

func scanLivePhoto(row pgx.Row) (*facevault.LivePhoto, error) {
	var (
		p        = &facevault.LivePhoto{}
		check    []byte
		redacted *time.Time
		reasons  string
		reviewed *time.Time
		review   facevault.Review
	)
	if err := row.Scan(&p.ID, &p.ClientID, &p.ContentType, &p.Size, &p.Width, &p.Height, &p.SHA256,
		&p.PerformLivenessCheck, &check, &redacted, &p.CreatedAt, &p.UpdatedAt, &p.SealedEmbedding, &p.Enrolled,
		&p.LivenessOutcome, &reasons, &reviewed, &review.Reviewer, &review.Note); err != nil {
		return nil, err
	}
	p.LivenessReasons = facevault.ParseReasonsColumn(reasons)
	if reviewed != nil {
		review.ReviewedAt = reviewed.UTC()
		p.Review = &review
	}
	if err := facevault.SetLivenessColumn(p, check); err != nil {
		return nil, err
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

// CreateLivePhoto stores the record p in s and counts it on its client, in
// one transaction. Its timestamps are truncated to milliseconds in UTC, as
// stored. It returns an error wrapping facevault.ErrNotFound if p's client
// does not exist in s or is deleted: counting the photo updates the
// client's row, which waits for a DeleteClient of that client in progress
// and finds it deleted if that commits. A record with an existing ID is an
// error.
func (db *DB) CreateLivePhoto(ctx context.Context, s facevault.Scope, p *facevault.LivePhoto) error {
	if !storable(p.ClientID) {
		return fmt.Errorf("postgres: create live photo: client %q: %w", p.ClientID, facevault.ErrNotFound)
	}
	check, err := facevault.LivenessColumn(p)
	if err != nil {
		return fmt.Errorf("postgres: create live photo: encode liveness check: %w", err)
	}
	err = db.inTx(ctx, "create live photo", pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE clients SET photo_count = photo_count + 1
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL`,
			s.AccountID, string(s.Mode), p.ClientID,
		)
		if err != nil {
			return fmt.Errorf("postgres: create live photo: count: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
				perform_liveness_check, liveness_check, redacted_at, created_at, updated_at, face_embedding, enrolled,
				liveness_outcome, liveness_reasons)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			p.ID, s.AccountID, string(s.Mode), p.ClientID, p.ContentType, p.Size, p.Width, p.Height, p.SHA256,
			p.PerformLivenessCheck, check, nullMS(p.RedactedAt), ms(p.CreatedAt), ms(p.UpdatedAt), p.SealedEmbedding, p.Enrolled,
			p.LivenessOutcome, facevault.ReasonsColumn(p.LivenessReasons),
		); err != nil {
			if pgCode(err) == foreignKeyViolation {
				return fmt.Errorf("postgres: create live photo: client %s: %w", p.ClientID, facevault.ErrNotFound)
			}
			return fmt.Errorf("postgres: create live photo: %w", err)
		}
		return emit(ctx, tx, s, facevault.LivePhotoEvent(facevault.EventLivePhotoCreated, p))
	})
	if err != nil {
		return err
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
		SELECT `+livePhotoColumns+` FROM live_photos p
		WHERE account_id = $1 AND mode = $2 AND id = $3 AND `+clientLive,
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

// clientLive is the condition that the live photo p's client is not
// deleted.
const clientLive = `EXISTS (
	SELECT 1 FROM clients c
	WHERE c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id AND c.deleted_at IS NULL)`

// livePhotosWhere is the query for the live photos of client clientID of s
// within o's time range: the WHERE clause and its arguments, for a count or
// a page.
func livePhotosWhere(s facevault.Scope, clientID string, o facevault.ListOptions) *query {
	q := scoped(s)
	q.and("client_id = " + q.arg(clientID))
	q.timeRange(o.TimeRange)
	if o.After != nil {
		q.after(*o.After)
	}
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
// first (ties broken by ID, highest first), a chunk at a time (see
// facevault.ListOptions), and counts all of them regardless of paging when
// o.After is not set; the chunk and the count come from one snapshot. The
// count of a list without time filters is the one kept on the client. A
// client that does not exist in s, or is deleted, has none.
func (db *DB) LivePhotos(ctx context.Context, s facevault.Scope, clientID string, o facevault.ListOptions) ([]*facevault.LivePhoto, int, error) {
	photos := []*facevault.LivePhoto{}
	if o.Impossible || !storable(clientID) {
		return photos, 0, nil
	}
	q := livePhotosWhere(s, clientID, o)
	limit, offset := o.Chunk()
	total := -1
	err := db.inTx(ctx, "list live photos", readOnly(), func(tx pgx.Tx) error {
		var kept int
		err := tx.QueryRow(ctx, `
			SELECT photo_count FROM clients
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL`,
			s.AccountID, string(s.Mode), clientID,
		).Scan(&kept)
		if errors.Is(err, pgx.ErrNoRows) {
			total = 0
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: list live photos: client: %w", err)
		}
		if o.After == nil {
			total = kept
			if o.Filtered() {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM live_photos WHERE `+q.String(), q.args...).Scan(&total); err != nil {
					return fmt.Errorf("postgres: list live photos: count: %w", err)
				}
			}
			if offset < 0 || offset >= total {
				return nil
			}
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

// DeleteLivePhoto deletes the live photo id of s, takes it off its client's
// count and queues its image key for purging, in one transaction. It
// returns the record as it was, or an error wrapping facevault.ErrNotFound
// if the photo does not exist.
func (db *DB) DeleteLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time) (*facevault.LivePhoto, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: delete live photo %q: %w", id, facevault.ErrNotFound)
	}
	var p *facevault.LivePhoto
	err := db.inTx(ctx, "delete live photo", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		p, err = scanLivePhoto(tx.QueryRow(ctx, `
			DELETE FROM live_photos p
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND `+clientLive+`
			RETURNING `+livePhotoColumns,
			s.AccountID, string(s.Mode), id,
		))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: delete live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: delete live photo %s: %w", id, err)
		}
		// A check created meanwhile read the photo FOR SHARE: the DELETE
		// above waited for it, and this sees it.
		var used bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM checks WHERE live_photo_id = $1 AND account_id = $2 AND mode = $3)`,
			id, s.AccountID, string(s.Mode)).Scan(&used); err != nil {
			return fmt.Errorf("postgres: delete live photo %s: checks: %w", id, err)
		}
		if used {
			return fmt.Errorf("postgres: delete live photo %s: %w", id, facevault.ErrInUse)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE clients SET photo_count = photo_count - 1 WHERE account_id = $1 AND mode = $2 AND id = $3`,
			s.AccountID, string(s.Mode), p.ClientID,
		); err != nil {
			return fmt.Errorf("postgres: delete live photo %s: count: %w", id, err)
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
// The record is read and locked first, so concurrent redactions take turns.
// It returns the record as stored afterwards, or an error wrapping
// facevault.ErrNotFound if the photo does not exist.
func (db *DB) RedactLivePhoto(ctx context.Context, s facevault.Scope, id string, now time.Time) (*facevault.LivePhoto, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: redact live photo %q: %w", id, facevault.ErrNotFound)
	}
	var p *facevault.LivePhoto
	err := db.inTx(ctx, "redact live photo", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		p, err = scanLivePhoto(tx.QueryRow(ctx, `
			SELECT `+livePhotoColumns+` FROM live_photos p
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND `+clientLive+`
			FOR NO KEY UPDATE OF p`,
			s.AccountID, string(s.Mode), id,
		))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: redact live photo %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: redact live photo %s: %w", id, err)
		}
		if p.Redacted() {
			return nil
		}
		at := ms(now)
		if _, err := tx.Exec(ctx, `
			UPDATE live_photos SET redacted_at = $1, updated_at = $1, sha256 = '', face_embedding = NULL, enrolled = false,
				liveness_outcome = '', liveness_reasons = ''
			WHERE account_id = $2 AND mode = $3 AND id = $4`,
			at, s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("postgres: redact live photo %s: %w", id, err)
		}
		p.RedactedAt, p.UpdatedAt, p.SHA256, p.SealedEmbedding, p.Enrolled = at, at, "", nil, false
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

// existingBatch is how many IDs ExistingLivePhotos looks up per query, as
// one array parameter.
const existingBatch = 10_000

// ExistingLivePhotos returns which of ids the store accounts for, in any
// scope: a live photo record (of a deleted client too) or a queued purge.
// The map holds true for each of those, and nothing for the others.
func (db *DB) ExistingLivePhotos(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	// IDs PostgreSQL cannot hold as text cannot exist.
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
	for batch := range slices.Chunk(ids, existingBatch) {
		rows, err := db.pool.Query(ctx, `
			SELECT id FROM live_photos WHERE id = ANY($1)
			UNION ALL
			SELECT key FROM purges WHERE key = ANY($1)`, batch)
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

// LivePhotoOwners implements facevault.LivePhotoStore.
func (db *DB) LivePhotoOwners(ctx context.Context, ids []string) (map[string]facevault.PhotoRef, error) {
	owners := make(map[string]facevault.PhotoRef)
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
	for batch := range slices.Chunk(ids, existingBatch) {
		rows, err := db.pool.Query(ctx, `
			SELECT p.id, p.client_id, p.account_id, p.mode, p.sha256 FROM live_photos p
			JOIN clients c ON c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id
			WHERE c.deleted_at IS NULL AND p.id = ANY($1)`, batch)
		if err != nil {
			return nil, fmt.Errorf("postgres: live photo owners: %w", err)
		}
		for rows.Next() {
			var r facevault.PhotoRef
			var mode string
			if err := rows.Scan(&r.PhotoID, &r.ClientID, &r.Scope.AccountID, &mode, &r.SHA256); err != nil {
				rows.Close()
				return nil, fmt.Errorf("postgres: live photo owners: %w", err)
			}
			r.Scope.Mode = facevault.Mode(mode)
			owners[r.PhotoID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: live photo owners: %w", err)
		}
	}
	return owners, nil
}
