package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/pgtest"
	"github.com/facevault/facevault/internal/storetest"
)

// mustOpen opens the database at url and closes it when tb ends.
func mustOpen(tb testing.TB, url string) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// migrated opens a fresh, migrated database, closed when tb ends.
func migrated(tb testing.TB) *DB {
	tb.Helper()
	db := mustOpen(tb, pgtest.URL(tb))
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

// adminConn is a connection to the server as FACEVAULT_TEST_POSTGRES's
// user, closed when tb ends.
func adminConn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), pgtest.AdminURL(tb))
	if err != nil {
		tb.Fatalf("connect as admin: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) facevault.Store {
		return migrated(t)
	})
}

// latestVersion is the version of the newest embedded migration, read from
// the file names.
func latestVersion(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(embedded, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var latest int64
	for _, name := range names {
		prefix, _, _ := strings.Cut(filepath.Base(name), "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		latest = max(latest, v)
	}
	return latest
}

// gooseRows counts the rows of goose's version table per version.
func gooseRows(t *testing.T, db *DB) map[int64]int {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT version_id, count(*) FROM goose_db_version GROUP BY version_id`)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	m := map[int64]int{}
	for rows.Next() {
		var v int64
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatalf("read goose_db_version: %v", err)
		}
		m[v] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	return m
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	want := latestVersion(t)
	db := mustOpen(t, pgtest.URL(t))
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}
	for i := range 3 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if v, err := db.Version(ctx); err != nil || v != want {
			t.Fatalf("Version after Migrate #%d = %d, %v; want %d", i+1, v, err, want)
		}
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema after Migrate: %v", err)
	}
	for v, n := range gooseRows(t, db) {
		if n != 1 {
			t.Errorf("goose_db_version has %d rows for version %d, want 1", n, v)
		}
	}
}

// TestMigrateConcurrently migrates one database from several pools at once,
// as several processes starting together would: the advisory lock makes
// them take turns, so every migration is applied once and none fails.
func TestMigrateConcurrently(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	const procs = 4
	dbs := make([]*DB, procs)
	for i := range dbs {
		dbs[i] = mustOpen(t, url)
	}
	for round := range 2 { // on an empty database, then on a migrated one
		start := make(chan struct{})
		errs := make([]error, procs)
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				errs[i] = db.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: Migrate in process %d: %v", round, i, err)
			}
		}
	}
	for i, db := range dbs {
		if err := db.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema in process %d: %v", i, err)
		}
	}
	rows := gooseRows(t, dbs[0])
	versions := []int64{0} // goose's own first row
	for _, src := range dbs[0].migrations.ListSources() {
		versions = append(versions, src.Version)
	}
	for _, v := range versions {
		if rows[v] != 1 {
			t.Errorf("goose_db_version has %d rows for version %d, want 1", rows[v], v)
		}
	}
	if len(rows) != len(versions) {
		t.Errorf("goose_db_version has rows for versions %v, want %v", rows, versions)
	}
	// No process is left holding the lock.
	var held int
	if err := dbs[0].pool.QueryRow(ctx, `
		SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
	).Scan(&held); err != nil {
		t.Fatalf("read pg_locks: %v", err)
	}
	if held != 0 {
		t.Errorf("%d advisory locks held after Migrate", held)
	}
}

func TestCheckSchema(t *testing.T) {
	ctx := t.Context()
	want := latestVersion(t)

	t.Run("Empty", func(t *testing.T) {
		db := mustOpen(t, pgtest.URL(t))
		err := db.CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), "run 'facevault migrate --db") {
			t.Fatalf("CheckSchema on an empty database = %v, want an error saying to run facevault migrate", err)
		}
		var se *SchemaError
		if !errors.As(err, &se) || se.Current != 0 || se.Want != want {
			t.Errorf("CheckSchema error = %#v, want a *SchemaError{0, %d}", err, want)
		}
		// Checking changed nothing: there is still no goose table.
		var exists bool
		if err := db.pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil || exists {
			t.Errorf("goose_db_version exists after CheckSchema: %v, %v", exists, err)
		}
	})

	t.Run("Migrated", func(t *testing.T) {
		db := migrated(t)
		if err := db.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema on a migrated database: %v", err)
		}
	})

	t.Run("Behind", func(t *testing.T) {
		db := migrated(t)
		// As if only the migrations before the newest had been applied.
		if _, err := db.pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = $1`, want); err != nil {
			t.Fatalf("delete version: %v", err)
		}
		err := db.CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), "run 'facevault migrate --db") {
			t.Errorf("CheckSchema on a database behind = %v, want an error saying to run facevault migrate", err)
		}
	})

	t.Run("Ahead", func(t *testing.T) {
		db := migrated(t)
		if _, err := db.pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, want+9999); err != nil {
			t.Fatalf("insert version: %v", err)
		}
		err := db.CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), "this binary is older than the schema; upgrade it") {
			t.Errorf("CheckSchema on a database ahead = %v, want an error saying to upgrade", err)
		}
		var se *SchemaError
		if !errors.As(err, &se) || se.Current != want+9999 || se.Want != want {
			t.Errorf("CheckSchema error = %#v, want a *SchemaError{%d, %d}", err, want+9999, want)
		}
		if err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "upgrade it") {
			t.Errorf("Migrate on a database ahead = %v, want an error saying to upgrade", err)
		}
		if v, err := db.Version(ctx); err != nil || v != want+9999 {
			t.Errorf("Version = %d, %v; want %d", v, err, want+9999)
		}
	})
}

func TestSchemaErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  SchemaError
		want string
	}{
		{SchemaError{0, 3}, "no FaceVault schema: run 'facevault migrate --db <url>'"},
		{SchemaError{2, 3}, "at version 2, this binary needs 3: run 'facevault migrate --db <url>'"},
		{SchemaError{4, 3}, "at version 4, newer than this binary's 3: this binary is older than the schema; upgrade it"},
	} {
		if got := tc.err.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q does not say %q", tc.err, got, tc.want)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)

	t.Run("DefaultPoolSize", func(t *testing.T) {
		db := mustOpen(t, url)
		if got, want := db.pool.Config().MaxConns, defaultMaxConns(); got != want {
			t.Errorf("MaxConns = %d, want %d", got, want)
		}
	})
	t.Run("PoolMaxConns", func(t *testing.T) {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		db := mustOpen(t, url+sep+"pool_max_conns=3")
		if got := db.pool.Config().MaxConns; got != 3 {
			t.Errorf("MaxConns = %d, want 3", got)
		}
	})
	t.Run("KeywordValue", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable pool_max_conns=5",
			cfg.Host, cfg.Port, cfg.User, cfg.Database)
		db := mustOpen(t, dsn)
		if got := db.pool.Config().MaxConns; got != 5 {
			t.Errorf("MaxConns = %d, want 5", got)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		db, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		if err == nil {
			db.Close()
			t.Fatal("Open of an unreachable server: err = nil")
		}
		if !strings.HasPrefix(err.Error(), "postgres: open: ") {
			t.Errorf("error %q does not say where it comes from", err)
		}
	})
	t.Run("BadURL", func(t *testing.T) {
		if db, err := Open(ctx, "postgres://user:secret@host:notaport/db"); err == nil {
			db.Close()
			t.Fatal("Open of a malformed URL: err = nil")
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the password", err)
		}
	})
	t.Run("NoMigration", func(t *testing.T) {
		db := mustOpen(t, pgtest.URL(t))
		if v, err := db.Version(ctx); err != nil || v != 0 {
			t.Errorf("Version after Open = %d, %v; want 0: Open must not migrate", v, err)
		}
	})
}

func TestPGTestRequiresServer(t *testing.T) {
	t.Setenv(pgtest.EnvVar, "")
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pgtest.URL(ft)
	}()
	<-done
	if !ft.failed || !strings.Contains(ft.msg, "FACEVAULT_TEST_POSTGRES is not set: run ./scripts/test, which starts PostgreSQL") {
		t.Errorf("pgtest.URL without the variable: failed %v with %q; want a failure naming the variable", ft.failed, ft.msg)
	}
	if ft.skipped {
		t.Errorf("pgtest.URL without the variable skipped the test; it must fail it")
	}
}

// fatalRecorder is a testing.TB whose Fatal and Skip record the call and
// end the goroutine, as the real ones do, without failing the test.
type fatalRecorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *fatalRecorder) SkipNow() { r.skipped = true; runtime.Goexit() }
func (r *fatalRecorder) FailNow() { r.failed = true; runtime.Goexit() }

// fixture makes an account, a scope and a client with one photo.
func fixture(t *testing.T, db *DB) (facevault.Scope, *facevault.Client, *facevault.LivePhoto) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	acct, err := db.EnsureAccount(ctx, "acme", now)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	s := facevault.Scope{AccountID: acct.ID, Mode: facevault.ModeTest}
	c := &facevault.Client{ID: facevault.NewID(now), Type: facevault.ClientCompany, Email: "a@example.com",
		CompanyDetails: &facevault.CompanyDetails{Name: "Acme"}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateClient(ctx, s, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	p := newPhoto(now, c.ID)
	if err := db.CreateLivePhoto(ctx, s, p); err != nil {
		t.Fatalf("CreateLivePhoto: %v", err)
	}
	return s, c, p
}

func newPhoto(now time.Time, clientID string) *facevault.LivePhoto {
	return &facevault.LivePhoto{ID: facevault.NewID(now), ClientID: clientID, ContentType: facevault.ContentTypeJPEG,
		Size: 40_000, Width: 10, Height: 10, SHA256: strings.Repeat("ab", 32), CreatedAt: now, UpdatedAt: now}
}

// waitForLockWait waits until a backend of db's database waits for a lock.
func waitForLockWait(t *testing.T, admin *pgx.Conn, dbName string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := admin.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
			dbName,
		).Scan(&n); err != nil {
			t.Errorf("read pg_stat_activity: %v", err)
			return
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("no backend waited for a lock")
}

func databaseName(t *testing.T, db *DB) string {
	t.Helper()
	return db.pool.Config().ConnConfig.Database
}

// TestDeleteClientRacesUpload runs an upload while a DeleteClient holds the
// client's row (its UPDATE, not yet committed): the upload waits for the
// delete, then fails with ErrNotFound and leaves nothing behind, and the
// photo committed before is drained with the client.
func TestDeleteClientRacesUpload(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	admin := adminConn(t)
	s, c, first := fixture(t, db)

	// DeleteClient's statements, in a transaction of the test's own that
	// stays open while the upload runs.
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE clients SET deleted_at = $1 WHERE account_id = $2 AND mode = $3 AND id = $4 AND deleted_at IS NULL`,
		ms(time.Now()), s.AccountID, string(s.Mode), c.ID); err != nil {
		t.Fatalf("mark deleted: %v", err)
	}
	late := newPhoto(time.Now(), c.ID)
	uploadErr := make(chan error, 1)
	go func() { uploadErr <- db.CreateLivePhoto(ctx, s, late) }()
	waitForLockWait(t, admin, databaseName(t, db))
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := <-uploadErr; !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("CreateLivePhoto racing DeleteClient: err = %v, want ErrNotFound", err)
	}
	keys, err := db.DrainDeletedClients(ctx, time.Now(), 10)
	if err != nil {
		t.Fatalf("DrainDeletedClients: %v", err)
	}
	if len(keys) != 1 || keys[0] != first.ID {
		t.Errorf("drained %q, want [%s]", keys, first.ID)
	}
	exists, err := db.ExistingLivePhotos(ctx, []string{first.ID, late.ID})
	if err != nil || len(exists) != 1 || !exists[first.ID] {
		t.Errorf("ExistingLivePhotos after the race = %v, %v; want only the queued %s", exists, err, first.ID)
	}
}

