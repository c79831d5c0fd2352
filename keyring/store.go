package keyring

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/facevault/facevault"
)

// dialect is the SQL flavour of a key store's database.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// DB is where keys are kept: a SQLite file of its own, or a set of tables
// (keyring_*) in a PostgreSQL database. It is kept apart from the record
// store and the image store, and backed up on its own terms, so that
// restoring an old copy of records or images never brings back a key
// destroyed since.
type DB struct {
	db      *sql.DB       // writes, and reads where read is nil
	read    *sql.DB       // reads outside transactions, on SQLite
	pool    *pgxpool.Pool // under db, on PostgreSQL
	dialect dialect
	where   string // for messages: the file, or the database without password
}

// tables creates the tables; every statement is idempotent. BLOB and INT
// stand for each dialect's binary and 64-bit integer types.
var tables = []string{
	`CREATE TABLE IF NOT EXISTS keyring_masters (id TEXT PRIMARY KEY, check_value BLOB NOT NULL, created_at INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keyring_clients (client_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, mode TEXT NOT NULL,
		master_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS keyring_clients_master ON keyring_clients (master_id)`,
	`CREATE TABLE IF NOT EXISTS keyring_photos (photo_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, account_id TEXT NOT NULL, mode TEXT NOT NULL,
		sha256 TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS keyring_photos_created ON keyring_photos (created_at, photo_id)`,
	`CREATE INDEX IF NOT EXISTS keyring_photos_client ON keyring_photos (client_id)`,
	`CREATE TABLE IF NOT EXISTS keyring_identity (one INTEGER PRIMARY KEY CHECK (one = 1), store_id TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keyring_signer (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL, master_id TEXT NOT NULL,
		wrapped BLOB NOT NULL, public BLOB NOT NULL, created_at INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keyring_receipts (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, mode TEXT NOT NULL, action TEXT NOT NULL,
		resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, payload TEXT NOT NULL, signature BLOB NOT NULL, signer_id TEXT NOT NULL,
		created_at INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keyring_receipt_refs (account_id TEXT NOT NULL, mode TEXT NOT NULL, resource_id TEXT NOT NULL,
		receipt_id TEXT NOT NULL, created_at INT NOT NULL, PRIMARY KEY (account_id, mode, resource_id, receipt_id))`,
	`CREATE TABLE IF NOT EXISTS keyring_pending (photo_id TEXT PRIMARY KEY, action TEXT NOT NULL, created_at INT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keyring_face_index (account_id TEXT NOT NULL, mode TEXT NOT NULL, epoch INT NOT NULL,
		master_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INT NOT NULL, PRIMARY KEY (account_id, mode, epoch))`,
}

// ddl is a statement of tables in the dialect's types.
func (db *DB) ddl(stmt string) string {
	if db.dialect == postgresDialect {
		return strings.NewReplacer("BLOB", "BYTEA", " INT ", " BIGINT ").Replace(stmt)
	}
	return strings.ReplaceAll(stmt, " INT ", " INTEGER ")
}

// Open opens the key store at a URL: sqlite:///path/keys.db (created 0600,
// in a 0700 directory, if missing) or postgres://user@host/dbname, and
// creates its tables if they do not exist.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	scheme, rest, _ := strings.Cut(rawURL, ":")
	var db *DB
	var err error
	switch scheme {
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("key store URL %q names no file: want sqlite:///path/keys.db", rawURL)
		}
		db, err = openSQLite(ctx, path)
	case "postgres", "postgresql":
		db, err = openPostgres(ctx, rawURL)
	default:
		return nil, fmt.Errorf("key store URL: unknown scheme %q: want sqlite:///path/keys.db or postgres://host/dbname", scheme)
	}
	if err != nil {
		return nil, err
	}
	for _, stmt := range tables {
		if _, err := db.exec(ctx, db.ddl(stmt)); err != nil {
			db.Close()
			return nil, fmt.Errorf("key store %s: create tables: %w", db.where, err)
		}
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	f, err := os.OpenFile(abs, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "journal_mode(WAL)")
	// A deleted key's bytes are overwritten in the file, not just unlinked
	// from the b-tree.
	q.Add("_pragma", "secure_delete(ON)")
	readQ := url.Values{}
	readQ.Add("_pragma", "busy_timeout(5000)")
	readQ.Add("_pragma", "query_only(1)")
	q.Set("_txlock", "immediate")
	dsn := func(q url.Values) string {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	}
	sdb, err := sql.Open("sqlite", dsn(q))
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	// One connection writes, as SQLite has one writer; it connects first,
	// and switches the file to WAL. Reads have connections of their own,
	// which WAL lets read while a write (and its fsync) is under way.
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn(readQ))
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	return &DB{db: sdb, read: rdb, dialect: sqliteDialect, where: abs}, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	where := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		where = u.Redacted()
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", where, err)
	}
	cfg.MaxConns = 8
	// pgxpool checks a connection that sat idle before handing it out, so
	// that the first query after the server comes back does not fail on a
	// connection that died meanwhile.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("key store %s: %w", where, err)
	}
	return &DB{db: stdlib.OpenDBFromPool(pool), pool: pool, dialect: postgresDialect, where: where}, nil
}

