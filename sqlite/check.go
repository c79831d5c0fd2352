package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/facevault/facevault"
)

// checkColumns are the columns scanCheck reads.
const checkColumns = `id, account_id, mode, client_id, type, live_photo_id, status, result, validation, attempts, created_at, updated_at,
	reviewed_at, reviewer, review_note`

func scanCheck(sc scanner) (*facevault.Check, error) {
	var (
		c                = &facevault.Check{}
		mode             string
		result           sql.NullString
		validation       sql.NullString
		created, updated int64
		reviewed         sql.NullInt64
		review           facevault.Review
	)
	if err := sc.Scan(&c.ID, &c.Scope.AccountID, &mode, &c.ClientID, &c.Type, &c.LivePhotoID, &c.Status,
		&result, &validation, &c.Attempts, &created, &updated, &reviewed, &review.Reviewer, &review.Note); err != nil {
		return nil, err
	}
	if reviewed.Valid {
		review.ReviewedAt = fromMS(reviewed.Int64)
		c.Review = &review
	}
	c.Scope.Mode = facevault.Mode(mode)
	if result.Valid {
		if err := facevault.SetCheckResultColumn(c, []byte(result.String)); err != nil {
			return nil, err
		}
	}
	if validation.Valid {
		if err := facevault.SetCheckValidationColumn(c, []byte(validation.String)); err != nil {
			return nil, err
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

// CreateCheck implements facevault.CheckStore. The photo is looked up in
// the same transaction as the insert: SQLite has one writer, so no
// deletion of the photo or its client can come between.
func (db *DB) CreateCheck(ctx context.Context, s facevault.Scope, c *facevault.Check) error {
	result, err := facevault.CheckResultColumn(c)
	if err != nil {
		return fmt.Errorf("sqlite: create check: %w", err)
	}
	err = db.inWrite(ctx, "create check", func(tx *sql.Tx) error {
		p, err := getLivePhoto(ctx, tx, s, c.LivePhotoID)
		if errors.Is(err, sql.ErrNoRows) || err == nil && p.ClientID != c.ClientID {
			return fmt.Errorf("sqlite: create check: live photo %s: %w", c.LivePhotoID, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: create check: live photo %s: %w", c.LivePhotoID, err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO checks (id, account_id, mode, client_id, type, live_photo_id, status, result, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, s.AccountID, string(s.Mode), c.ClientID, c.Type, c.LivePhotoID, c.Status, nullText(result),
			ms(c.CreatedAt), ms(c.UpdatedAt),
		); err != nil {
			return fmt.Errorf("sqlite: create check: %w", err)
		}
		return emit(ctx, tx, s, facevault.CheckEvents(c)...)
	})
	if err != nil {
		return err
	}
	c.Scope = s
	c.CreatedAt, c.UpdatedAt = truncMS(c.CreatedAt), truncMS(c.UpdatedAt)
	return nil
}

func nullText(b []byte) sql.NullString {
	if b == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}

// Check implements facevault.CheckStore.
func (db *DB) Check(ctx context.Context, s facevault.Scope, id string) (*facevault.Check, error) {
	c, err := scanCheck(db.read.QueryRowContext(ctx, `
		SELECT `+checkColumns+` FROM checks WHERE account_id = ? AND mode = ? AND id = ?`,
		s.AccountID, string(s.Mode), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: check %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: check %s: %w", id, err)
	}
	return c, nil
}

// Checks implements facevault.CheckStore; the chunk and the count come from
// one snapshot.
func (db *DB) Checks(ctx context.Context, s facevault.Scope, f facevault.CheckFilter) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	if f.Impossible {
		return checks, 0, nil
	}
	q := scoped(s)
	for col, v := range map[string]string{"client_id": f.ClientID, "type": f.Type, "status": f.Status, "live_photo_id": f.LivePhotoID} {
		if v != "" {
			q.and(col+" = ?", v)
		}
	}
	q.timeRange(f.TimeRange)
	return db.checksPage(ctx, "list checks", q, f.ListOptions)
}

// checksPage returns the chunk of o of the checks matching q, newest first,
// with the count of all of them when o.After is not set; the chunk and the
// count come from one snapshot. what names the list in errors.
func (db *DB) checksPage(ctx context.Context, what string, q *query, o facevault.ListOptions) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	count := query{where: slices.Clone(q.where), args: slices.Clone(q.args)}
	if o.After != nil {
		q.after(*o.After)
	}
	limit, offset := o.Chunk()
	total := -1
	err := db.inRead(ctx, what, func(tx *sql.Tx) error {
		if o.After == nil {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM checks WHERE `+count.String(), count.args...).Scan(&total); err != nil {
				return fmt.Errorf("sqlite: %s: count: %w", what, err)
			}
			if offset >= total {
				return nil
			}
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+checkColumns+` FROM checks WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
			slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCheck(rows)
			if err != nil {
				return fmt.Errorf("sqlite: %s: %w", what, err)
			}
			checks = append(checks, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return checks, total, nil
}

// ClaimCheck implements facevault.CheckStore. SQLite has one writer: the
// select and the update of one transaction cannot interleave with
// another's.
func (db *DB) ClaimCheck(ctx context.Context, holder string, now time.Time, ttl time.Duration) (*facevault.Check, error) {
	var c *facevault.Check
	err := db.inWrite(ctx, "claim check", func(tx *sql.Tx) error {
		var err error
		c, err = scanCheck(tx.QueryRowContext(ctx, `
			SELECT `+checkColumns+` FROM checks
			WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY created_at, id LIMIT 1`, ms(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: claim check: %w", facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: claim check: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checks SET lease_holder = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?`,
			holder, ms(now.Add(ttl)), c.ID); err != nil {
			return fmt.Errorf("sqlite: claim check %s: %w", c.ID, err)
		}
		c.Attempts++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PostponeCheck implements facevault.CheckStore.
func (db *DB) PostponeCheck(ctx context.Context, c *facevault.Check, holder string, until time.Time) error {
	return db.inWrite(ctx, "postpone check", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE checks SET lease_until = ? WHERE id = ? AND status = 'pending' AND lease_holder = ?`,
			ms(until), c.ID, holder)
		if err != nil {
			return fmt.Errorf("sqlite: postpone check %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: postpone check %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: postpone check %s: %w", c.ID, facevault.ErrNotFound)
		}
		return nil
	})
}

// FinishCheck implements facevault.CheckStore.
func (db *DB) FinishCheck(ctx context.Context, c *facevault.Check, holder string) error {
	result, err := facevault.CheckResultColumn(c)
	if err != nil {
		return fmt.Errorf("sqlite: finish check %s: %w", c.ID, err)
	}
	return db.inWrite(ctx, "finish check", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE checks SET status = ?, result = ?, updated_at = ?, lease_holder = NULL, lease_until = NULL
			WHERE id = ? AND status = 'pending' AND lease_holder = ?`,
			c.Status, nullText(result), ms(c.UpdatedAt), c.ID, holder)
		if err != nil {
			return fmt.Errorf("sqlite: finish check %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: finish check %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: finish check %s: %w", c.ID, facevault.ErrNotFound)
		}
		return emit(ctx, tx, c.Scope, facevault.CheckEvents(c)...)
	})
}

// ValidateCheck implements facevault.CheckStore.
func (db *DB) ValidateCheck(ctx context.Context, s facevault.Scope, c *facevault.Check) error {
	v, err := facevault.CheckValidationColumn(c)
	if err != nil {
		return fmt.Errorf("sqlite: validate check %s: %w", c.ID, err)
	}
	return db.inWrite(ctx, "validate check", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE checks SET validation = ?, updated_at = ?
			WHERE account_id = ? AND mode = ? AND id = ? AND status = 'complete'`,
			nullText(v), ms(c.UpdatedAt), s.AccountID, string(s.Mode), c.ID)
		if err != nil {
			return fmt.Errorf("sqlite: validate check %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: validate check %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: validate check %s: %w", c.ID, facevault.ErrNotFound)
		}
		return nil
	})
}

// DeleteChecksOfPhoto implements facevault.CheckStore. The stored answers
// of idempotent requests that show the checks are deleted with them.
func (db *DB) DeleteChecksOfPhoto(ctx context.Context, s facevault.Scope, photoID string) (int, error) {
	var n int64
	err := db.inWrite(ctx, "delete checks of photo", func(tx *sql.Tx) error {
		// The stored answers that show the checks go with them.
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM idempotency_requests WHERE resource_id IN (
				SELECT id FROM checks WHERE account_id = ? AND mode = ? AND live_photo_id = ?)`,
			s.AccountID, string(s.Mode), photoID); err != nil {
			return fmt.Errorf("sqlite: delete checks of photo %s: stored answers: %w", photoID, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM checks WHERE account_id = ? AND mode = ? AND live_photo_id = ?`,
			s.AccountID, string(s.Mode), photoID)
		if err != nil {
			return fmt.Errorf("sqlite: delete checks of photo %s: %w", photoID, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// checkUsesPhoto reports, within tx, whether a check of s uses the live
// photo id.
func checkUsesPhoto(ctx context.Context, tx *sql.Tx, s facevault.Scope, id string) (bool, error) {
	var used bool
	err := tx.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM checks WHERE live_photo_id = ? AND account_id = ? AND mode = ?)`,
		id, s.AccountID, string(s.Mode)).Scan(&used)
	return used, err
}
