package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// reviewWhere adds to q the conditions of the review queue filter f that
// photos and checks share: client, review state and creation time range.
func reviewWhere(q *query, f facevault.ReviewFilter) {
	if f.ClientID != "" {
		q.and("client_id = " + q.arg(f.ClientID))
	}
	switch f.Reviewed {
	case facevault.ReviewedNo:
		q.and("reviewed_at IS NULL")
	case facevault.ReviewedYes:
		q.and("reviewed_at IS NOT NULL")
	}
	q.timeRange(facevault.TimeRange{CreatedAfter: f.CreatedAfter, CreatedBefore: f.CreatedBefore})
}

// ReviewPhotos implements facevault.ReviewStore. A chunk walks the index
// live_photos_review; the chunk and the count come from one snapshot.
func (db *DB) ReviewPhotos(ctx context.Context, s facevault.Scope, f facevault.ReviewFilter) ([]*facevault.LivePhoto, int, error) {
	photos := []*facevault.LivePhoto{}
	if f.Impossible || !storable(f.ClientID) {
		return photos, 0, nil
	}
	q := scoped(s)
	q.and("redacted_at IS NULL")
	q.and("liveness_outcome = " + q.arg(f.Outcome))
	if f.Reason != "" {
		q.and("liveness_reasons LIKE " + q.arg(facevault.ReasonPattern(f.Reason)))
	}
	reviewWhere(q, f)
	q.and(clientLive)
	countWhere, countArgs := q.String(), append([]any(nil), q.args...)
	if f.After != nil {
		q.after(*f.After)
	}
	limit, offset := f.Chunk()
	total := -1
	err := db.inTx(ctx, "review photos", readOnly(), func(tx pgx.Tx) error {
		if f.After == nil {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM live_photos p WHERE `+countWhere, countArgs...).Scan(&total); err != nil {
				return fmt.Errorf("postgres: review photos: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		}
		clause, args := q.page(limit, offset)
		rows, err := tx.Query(ctx, `
			SELECT `+livePhotoColumns+` FROM live_photos p WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC `+clause, args...)
		if err != nil {
			return fmt.Errorf("postgres: review photos: %w", err)
		}
		if photos, err = pgx.CollectRows(rows, scanLivePhotoRow); err != nil {
			return fmt.Errorf("postgres: review photos: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return photos, total, nil
}

// checkReasonPaths are where each check reason code's verdict is in a
// check's result.
var checkReasonPaths = map[string]string{
	facevault.ReasonFaceAuthentication:     "{breakdown,faceAuthentication,facialSimilarity}",
	facevault.ReasonPreviouslyEnrolledFace: "{breakdown,previouslyEnrolledFace,outcome}",
	facevault.ReasonAgeEstimation:          "{breakdown,ageEstimationAnalysis,ageValidation}",
}

// ReviewChecks implements facevault.ReviewStore.
func (db *DB) ReviewChecks(ctx context.Context, s facevault.Scope, f facevault.ReviewFilter) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	if f.Impossible || !storable(f.ClientID) {
		return checks, 0, nil
	}
	q := scoped(s)
	q.and("status = 'complete'")
	q.and("result->>'outcome' = " + q.arg(f.Outcome))
	if f.Reason != "" {
		path, ok := checkReasonPaths[f.Reason]
		if !ok {
			return checks, 0, nil
		}
		q.and("result #>> " + q.arg(path) + "::text[] = 'attention'")
	}
	reviewWhere(q, f)
	return db.checksPage(ctx, "review checks", q, f.ListOptions)
}

// MarkPhotoReviewed implements facevault.ReviewStore.
func (db *DB) MarkPhotoReviewed(ctx context.Context, s facevault.Scope, id string, r facevault.Review) (*facevault.LivePhoto, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: mark live photo %q reviewed: %w", id, facevault.ErrNotFound)
	}
	p, err := scanLivePhoto(db.pool.QueryRow(ctx, `
		UPDATE live_photos p SET reviewed_at = $1, reviewer = $2, review_note = $3
		WHERE account_id = $4 AND mode = $5 AND id = $6 AND `+clientLive+`
		RETURNING `+livePhotoColumns,
		ms(r.ReviewedAt), r.Reviewer, r.Note, s.AccountID, string(s.Mode), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: mark live photo %s reviewed: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: mark live photo %s reviewed: %w", id, err)
	}
	return p, nil
}

// MarkCheckReviewed implements facevault.ReviewStore.
func (db *DB) MarkCheckReviewed(ctx context.Context, s facevault.Scope, id string, r facevault.Review) (*facevault.Check, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: mark check %q reviewed: %w", id, facevault.ErrNotFound)
	}
	c, err := scanCheck(db.pool.QueryRow(ctx, `
		UPDATE checks SET reviewed_at = $1, reviewer = $2, review_note = $3
		WHERE account_id = $4 AND mode = $5 AND id = $6
		RETURNING `+checkColumns,
		ms(r.ReviewedAt), r.Reviewer, r.Note, s.AccountID, string(s.Mode), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: mark check %s reviewed: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: mark check %s reviewed: %w", id, err)
	}
	return c, nil
}

// UnsummarizedLivePhotos implements facevault.ReviewStore.
func (db *DB) UnsummarizedLivePhotos(ctx context.Context, after string, n int) ([]*facevault.LivePhoto, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+livePhotoColumns+` FROM live_photos p
		WHERE id > $1 AND liveness_check IS NOT NULL AND liveness_outcome = '' AND redacted_at IS NULL AND `+clientLive+`
		ORDER BY id LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: unsummarized live photos: %w", err)
	}
	photos, err := pgx.CollectRows(rows, scanLivePhotoRow)
	if err != nil {
		return nil, fmt.Errorf("postgres: unsummarized live photos: %w", err)
	}
	return photos, nil
}

// SetLivenessSummary implements facevault.ReviewStore.
func (db *DB) SetLivenessSummary(ctx context.Context, id, outcome string, reasons []string) error {
	if !storable(id) {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `
		UPDATE live_photos SET liveness_outcome = $2, liveness_reasons = $3
		WHERE id = $1 AND liveness_outcome = '' AND redacted_at IS NULL`,
		id, outcome, facevault.ReasonsColumn(reasons)); err != nil {
		return fmt.Errorf("postgres: set liveness summary of %s: %w", id, err)
	}
	return nil
}
