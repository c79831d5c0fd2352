package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// webhookColumns are the columns scanWebhook reads.
const webhookColumns = `id, account_id, mode, url, description, events, enabled, secret, disabled_reason, created_at, updated_at`

func scanWebhook(row pgx.Row) (*facevault.Webhook, error) {
	var (
		w      = &facevault.Webhook{}
		mode   string
		events []byte
	)
	if err := row.Scan(&w.ID, &w.Scope.AccountID, &mode, &w.URL, &w.Description, &events, &w.Enabled, &w.Secret,
		&w.DisabledReason, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return nil, err
	}
	w.Scope.Mode = facevault.Mode(mode)
	if err := json.Unmarshal(events, &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: decode events: %w", w.ID, err)
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return w, nil
}

func marshalEvents(events []string) (string, error) {
	b, err := json.Marshal(events)
	return string(b), err
}

// webhookStorable reports whether w's text fields can be stored.
func webhookStorable(w *facevault.Webhook) bool {
	return storable(w.URL) && storable(w.Description) && storable(strings.Join(w.Events, ""))
}

// CreateWebhook implements facevault.WebhookStore.
func (db *DB) CreateWebhook(ctx context.Context, s facevault.Scope, w *facevault.Webhook) error {
	if !webhookStorable(w) {
		return fmt.Errorf("postgres: create webhook: %w", errNUL())
	}
	events, err := marshalEvents(w.Events)
	if err != nil {
		return fmt.Errorf("postgres: create webhook: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `
		INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		w.ID, s.AccountID, string(s.Mode), w.URL, w.Description, events, w.Enabled, w.Secret, w.DisabledReason,
		ms(w.CreatedAt), ms(w.UpdatedAt)); err != nil {
		return fmt.Errorf("postgres: create webhook: %w", err)
	}
	w.Scope = s
	w.CreatedAt, w.UpdatedAt = ms(w.CreatedAt), ms(w.UpdatedAt)
	return nil
}

// Webhook implements facevault.WebhookStore.
func (db *DB) Webhook(ctx context.Context, s facevault.Scope, id string) (*facevault.Webhook, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: webhook %q: %w", id, facevault.ErrNotFound)
	}
	w, err := scanWebhook(db.pool.QueryRow(ctx, `
		SELECT `+webhookColumns+` FROM webhooks WHERE account_id = $1 AND mode = $2 AND id = $3`,
		s.AccountID, string(s.Mode), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: webhook %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook %s: %w", id, err)
	}
	return w, nil
}

// list reads one chunk of a list of table's rows matching q, newest first,
// and the count (unless o.After is set), from one snapshot.
func list[T any](ctx context.Context, db *DB, op, table, columns string, q *query, o facevault.ListOptions,
	scan func(pgx.Row) (T, error)) ([]T, int, error) {
	items := []T{}
	if o.Impossible {
		return items, 0, nil
	}
	q.timeRange(o.TimeRange)
	countWhere, countArgs := q.String(), append([]any(nil), q.args...)
	if o.After != nil {
		q.after(*o.After)
	}
	limit, offset := o.Chunk()
	total := -1
	err := db.inTx(ctx, op, readOnly(), func(tx pgx.Tx) error {
		if o.After == nil {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE `+countWhere, countArgs...).Scan(&total); err != nil {
				return fmt.Errorf("postgres: %s: count: %w", op, err)
			}
			if offset >= total {
				return nil
			}
		}
		clause, args := q.page(limit, offset)
		rows, err := tx.Query(ctx, `
			SELECT `+columns+` FROM `+table+` WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC `+clause, args...)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// Webhooks implements facevault.WebhookStore.
func (db *DB) Webhooks(ctx context.Context, s facevault.Scope, o facevault.ListOptions) ([]*facevault.Webhook, int, error) {
	return list(ctx, db, "list webhooks", "webhooks", webhookColumns, scoped(s), o, scanWebhook)
}

// UpdateWebhook implements facevault.WebhookStore. The row is locked first,
// so concurrent updates take turns.
func (db *DB) UpdateWebhook(ctx context.Context, s facevault.Scope, id string, fn func(*facevault.Webhook) error) (*facevault.Webhook, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: update webhook %q: %w", id, facevault.ErrNotFound)
	}
	var w *facevault.Webhook
	err := db.inTx(ctx, "update webhook", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		w, err = scanWebhook(tx.QueryRow(ctx, `
			SELECT `+webhookColumns+` FROM webhooks WHERE account_id = $1 AND mode = $2 AND id = $3 FOR UPDATE`,
			s.AccountID, string(s.Mode), id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: update webhook %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: update webhook %s: %w", id, err)
		}
		was, created := w.Enabled, w.CreatedAt
		if err := fn(w); err != nil {
			return err
		}
		w.ID, w.Scope, w.CreatedAt, w.UpdatedAt = id, s, created, ms(w.UpdatedAt)
		if !webhookStorable(w) {
			return fmt.Errorf("postgres: update webhook %s: %w", id, errNUL())
		}
		events, err := marshalEvents(w.Events)
		if err != nil {
			return fmt.Errorf("postgres: update webhook %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4, disabled_reason = $5, updated_at = $6
			WHERE id = $7`, w.URL, w.Description, events, w.Enabled, w.DisabledReason, w.UpdatedAt, id); err != nil {
			return fmt.Errorf("postgres: update webhook %s: %w", id, err)
		}
		if was && !w.Enabled {
			return failPending(ctx, tx, id, w.UpdatedAt, "Webhook disabled")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// failPending fails the pending deliveries of webhook id.
func failPending(ctx context.Context, tx pgx.Tx, id string, now time.Time, why string) error {
	if _, err := tx.Exec(ctx, `
		UPDATE webhook_deliveries SET status = 'failed', last_error = $1, lease_holder = NULL, lease_until = NULL, updated_at = $2
		WHERE webhook_id = $3 AND status = 'pending'`, why, ms(now), id); err != nil {
		return fmt.Errorf("postgres: fail deliveries of webhook %s: %w", id, err)
	}
	return nil
}

// DeleteWebhook implements facevault.WebhookStore. Events left without a
// delivery go with it.
func (db *DB) DeleteWebhook(ctx context.Context, s facevault.Scope, id string) error {
	if !storable(id) {
		return fmt.Errorf("postgres: delete webhook %q: %w", id, facevault.ErrNotFound)
	}
	return db.inTx(ctx, "delete webhook", pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT DISTINCT event_id FROM webhook_deliveries WHERE webhook_id = $1 AND account_id = $2 AND mode = $3`,
			id, s.AccountID, string(s.Mode))
		if err != nil {
			return fmt.Errorf("postgres: delete webhook %s: %w", id, err)
		}
		events, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("postgres: delete webhook %s: %w", id, err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE account_id = $1 AND mode = $2 AND id = $3`,
			s.AccountID, string(s.Mode), id)
		if err != nil {
			return fmt.Errorf("postgres: delete webhook %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: delete webhook %s: %w", id, facevault.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM webhook_events e WHERE e.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)`, events); err != nil {
			return fmt.Errorf("postgres: delete webhook %s: events: %w", id, err)
		}
		return nil
	})
}

// deliveryColumns are the columns scanDelivery reads.
const deliveryColumns = `id, account_id, mode, webhook_id, event_id, event_type, status, attempts, last_status, last_error, ` +
	`next_attempt_at, created_at, updated_at`

func scanDelivery(row pgx.Row, extra ...any) (*facevault.Delivery, error) {
	var (
		d    = &facevault.Delivery{}
		mode string
	)
	if err := row.Scan(append([]any{&d.ID, &d.Scope.AccountID, &mode, &d.WebhookID, &d.EventID, &d.EventType, &d.Status,
		&d.Attempts, &d.LastStatus, &d.LastError, &d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt}, extra...)...); err != nil {
		return nil, err
	}
	d.Scope.Mode = facevault.Mode(mode)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, nil
}

// Deliveries implements facevault.WebhookStore.
func (db *DB) Deliveries(ctx context.Context, s facevault.Scope, webhookID string, o facevault.ListOptions) ([]*facevault.Delivery, int, error) {
	if !storable(webhookID) {
		return []*facevault.Delivery{}, 0, nil
	}
	q := scoped(s)
	q.and("webhook_id = " + q.arg(webhookID))
	return list(ctx, db, "list deliveries", "webhook_deliveries", deliveryColumns, q, o,
		func(row pgx.Row) (*facevault.Delivery, error) { return scanDelivery(row) })
}

// ClaimDeliveries implements facevault.WebhookStore: FOR UPDATE SKIP LOCKED
// lets nodes claiming at once take different deliveries without waiting.
func (db *DB) ClaimDeliveries(ctx context.Context, holder string, now time.Time, ttl time.Duration, n int) ([]*facevault.Delivery, error) {
	rows, err := db.pool.Query(ctx, `
		UPDATE webhook_deliveries d SET lease_holder = $1, lease_until = $2, attempts = d.attempts + 1
		FROM webhooks w, webhook_events e
		WHERE w.id = d.webhook_id AND e.id = d.event_id AND d.id IN (
			SELECT dd.id FROM webhook_deliveries dd JOIN webhooks ww ON ww.id = dd.webhook_id
			WHERE dd.status = 'pending' AND dd.next_attempt_at <= $3 AND (dd.lease_until IS NULL OR dd.lease_until <= $3)
				AND ww.enabled
			ORDER BY dd.next_attempt_at, dd.id LIMIT $4
			FOR UPDATE OF dd SKIP LOCKED)
		RETURNING d.`+strings.ReplaceAll(deliveryColumns, ", ", ", d.")+`, w.url, w.secret, e.body`,
		holder, ms(now.Add(ttl)), ms(now), n)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.Delivery, error) {
		var url, secret string
		var body []byte
		d, err := scanDelivery(row, &url, &secret, &body)
		if err != nil {
			return nil, err
		}
		d.URL, d.Secret, d.Body = url, secret, body
		return d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	return ds, nil
}

// FinishDelivery implements facevault.WebhookStore.
func (db *DB) FinishDelivery(ctx context.Context, d *facevault.Delivery, holder string, r facevault.DeliveryResult) error {
	status, next := facevault.DeliveryPending, r.Next
	switch {
	case r.Succeeded:
		status, next = facevault.DeliverySucceeded, d.NextAttemptAt
	case r.Next.IsZero():
		status, next = facevault.DeliveryFailed, d.NextAttemptAt
	}
	return db.inTx(ctx, "finish delivery", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if status == facevault.DeliveryFailed {
			// The webhook's row first, as UpdateWebhook takes it: two
			// deliveries of one webhook failing for good at once take
			// turns instead of each holding a delivery the other fails.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, d.WebhookID); err != nil {
				return fmt.Errorf("postgres: finish delivery %s: lock webhook: %w", d.ID, err)
			}
		}
		tag, err := tx.Exec(ctx, `
			UPDATE webhook_deliveries SET status = $1, last_status = $2, last_error = $3, next_attempt_at = $4,
				lease_holder = NULL, lease_until = NULL, updated_at = $5
			WHERE id = $6 AND status = 'pending' AND lease_holder = $7`,
			status, r.Status, strings.ToValidUTF8(strings.ReplaceAll(r.Error, "\x00", ""), "\uFFFD"), ms(next), ms(r.At), d.ID, holder)
		if err != nil {
			return fmt.Errorf("postgres: finish delivery %s: %w", d.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: finish delivery %s: %w", d.ID, facevault.ErrNotFound)
		}
		if status != facevault.DeliveryFailed {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			UPDATE webhooks SET enabled = false, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled`,
			strings.ToValidUTF8(strings.ReplaceAll(r.DisabledReason, "\x00", ""), "\uFFFD"), ms(r.At), d.WebhookID); err != nil {
			return fmt.Errorf("postgres: disable webhook %s: %w", d.WebhookID, err)
		}
		return failPending(ctx, tx, d.WebhookID, r.At, "Webhook disabled")
	})
}

// emit writes events to the outbox in tx, the transaction of their
// change: each with a pending delivery, due at once, per enabled webhook of
// s that subscribes to its type. An event no webhook hears of is not
// written. The webhooks are read FOR SHARE: a webhook disabled or deleted
// concurrently waits for the change (and then fails or deletes its new
// deliveries), or the change sees it gone.
func emit(ctx context.Context, tx pgx.Tx, s facevault.Scope, events ...*facevault.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE account_id = $1 AND mode = $2 AND enabled FOR SHARE`,
		s.AccountID, string(s.Mode))
	if err != nil {
		return fmt.Errorf("postgres: emit events: %w", err)
	}
	hooks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*facevault.Webhook, error) { return scanWebhook(row) })
	if err != nil {
		return fmt.Errorf("postgres: emit events: %w", err)
	}
	for _, e := range events {
		written := false
		for _, w := range hooks {
			if !w.Subscribes(e.Type) {
				continue
			}
			if !written {
				if _, err := tx.Exec(ctx, `
					INSERT INTO webhook_events (id, account_id, mode, type, resource_type, body, created_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					e.ID, s.AccountID, string(s.Mode), e.Type, e.ResourceType, e.Body, ms(e.CreatedAt)); err != nil {
					return fmt.Errorf("postgres: emit event %s: %w", e.Type, err)
				}
				written = true
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO webhook_deliveries (id, account_id, mode, webhook_id, event_id, event_type, status, next_attempt_at,
					created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $7)`,
				facevault.NewID(e.CreatedAt), s.AccountID, string(s.Mode), w.ID, e.ID, e.Type, ms(e.CreatedAt)); err != nil {
				return fmt.Errorf("postgres: emit event %s: delivery: %w", e.Type, err)
			}
		}
	}
	return nil
}

// PruneDeliveries implements facevault.WebhookStore.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time, n int) (int, error) {
	deleted := 0
	err := db.inTx(ctx, "prune deliveries", pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			DELETE FROM webhook_deliveries WHERE id IN (
				SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1 LIMIT $2
				FOR UPDATE SKIP LOCKED)
			RETURNING event_id`, ms(before), n)
		if err != nil {
			return fmt.Errorf("postgres: prune deliveries: %w", err)
		}
		events, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("postgres: prune deliveries: %w", err)
		}
		deleted = len(events)
		// A statement of its own: it must see the deletions above.
		if _, err := tx.Exec(ctx, `
			DELETE FROM webhook_events e WHERE e.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)`, events); err != nil {
			return fmt.Errorf("postgres: prune deliveries: events: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}
