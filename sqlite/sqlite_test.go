package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/storetest"
)

// mustOpen opens the database at path and closes it when tb ends.
func mustOpen(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// tempPath is a database path in a directory that does not exist yet.
func tempPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "data", "facevault.db")
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) facevault.Store {
		return mustOpen(t, tempPath(t))
	})
}

// latestVersion is the version of the newest embedded migration.
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

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := latestVersion(t)
	if v, err := db.Version(ctx); err != nil || v != want {
		t.Fatalf("Version = %d, %v; want %d", v, err, want)
	}
	now := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	acct, err := db.EnsureAccount(ctx, "acme", now)
	if err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	s := facevault.Scope{AccountID: acct.ID, Mode: facevault.ModeLive}
	c := &facevault.Client{ID: facevault.NewID(now), Type: facevault.ClientCompany, Email: "a@example.com",
		CompanyDetails: &facevault.CompanyDetails{Name: "Acme"}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateClient(ctx, s, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	p := &facevault.LivePhoto{ID: facevault.NewID(now), ClientID: c.ID, ContentType: facevault.ContentTypePNG,
		Size: 40_000, Width: 10, Height: 10, SHA256: "00", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateLivePhoto(ctx, s, p); err != nil {
		t.Fatalf("CreateLivePhoto: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = mustOpen(t, path)
	if v, err := db.Version(ctx); err != nil || v != want {
		t.Errorf("Version after reopening = %d, %v; want %d", v, err, want)
	}
	again, err := db.EnsureAccount(ctx, "acme", now.Add(time.Hour))
	if err != nil || again.ID != acct.ID {
		t.Errorf("EnsureAccount after reopening = %+v, %v; want %+v", again, err, acct)
	}
	if got, err := db.Client(ctx, s, c.ID); err != nil || got.CompanyDetails == nil || got.CompanyDetails.Name != "Acme" {
		t.Errorf("Client after reopening = %+v, %v", got, err)
	}
	if got, err := db.LivePhoto(ctx, s, p.ID); err != nil || got.ContentType != facevault.ContentTypePNG || !got.CreatedAt.Equal(now) {
		t.Errorf("LivePhoto after reopening = %+v, %v", got, err)
	}
}

func TestNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	db := mustOpen(t, path)
	if _, err := db.write.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
		t.Fatalf("insert version: %v", err)
	}
	if _, err := Open(ctx, path); err == nil {
		t.Fatalf("Open of a database from a newer binary: err = nil, want an error")
	}
}

func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, tempPath(t))
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "busy_timeout", "5000"},
		{"read", "query_only", "1"},
	} {
		pool := db.write
		if tc.pool == "read" {
			pool = db.read
		}
		var got string
		if err := pool.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Errorf("%s: PRAGMA %s: %v", tc.pool, tc.pragma, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
}

// queryPlan returns the EXPLAIN QUERY PLAN of query, one line per step.
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	return b.String()
}

func TestLivePhotosQueryPlan(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	s := facevault.Scope{AccountID: facevault.NewID(time.Now()), Mode: facevault.ModeTest}
	now := time.Now()
	for _, tc := range []struct {
		name string
		o    facevault.ListOptions
	}{
		{"NoFilter", facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 100}}},
		{"Created", facevault.ListOptions{Page: facevault.Page{Page: 2, PageSize: 10},
			TimeRange: facevault.TimeRange{CreatedAfter: now.Add(-time.Hour), CreatedBefore: now}}},
		{"Updated", facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 10},
			TimeRange: facevault.TimeRange{UpdatedAfter: now.Add(-time.Hour)}}},
		{"After", facevault.ListOptions{Page: facevault.Page{Page: 3, PageSize: 1000}, Limit: 64,
			After: &facevault.Cursor{CreatedAt: now, ID: facevault.NewID(now)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := livePhotosWhere(s, facevault.NewID(now), tc.o)
			limit, offset := tc.o.Chunk()
			plan := queryPlan(t, db, livePhotosPage(q), append(q.args, limit, offset)...)
			// Without bounds on updatedAt the page's IDs come from the
			// index alone; with them, rows are read to check the bound.
			want := "USING COVERING INDEX live_photos_client (account_id=? AND mode=? AND client_id=?"
			if !tc.o.UpdatedAfter.IsZero() {
				want = "USING INDEX live_photos_client (account_id=? AND mode=? AND client_id=?"
			}
			if !strings.Contains(plan, want) {
				t.Errorf("the plan does not search live_photos_client by client (%s):\n%s", want, plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("the plan sorts:\n%s", plan)
			}
		})
	}
}

