// Package postgres implements facevault.Store on PostgreSQL, through pgx.
//
// Every query goes through one pgxpool.Pool. The schema lives in versioned
// goose migrations embedded in the binary; unlike the SQLite store, Open does
// not apply them: several nodes share one database, so migrating is an
// explicit step (Migrate, run by 'facevault migrate'), and a node checks at
// start-up with CheckSchema that the database is at the version it knows.
//
// Timestamps are stored as timestamptz holding whole milliseconds, and read
// back in UTC: the service works at millisecond precision. Write paths
// truncate; list bounds are strict, computed in milliseconds as in the
// SQLite store.
//
// Transactions run at READ COMMITTED, except lists, which read their count
// and their page from one REPEATABLE READ snapshot. Rows that a transaction
// reads in order to change them are locked (SELECT ... FOR NO KEY UPDATE),
// so that concurrent writers queue rather than lose updates. DeleteClient
// locks the client row FOR UPDATE, which also holds up the foreign key
// check of a photo being inserted for the client: an upload racing with the
// deletion either commits first, and its photo is deleted with the client,
// or fails its foreign key check and reports facevault.ErrNotFound.
//
// Lists page in two steps: the page's IDs, in order, from an index (an
// index-only scan of the composite index however deep the page), then the
// page's rows by primary key. See livePhotosPage.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/facevault/facevault"
)

//go:embed migrations/*.sql
var embedded embed.FS

// DB is a facevault.Store on a PostgreSQL database. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// sqlDB is pool seen through database/sql, for goose only: it keeps no
	// idle connections of its own.
	sqlDB      *sql.DB
	migrations *goose.Provider
	target     int64 // the version of the newest embedded migration
}

var _ facevault.Store = (*DB)(nil)

// Open connects to the database at url, a PostgreSQL connection string (URL
// or keyword/value), and pings it. The pool holds at most pool_max_conns
// connections if the string sets that parameter, and defaultMaxConns
// otherwise. Open does not migrate: see Migrate and CheckSchema.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.observe != nil {
		cfg.ConnConfig.Tracer = tracer{o.observe}
	}
	if !setsMaxConns(url) {
		cfg.MaxConns = defaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}

	db := &DB{pool: pool, sqlDB: stdlib.OpenDBFromPool(pool)}
	migrations, err := fs.Sub(embedded, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.migrations, err = goose.NewProvider(goose.DialectPostgres, db.sqlDB, migrations,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	for _, s := range db.migrations.ListSources() {
		db.target = max(db.target, s.Version)
	}
	return db, nil
}

// defaultMaxConns is the pool size when the connection string does not set
// pool_max_conns: four connections per CPU, and at least eight. Queries are
// short, but a transaction holds its connection while a destroy callback
// deletes image bytes (possibly over the network), so the pool is larger
// than pgxpool's default of one per CPU.
func defaultMaxConns() int32 {
	return int32(max(8, 4*runtime.GOMAXPROCS(0)))
}

// setsMaxConns reports whether the connection string sets pool_max_conns.
func setsMaxConns(url string) bool {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return false
	}
	_, ok := cfg.RuntimeParams["pool_max_conns"]
	return ok
}

// Close closes every connection, waiting for those in use to be released.
func (db *DB) Close() error {
	var err error
	if db.sqlDB != nil {
		err = db.sqlDB.Close()
	}
	db.pool.Close()
	if err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// migrationLockID is the key of the session-level advisory lock Migrate
// holds: "FaceVaul" in ASCII. Advisory locks are per database.
const migrationLockID int64 = 0x466163655661756c

// Migrate applies every pending migration, each in its own transaction. It
// holds an advisory lock throughout, so that processes migrating the same
// database at once take turns: the first applies the migrations, the others
// then find nothing to do. It returns an error wrapping a *SchemaError if
// the database's schema is newer than this binary knows.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer unlock()
	if _, err := db.migrations.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	current, err := db.version(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if current > db.target {
		return fmt.Errorf("postgres: migrate: %w", &SchemaError{Current: current, Want: db.target})
	}
	return nil
}

// lockMigrations waits (as long as ctx allows) for the migration lock and
// returns the function that releases it. The lock is held by a connection
// of its own, outside the pool: goose's work, which uses the pool, cannot
// starve for it, and closing it ends the session, which releases the lock
// whatever happened. (goose's own session locker would not do: goose checks
// for pending migrations, creating its version table, before it locks.)
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	closeConn := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLockID)
		conn.Close(ctx)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		closeConn()
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	return closeConn, nil
}

