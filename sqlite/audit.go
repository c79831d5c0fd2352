package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/facevault/facevault"
)

// auditColumns are the columns scanAuditEntry reads.
const auditColumns = `id, account_id, mode, seq, key_id, trigger_name, action, resource_type, resource_id,
	client_id, outcome, status, request_id, source, diff, count, created_at, prev_hash, hash, console_user`

// scanAuditEntry reads an entry. A diff that does not decode is an
// *facevault.UnreadableEntryError.
func scanAuditEntry(sc scanner) (*facevault.AuditEntry, error) {
	var (
		e       = &facevault.AuditEntry{}
		diff    string
		created int64
	)
	if err := sc.Scan(&e.ID, &e.AccountID, &e.Mode, &e.Seq, &e.KeyID, &e.Trigger, &e.Action, &e.ResourceType,
		&e.ResourceID, &e.ClientID, &e.Outcome, &e.Status, &e.RequestID, &e.Source, &diff, &e.Count, &created,
		&e.PrevHash, &e.Hash, &e.ConsoleUser); err != nil {
		return nil, err
	}
	e.CreatedAt = fromMS(created)
	d, err := facevault.UnmarshalDiff(diff)
	if err != nil {
		return e, &facevault.UnreadableEntryError{Seq: e.Seq, ID: e.ID, Err: err}
	}
	e.Diff = d
	return e, nil
}

