package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/facevault/facevault"
)

// clientFields maps the filterable client attributes that have a column of
// their own to that column. The other attributes are read from doc.
var clientFields = map[string]string{
	"type":       "type",
	"email":      "email",
	"externalId": "external_id",
}

// docFields are the JSON paths in doc of the other filterable attributes.
var docFields = func() map[string]string {
	m := make(map[string]string)
	for _, f := range facevault.ClientFilterFields {
		if _, ok := clientFields[f]; !ok {
			m[f] = jsonPath(strings.Split(f, ".")...)
		}
	}
	return m
}()

// jsonPath is the SQLite JSON path of the member named by keys, each quoted:
// $."personDetails"."firstName". SQLite ends a quoted key at the next double
// quote, so a key holding one cannot be expressed; nor, to be safe, one
// holding a backslash or a control character. jsonPath returns "" for those.
func jsonPath(keys ...string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		if strings.ContainsFunc(k, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
			return ""
		}
		b.WriteString(`."`)
		b.WriteString(k)
		b.WriteString(`"`)
	}
	return b.String()
}

// marshalClient is the document stored in clients.doc: the client's JSON
// form (see facevault.Client).
func marshalClient(c *facevault.Client) ([]byte, error) {
	return json.Marshal(c, json.Deterministic(true))
}

// clientColumns are the columns scanClient reads.
const clientColumns = `id, doc, created_at, updated_at`

func scanClient(sc scanner) (*facevault.Client, error) {
	var (
		c                = &facevault.Client{}
		doc              []byte
		created, updated int64
	)
	if err := sc.Scan(&c.ID, &doc, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, c); err != nil {
		return nil, fmt.Errorf("client %s: decode doc: %w", c.ID, err)
	}
	c.CreatedAt = fromMS(created)
	c.UpdatedAt = fromMS(updated)
	return c, nil
}

