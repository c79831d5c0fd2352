package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
)

// column returns the column of a filterable client attribute that has one
// of its own. The other attributes are read from doc.
func column(field string) (string, bool) {
	switch field {
	case "type":
		return "type", true
	case "email":
		return "email", true
	case "externalId":
		return "external_id", true
	}
	return "", false
}

// docPath returns the keys leading to the filterable attribute field in
// doc: ["personDetails", "firstName"] for "personDetails.firstName",
// ["metadata", "a.b"] for "metadata.a.b" (a metadata key is one key, dots
// and all). It returns false for a field that is neither filterable nor a
// metadata key.
func docPath(field string) ([]string, bool) {
	if key, ok := strings.CutPrefix(field, "metadata."); ok {
		return []string{"metadata", key}, true
	}
	if _, ok := column(field); ok || !slices.Contains(facevault.ClientFilterFields, field) {
		return nil, false
	}
	return strings.Split(field, "."), true
}

// marshalClient is the document stored in clients.doc: the client's JSON
// form (see facevault.Client).
func marshalClient(c *facevault.Client) ([]byte, error) {
	return json.Marshal(c, json.Deterministic(true))
}

// clientColumns are the columns scanClient reads.
const clientColumns = `id, doc, created_at, updated_at`

func scanClient(row pgx.Row) (*facevault.Client, error) {
	var (
		c   = &facevault.Client{}
		doc []byte
	)
	if err := row.Scan(&c.ID, &doc, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, c); err != nil {
		return nil, fmt.Errorf("client %s: decode doc: %w", c.ID, err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// errNUL is what writes of a client holding a NUL character return:
// PostgreSQL text and jsonb cannot hold one.
func errNUL() error {
	return facevault.Errorf(facevault.EInvalid, "Text fields must not contain the NUL character")
}

// isNULError reports whether err is PostgreSQL refusing a NUL character:
// in jsonb ("unsupported Unicode escape sequence") or in text ("invalid
// byte sequence"; invalid UTF-8 never gets that far, as JSON encoding the
// client refuses it first).
func isNULError(err error) bool {
	code := pgCode(err)
	return code == "22P05" || code == "22021"
}

// CreateClient stores c in s. Its timestamps are truncated to milliseconds in
// UTC, as stored. A client with an existing ID is an error; so is one with a
// NUL character in any field, which PostgreSQL cannot store: that error
// wraps a *facevault.Error with code facevault.EInvalid.
func (db *DB) CreateClient(ctx context.Context, s facevault.Scope, c *facevault.Client) error {
	doc, err := marshalClient(c)
	if err != nil {
		return fmt.Errorf("postgres: create client: %w", err)
	}
	err = db.inTx(ctx, "create client", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO clients (id, account_id, mode, type, email, external_id, doc, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			c.ID, s.AccountID, string(s.Mode), c.Type, c.Email, c.ExternalID, doc, ms(c.CreatedAt), ms(c.UpdatedAt),
		); err != nil {
			if isNULError(err) {
				return fmt.Errorf("postgres: create client: %w", errNUL())
			}
			return fmt.Errorf("postgres: create client: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO scope_counts (account_id, mode, clients) VALUES ($1, $2, 1)
			ON CONFLICT (account_id, mode) DO UPDATE SET clients = scope_counts.clients + 1`,
			s.AccountID, string(s.Mode),
		); err != nil {
			return fmt.Errorf("postgres: create client: count: %w", err)
		}
		return emit(ctx, tx, s, facevault.ClientEvent(facevault.EventClientCreated, c))
	})
	if err != nil {
		return err
	}
	c.CreatedAt = ms(c.CreatedAt)
	c.UpdatedAt = ms(c.UpdatedAt)
	return nil
}

// Client returns the client id of s, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) Client(ctx context.Context, s facevault.Scope, id string) (*facevault.Client, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: client %q: %w", id, facevault.ErrNotFound)
	}
	c, err := scanClient(db.pool.QueryRow(ctx, `
		SELECT `+clientColumns+` FROM clients
		WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL`,
		s.AccountID, string(s.Mode), id,
	))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: client %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: client %s: %w", id, err)
	}
	return c, nil
}

// UpdateClient reads the client id of s, locking its row, calls fn on it and
// writes back what fn left, all in one transaction: concurrent updates and
// deletions of one client take turns, and uploads of photos for the client
// (which count themselves on its row) wait for it. fn sets UpdatedAt; the client's ID and CreatedAt do
// not change. An error from fn rolls back and is returned as is. It returns
// an error wrapping facevault.ErrNotFound, without calling fn, if the client
// does not exist, and one wrapping a *facevault.Error with code
// facevault.EInvalid if fn left a NUL character in a field. fn must not use
// the store.
func (db *DB) UpdateClient(ctx context.Context, s facevault.Scope, id string, fn func(*facevault.Client) error) (*facevault.Client, error) {
	if !storable(id) {
		return nil, fmt.Errorf("postgres: update client %q: %w", id, facevault.ErrNotFound)
	}
	var c *facevault.Client
	err := db.inTx(ctx, "update client", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		c, err = scanClient(tx.QueryRow(ctx, `
			SELECT `+clientColumns+` FROM clients
			WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL
			FOR NO KEY UPDATE`,
			s.AccountID, string(s.Mode), id,
		))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: update client %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: update client %s: %w", id, err)
		}
		created := c.CreatedAt
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = id, created, ms(c.UpdatedAt)
		doc, err := marshalClient(c)
		if err != nil {
			return fmt.Errorf("postgres: update client %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE clients SET type = $1, email = $2, external_id = $3, doc = $4, updated_at = $5
			WHERE account_id = $6 AND mode = $7 AND id = $8`,
			c.Type, c.Email, c.ExternalID, doc, c.UpdatedAt,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			if isNULError(err) {
				return fmt.Errorf("postgres: update client %s: %w", id, errNUL())
			}
			return fmt.Errorf("postgres: update client %s: %w", id, err)
		}
		return emit(ctx, tx, s, facevault.ClientEvent(facevault.EventClientUpdated, c))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteClient marks the client id of s deleted at now and takes it off the
// count of the scope's clients, in one transaction whose size does not
// depend on the client's photos. The update locks the client's row: an
// upload for the client (which counts itself on that row) either committed
// before, and its photo is removed with the others, or fails as for an
// unknown client. From the commit on, the client and its photos are gone for
// every method but DrainDeletedClients, which removes them. It returns an
// error wrapping facevault.ErrNotFound if the client does not exist or is
// already deleted.
func (db *DB) DeleteClient(ctx context.Context, s facevault.Scope, id string, now time.Time) error {
	if !storable(id) {
		return fmt.Errorf("postgres: delete client %q: %w", id, facevault.ErrNotFound)
	}
	return db.inTx(ctx, "delete client", pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE clients SET deleted_at = $1
			WHERE account_id = $2 AND mode = $3 AND id = $4 AND deleted_at IS NULL`,
			ms(now), s.AccountID, string(s.Mode), id,
		)
		if err != nil {
			return fmt.Errorf("postgres: delete client %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: delete client %s: %w", id, facevault.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE scope_counts SET clients = clients - 1 WHERE account_id = $1 AND mode = $2`,
			s.AccountID, string(s.Mode),
		); err != nil {
			return fmt.Errorf("postgres: delete client %s: count: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM checks WHERE account_id = $1 AND mode = $2 AND client_id = $3`,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("postgres: delete client %s: checks: %w", id, err)
		}
		// Its faces leave the search index with it: the client's row,
		// updated above, is what the indexer locks to add a row.
		if _, err := tx.Exec(ctx, `
			WITH d AS (
				DELETE FROM face_index WHERE account_id = $1 AND mode = $2 AND client_id = $3
				RETURNING account_id, mode, epoch, cell, page, photo_id
			) `+insertDead,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("postgres: delete client %s: face index: %w", id, err)
		}
		if err := emit(ctx, tx, s, facevault.ClientDeletedEvent(id, now)); err != nil {
			return err
		}
		return forgetIdempotentForClient(ctx, tx, s, id)
	})
}

// clientsWhere is the query for the clients of s matching f. It returns
// false if f can match nothing: a field that is neither filterable nor a
// metadata key, or a field or value that PostgreSQL cannot hold as text
// (invalid UTF-8, or a NUL), which no stored client can have.
//
// type, email and externalId compare their columns. The other attributes
// with a non-empty value are gathered into one JSON document that doc must
// contain (doc @> {...}), which the GIN index on doc serves; an attribute
// compared with "" must be absent or empty, as a column would be.
func clientsWhere(s facevault.Scope, f facevault.ClientFilter) (*query, bool) {
	q := scoped(s)
	q.and("deleted_at IS NULL")
	q.timeRange(f.TimeRange)
	contains := map[string]any{}
	// Sorted, so that the same filter makes the same SQL.
	for _, field := range slices.Sorted(maps.Keys(f.Fields)) {
		value := f.Fields[field]
		if !storable(field) || !storable(value) {
			return nil, false
		}
		if col, isColumn := column(field); isColumn {
			q.and(col + " = " + q.arg(value))
			continue
		}
		path, known := docPath(field)
		if !known {
			return nil, false
		}
		if value == "" {
			q.and("coalesce(doc #>> " + q.arg(path) + ", '') = ''")
			continue
		}
		m := contains
		for _, key := range path[:len(path)-1] {
			sub, ok := m[key].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[key] = sub
			}
			m = sub
		}
		m[path[len(path)-1]] = value
	}
	if len(contains) > 0 {
		doc, err := json.Marshal(contains, json.Deterministic(true))
		if err != nil {
			// Only strings, all valid UTF-8: this cannot happen.
			return nil, false
		}
		q.and("doc @> " + q.arg(string(doc)) + "::jsonb")
	}
	return q, true
}

// clientsPage is the SELECT of one page of the clients of q, newest first
// (ties broken by ID, highest first); its arguments are q's followed by
// limit and offset. It pages in two steps, as livePhotosPage does: the
// subquery finds the page's IDs in order, through clients_list when the
// filters are not more selective than the scope (an index-only scan unless
// there are attribute filters), and the join fetches the page's rows by
// primary key, in that order.
func clientsPage(q *query, limit, offset int) (string, []any) {
	clause, args := q.page(limit, offset)
	return `
		SELECT ` + clientColumns + `
		FROM (
			SELECT id AS page_id, created_at AS page_created_at FROM clients
			WHERE ` + q.String() + `
			ORDER BY created_at DESC, id DESC
			` + clause + `
		) page
		JOIN clients ON id = page_id
		ORDER BY page_created_at DESC, page_id DESC`, args
}

// Clients lists the clients of s matching f, newest first (ties broken by
// ID, highest first), a chunk at a time (see facevault.ListOptions), and
// counts all of them regardless of paging when f.After is not set; the
// chunk and the count come from one snapshot. The count of an unfiltered
// list is the one kept in scope_counts. A filter on an attribute the client
// does not have matches the empty string. A filter on an unknown field
// matches nothing, as does one whose field or value holds a NUL or invalid
// UTF-8.
func (db *DB) Clients(ctx context.Context, s facevault.Scope, f facevault.ClientFilter) ([]*facevault.Client, int, error) {
	clients := []*facevault.Client{}
	if f.Impossible {
		return clients, 0, nil
	}
	q, ok := clientsWhere(s, f)
	if !ok {
		return clients, 0, nil
	}
	if f.After != nil {
		q.after(*f.After)
	}
	limit, offset := f.Chunk()
	total := -1
	err := db.inTx(ctx, "list clients", readOnly(), func(tx pgx.Tx) error {
		if f.After == nil {
			var err error
			if f.Filtered() || len(f.Fields) > 0 {
				err = tx.QueryRow(ctx, `SELECT count(*) FROM clients WHERE `+q.String(), q.args...).Scan(&total)
			} else {
				err = tx.QueryRow(ctx, `
					SELECT coalesce((SELECT clients FROM scope_counts WHERE account_id = $1 AND mode = $2), 0)`,
					s.AccountID, string(s.Mode)).Scan(&total)
			}
			if err != nil {
				return fmt.Errorf("postgres: list clients: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		}
		sql, args := clientsPage(q, limit, offset)
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("postgres: list clients: %w", err)
		}
		if clients, err = pgx.CollectRows(rows, scanClientRow); err != nil {
			return fmt.Errorf("postgres: list clients: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return clients, total, nil
}

// scanClientRow is scanClient for pgx.CollectRows.
func scanClientRow(row pgx.CollectableRow) (*facevault.Client, error) { return scanClient(row) }

// ExistingClients implements facevault.ClientStore.
func (db *DB) ExistingClients(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
	for batch := range slices.Chunk(ids, existingBatch) {
		rows, err := db.pool.Query(ctx, `SELECT id FROM clients WHERE deleted_at IS NULL AND id = ANY($1)`, batch)
		if err != nil {
			return nil, fmt.Errorf("postgres: existing clients: %w", err)
		}
		existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("postgres: existing clients: %w", err)
		}
		for _, id := range existing {
			found[id] = true
		}
	}
	return found, nil
}