func TestClientsQueryPlan(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	s := facevault.Scope{AccountID: facevault.NewID(time.Now()), Mode: facevault.ModeTest}
	q, ok := clientsWhere(s, facevault.ClientFilter{})
	if !ok {
		t.Fatal("clientsWhere: no query")
	}
	plan := queryPlan(t, db, `SELECT `+clientColumns+` FROM clients WHERE `+q.String()+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(q.args, 100, 0)...)
	if !strings.Contains(plan, "USING INDEX clients_list (account_id=? AND mode=?)") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the plan of a client list does not scan clients_list in order:\n%s", plan)
	}
	q.after(facevault.Cursor{CreatedAt: time.Now(), ID: facevault.NewID(time.Now())})
	plan = queryPlan(t, db, `SELECT `+clientColumns+` FROM clients WHERE `+q.String()+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(q.args, 100, 0)...)
	if !strings.Contains(plan, "USING INDEX clients_list (account_id=? AND mode=? AND created_at<?)") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the plan of a continued client list does not range over clients_list:\n%s", plan)
	}
}

// TestDrainQueryPlan checks that the purge finds the photos of deleted
// clients through the deleted clients, never by scanning every photo.
func TestDrainQueryPlan(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	plan := queryPlan(t, db, `
		SELECT p.id FROM clients c
		JOIN live_photos p ON p.account_id = c.account_id AND p.mode = c.mode AND p.client_id = c.id
		WHERE c.deleted_at IS NOT NULL
		LIMIT ?`, 100)
	if !strings.Contains(plan, "USING INDEX clients_deleted") ||
		!strings.Contains(plan, "USING COVERING INDEX live_photos_client (account_id=? AND mode=? AND client_id=?)") {
		t.Errorf("the purge's plan does not go from deleted clients to their photos by index:\n%s", plan)
	}
}

// TestReadersDoNotBlock checks that reads go on while a write transaction is
// open, and read the last committed state.
func TestReadersDoNotBlock(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, tempPath(t))
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
	_, err = db.UpdateClient(ctx, s, c.ID, func(c *facevault.Client) error {
		// fn runs inside the write transaction, which holds the writer.
		got, err := db.Client(ctx, s, c.ID)
		if err != nil {
			return err
		}
		if got.Email != "a@example.com" {
			return fmt.Errorf("a reader saw %q, want the committed email", got.Email)
		}
		if _, _, err := db.Clients(ctx, s, facevault.ClientFilter{}); err != nil {
			return err
		}
		c.Email = "b@example.com"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient with reads inside: %v", err)
	}
	if got, err := db.Client(ctx, s, c.ID); err != nil || got.Email != "b@example.com" {
		t.Errorf("Client after UpdateClient = %+v, %v; want the new email", got, err)
	}
}

// TestConcurrent runs writers and readers at once: none may fail with
// SQLITE_BUSY or see a half-done transaction.
func TestConcurrent(t *testing.T) {
	ctx := t.Context()
	db := mustOpen(t, tempPath(t))
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
				p := &facevault.LivePhoto{ID: facevault.NewID(now), ClientID: c.ID, ContentType: facevault.ContentTypeJPEG,
					Size: 40_000, Width: 10, Height: 10, SHA256: "00", CreatedAt: now, UpdatedAt: now}
				if err := db.CreateLivePhoto(ctx, s, p); err != nil {
					errs <- err
					return
				}
				// Each worker reads its own writes.
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

func TestJSONPath(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"email"}, `$."email"`},
		{[]string{"personDetails", "firstName"}, `$."personDetails"."firstName"`},
		{[]string{"metadata", "a.b"}, `$."metadata"."a.b"`},
		{[]string{"metadata", "it's"}, `$."metadata"."it's"`},
		{[]string{"metadata", `a"b`}, ""},
		{[]string{"metadata", `a\b`}, ""},
		{[]string{"metadata", "a\tb"}, ""},
		{[]string{"metadata", "a\x7fb"}, ""},
	} {
		if got := jsonPath(tc.keys...); got != tc.want {
			t.Errorf("jsonPath(%q) = %q, want %q", tc.keys, got, tc.want)
		}
	}
}

// TestFileModes runs with umask 0: a new database, its -wal and -shm files
// are 0600 and its new directory 0700; files left 0644 are narrowed by the
// next Open.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := tempPath(t)
	mode := func(p string) fs.FileMode {
		t.Helper()
		info, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		return info.Mode().Perm()
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureAccount(t.Context(), "acme", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if got := mode(p); got != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", filepath.Base(p), got)
		}
	}
	if got := mode(filepath.Dir(path)); got != 0o700 {
		t.Errorf("new directory: mode %#o, want 0700", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = mustOpen(t, path)
	if _, err := db.EnsureAccount(t.Context(), "globex", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if got := mode(p); got != 0o600 {
			t.Errorf("%s left 0644: mode %#o after Open, want 0600", filepath.Base(p), got)
		}
	}
}

func TestFaceSearch(t *testing.T) {
	storetest.RunFaceSearch(t, func(t *testing.T) facevault.Store { return mustOpen(t, tempPath(t)) })
}