// TestUploadBeforeDeleteClient: an upload whose transaction holds the
// client's row (it counts itself there) makes DeleteClient wait; once it
// commits, the delete goes ahead and the purge drains that photo too.
func TestUploadBeforeDeleteClient(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	admin := adminConn(t)
	s, c, first := fixture(t, db)

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	late := newPhoto(time.Now(), c.ID)
	// CreateLivePhoto's statements, in a transaction of the test's own.
	if _, err := tx.Exec(ctx, `UPDATE clients SET photo_count = photo_count + 1 WHERE account_id = $1 AND mode = $2 AND id = $3 AND deleted_at IS NULL`,
		s.AccountID, string(s.Mode), c.ID); err != nil {
		t.Fatalf("count: %v", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO live_photos (id, account_id, mode, client_id, content_type, size, width, height, sha256,
			perform_liveness_check, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'images/jpg', 1, 1, 1, '', false, $5, $5)`,
		late.ID, s.AccountID, string(s.Mode), c.ID, ms(late.CreatedAt)); err != nil {
		t.Fatalf("insert: %v", err)
	}
	deleteErr := make(chan error, 1)
	go func() { deleteErr <- db.DeleteClient(ctx, s, c.ID, time.Now()) }()
	waitForLockWait(t, admin, databaseName(t, db))
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := <-deleteErr; err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	keys, err := db.DrainDeletedClients(ctx, time.Now(), 10)
	if err != nil {
		t.Fatalf("DrainDeletedClients: %v", err)
	}
	slices.Sort(keys)
	want := []string{first.ID, late.ID}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("drained %q, want %q", keys, want)
	}
}

// TestConcurrent runs writers and readers at once: none may fail or see a
// half-done transaction.
func TestConcurrent(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	now := time.Now()
	acct, err := db.EnsureAccount(ctx, "acme", now)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	s := facevault.Scope{AccountID: acct.ID, Mode: facevault.ModeTest}
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				c := &facevault.Client{ID: facevault.NewID(now), Type: facevault.ClientCompany, Email: "a@example.com",
					CompanyDetails: &facevault.CompanyDetails{Name: "Acme"}, CreatedAt: now, UpdatedAt: now}
				if err := db.CreateClient(ctx, s, c); err != nil {
					errs <- err
					return
				}
				if err := db.CreateLivePhoto(ctx, s, newPhoto(now, c.ID)); err != nil {
					errs <- err
					return
				}
				ps, n, err := db.LivePhotos(ctx, s, c.ID, facevault.ListOptions{})
				if err != nil || n != 1 || len(ps) != 1 {
					errs <- fmt.Errorf("LivePhotos = %d items, total %d, %v; want 1", len(ps), n, err)
					return
				}
				if err := db.DeleteClient(ctx, s, c.ID, now); err != nil {
					errs <- err
					return
				}
				if _, _, err := db.Clients(ctx, s, facevault.ClientFilter{}); err != nil {
					errs <- err
					return
				}
				if _, err := db.AcquireLease(ctx, "sweep", c.ID, now, time.Minute); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if cs, n, err := db.Clients(ctx, s, facevault.ClientFilter{}); err != nil || n != 0 || len(cs) != 0 {
		t.Errorf("Clients at the end = %d items, total %d, %v; want none", len(cs), n, err)
	}
}

// TestEnsureAccountConcurrently: processes ensuring one account at once
// all get the same one.
func TestEnsureAccountConcurrently(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := db.EnsureAccount(ctx, "race", time.Now())
			errs[i] = err
			if err == nil {
				ids[i] = a.ID
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("EnsureAccount #%d = %s, %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
}

// TestNUL: PostgreSQL cannot store a NUL character. A client holding one is
// refused as invalid; a filter or ID holding one matches nothing.
func TestNUL(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	s, c, p := fixture(t, db)

	bad := &facevault.Client{ID: facevault.NewID(time.Now()), Type: facevault.ClientPerson, Email: "b@example.com",
		PersonDetails: &facevault.PersonDetails{FirstName: "A\x00da", LastName: "L"}}
	if err := db.CreateClient(ctx, s, bad); facevault.ErrorCode(err) != facevault.EInvalid {
		t.Errorf("CreateClient with a NUL: err = %v, want an invalid_request error", err)
	}
	bad.PersonDetails.FirstName = "Ada"
	bad.Metadata = map[string]string{"k": "v\x00"}
	if err := db.CreateClient(ctx, s, bad); facevault.ErrorCode(err) != facevault.EInvalid {
		t.Errorf("CreateClient with a NUL in metadata: err = %v, want an invalid_request error", err)
	}
	if _, err := db.UpdateClient(ctx, s, c.ID, func(c *facevault.Client) error {
		c.Email = "x\x00@example.com"
		return nil
	}); facevault.ErrorCode(err) != facevault.EInvalid {
		t.Errorf("UpdateClient to a NUL: err = %v, want an invalid_request error", err)
	}

	for _, fields := range []map[string]string{
		{"email": "a@example.com\x00"},
		{"metadata.k\x00": "v"},
		{"metadata.k": "v\x00"},
		{"companyDetails.name": "Acme\x00"},
		{"companyDetails.name": "\xff"},
	} {
		cs, n, err := db.Clients(ctx, s, facevault.ClientFilter{Fields: fields})
		if err != nil || len(cs) != 0 || n != 0 {
			t.Errorf("Clients(%q) = %d items, total %d, %v; want none", fields, len(cs), n, err)
		}
	}
	for _, id := range []string{c.ID + "\x00", "\xff"} {
		if _, err := db.Client(ctx, s, id); !errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("Client(%q): err = %v, want ErrNotFound", id, err)
		}
		if _, err := db.LivePhoto(ctx, s, id); !errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("LivePhoto(%q): err = %v, want ErrNotFound", id, err)
		}
		if err := db.CreateLivePhoto(ctx, s, newPhoto(time.Now(), id)); !errors.Is(err, facevault.ErrNotFound) {
			t.Errorf("CreateLivePhoto(client %q): err = %v, want ErrNotFound", id, err)
		}
	}
	exists, err := db.ExistingLivePhotos(ctx, []string{p.ID, p.ID + "\x00", "\xff"})
	if err != nil || len(exists) != 1 || !exists[p.ID] {
		t.Errorf("ExistingLivePhotos = %v, %v; want only %s", exists, err, p.ID)
	}
}

// terminate ends every backend connected to db's database, as an operator
// or a failover would, and returns how many there were.
func terminate(t *testing.T, admin *pgx.Conn, db *DB) int {
	t.Helper()
	var n int
	if err := admin.QueryRow(t.Context(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`,
		databaseName(t, db),
	).Scan(&n); err != nil {
		t.Fatalf("pg_terminate_backend: %v", err)
	}
	return n
}

// TestTerminatedConnections kills the pool's connections under it: calls in
// flight or just after fail (or are retried by the pool's ping), nothing
// half-done is committed, and the pool recovers by itself.
func TestTerminatedConnections(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	admin := adminConn(t)
	s, c, p := fixture(t, db)

	// recovered makes calls until one succeeds, allowing one failure per
	// connection the pool can hold, then wants the next ones to succeed.
	recovered := func(t *testing.T) {
		t.Helper()
		failures := 0
		for {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, _, err := db.LivePhotos(ctx, s, c.ID, facevault.ListOptions{})
			cancel()
			if err == nil {
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a call hung after the connections were terminated")
			}
			failures++
			if failures > int(db.pool.Config().MaxConns) {
				t.Fatalf("the pool has not recovered after %d failed calls; last error: %v", failures, err)
			}
		}
		for i := range 20 {
			if _, err := db.Client(ctx, s, c.ID); err != nil {
				t.Fatalf("call %d after recovery: %v", i, err)
			}
		}
		t.Logf("recovered after %d failed calls", failures)
	}

	t.Run("Idle", func(t *testing.T) {
		// Fill the pool with several connections, then kill them all.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				_ = db.inTx(ctx, "hold", readOnly(), func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, `SELECT pg_sleep(0.05)`)
					return err
				})
			})
		}
		wg.Wait()
		if n := terminate(t, admin, db); n == 0 {
			t.Fatalf("no backend to terminate")
		}
		recovered(t)
	})

	t.Run("MidTransaction", func(t *testing.T) {
		_, err := db.UpdateClient(ctx, s, c.ID, func(cl *facevault.Client) error {
			terminate(t, admin, db)
			cl.Email = "lost@example.com"
			return nil
		})
		if err == nil {
			t.Fatalf("UpdateClient whose connection died before COMMIT: err = nil")
		}
		recovered(t)
		// Nothing was changed.
		if got, err := db.Client(ctx, s, c.ID); err != nil || got.Email == "lost@example.com" {
			t.Errorf("Client after the failed update = %+v, %v; want it unchanged", got, err)
		}
		if _, err := db.LivePhoto(ctx, s, p.ID); err != nil {
			t.Errorf("LivePhoto after the failed delete: %v", err)
		}
	})

	t.Run("MidQuery", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			errc <- db.inTx(ctx, "sleep", readOnly(), func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
				return err
			})
		}()
		// Wait for the query to be running, then kill it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep(30)%'`,
				databaseName(t, db)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the query did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
		terminate(t, admin, db)
		select {
		case err := <-errc:
			if err == nil {
				t.Errorf("a query whose backend was terminated: err = nil")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("a query whose backend was terminated hangs")
		}
		recovered(t)
	})
}

func TestFaceSearch(t *testing.T) {
	storetest.RunFaceSearch(t, func(t *testing.T) facevault.Store { return migrated(t) })
}

func TestFacePages(t *testing.T) {
	storetest.RunFacePages(t, func(t *testing.T) facevault.Store { return migrated(t) })
}