// Version returns the schema version applied to the database: the version
// of the latest migration, or 0 if there is no schema at all.
func (db *DB) Version(ctx context.Context) (int64, error) {
	v, err := db.version(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// version reads the version from goose's table without creating it (as
// goose's own GetDBVersion would).
func (db *DB) version(ctx context.Context) (int64, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int64
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// CheckSchema returns nil if the database's schema is at exactly the
// version this binary knows, and otherwise an error wrapping a *SchemaError
// that says what to do: migrate the database (no schema, or an older one),
// or upgrade the binary (a newer one). It changes nothing in the database.
func (db *DB) CheckSchema(ctx context.Context) error {
	current, err := db.version(ctx)
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	if current != db.target {
		return fmt.Errorf("postgres: check schema: %w", &SchemaError{Current: current, Want: db.target})
	}
	return nil
}

// SchemaError is a database schema at another version than the binary's.
// Its message says what to do about it.
type SchemaError struct {
	Current int64 // the database's version; 0 if it has no schema
	Want    int64 // the binary's
}

// Error says what is wrong and what to do: run 'facevault migrate', or
// upgrade the binary.
func (e *SchemaError) Error() string {
	switch {
	case e.Current == 0:
		return "the database has no FaceVault schema: run 'facevault migrate --db <url>' to create it"
	case e.Current < e.Want:
		return fmt.Sprintf("the database schema is at version %d, this binary needs %d: run 'facevault migrate --db <url>'",
			e.Current, e.Want)
	default:
		return fmt.Sprintf("the database schema is at version %d, newer than this binary's %d: this binary is older than the schema; upgrade it",
			e.Current, e.Want)
	}
}

// readOnly returns the options of the transactions lists run in: one
// snapshot for the count and the page.
func readOnly() pgx.TxOptions {
	return pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
}

// inTx runs fn in a transaction and commits it if fn returns nil. An error
// from fn rolls back and is returned as is; op names the operation in the
// errors of BEGIN and COMMIT.
func (db *DB) inTx(ctx context.Context, op string, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: %s: begin: %w", op, err)
	}
	// After a commit this does nothing. If ctx is done the rollback fails,
	// and the pool discards the connection, which ends the transaction.
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", op, err)
	}
	return nil
}

// pgCode returns the SQLSTATE of err if it is (or wraps) a PostgreSQL error,
// and "" otherwise.
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// SQLSTATE codes the store acts on.
const (
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
)

// storable reports whether s can be a PostgreSQL text value: valid UTF-8
// without NUL. A string that is not can match nothing stored, and passing it
// as a parameter would be an error.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// ms is t as stored: truncated to the millisecond, in UTC.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Millisecond).UTC()
}

// ceilMS is t rounded up to the millisecond, in UTC.
func ceilMS(t time.Time) time.Time {
	f := ms(t)
	if !f.Equal(t) {
		f = f.Add(time.Millisecond)
	}
	return f
}

// nullMS is t as stored in a nullable column: NULL for the zero time.
func nullMS(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ms(t)
	return &v
}

// fromNull is the time read from a nullable column: the zero time for NULL.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// query is a SELECT's WHERE clause in the making: conditions combined with
// AND, and their arguments, numbered $1, $2, ... in order.
type query struct {
	where []string
	args  []any
}

// scoped starts a query on the tenant data of s.
func scoped(s facevault.Scope) *query {
	q := &query{}
	q.and("account_id = " + q.arg(s.AccountID))
	q.and("mode = " + q.arg(string(s.Mode)))
	return q
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// and adds a condition.
func (q *query) and(cond string) { q.where = append(q.where, cond) }

// timeRange adds the strict bounds of r on created_at and updated_at. A
// stored millisecond m is after t when m > floor(t) and before t when
// m < ceil(t).
func (q *query) timeRange(r facevault.TimeRange) {
	if !r.CreatedAfter.IsZero() {
		q.and("created_at > " + q.arg(ms(r.CreatedAfter)))
	}
	if !r.CreatedBefore.IsZero() {
		q.and("created_at < " + q.arg(ceilMS(r.CreatedBefore)))
	}
	if !r.UpdatedAfter.IsZero() {
		q.and("updated_at > " + q.arg(ms(r.UpdatedAfter)))
	}
	if !r.UpdatedBefore.IsZero() {
		q.and("updated_at < " + q.arg(ceilMS(r.UpdatedBefore)))
	}
}

// after adds the condition that a row comes strictly after c in list order
// (created_at descending, then id descending), written so that the
// created_at bound is a range on the list indexes.
func (q *query) after(c facevault.Cursor) {
	at, id := q.arg(ms(c.CreatedAt)), q.arg(c.ID)
	q.and("created_at <= " + at + " AND (created_at < " + at + " OR id < " + id + ")")
}

// String is the WHERE clause, without the keyword.
func (q *query) String() string { return strings.Join(q.where, " AND ") }

// page returns the clause "LIMIT $n OFFSET $m" that follows q's conditions,
// and q's arguments followed by limit and offset.
func (q *query) page(limit, offset int) (string, []any) {
	n := len(q.args)
	clause := "LIMIT $" + strconv.Itoa(n+1) + " OFFSET $" + strconv.Itoa(n+2)
	return clause, append(q.args[:n:n], limit, offset)
}

// Ping reports whether the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}