// CreateClient stores c in s. Its timestamps are truncated to milliseconds in
// UTC, as stored.
func (db *DB) CreateClient(ctx context.Context, s facevault.Scope, c *facevault.Client) error {
	doc, err := marshalClient(c)
	if err != nil {
		return fmt.Errorf("sqlite: create client: %w", err)
	}
	err = db.inWrite(ctx, "create client", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO clients (id, account_id, mode, type, email, external_id, doc, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, s.AccountID, string(s.Mode), c.Type, c.Email, c.ExternalID, string(doc), ms(c.CreatedAt), ms(c.UpdatedAt),
		); err != nil {
			return fmt.Errorf("sqlite: create client: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO scope_counts (account_id, mode, clients) VALUES (?, ?, 1)
			ON CONFLICT (account_id, mode) DO UPDATE SET clients = clients + 1`,
			s.AccountID, string(s.Mode),
		); err != nil {
			return fmt.Errorf("sqlite: create client: count: %w", err)
		}
		return emit(ctx, tx, s, facevault.ClientEvent(facevault.EventClientCreated, c))
	})
	if err != nil {
		return err
	}
	c.CreatedAt = truncMS(c.CreatedAt)
	c.UpdatedAt = truncMS(c.UpdatedAt)
	return nil
}

// getClient reads the client id of s; sql.ErrNoRows if there is none, or
// it is deleted.
func getClient(ctx context.Context, q rowQueryer, s facevault.Scope, id string) (*facevault.Client, error) {
	return scanClient(q.QueryRowContext(ctx, `
		SELECT `+clientColumns+` FROM clients
		WHERE account_id = ? AND mode = ? AND id = ? AND deleted_at IS NULL`,
		s.AccountID, string(s.Mode), id,
	))
}

// Client returns the client id of s, or an error wrapping
// facevault.ErrNotFound.
func (db *DB) Client(ctx context.Context, s facevault.Scope, id string) (*facevault.Client, error) {
	c, err := getClient(ctx, db.read, s, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: client %s: %w", id, facevault.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: client %s: %w", id, err)
	}
	return c, nil
}

// UpdateClient reads the client id of s, calls fn on it and writes back what
// fn left, all in one transaction. fn sets UpdatedAt; the client's ID and
// CreatedAt do not change. An error from fn rolls back and is returned as
// is. It returns an error wrapping facevault.ErrNotFound, without calling
// fn, if the client does not exist. fn must not use the store.
func (db *DB) UpdateClient(ctx context.Context, s facevault.Scope, id string, fn func(*facevault.Client) error) (*facevault.Client, error) {
	var c *facevault.Client
	err := db.inWrite(ctx, "update client", func(tx *sql.Tx) error {
		var err error
		c, err = getClient(ctx, tx, s, id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: update client %s: %w", id, facevault.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update client %s: %w", id, err)
		}
		created := c.CreatedAt
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = id, created, truncMS(c.UpdatedAt)
		doc, err := marshalClient(c)
		if err != nil {
			return fmt.Errorf("sqlite: update client %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE clients SET type = ?, email = ?, external_id = ?, doc = ?, updated_at = ?
			WHERE account_id = ? AND mode = ? AND id = ?`,
			c.Type, c.Email, c.ExternalID, string(doc), ms(c.UpdatedAt),
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: update client %s: %w", id, err)
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
// depend on the client's photos. From its commit on, the client and its
// photos are gone for every method but DrainDeletedClients, which removes
// them. It returns an error wrapping facevault.ErrNotFound if the client
// does not exist or is already deleted.
func (db *DB) DeleteClient(ctx context.Context, s facevault.Scope, id string, now time.Time) error {
	return db.inWrite(ctx, "delete client", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE clients SET deleted_at = ?
			WHERE account_id = ? AND mode = ? AND id = ? AND deleted_at IS NULL`,
			ms(now), s.AccountID, string(s.Mode), id,
		)
		if err != nil {
			return fmt.Errorf("sqlite: delete client %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete client %s: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete client %s: %w", id, facevault.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE scope_counts SET clients = clients - 1 WHERE account_id = ? AND mode = ?`,
			s.AccountID, string(s.Mode),
		); err != nil {
			return fmt.Errorf("sqlite: delete client %s: count: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM checks WHERE account_id = ? AND mode = ? AND client_id = ?`,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: delete client %s: checks: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM face_index WHERE account_id = ? AND mode = ? AND client_id = ?`,
			s.AccountID, string(s.Mode), id,
		); err != nil {
			return fmt.Errorf("sqlite: delete client %s: face index: %w", id, err)
		}
		if err := emit(ctx, tx, s, facevault.ClientDeletedEvent(id, now)); err != nil {
			return err
		}
		return forgetIdempotentForClient(ctx, tx, s, id)
	})
}

// clientsWhere is the query for the clients of s matching f. It returns
// false if f can match nothing: a field that is neither filterable nor a
// metadata key, or a metadata key that cannot be spelled in a JSON path.
func clientsWhere(s facevault.Scope, f facevault.ClientFilter) (*query, bool) {
	q := scoped(s)
	q.and("deleted_at IS NULL")
	q.timeRange(f.TimeRange)
	// Sorted, so that the same filter makes the same SQL.
	for _, field := range slices.Sorted(maps.Keys(f.Fields)) {
		value := f.Fields[field]
		if col, isColumn := clientFields[field]; isColumn {
			q.and(col+" = ?", value)
			continue
		}
		path, known := docFields[field]
		if key, isMetadata := strings.CutPrefix(field, "metadata."); isMetadata {
			path, known = jsonPath("metadata", key), true
		}
		if !known || path == "" {
			return nil, false
		}
		// An absent attribute equals "", as the columns do.
		q.and("coalesce(json_extract(doc, ?), '') = ?", path, value)
	}
	return q, true
}

// clientsPage is the SELECT of one chunk of the clients of q, newest first
// (ties broken by ID, highest first); its last two arguments are LIMIT and
// OFFSET. It pages in two steps, as livePhotosPage does: the subquery finds
// the chunk's IDs through clients_list, which covers an unfiltered list, and
// only those rows are read.
func clientsPage(q *query) string {
	return `
		SELECT ` + clientColumns + ` FROM (
			SELECT id AS page_id, created_at AS page_created_at FROM clients
			WHERE ` + q.String() + `
			ORDER BY created_at DESC, id DESC
			LIMIT ? OFFSET ?
		) JOIN clients ON id = page_id
		ORDER BY page_created_at DESC, page_id DESC`
}

// Clients lists the clients of s matching f, newest first (ties broken by
// ID, highest first), a chunk at a time (see facevault.ListOptions), and
// counts all of them regardless of paging when f.After is not set; the
// chunk and the count come from one snapshot. The count of an unfiltered
// list is the one kept in scope_counts. A filter on an attribute the client
// does not have matches the empty string. A filter on an unknown field, or
// on a metadata key holding a double quote, a backslash or a control
// character, matches nothing.
func (db *DB) Clients(ctx context.Context, s facevault.Scope, f facevault.ClientFilter) ([]*facevault.Client, int, error) {
	clients := []*facevault.Client{}
	if f.Impossible {
		return clients, 0, nil
	}
	q, ok := clientsWhere(s, f)
	if !ok {
		return clients, 0, nil
	}
	limit, offset := f.Chunk()
	total := -1
	err := db.inRead(ctx, "list clients", func(tx *sql.Tx) error {
		if f.After == nil {
			var err error
			if f.Filtered() || len(f.Fields) > 0 {
				err = tx.QueryRowContext(ctx, `SELECT count(*) FROM clients WHERE `+q.String(), q.args...).Scan(&total)
			} else {
				err = tx.QueryRowContext(ctx, `
					SELECT coalesce((SELECT clients FROM scope_counts WHERE account_id = ? AND mode = ?), 0)`,
					s.AccountID, string(s.Mode)).Scan(&total)
			}
			if err != nil {
				return fmt.Errorf("sqlite: list clients: count: %w", err)
			}
			if offset >= total {
				return nil
			}
		} else {
			q.after(*f.After)
		}
		rows, err := tx.QueryContext(ctx, clientsPage(q), slices.Concat(q.args, []any{limit, offset})...)
		if err != nil {
			return fmt.Errorf("sqlite: list clients: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return fmt.Errorf("sqlite: list clients: %w", err)
			}
			clients = append(clients, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list clients: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return clients, total, nil
}

// ExistingClients implements facevault.ClientStore.
func (db *DB) ExistingClients(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	for batch := range slices.Chunk(ids, existingBatch) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.read.QueryContext(ctx, `
			SELECT id FROM clients WHERE deleted_at IS NULL AND id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing clients: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: existing clients: %w", err)
			}
			found[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing clients: %w", err)
		}
	}
	return found, nil
}
