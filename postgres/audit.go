package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// auditColumns are the columns scanAuditEntry reads.
const auditColumns = `id, account_id, mode, seq, key_id, trigger_name, action, resource_type, resource_id,
	client_id, outcome, status, request_id, source, diff, count, created_at, prev_hash, hash, console_user`

// scanAuditEntry reads an entry. A diff that does not decode is an
// *facevault.UnreadableEntryError.
func scanAuditEntry(row pgx.Row) (*facevault.AuditEntry, error) {
	var (
		e    = &facevault.AuditEntry{}
		diff string
	)
	if err := row.Scan(&e.ID, &e.AccountID, &e.Mode, &e.Seq, &e.KeyID, &e.Trigger, &e.Action, &e.ResourceType,
		&e.ResourceID, &e.ClientID, &e.Outcome, &e.Status, &e.RequestID, &e.Source, &diff, &e.Count, &e.CreatedAt,
		&e.PrevHash, &e.Hash, &e.ConsoleUser); err != nil {
		return nil, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	d, err := facevault.UnmarshalDiff(diff)
	if err != nil {
		return e, &facevault.UnreadableEntryError{Seq: e.Seq, ID: e.ID, Err: err}
	}
	e.Diff = d
	return e, nil
}

// collectAuditEntries reads and closes rows. On an entry that does not
// decode it returns the entries before it and the
// *facevault.UnreadableEntryError.
func collectAuditEntries(rows pgx.Rows) ([]*facevault.AuditEntry, error) {
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

// AppendAudit appends entries to their chains in one transaction (see
// facevault.AuditAppender). It first locks the head row of every chain it
// appends to, creating it if need be, in the order of the chains' account
// and mode, so that appends to one chain take turns across nodes and two
// appends to the same chains cannot deadlock; the heads it reads are then
// the latest committed. Entries and heads are written in one round trip.
func (db *DB) AppendAudit(ctx context.Context, now time.Time, entries ...*facevault.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	diffs := make([]string, len(entries))
	chains := map[facevault.AuditChainID]bool{}
	for i, e := range entries {
		if err := e.Check(); err != nil {
			return fmt.Errorf("postgres: append audit: %w", err)
		}
		d, err := facevault.MarshalDiff(e.Diff)
		if err != nil {
			return fmt.Errorf("postgres: append audit: %w", err)
		}
		diffs[i] = d
		chains[e.Chain()] = true
	}
	order := slices.SortedFunc(maps.Keys(chains), func(a, b facevault.AuditChainID) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.Mode, b.Mode))
	})
	now = ms(now)
	return db.inTx(ctx, "append audit", pgx.TxOptions{}, func(tx pgx.Tx) error {
		heads := make(map[facevault.AuditChainID]*facevault.AuditHead, len(order))
		for _, c := range order {
			h := &facevault.AuditHead{AuditChainID: c}
			// The no-op update locks the row, existing or new.
			if err := tx.QueryRow(ctx, `
				INSERT INTO audit_chains (account_id, mode, seq, hash, created_at) VALUES ($1, $2, 0, $3, 'epoch')
				ON CONFLICT (account_id, mode) DO UPDATE SET seq = audit_chains.seq
				RETURNING seq, hash, created_at`,
				c.AccountID, string(c.Mode), facevault.GenesisHash,
			).Scan(&h.Seq, &h.Hash, &h.CreatedAt); err != nil {
				return fmt.Errorf("postgres: append audit: lock chain: %w", err)
			}
			heads[c] = h
		}
		var batch pgx.Batch
		for i, e := range entries {
			if err := chainEntry(e, heads[e.Chain()], now); err != nil {
				return fmt.Errorf("postgres: append audit: %w", err)
			}
			batch.Queue(`
				INSERT INTO audit_log (`+auditColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
				e.ID, e.AccountID, string(e.Mode), e.Seq, e.KeyID, e.Trigger, e.Action, e.ResourceType, e.ResourceID,
				e.ClientID, e.Outcome, e.Status, e.RequestID, e.Source, diffs[i], e.Count, e.CreatedAt,
				e.PrevHash, e.Hash, e.ConsoleUser)
		}
		for _, c := range order {
			h := heads[c]
			batch.Queue(`UPDATE audit_chains SET seq = $3, hash = $4, created_at = $5 WHERE account_id = $1 AND mode = $2`,
				c.AccountID, string(c.Mode), h.Seq, h.Hash, h.CreatedAt)
		}
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("postgres: append audit: %w", err)
		}
		return nil
	})
}

