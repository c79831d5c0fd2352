// Package sqlite implements facevault.Store on a SQLite database file, using
// the pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a power loss, and with foreign keys enforced. It is
// used through two connection pools: a single connection for writes, whose
// transactions start with BEGIN IMMEDIATE so that they never fail to upgrade
// a read lock, and a pool of read-only connections, which WAL lets read while
// the writer writes. The schema lives in versioned goose migrations embedded
// in the binary and applied by Open.
//
// Timestamps are stored as INTEGER Unix milliseconds and read back in UTC:
// the service works at millisecond precision.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/facevault/facevault"
)

//go:embed migrations/*.sql
var embedded embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// connection (or process) before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// DB is a facevault.Store on one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	write      *sql.DB                                     // one connection: the only writer
	read       *sql.DB                                     // read-only connections
	observe    func(op string, d time.Duration, err error) // see SetObserver
	migrations *goose.Provider
}

var _ facevault.Store = (*DB)(nil)

// Open opens the database file at path, creating it and its parent directory
// if they do not exist, and applies any pending migrations.
//
// The database holds personal data: a new file is created 0600 (and a new
// directory 0700) before the driver opens it, since SQLite gives the -wal
// and -shm files it creates the mode of the database file; an existing
// database, -wal, -shm or -journal file readable or writable by group or
// others is narrowed to its owner (0644 becomes 0600).
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := ownerOnly(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	db := &DB{}
	if db.write, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL
	// before any reader opens it.
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	if db.read, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)

	migrations, err := fs.Sub(embedded, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.migrations, err = goose.NewProvider(goose.DialectSQLite3, db.write, migrations,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ownerOnly creates the database file at path (0600) if it does not exist,
// and takes group and other permissions away from it and from its -wal,
// -shm and -journal files.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		err = f.Close()
	} else if errors.Is(err, fs.ErrExist) {
		err = nil
	}
	if err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		info, err := os.Stat(path + suffix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 && info.Mode().IsRegular() {
			if err := os.Chmod(path+suffix, perm&^0o077); err != nil {
				return err
			}
		}
	}
	return nil
}

// dsn is the driver's data source name for the file at path (absolute). The
// writer's transactions begin with BEGIN IMMEDIATE; readers are query-only.
// journal_mode is a property of the file, set by the writer.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Migrate applies every pending migration, each in its own transaction. It
// refuses a database whose schema is newer than this binary knows.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.migrations.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	current, target, err := db.migrations.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if current > target {
		return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this binary's %d", current, target)
	}
	return nil
}

// Version returns the schema version applied to the database: the version
// of the latest migration.
func (db *DB) Version(ctx context.Context) (int64, error) {
	v, err := db.migrations.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// inWrite runs fn in a write transaction and commits it if fn returns nil.
// An error from fn is returned as is; op names the operation in the errors
// of BEGIN and COMMIT. fn must not use db itself: the writer has one
// connection, which fn's transaction holds.
func (db *DB) inWrite(ctx context.Context, op string, fn func(tx *sql.Tx) error) (err error) {
	if db.observe != nil {
		defer func(start time.Time) { db.observe(op, time.Since(start), err) }(time.Now())
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	return nil
}

// inRead runs fn in a read transaction, so that everything fn reads comes
// from one snapshot of the database.
func (db *DB) inRead(ctx context.Context, op string, fn func(tx *sql.Tx) error) (err error) {
	if db.observe != nil {
		defer func(start time.Time) { db.observe(op, time.Since(start), err) }(time.Now())
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	return nil
}

// isForeignKeyError reports whether err is SQLite's foreign key constraint
// failure.
func isForeignKeyError(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// rowQueryer is a *sql.DB or *sql.Tx.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// ms is t as stored: Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// ceilMS is t in Unix milliseconds, rounded up.
func ceilMS(t time.Time) int64 {
	v := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}

// fromMS is the time stored as v.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS is t as stored in a nullable column: NULL for the zero time.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

// fromNullMS is the time stored as v: the zero time for NULL.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// truncMS is t as it reads back from the database.
func truncMS(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fromMS(ms(t))
}

// query is a SELECT's WHERE clause in the making: conditions combined with
// AND, and their arguments.
type query struct {
	where []string
	args  []any
}

// scoped starts a query on the tenant data of s.
func scoped(s facevault.Scope) *query {
	return &query{
		where: []string{"account_id = ?", "mode = ?"},
		args:  []any{s.AccountID, string(s.Mode)},
	}
}

// and adds a condition.
func (q *query) and(cond string, args ...any) {
	q.where = append(q.where, cond)
	q.args = append(q.args, args...)
}

// timeRange adds the strict bounds of r on created_at and updated_at. A
// stored millisecond m is after t when m > floor(t) and before t when
// m < ceil(t).
func (q *query) timeRange(r facevault.TimeRange) {
	if !r.CreatedAfter.IsZero() {
		q.and("created_at > ?", ms(r.CreatedAfter))
	}
	if !r.CreatedBefore.IsZero() {
		q.and("created_at < ?", ceilMS(r.CreatedBefore))
	}
	if !r.UpdatedAfter.IsZero() {
		q.and("updated_at > ?", ms(r.UpdatedAfter))
	}
	if !r.UpdatedBefore.IsZero() {
		q.and("updated_at < ?", ceilMS(r.UpdatedBefore))
	}
}

// after adds the condition that a row comes strictly after c in list order
// (created_at descending, then id descending). It is written so that the
// created_at bound is a range on the list indexes.
func (q *query) after(c facevault.Cursor) {
	q.and("created_at <= ? AND (created_at < ? OR id < ?)", ms(c.CreatedAt), ms(c.CreatedAt), c.ID)
}

// String is the WHERE clause, without the keyword.
func (q *query) String() string { return strings.Join(q.where, " AND ") }

// Ping reports whether the database answers a query, on a read connection
// (a long write does not make it look down).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// SetObserver makes the store tell observe of every transaction it runs:
// its operation's name (a fixed string, such as "claim check"), how long
// it took, and its error. Call it before the store is used.
func (db *DB) SetObserver(observe func(op string, d time.Duration, err error)) { db.observe = observe }
