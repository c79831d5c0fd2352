package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

// webhookColumns are the columns scanWebhook reads.
const webhookColumns = `id, account_id, mode, url, description, events, enabled, secret, disabled_reason, created_at, updated_at`

func scanWebhook(sc scanner) (*facevault.Webhook, error) {
	var (
		w                = &facevault.Webhook{}
		mode             string
		events           string
		created, updated int64
	)
	if err := sc.Scan(&w.ID, &w.Scope.AccountID, &mode, &w.URL, &w.Description, &events, &w.Enabled, &w.Secret,
		&w.DisabledReason, &created, &updated); err != nil {
		return nil, err
	}
	w.Scope.Mode = facevault.Mode(mode)
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: decode events: %w", w.ID, err)
	}
	w.CreatedAt, w.UpdatedAt = fromMS(created), fromMS(updated)
	return w, nil
}

func marshalEvents(events []string) (string, error) {
	b, err := json.Marshal(events)
	return string(b), err
}

// CreateWebhook implements facevault.WebhookStore.
func (db *DB) CreateWebhook(ctx context.Context, s facevault.Scope, w *facevault.Webhook) error {
	events, err := marshalEvents(w.Events)
	if err != nil {
		return fmt.Errorf("sqlite: create webhook: %w", err)
	}
	err = db.inWrite(ctx, "create webhook", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, s.AccountID, string(s.Mode), w.URL, w.Description, events, w.Enabled, w.Secret, w.DisabledReason,
			ms(w.CreatedAt), ms(w.UpdatedAt)); err != nil {
			return fmt.Errorf("sqlite: create webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Scope = s
	w.CreatedAt, w.UpdatedAt = truncMS(w.CreatedAt), truncMS(w.UpdatedAt)
	return nil
}

func getWebhook(ctx context.Context, q rowQueryer, s facevault.Scope, id string) (*facevault.Webhook, error) {
	return scanWebhook(q.QueryRowContext(ctx, `
		SELECT `+webhookColumns+` FROM webhooks WHERE account_id = ? AND mode = ? AND id = ?`,
		s.AccountID, string(s.Mode), id))
}

// Webhook implements facevault.WebhookStore.
func (db *DB) Webhook(ctx context.Context, s facevault.Scope, id string) (*facevault.Webhook, error) {
	w, err := getWebhook(ctx, db.read, s, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: webhook %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook %s: %w", id, err)
	}
	return w, nil
}

// list reads one chunk of a list of table's rows matching q, newest first,
// and the count (unless o.After is set), from one snapshot.
func list[T any](ctx context.Context, db *DB, op, table, columns string, q *query, o facevault.ListOptions,
	scan func(scanner) (T, error)) ([]T, int, error) {
	items := []T{}
	if o.Impossible {
		return items, 0, nil
	}
	q.timeRange(o.TimeRange)
	count := *q
	count.where, count.args = slices.Clone(q.where), slices.Clone(q.args)
	if o.After != nil {
		q.after(*o.After)
	}
	limit, offset := o.Chunk()
	total := -1
	err := db.inRead(ctx, op, func(tx *sql.Tx) error {
		if o.After == nil {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE `+count.String(), count.args...).Scan(&total); err != nil {
				return fmt.Errorf("sqlite: %s: count: %w", op, err)
			}
			if offset >= total {
				return nil
			}
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+columns+` FROM `+table+` WHERE `+q.String()+`
			ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
			slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		defer rows.Close()
		for rows.Next() {
			item, err := scan(rows)
			if err != nil {
				return fmt.Errorf("sqlite: %s: %w", op, err)
			}
			items = append(items, item)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
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

// UpdateWebhook implements facevault.WebhookStore.
func (db *DB) UpdateWebhook(ctx context.Context, s facevault.Scope, id string, fn func(*facevault.Webhook) error) (*facevault.Webhook, error) {
	var w *facevault.Webhook
	err := db.inWrite(ctx, "update webhook", func(tx *sql.Tx) error {
		var err error
		w, err = getWebhook(ctx, tx, s, id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: update webhook %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update webhook %s: %w", id, err)
		}
		was, created := w.Enabled, w.CreatedAt
		if err := fn(w); err != nil {
			return err
		}
		w.ID, w.Scope, w.CreatedAt, w.UpdatedAt = id, s, created, truncMS(w.UpdatedAt)
		events, err := marshalEvents(w.Events)
		if err != nil {
			return fmt.Errorf("sqlite: update webhook %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE webhooks SET url = ?, description = ?, events = ?, enabled = ?, disabled_reason = ?, updated_at = ?
			WHERE id = ?`, w.URL, w.Description, events, w.Enabled, w.DisabledReason, ms(w.UpdatedAt), id); err != nil {
			return fmt.Errorf("sqlite: update webhook %s: %w", id, err)
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
func failPending(ctx context.Context, tx *sql.Tx, id string, now time.Time, why string) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE webhook_deliveries SET status = 'failed', last_error = ?, lease_holder = NULL, lease_until = NULL, updated_at = ?
		WHERE webhook_id = ? AND status = 'pending'`, why, ms(now), id); err != nil {
		return fmt.Errorf("sqlite: fail deliveries of webhook %s: %w", id, err)
	}
	return nil
}

// DeleteWebhook implements facevault.WebhookStore. Events left without a
// delivery go with it.
func (db *DB) DeleteWebhook(ctx context.Context, s facevault.Scope, id string) error {
	return db.inWrite(ctx, "delete webhook", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT event_id FROM webhook_deliveries WHERE webhook_id = ? AND account_id = ? AND mode = ?`,
			id, s.AccountID, string(s.Mode))
		if err != nil {
			return fmt.Errorf("sqlite: delete webhook %s: %w", id, err)
		}
		var events []any
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: delete webhook %s: %w", id, err)
			}
			events = append(events, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: delete webhook %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE account_id = ? AND mode = ? AND id = ?`,
			s.AccountID, string(s.Mode), id)
		if err != nil {
			return fmt.Errorf("sqlite: delete webhook %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete webhook %s: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete webhook %s: %w", id, facevault.ErrNotFound)
		}
		for batch := range slices.Chunk(events, 500) {
			if _, err := tx.ExecContext(ctx, `
				DELETE FROM webhook_events WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`, batch...); err != nil {
				return fmt.Errorf("sqlite: delete webhook %s: events: %w", id, err)
			}
		}
		return nil
	})
}

// deliveryColumns are the columns scanDelivery reads.
const deliveryColumns = `id, account_id, mode, webhook_id, event_id, event_type, status, attempts, last_status, last_error, ` +
	`next_attempt_at, created_at, updated_at`

func scanDelivery(sc scanner, extra ...any) (*facevault.Delivery, error) {
	var (
		d                      = &facevault.Delivery{}
		mode                   string
		next, created, updated int64
	)
	if err := sc.Scan(append([]any{&d.ID, &d.Scope.AccountID, &mode, &d.WebhookID, &d.EventID, &d.EventType, &d.Status,
		&d.Attempts, &d.LastStatus, &d.LastError, &next, &created, &updated}, extra...)...); err != nil {
		return nil, err
	}
	d.Scope.Mode = facevault.Mode(mode)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
	return d, nil
}

// Deliveries implements facevault.WebhookStore.
func (db *DB) Deliveries(ctx context.Context, s facevault.Scope, webhookID string, o facevault.ListOptions) ([]*facevault.Delivery, int, error) {
	q := scoped(s)
	q.and("webhook_id = ?", webhookID)
	return list(ctx, db, "list deliveries", "webhook_deliveries", deliveryColumns, q, o,
		func(sc scanner) (*facevault.Delivery, error) { return scanDelivery(sc) })
}

// ClaimDeliveries implements facevault.WebhookStore. SQLite has one
// writer: the select and the update of one transaction cannot interleave
// with another's.
func (db *DB) ClaimDeliveries(ctx context.Context, holder string, now time.Time, ttl time.Duration, n int) ([]*facevault.Delivery, error) {
	var ds []*facevault.Delivery
	err := db.inWrite(ctx, "claim deliveries", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?) AND w.enabled
			ORDER BY d.next_attempt_at, d.id LIMIT ?`, ms(now), ms(now), n)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		in := `(?` + strings.Repeat(", ?", len(ids)-1) + `)`
		if _, err := tx.ExecContext(ctx, `
			UPDATE webhook_deliveries SET lease_holder = ?, lease_until = ?, attempts = attempts + 1 WHERE id IN `+in,
			slices.Concat([]any{holder, ms(now.Add(ttl))}, ids)...); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		rows, err = tx.QueryContext(ctx, `
			SELECT d.`+strings.ReplaceAll(deliveryColumns, ", ", ", d.")+`, w.url, w.secret, e.body
			FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id
			WHERE d.id IN `+in+` ORDER BY d.next_attempt_at, d.id`, ids...)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var url, secret string
			var body []byte
			d, err := scanDelivery(rows, &url, &secret, &body)
			if err != nil {
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			d.URL, d.Secret, d.Body = url, secret, body
			ds = append(ds, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
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
	return db.inWrite(ctx, "finish delivery", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE webhook_deliveries SET status = ?, last_status = ?, last_error = ?, next_attempt_at = ?,
				lease_holder = NULL, lease_until = NULL, updated_at = ?
			WHERE id = ? AND status = 'pending' AND lease_holder = ?`,
			status, r.Status, r.Error, ms(next), ms(r.At), d.ID, holder)
		if err != nil {
			return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, facevault.ErrNotFound)
		}
		if status != facevault.DeliveryFailed {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled`,
			r.DisabledReason, ms(r.At), d.WebhookID); err != nil {
			return fmt.Errorf("sqlite: disable webhook %s: %w", d.WebhookID, err)
		}
		return failPending(ctx, tx, d.WebhookID, r.At, "Webhook disabled")
	})
}

// emit writes events to the outbox in tx, the transaction of their
// change: each with a pending delivery, due at once, per enabled webhook of
// s that subscribes to its type. An event no webhook hears of is not
// written.
func emit(ctx context.Context, tx *sql.Tx, s facevault.Scope, events ...*facevault.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE account_id = ? AND mode = ? AND enabled`,
		s.AccountID, string(s.Mode))
	if err != nil {
		return fmt.Errorf("sqlite: emit events: %w", err)
	}
	var hooks []*facevault.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: emit events: %w", err)
		}
		hooks = append(hooks, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: emit events: %w", err)
	}
	for _, e := range events {
		written := false
		for _, w := range hooks {
			if !w.Subscribes(e.Type) {
				continue
			}
			if !written {
				if _, err := tx.ExecContext(ctx, `
					INSERT INTO webhook_events (id, account_id, mode, type, resource_type, body, created_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`,
					e.ID, s.AccountID, string(s.Mode), e.Type, e.ResourceType, e.Body, ms(e.CreatedAt)); err != nil {
					return fmt.Errorf("sqlite: emit event %s: %w", e.Type, err)
				}
				written = true
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO webhook_deliveries (id, account_id, mode, webhook_id, event_id, event_type, status, next_attempt_at,
					created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
				facevault.NewID(e.CreatedAt), s.AccountID, string(s.Mode), w.ID, e.ID, e.Type,
				ms(e.CreatedAt), ms(e.CreatedAt), ms(e.CreatedAt)); err != nil {
				return fmt.Errorf("sqlite: emit event %s: delivery: %w", e.Type, err)
			}
		}
	}
	return nil
}

// PruneDeliveries implements facevault.WebhookStore.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time, n int) (int, error) {
	deleted := 0
	err := db.inWrite(ctx, "prune deliveries", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT id, event_id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < ? LIMIT ?`, ms(before), n)
		if err != nil {
			return fmt.Errorf("sqlite: prune deliveries: %w", err)
		}
		var ids, events []any
		for rows.Next() {
			var id, event string
			if err := rows.Scan(&id, &event); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: prune deliveries: %w", err)
			}
			ids, events = append(ids, id), append(events, event)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: prune deliveries: %w", err)
		}
		for batch := range slices.Chunk(ids, 500) {
			res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, batch...)
			if err != nil {
				return fmt.Errorf("sqlite: prune deliveries: %w", err)
			}
			k, _ := res.RowsAffected()
			deleted += int(k)
		}
		for batch := range slices.Chunk(events, 500) {
			if _, err := tx.ExecContext(ctx, `
				DELETE FROM webhook_events WHERE id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`, batch...); err != nil {
				return fmt.Errorf("sqlite: prune deliveries: events: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}
