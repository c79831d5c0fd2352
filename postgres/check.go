package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// checkColumns are the columns scanCheck reads.
const checkColumns = `id, account_id, mode, client_id, type, live_photo_id, status, result, validation, attempts, created_at, updated_at,
	reviewed_at, reviewer, review_note`

func scanCheck(row pgx.Row) (*facevault.Check, error) {
	var (
		c          = &facevault.Check{}
		mode       string
		result     []byte
		validation []byte
		reviewed   *time.Time
		review     facevault.Review
	)
	if err := row.Scan(&c.ID, &c.Scope.AccountID, &mode, &c.ClientID, &c.Type, &c.LivePhotoID, &c.Status,
		&result, &validation, &c.Attempts, &c.CreatedAt, &c.UpdatedAt, &reviewed, &review.Reviewer, &review.Note); err != nil {
		return nil, err
	}
	if reviewed != nil {
		review.ReviewedAt = reviewed.UTC()
		c.Review = &review
	}
	c.Scope.Mode = facevault.Mode(mode)
	if err := facevault.SetCheckResultColumn(c, result); err != nil {
		return nil, err
	}
	if err := facevault.SetCheckValidationColumn(c, validation); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateCheck implements facevault.CheckStore. The client's and the photo's
// rows are read FOR SHARE: a deletion of the client waits likewise, and a deletion of the photo waits for the check to commit (and then
// finds it, and refuses), or the check waits for the deletion (and then
// finds no photo).
func (db *DB) CreateCheck(ctx context.Context, s facevault.Scope, c *facevault.Check) error {
	if !storable(c.ClientID) || !storable(c.LivePhotoID) || !storable(c.Type) {
		return fmt.Errorf("postgres: create check: %w", facevault.ErrNotFound)
	}
	result, err := facevault.CheckResultColumn(c)
	if err != nil {
		return fmt.Errorf("postgres: create check: %w", err)
	}
	err = db.inTx(ctx, "create check", pgx.TxOptions{}, func(tx pgx.Tx) error {
		// The client's row FOR SHARE too: a deletion of the client (which
		// deletes its checks) waits for this one to commit, or this one
		// finds the client deleted.
		var one int
		err := tx.QueryRow(ctx, `
			SELECT 1 FROM clients WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL
			FOR SHARE`, s.AccountID, string(s.Mode), c.ClientID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: create check: client %s: %w", c.ClientID, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: create check: client %s: %w", c.ClientID, err)
		}
		var clientID string
		err = tx.QueryRow(ctx, `
			SELECT client_id FROM live_photos p
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND `+clientLive+`
			FOR SHARE`,
			s.AccountID, string(s.Mode), c.LivePhotoID).Scan(&clientID)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && clientID != c.ClientID {
			return fmt.Errorf("postgres: create check: live photo %s: %w", c.LivePhotoID, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: create check: live photo %s: %w", c.LivePhotoID, err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO checks (id, account_id, mode, client_id, type, live_photo_id, status, result, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			c.ID, s.AccountID, string(s.Mode), c.ClientID, c.Type, c.LivePhotoID, c.Status, result,
			ms(c.CreatedAt), ms(c.UpdatedAt),
		); err != nil {
			if pgCode(err) == foreignKeyViolation {
				return fmt.Errorf("postgres: create check: client %s: %w", c.ClientID, facevault.ErrNotFound)
			}
			return fmt.Errorf("postgres: create check: %w", err)
		}
		// Runners of every node listening (WatchChecks) hear of it when
		// the transaction commits, and not if it rolls back.
		if _, err := tx.Exec(ctx, `SELECT pg_notify('`+checksChannel+`', '')`); err != nil {
			return fmt.Errorf("postgres: create check: notify: %w", err)
		}
		return emit(ctx, tx, s, facevault.CheckEvents(c)...)
	})
	if err != nil {
		return err
	}
	c.Scope = s
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	return nil
}

// Check implements facevault.CheckStore.
func (db *DB) Check(ctx context.Context, s facevault.Scope, id string) (*facevault.Check, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: check %q: %w", id, facevault.ErrNotFound)
	}
	c, err := scanCheck(db.pool.QueryRow(ctx, `
		SELECT `+checkColumns+` FROM checks WHERE account_id = $1 AND mode = $2 AND id = $3`,
		s.AccountID, string(s.Mode), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: check %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: check %s: %w", id, err)
	}
	return c, nil
}

// Checks implements facevault.CheckStore; the chunk and the count come
// from one snapshot.
func (db *DB) Checks(ctx context.Context, s facevault.Scope, f facevault.CheckFilter) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	if f.Impossible || !storable(f.ClientID) || !storable(f.Type) || !storable(f.Status) || !storable(f.LivePhotoID) {
		return checks, 0, nil
	}
	q := scoped(s)
	if f.ClientID != "" {
		q.and("client_id = " + q.arg(f.ClientID))
	}
	if f.Type != "" {
		q.and("type = " + q.arg(f.Type))
	}
	if f.Status != "" {
		q.and("status = " + q.arg(f.Status))
	}
	if f.LivePhotoID != "" {
		q.and("live_photo_id = " + q.arg(f.LivePhotoID))
	}
	q.timeRange(f.TimeRange)
	return db.checksPage(ctx, "list checks", q, f.ListOptions)
}