// chainEntry makes e the next entry after head h, and h its head: its Seq,
// time (now, or the head's if later), ID unless set, PrevHash and Hash.
func chainEntry(e *facevault.AuditEntry, h *facevault.AuditHead, now time.Time) error {
	e.Seq = h.Seq + 1
	e.PrevHash = h.Hash
	e.CreatedAt = now
	if h.CreatedAt.After(now) {
		e.CreatedAt = h.CreatedAt.UTC()
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
	if !storable(id) {
		return nil, fmt.Errorf("postgres: audit entry %q: %w", id, facevault.ErrNotFound)
	}
	e, err := scanAuditEntry(db.pool.QueryRow(ctx, `
		SELECT `+auditColumns+` FROM audit_log WHERE account_id = $1 AND mode = $2 AND id = $3`,
		s.AccountID, string(s.Mode), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: audit entry %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: audit entry %s: %w", id, err)
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
// names no field, or holds a value no text column can hold: it matches
// nothing.
func auditWhere(s facevault.Scope, f facevault.AuditFilter) (q *query, ok bool) {
	q = scoped(s)
	for _, b := range []struct {
		t  time.Time
		op string
	}{{f.CreatedAfter, ">"}, {f.UpdatedAfter, ">"}, {f.CreatedBefore, "<"}, {f.UpdatedBefore, "<"}} {
		switch {
		case b.t.IsZero():
		case b.op == ">":
			q.and("created_at > " + q.arg(ms(b.t)))
		default:
			q.and("created_at < " + q.arg(ceilMS(b.t)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Fields)) {
		col, known := auditFields[name]
		v := f.Fields[name]
		if !known || !storable(v) {
			return nil, false
		}
		q.and(col + " = " + q.arg(v))
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
	err := db.inTx(ctx, "list audit log", readOnly(), func(tx pgx.Tx) error {
		if f.After == nil {
			var err error
			if f.Filtered() || len(f.Fields) > 0 {
				err = tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE `+q.String(), q.args...).Scan(&total)
			} else {
				err = tx.QueryRow(ctx, `
					SELECT coalesce((SELECT seq FROM audit_chains WHERE account_id = $1 AND mode = $2), 0)`,
					s.AccountID, string(s.Mode)).Scan(&total)
			}
			if err != nil {
				return fmt.Errorf("postgres: list audit log: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		}
		clause, args := q.page(limit, offset)
		rows, err := tx.Query(ctx, `
			SELECT `+auditColumns+`
			FROM (
				SELECT id AS page_id, created_at AS page_created_at FROM audit_log
				WHERE `+q.String()+`
				ORDER BY created_at DESC, id DESC
				`+clause+`
			) page
			JOIN audit_log ON id = page_id
			ORDER BY page_created_at DESC, page_id DESC`, args...)
		if err != nil {
			return fmt.Errorf("postgres: list audit log: %w", err)
		}
		if entries, err = collectAuditEntries(rows); err != nil {
			return fmt.Errorf("postgres: list audit log: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return entries, total, nil
}

// AuditHeads returns every chain's head, and a zero head for each chain
// that has entries but no head row, ordered by account and mode.
func (db *DB) AuditHeads(ctx context.Context) ([]facevault.AuditHead, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT account_id, mode, seq, hash, created_at FROM audit_chains
		UNION ALL
		SELECT DISTINCT account_id, mode, 0, '', 'epoch'::timestamptz FROM audit_log l
		WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.account_id = l.account_id AND c.mode = l.mode)
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit heads: %w", err)
	}
	heads, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (facevault.AuditHead, error) {
		var h facevault.AuditHead
		err := row.Scan(&h.AccountID, &h.Mode, &h.Seq, &h.Hash, &h.CreatedAt)
		h.CreatedAt = h.CreatedAt.UTC()
		if h.Hash == "" {
			h.CreatedAt = time.Time{}
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: audit heads: %w", err)
	}
	return heads, nil
}

// AuditChain returns up to n entries of chain c after seq after, in Seq
// order.
func (db *DB) AuditChain(ctx context.Context, c facevault.AuditChainID, after int64, n int) ([]*facevault.AuditEntry, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+auditColumns+` FROM audit_log
		WHERE account_id = $1 AND mode = $2 AND seq > $3
		ORDER BY seq LIMIT $4`,
		c.AccountID, string(c.Mode), after, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit chain: %w", err)
	}
	entries, err := collectAuditEntries(rows)
	var ue *facevault.UnreadableEntryError
	if err != nil && !errors.As(err, &ue) {
		err = fmt.Errorf("postgres: audit chain: %w", err)
	}
	return entries, err
}