// exec, query and queryRow run a statement, once more on fresh connections
// if the first attempt failed on its connection rather than in the server:
// a connection that died while idle (the server restarted, the network was
// cut) fails the first statement sent on it. Every statement of the key
// store may run twice: inserts do nothing on conflict, deletes and
// updates are conditional.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.retry(ctx, func() (err error) {
		res, err = db.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	err := db.retry(ctx, func() (err error) {
		rows, err = db.reader().QueryContext(ctx, query, args...)
		return err
	})
	return rows, err
}

// reader is the pool reads outside transactions use.
func (db *DB) reader() *sql.DB {
	if db.read != nil {
		return db.read
	}
	return db.db
}

// row is a single-row query, run by Scan.
type row struct {
	db    *DB
	ctx   context.Context
	query string
	args  []any
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) row {
	return row{db, ctx, query, args}
}

func (r row) Scan(dest ...any) error {
	return r.db.retry(r.ctx, func() error {
		return r.db.reader().QueryRowContext(r.ctx, r.query, r.args...).Scan(dest...)
	})
}

func (db *DB) retry(ctx context.Context, fn func() error) error {
	err := fn()
	if err == nil || db.pool == nil || ctx.Err() != nil || !connectionLost(err) {
		return err
	}
	db.pool.Reset()
	return fn()
}

// connectionLost reports whether err is a connection's failure rather
// than the server's answer or the caller's.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &pgErr):
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, driver.ErrBadConn),
		errors.As(err, &netErr), errors.As(err, &connectErr), pgconn.SafeToRetry(err):
		return true
	}
	return false
}