// checksPage returns the chunk of o of the checks matching q, newest first,
// with the count of all of them when o.After is not set; the chunk and the
// count come from one snapshot. what names the list in errors.
func (db *DB) checksPage(ctx context.Context, what string, q *query, o facevault.ListOptions) ([]*facevault.Check, int, error) {
	checks := []*facevault.Check{}
	countWhere, countArgs := q.String(), append([]any(nil), q.args...)
	if o.After != nil {
		q.after(*o.After)
	}
	limit, offset := o.Chunk()
	total := -1
	err := db.inTx(ctx, what, readOnly(), func(tx pgx.Tx) error {
		if o.After == nil {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM checks WHERE `+countWhere, countArgs...).Scan(&total); err != nil {
				return fmt.Errorf("postgres: %s: count: %w", what, err)
			}
			if offset >= total {
				return nil
			}
		}
		clause, args := q.page(limit, offset)
		rows, err := tx.Query(ctx, `
			SELECT `+checkColumns+` FROM checks WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC `+clause, args...)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
		checks, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.Check, error) { return scanCheck(row) })
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return checks, total, nil
}

// ClaimCheck implements facevault.CheckStore: FOR UPDATE SKIP LOCKED lets
// nodes claiming at once take different checks without waiting.
func (db *DB) ClaimCheck(ctx context.Context, holder string, now time.Time, ttl time.Duration) (*facevault.Check, error) {
	c, err := scanCheck(db.pool.QueryRow(ctx, `
		UPDATE checks SET lease_holder = $1, lease_until = $2, attempts = attempts + 1
		WHERE id = (
			SELECT id FROM checks
			WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY created_at, id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+checkColumns, holder, now.Add(ttl), now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: claim check: %w", facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim check: %w", err)
	}
	return c, nil
}

// PostponeCheck implements facevault.CheckStore.
func (db *DB) PostponeCheck(ctx context.Context, c *facevault.Check, holder string, until time.Time) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE checks SET lease_until = $1 WHERE id = $2 AND status = 'pending' AND lease_holder = $3`,
		ms(until), c.ID, holder)
	if err != nil {
		return fmt.Errorf("postgres: postpone check %s: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: postpone check %s: %w", c.ID, facevault.ErrNotFound)
	}
	return nil
}

// FinishCheck implements facevault.CheckStore.
func (db *DB) FinishCheck(ctx context.Context, c *facevault.Check, holder string) error {
	result, err := facevault.CheckResultColumn(c)
	if err != nil {
		return fmt.Errorf("postgres: finish check %s: %w", c.ID, err)
	}
	return db.inTx(ctx, "finish check", pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE checks SET status = $1, result = $2, updated_at = $3, lease_holder = NULL, lease_until = NULL
			WHERE id = $4 AND status = 'pending' AND lease_holder = $5`,
			c.Status, result, ms(c.UpdatedAt), c.ID, holder)
		if err != nil {
			return fmt.Errorf("postgres: finish check %s: %w", c.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: finish check %s: %w", c.ID, facevault.ErrNotFound)
		}
		return emit(ctx, tx, c.Scope, facevault.CheckEvents(c)...)
	})
}

// ValidateCheck implements facevault.CheckStore.
func (db *DB) ValidateCheck(ctx context.Context, s facevault.Scope, c *facevault.Check) error {
	v, err := facevault.CheckValidationColumn(c)
	if err != nil {
		return fmt.Errorf("postgres: validate check %s: %w", c.ID, err)
	}
	tag, err := db.pool.Exec(ctx, `
		UPDATE checks SET validation = $1, updated_at = $2
		WHERE account_id = $3 AND mode = $4 AND id = $5 AND status = 'complete'`,
		v, ms(c.UpdatedAt), s.AccountID, string(s.Mode), c.ID)
	if err != nil {
		return fmt.Errorf("postgres: validate check %s: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: validate check %s: %w", c.ID, facevault.ErrNotFound)
	}
	return nil
}

// DeleteChecksOfPhoto implements facevault.CheckStore. The stored answers
// of idempotent requests that show the checks are deleted with them, in the
// same statement.
func (db *DB) DeleteChecksOfPhoto(ctx context.Context, s facevault.Scope, photoID string) (int, error) {
	if !storable(photoID) {
		return 0, nil
	}
	var n int
	err := db.pool.QueryRow(ctx, `
		WITH gone AS (
			DELETE FROM checks WHERE account_id = $1 AND mode = $2 AND live_photo_id = $3 RETURNING id
		), forgotten AS (
			DELETE FROM idempotency_requests WHERE resource_id IN (SELECT id FROM gone)
		)
		SELECT count(*) FROM gone`,
		s.AccountID, string(s.Mode), photoID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete checks of photo %s: %w", photoID, err)
	}
	return n, nil
}