// AppendAudit appends entries to their chains in one transaction (see
// facevault.AuditAppender). The writer's transaction is the lock: SQLite has
// one writer at a time, and BEGIN IMMEDIATE takes it before the chain's
// head is read.
func (db *DB) AppendAudit(ctx context.Context, now time.Time, entries ...*facevault.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	diffs := make([]string, len(entries))
	for i, e := range entries {
		if err := e.Check(); err != nil {
			return fmt.Errorf("sqlite: append audit: %w", err)
		}
		d, err := facevault.MarshalDiff(e.Diff)
		if err != nil {
			return fmt.Errorf("sqlite: append audit: %w", err)
		}
		diffs[i] = d
	}
	now = truncMS(now)
	return db.inWrite(ctx, "append audit", func(tx *sql.Tx) error {
		heads := map[facevault.AuditChainID]*facevault.AuditHead{}
		var order []*facevault.AuditHead
		for i, e := range entries {
			h := heads[e.Chain()]
			if h == nil {
				var err error
				if h, err = auditHead(ctx, tx, e.Chain()); err != nil {
					return err
				}
				heads[e.Chain()] = h
				order = append(order, h)
			}
			if err := chainEntry(e, h, now); err != nil {
				return fmt.Errorf("sqlite: append audit: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO audit_log (`+auditColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.ID, e.AccountID, string(e.Mode), e.Seq, e.KeyID, e.Trigger, e.Action, e.ResourceType, e.ResourceID,
				e.ClientID, e.Outcome, e.Status, e.RequestID, e.Source, diffs[i], e.Count, ms(e.CreatedAt),
				e.PrevHash, e.Hash, e.ConsoleUser,
			); err != nil {
				return fmt.Errorf("sqlite: append audit: %w", err)
			}
		}
		for _, h := range order {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO audit_chains (account_id, mode, seq, hash, created_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (account_id, mode) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, created_at = excluded.created_at`,
				h.AccountID, string(h.Mode), h.Seq, h.Hash, ms(h.CreatedAt),
			); err != nil {
				return fmt.Errorf("sqlite: append audit: head: %w", err)
			}
		}
		return nil
	})
}

// auditHead reads the head of chain c: a chain with no entries yet is at
// Seq 0 with the genesis hash.
func auditHead(ctx context.Context, tx *sql.Tx, c facevault.AuditChainID) (*facevault.AuditHead, error) {
	h := &facevault.AuditHead{AuditChainID: c}
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT seq, hash, created_at FROM audit_chains WHERE account_id = ? AND mode = ?`,
		c.AccountID, string(c.Mode)).Scan(&h.Seq, &h.Hash, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		h.Hash = facevault.GenesisHash
		return h, nil
	case err != nil:
		return nil, fmt.Errorf("sqlite: append audit: head: %w", err)
	}
	h.CreatedAt = fromMS(created)
	return h, nil
}

// chainEntry makes e the next entry after head h, and h its head: its Seq,
// time (now, or the head's if later), ID unless set, PrevHash and Hash.
func chainEntry(e *facevault.AuditEntry, h *facevault.AuditHead, now time.Time) error {
	e.Seq = h.Seq + 1
	e.PrevHash = h.Hash
	e.CreatedAt = now
	if h.CreatedAt.After(now) {
		e.CreatedAt = h.CreatedAt
	}
	if e.ID == "" {
		e.ID = facevault.NewID(e.CreatedAt)
	}
	hash, err := e.ComputeHash()
	if err != nil {
		return err
	}
	e.Hash = hash
	h.Seq, h.Hash, h.CreatedAt = e.Seq, e.Hash, e.CreatedAt
	return nil
}

// AuditEntry returns the entry id of s, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) AuditEntry(ctx context.Context, s facevault.Scope, id string) (*facevault.AuditEntry, error) {
	e, err := scanAuditEntry(db.read.QueryRowContext(ctx, `
		SELECT `+auditColumns+` FROM audit_log WHERE account_id = ? AND mode = ? AND id = ?`,
		s.AccountID, string(s.Mode), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: audit entry %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit entry %s: %w", id, err)
	}
	return e, nil
}

// auditFields maps the filterable entry fields to their columns.
var auditFields = map[string]string{
	"resourceId":   "resource_id",
	"resourceType": "resource_type",
	"clientId":     "client_id",
	"action":       "action",
	"trigger":      "trigger_name",
	"outcome":      "outcome",
	"keyId":        "key_id",
}

// auditWhere is the query for the entries of s matching f. Entries are never
// updated: the updated bounds apply to created_at. ok is false if a filter
// names no field, which matches nothing.
func auditWhere(s facevault.Scope, f facevault.AuditFilter) (q *query, ok bool) {
	q = scoped(s)
	for _, b := range []struct {
		t  time.Time
		op string
	}{{f.CreatedAfter, ">"}, {f.UpdatedAfter, ">"}, {f.CreatedBefore, "<"}, {f.UpdatedBefore, "<"}} {
		switch {
		case b.t.IsZero():
		case b.op == ">":
			q.and("created_at > ?", ms(b.t))
		default:
			q.and("created_at < ?", ceilMS(b.t))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Fields)) {
		col, known := auditFields[name]
		if !known {
			return nil, false
		}
		q.and(col+" = ?", f.Fields[name])
	}
	if f.After != nil {
		q.after(*f.After)
	}
	return q, true
}

// AuditEntries lists the entries of s matching f, newest first (ties broken
// by ID, highest first), a chunk at a time (see facevault.ListOptions), with
// the count of all of them when f.After is not set; the chunk and the count
// come from one snapshot. The count of an unfiltered list is the chain's
// head. The page's IDs come from an index alone, as livePhotosPage's do.
func (db *DB) AuditEntries(ctx context.Context, s facevault.Scope, f facevault.AuditFilter) ([]*facevault.AuditEntry, int, error) {
	entries := []*facevault.AuditEntry{}
	if f.Impossible {
		return entries, 0, nil
	}
	q, ok := auditWhere(s, f)
	if !ok {
		return entries, 0, nil
	}
	limit, offset := f.Chunk()
	total := -1
	err := db.inRead(ctx, "list audit log", func(tx *sql.Tx) error {
		if f.After == nil {
			var err error
			if f.Filtered() || len(f.Fields) > 0 {
				err = tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE `+q.String(), q.args...).Scan(&total)
			} else {
				err = tx.QueryRowContext(ctx, `
					SELECT coalesce((SELECT seq FROM audit_chains WHERE account_id = ? AND mode = ?), 0)`,
					s.AccountID, string(s.Mode)).Scan(&total)
			}
			if err != nil {
				return fmt.Errorf("sqlite: list audit log: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+auditColumns+` FROM (
				SELECT id AS page_id, created_at AS page_created_at FROM audit_log
				WHERE `+q.String()+`
				ORDER BY created_at DESC, id DESC
				LIMIT ? OFFSET ?
			) JOIN audit_log ON id = page_id
			ORDER BY page_created_at DESC, page_id DESC`,
			slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: list audit log: %w", err)
		}
		entries, err = scanAuditEntries(rows)
		if err != nil {
			return fmt.Errorf("sqlite: list audit log: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return entries, total, nil
}

// scanAuditEntries reads and closes rows. On an entry that does not decode
// it returns the entries before it and the *facevault.UnreadableEntryError.
func scanAuditEntries(rows *sql.Rows) ([]*facevault.AuditEntry, error) {
	defer rows.Close()
	entries := []*facevault.AuditEntry{}
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return entries, err
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// AuditHeads returns every chain's head, and a zero head for each chain
// that has entries but no head row, ordered by account and mode.
func (db *DB) AuditHeads(ctx context.Context) ([]facevault.AuditHead, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT account_id, mode, seq, hash, created_at FROM audit_chains
		UNION ALL
		SELECT DISTINCT account_id, mode, 0, '', 0 FROM audit_log l
		WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.account_id = l.account_id AND c.mode = l.mode)
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit heads: %w", err)
	}
	defer rows.Close()
	heads := []facevault.AuditHead{}
	for rows.Next() {
		var (
			h       facevault.AuditHead
			created int64
		)
		if err := rows.Scan(&h.AccountID, &h.Mode, &h.Seq, &h.Hash, &created); err != nil {
			return nil, fmt.Errorf("sqlite: audit heads: %w", err)
		}
		if h.Hash != "" {
			h.CreatedAt = fromMS(created)
		}
		heads = append(heads, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit heads: %w", err)
	}
	return heads, nil
}

// AuditChain returns up to n entries of chain c after seq after, in Seq
// order.
func (db *DB) AuditChain(ctx context.Context, c facevault.AuditChainID, after int64, n int) ([]*facevault.AuditEntry, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+auditColumns+` FROM audit_log
		WHERE account_id = ? AND mode = ? AND seq > ?
		ORDER BY seq LIMIT ?`,
		c.AccountID, string(c.Mode), after, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit chain: %w", err)
	}
	entries, err := scanAuditEntries(rows)
	var ue *facevault.UnreadableEntryError
	if err != nil && !errors.As(err, &ue) {
		err = fmt.Errorf("sqlite: audit chain: %w", err)
	}
	return entries, err
}