// Close closes the database.
func (db *DB) Close() error {
	err := db.db.Close()
	if db.read != nil {
		err = errors.Join(err, db.read.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// String names the key store, without a password.
func (db *DB) String() string { return db.where }

// q rewrites a query's ? placeholders for the dialect.
func (db *DB) q(query string) string {
	if db.dialect != postgresDialect {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// masterCheck is a master key's check value in the store.
type masterCheck struct {
	ID    string
	Check []byte
}

func (db *DB) masters(ctx context.Context) ([]masterCheck, error) {
	rows, err := db.query(ctx, `SELECT id, check_value FROM keyring_masters ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("key store: read master checks: %w", err)
	}
	defer rows.Close()
	var out []masterCheck
	for rows.Next() {
		var m masterCheck
		if err := rows.Scan(&m.ID, &m.Check); err != nil {
			return nil, fmt.Errorf("key store: read master checks: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (db *DB) addMaster(ctx context.Context, id string, check []byte, now time.Time) error {
	_, err := db.exec(ctx, db.q(`INSERT INTO keyring_masters (id, check_value, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		id, check, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("key store: record master check: %w", err)
	}
	return nil
}

func (db *DB) removeMaster(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, db.q(`DELETE FROM keyring_masters WHERE id = ?`), id); err != nil {
		return fmt.Errorf("key store: remove master check: %w", err)
	}
	return nil
}

// masterUse counts the keys (client keys, face index keys, and the receipt
// key) wrapped by each master key.
func (db *DB) masterUse(ctx context.Context) (map[string]int, error) {
	rows, err := db.query(ctx, `SELECT master_id, count(*) FROM (
		SELECT master_id FROM keyring_clients UNION ALL SELECT master_id FROM keyring_face_index
		UNION ALL SELECT master_id FROM keyring_signer) AS k GROUP BY master_id`)
	if err != nil {
		return nil, fmt.Errorf("key store: count client keys: %w", err)
	}
	defer rows.Close()
	use := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("key store: count client keys: %w", err)
		}
		use[id] = n
	}
	return use, rows.Err()
}

// wrappedKey is a client key as stored: wrapped by the master key MasterID.
type wrappedKey struct {
	ClientID string
	MasterID string
	Wrapped  []byte
}

var errNoKey = errors.New("no such key")

func (db *DB) clientKey(ctx context.Context, clientID string) (*wrappedKey, error) {
	k := &wrappedKey{ClientID: clientID}
	err := db.queryRow(ctx, db.q(`SELECT master_id, wrapped FROM keyring_clients WHERE client_id = ?`), clientID).Scan(&k.MasterID, &k.Wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("key store: read client key: %w", err)
	}
	return k, nil
}

// addClientKey stores k unless its client has a key already, and returns
// the client's key as stored afterwards.
func (db *DB) addClientKey(ctx context.Context, k *wrappedKey, sc facevault.Scope, now time.Time) (*wrappedKey, error) {
	_, err := db.exec(ctx, db.q(`INSERT INTO keyring_clients (client_id, account_id, mode, master_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING`),
		k.ClientID, sc.AccountID, string(sc.Mode), k.MasterID, k.Wrapped, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("key store: add client key: %w", err)
	}
	return db.clientKey(ctx, k.ClientID)
}

// replaceClientKey replaces the client's key wrapped by master old with k,
// and reports whether it did (false if the key is gone or was rewrapped
// meanwhile).
func (db *DB) replaceClientKey(ctx context.Context, old string, k *wrappedKey) (bool, error) {
	res, err := db.exec(ctx, db.q(`UPDATE keyring_clients SET master_id = ?, wrapped = ? WHERE client_id = ? AND master_id = ?`),
		k.MasterID, k.Wrapped, k.ClientID, old)
	if err != nil {
		return false, fmt.Errorf("key store: rewrap client key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// clientKeysOf lists up to n client keys wrapped by master, in client id
// order after the given id.
func (db *DB) clientKeysOf(ctx context.Context, master, after string, n int) ([]*wrappedKey, error) {
	rows, err := db.query(ctx, db.q(`SELECT client_id, master_id, wrapped FROM keyring_clients WHERE master_id = ? AND client_id > ? ORDER BY client_id LIMIT ?`),
		master, after, n)
	if err != nil {
		return nil, fmt.Errorf("key store: list client keys: %w", err)
	}
	defer rows.Close()
	var out []*wrappedKey
	for rows.Next() {
		k := &wrappedKey{}
		if err := rows.Scan(&k.ClientID, &k.MasterID, &k.Wrapped); err != nil {
			return nil, fmt.Errorf("key store: list client keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (db *DB) addPhotoKey(ctx context.Context, ref facevault.PhotoRef, wrapped []byte, now time.Time) error {
	photoID := ref.PhotoID
	res, err := db.exec(ctx, db.q(`INSERT INTO keyring_photos (photo_id, client_id, account_id, mode, sha256, wrapped, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (photo_id) DO NOTHING`),
		photoID, ref.ClientID, ref.Scope.AccountID, string(ref.Scope.Mode), ref.SHA256, wrapped, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("key store: add photo key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Stored already: by this very call, run twice (see exec), or it is
	// another key, which must not be replaced.
	var stored []byte
	if err := db.queryRow(ctx, db.q(`SELECT wrapped FROM keyring_photos WHERE photo_id = ?`), photoID).Scan(&stored); err != nil {
		return fmt.Errorf("key store: add photo key: %w", err)
	}
	if !bytes.Equal(stored, wrapped) {
		return fmt.Errorf("key store: photo %s has a key already", photoID)
	}
	return nil
}

// photoKey returns a photo's wrapped key and its client's, or errNoKey if
// either is gone.
func (db *DB) photoKey(ctx context.Context, photoID string) ([]byte, *wrappedKey, error) {
	var wrapped []byte
	k := &wrappedKey{}
	err := db.queryRow(ctx, db.q(`SELECT p.wrapped, c.client_id, c.master_id, c.wrapped
		FROM keyring_photos p JOIN keyring_clients c ON c.client_id = p.client_id WHERE p.photo_id = ?`), photoID).Scan(&wrapped, &k.ClientID, &k.MasterID, &k.Wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNoKey
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key store: read photo key: %w", err)
	}
	return wrapped, k, nil
}

// photoKeyIDs lists up to n photo ids with keys created before the given
// time, in id order after the given one.
func (db *DB) photoKeyIDs(ctx context.Context, before time.Time, after string, n int) ([]string, error) {
	rows, err := db.query(ctx, db.q(`SELECT photo_id FROM keyring_photos WHERE created_at < ? AND photo_id > ? ORDER BY photo_id LIMIT ?`),
		before.UnixMilli(), after, n)
	if err != nil {
		return nil, fmt.Errorf("key store: list photo keys: %w", err)
	}
	return scanIDs(rows)
}

// clientKeyIDs lists up to n client ids with keys, in id order after the
// given one.
func (db *DB) clientKeyIDs(ctx context.Context, after string, n int) ([]string, error) {
	rows, err := db.query(ctx, db.q(`SELECT client_id FROM keyring_clients WHERE client_id > ? ORDER BY client_id LIMIT ?`), after, n)
	if err != nil {
		return nil, fmt.Errorf("key store: list client keys: %w", err)
	}
	return scanIDs(rows)
}

func scanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("key store: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// StoreID returns the id of the FaceVault store the key store belongs to,
// or "" if none is recorded yet.
func (db *DB) StoreID(ctx context.Context) (string, error) {
	var id string
	err := db.queryRow(ctx, `SELECT store_id FROM keyring_identity WHERE one = 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("key store: read store id: %w", err)
	}
	return id, nil
}

// BindStoreID records id as the store the key store belongs to, unless one
// is recorded already, and returns the id recorded afterwards.
func (db *DB) BindStoreID(ctx context.Context, id string) (string, error) {
	if _, err := db.exec(ctx, db.q(`INSERT INTO keyring_identity (one, store_id) VALUES (1, ?) ON CONFLICT (one) DO NOTHING`), id); err != nil {
		return "", fmt.Errorf("key store: record store id: %w", err)
	}
	return db.StoreID(ctx)
}

// Used reports whether a master key was ever recorded in the key store: a
// store not used yet may take a new master key.
func (db *DB) Used(ctx context.Context) (bool, error) {
	ms, err := db.masters(ctx)
	return len(ms) > 0, err
}

// photoKeysOf returns which of ids have a photo key.
func (db *DB) photoKeysOf(ctx context.Context, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.query(ctx, db.q(`SELECT photo_id FROM keyring_photos WHERE photo_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("key store: look up photo keys: %w", err)
		}
		got, err := scanIDs(rows)
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			found[id] = true
		}
	}
	return found, nil
}

// photoKeyRow is a photo's wrapped key with its client's.
type photoKeyRow struct {
	photoID string
	wrapped []byte
	client  *wrappedKey
}

// photoKeys returns the wrapped keys of those of ids that have one, with
// their clients' keys.
func (db *DB) photoKeys(ctx context.Context, ids []string) ([]photoKeyRow, error) {
	var out []photoKeyRow
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.query(ctx, db.q(`SELECT p.photo_id, p.wrapped, c.client_id, c.master_id, c.wrapped
			FROM keyring_photos p JOIN keyring_clients c ON c.client_id = p.client_id
			WHERE p.photo_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("key store: read photo keys: %w", err)
		}
		for rows.Next() {
			r := photoKeyRow{client: &wrappedKey{}}
			if err := rows.Scan(&r.photoID, &r.wrapped, &r.client.ClientID, &r.client.MasterID, &r.client.Wrapped); err != nil {
				rows.Close()
				return nil, fmt.Errorf("key store: read photo keys: %w", err)
			}
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("key store: read photo keys: %w", err)
		}
	}
	return out, nil
}

// Ping reports whether the key store's database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	r := db.read
	if r == nil {
		r = db.db
	}
	var one int
	if err := r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("keyring: ping %s: %w", db.where, err)
	}
	return nil
}
