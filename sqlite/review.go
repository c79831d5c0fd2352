package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/facevault/facevault"
)

// reviewWhere adds to q the conditions of the review queue filter f that
// photos and checks share: client, review state, creation time range and
// position.
func reviewWhere(q *query, f facevault.ReviewFilter) {
	if f.ClientID != "" {
		q.and("client_id = ?", f.ClientID)
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
	if f.Impossible {
		return photos, 0, nil
	}
	q := scoped(s)
	q.and("redacted_at IS NULL")
	q.and("liveness_outcome = ?", f.Outcome)
	if f.Reason != "" {
		q.and("liveness_reasons LIKE ?", facevault.ReasonPattern(f.Reason))
	}
	reviewWhere(q, f)
	q.and(`EXISTS (SELECT 1 FROM clients c
		WHERE c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id AND c.deleted_at IS NULL)`)
	count := query{where: slices.Clone(q.where), args: slices.Clone(q.args)}
	if f.After != nil {
		q.after(*f.After)
	}
	limit, offset := f.Chunk()
	total := -1
	err := db.inRead(ctx, "review photos", func(tx *sql.Tx) error {
		if f.After == nil {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM live_photos p WHERE `+count.String(), count.args...).Scan(&total); err != nil {
				return fmt.Errorf("sqlite: review photos: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+livePhotoColumns+` FROM live_photos p WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
			slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: review photos: %w", err)
		}
		if photos, err = scanLivePhotos(rows); err != nil {
			return fmt.Errorf("sqlite: review photos: %w", err)
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
	facevault.ReasonFaceAuthentication:     "$.breakdown.faceAuthentication.facialSimilarity",
	facevault.ReasonPreviouslyEnrolledFace: "$.breakdown.previouslyEnrolledFace.outcome",
	facevault.ReasonAgeEstimation:          "$.breakdown.ageEstimationAnalysis.ageValidation",
}

// ReviewChecks implements facevault.ReviewStore.
func (db *DB) ReviewChecks(ctx context.Context, s facevault.Scope, f facevault.ReviewFilter) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	if f.Impossible {
		return checks, 0, nil
	}
	q := scoped(s)
	q.and("status = 'complete'")
	q.and("json_extract(result, '$.outcome') = ?", f.Outcome)
	if f.Reason != "" {
		path, ok := checkReasonPaths[f.Reason]
		if !ok {
			return checks, 0, nil
		}
		q.and("json_extract(result, ?) = 'attention'", path)
	}
	reviewWhere(q, f)
	return db.checksPage(ctx, "review checks", q, f.ListOptions)
}

// MarkPhotoReviewed implements facevault.ReviewStore.
func (db *DB) MarkPhotoReviewed(ctx context.Context, s facevault.Scope, id string, r facevault.Review) (*facevault.LivePhoto, error) {
	var p *facevault.LivePhoto
	err := db.inWrite(ctx, "mark live photo reviewed", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE live_photos SET reviewed_at = ?, reviewer = ?, review_note = ?
			WHERE account_id = ? AND mode = ? AND id = ? AND EXISTS (
				SELECT 1 FROM clients c WHERE c.account_id = live_photos.account_id AND c.mode = live_photos.mode
					AND c.id = live_photos.client_id AND c.deleted_at IS NULL)`,
			ms(r.ReviewedAt), r.Reviewer, r.Note, s.AccountID, string(s.Mode), id)
		if err != nil {
			return fmt.Errorf("sqlite: mark live photo %s reviewed: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: mark live photo %s reviewed: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: mark live photo %s reviewed: %w", id, facevault.ErrNotFound)
		}
		p, err = getLivePhoto(ctx, tx, s, id)
		if err != nil {
			return fmt.Errorf("sqlite: mark live photo %s reviewed: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// MarkCheckReviewed implements facevault.ReviewStore.
func (db *DB) MarkCheckReviewed(ctx context.Context, s facevault.Scope, id string, r facevault.Review) (*facevault.Check, error) {
	var c *facevault.Check
	err := db.inWrite(ctx, "mark check reviewed", func(tx *sql.Tx) error {
		var err error
		c, err = scanCheck(tx.QueryRowContext(ctx, `
			UPDATE checks SET reviewed_at = ?, reviewer = ?, review_note = ?
			WHERE account_id = ? AND mode = ? AND id = ?
			RETURNING `+checkColumns,
			ms(r.ReviewedAt), r.Reviewer, r.Note, s.AccountID, string(s.Mode), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: mark check %s reviewed: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: mark check %s reviewed: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UnsummarizedLivePhotos implements facevault.ReviewStore.
func (db *DB) UnsummarizedLivePhotos(ctx context.Context, after string, n int) ([]*facevault.LivePhoto, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+livePhotoColumns+` FROM live_photos p
		WHERE id > ? AND liveness_check IS NOT NULL AND liveness_outcome = '' AND redacted_at IS NULL AND EXISTS (
			SELECT 1 FROM clients c
			WHERE c.account_id = p.account_id AND c.mode = p.mode AND c.id = p.client_id AND c.deleted_at IS NULL)
		ORDER BY id LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unsummarized live photos: %w", err)
	}
	photos, err := scanLivePhotos(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unsummarized live photos: %w", err)
	}
	return photos, nil
}

// SetLivenessSummary implements facevault.ReviewStore.
func (db *DB) SetLivenessSummary(ctx context.Context, id, outcome string, reasons []string) error {
	return db.inWrite(ctx, "set liveness summary", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			UPDATE live_photos SET liveness_outcome = ?, liveness_reasons = ?
			WHERE id = ? AND liveness_outcome = '' AND redacted_at IS NULL`,
			outcome, facevault.ReasonsColumn(reasons), id); err != nil {
			return fmt.Errorf("sqlite: set liveness summary of %s: %w", id, err)
		}
		return nil
	})
}
