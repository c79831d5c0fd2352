package main

// End-to-end tests of the store identity, the bounded sweep and the
// quarantine on the embedded default (SQLite and image files): an
// operator's mistake in --db or --data never loses an image.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
)

// serveRefused runs serve with args, which must refuse to start, and
// returns its error.
func serveRefused(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stdout, stderr lockedBuffer
	cmd := &ServeCommand{Stdout: &stdout, Stderr: &stderr, OnListen: func(string) { cancel() }}
	err := cmd.Run(ctx, append(args, "--addr", "127.0.0.1:0"))
	if err == nil {
		t.Fatalf("serve %q started, want it refused", args)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("refused serve printed %q, want nothing", out)
	}
	return err
}

// assertPairError checks that err is a *facevault.PairError whose message
// contains every want, with exit code 1.
func assertPairError(t *testing.T, what string, err error, want ...string) *facevault.PairError {
	t.Helper()
	var pe *facevault.PairError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: got %v, want a *facevault.PairError", what, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: message %q does not contain %q", what, err, w)
		}
	}
	if got := exitCode(err); got != 1 {
		t.Errorf("%s: exit code %d, want 1", what, got)
	}
	return pe
}

// dataStore is a data directory served once, with photos uploaded.
type dataStore struct {
	dir    string
	key    string
	photos map[string][]byte // id -> bytes
}

func newDataStore(t *testing.T, photos int) *dataStore {
	t.Helper()
	d := &dataStore{dir: t.TempDir(), photos: map[string][]byte{}}
	s := startServe(t, serveArgs(d.dir)...)
	d.key = s.bootstrapKeys(t).test
	client := s.createClient(t, d.key)
	for i := range photos {
		img := testimage.JPEG(256, 256, uint64(100+i))
		d.photos[s.uploadPhoto(t, d.key, client, img)] = img
	}
	s.stop(t)
	return d
}

func (d *dataStore) blobsURL() string { return "file://" + filepath.Join(d.dir, "blobs") }
func (d *dataStore) dbURL() string    { return "sqlite://" + filepath.Join(d.dir, "facevault.db") }

// storeID reads the image directory's marker.
func (d *dataStore) storeID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "blobs", "store-id"))
	if err != nil {
		t.Fatalf("read the store marker: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// photoFiles are the paths of the photos' bytes.
func (d *dataStore) photoFiles() []string {
	var paths []string
	for id := range d.photos {
		paths = append(paths, blobFile(d.dir, id))
	}
	return paths
}

// assertIntact checks every photo's bytes are where they were written.
func (d *dataStore) assertIntact(t *testing.T) {
	t.Helper()
	for id, img := range d.photos {
		assertSealedFile(t, d.dir, id, img)
	}
}

// assertServes starts serve on the data directory and downloads every
// photo.
func (d *dataStore) assertServes(t *testing.T) {
	t.Helper()
	s := startServe(t, serveArgs(d.dir)...)
	for id, img := range d.photos {
		if got := s.download(t, d.key, id); !bytes.Equal(got, img) {
			t.Errorf("download %s: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	s.stop(t)
}

// dbStoreID reads the database's store id directly.
func dbStoreID(t *testing.T, dir string) string {
	t.Helper()
	db, err := openDB(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.StoreID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMistypedDatabase points serve, sweep and quarantine at a database
// that does not exist, next to an image directory in use: by --db, and by
// a wrong --data with the right --blobs. Each refuses, naming both, removes
// nothing and creates no database file (nor its directory). It holds for an
// image directory from before store ids (no marker) too.
func TestMistypedDatabase(t *testing.T) {
	clearEnv(t)
	d := newDataStore(t, 3)
	typo := filepath.Join(t.TempDir(), "typo")
	cases := []struct {
		name  string
		flags []string
	}{
		{"--db", []string{"--data", d.dir, "--db", "sqlite://" + typo + "/facevault.db"}},
		{"--data", []string{"--data", typo, "--blobs", d.blobsURL()}},
	}
	commands := [][]string{{"sweep"}, {"sweep", "--force"}, {"quarantine", "list"}, {"quarantine", "restore", "--all"}}
	check := func(t *testing.T, wantID string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := serveRefused(t, tc.flags...)
				pe := assertPairError(t, "serve", err, typo+"/facevault.db", d.blobsURL(), "does not exist", "check --db")
				if !pe.NoDatabase || pe.ImagesID != wantID {
					t.Errorf("serve: got %+v, want NoDatabase and the image store's id %q", pe, wantID)
				}
				for _, cmd := range commands {
					stdout, _, err := runCLI(t, append(cmd, tc.flags...)...)
					assertPairError(t, strings.Join(cmd, " "), err, typo+"/facevault.db", d.blobsURL())
					if stdout != "" {
						t.Errorf("refused %s printed %q", cmd, stdout)
					}
				}
				if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the refusals created %s: stat got %v, want ErrNotExist", typo, err)
				}
				d.assertIntact(t)
			})
		}
	}
	t.Run("marked", func(t *testing.T) { check(t, d.storeID(t)) })
	// As an image directory from before store ids: no marker, images.
	if err := os.Remove(filepath.Join(d.dir, "blobs", "store-id")); err != nil {
		t.Fatal(err)
	}
	t.Run("unmarked", func(t *testing.T) { check(t, "") })

	// With the right flags all is well, and the marker is back.
	d.assertServes(t)
	if got, want := d.storeID(t), dbStoreID(t, d.dir); got != want {
		t.Errorf("marker %q after serving, want the database's id %q", got, want)
	}
}

// TestSwappedDataDirectories runs commands on data directory A's database
// with data directory B's images: refused, naming both store ids, even with
// --force; nothing removed on either side.
func TestSwappedDataDirectories(t *testing.T) {
	clearEnv(t)
	a, b := newDataStore(t, 1), newDataStore(t, 2)
	idA, idB := a.storeID(t), b.storeID(t)
	if idA == idB || idA != dbStoreID(t, a.dir) {
		t.Fatalf("store ids: A %q (database %q), B %q: want A's marker and database to agree, and B to differ", idA, dbStoreID(t, a.dir), idB)
	}
	flags := []string{"--data", t.TempDir(), "--db", a.dbURL(), "--blobs", b.blobsURL()}
	want := []string{a.dbURL(), b.blobsURL(), idA, idB, "two different stores"}
	pe := assertPairError(t, "serve", serveRefused(t, flags...), want...)
	if pe.Forcible {
		t.Errorf("two different ids are forcible: %+v", pe)
	}
	for _, cmd := range [][]string{{"sweep"}, {"sweep", "--force"}, {"quarantine", "list"}, {"quarantine", "restore", "--all"}} {
		_, _, err := runCLI(t, append(cmd, flags...)...)
		assertPairError(t, strings.Join(cmd, " "), err, want...)
	}
	// The other way round too.
	swapped := []string{"--data", t.TempDir(), "--db", b.dbURL(), "--blobs", a.blobsURL()}
	assertPairError(t, "serve B's database with A's images", serveRefused(t, swapped...), idA, idB)
	a.assertIntact(t)
	b.assertIntact(t)
	a.assertServes(t)
	b.assertServes(t)
}

// downgrade makes a data directory look as a version before store ids left
// it: no marker, and the database at schema version 1.
func downgrade(t *testing.T, dir string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "blobs", "store-id")); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range downTo(t, "sqlite", 1) {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	forgetKeyStoreID(t, "sqlite", filepath.Join(dir+"-keys", "keys.db"))
}

// forgetKeyStoreID takes a key store back to before store ids: the photos
// the tests take back in time were sealed, so the key store stays, but it
// no longer says which store it belongs to.
func forgetKeyStoreID(t *testing.T, driver, dsn string) {
	t.Helper()
	if driver == "postgres" {
		pgExec(t, dsn, `DELETE FROM keyring_identity`)
		return
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `DELETE FROM keyring_identity`); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeWithoutMarkers starts serve on a data directory from before
// store ids, with photos and an orphan: it starts without intervention,
// binds the two, keeps every photo, and sweeps the orphan as before.
func TestUpgradeWithoutMarkers(t *testing.T) {
	clearEnv(t)
	d := newDataStore(t, 2)
	downgrade(t, d.dir)
	orphan := plantOrphan(t, d.dir)
	s := startServe(t, serveArgs(d.dir)...)
	for id, img := range d.photos {
		if got := s.download(t, d.key, id); !bytes.Equal(got, img) {
			t.Errorf("download %s after the upgrade: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	s.stop(t)
	assertGone(t, orphan, "the orphan")
	id := dbStoreID(t, d.dir)
	if !facevault.ValidStoreID(id) || d.storeID(t) != id {
		t.Errorf("after the upgrade the database holds store id %q and the marker %q: want one valid id", id, d.storeID(t))
	}
}

// TestSweepBoundAndQuarantine: a sweep that would remove more than the
// bound refuses, saying why and how to override, and serve still starts;
// --force moves the orphans to quarantine; quarantine list and restore undo
// it, never overwriting; an expired quarantine is purged.
func TestSweepBoundAndQuarantine(t *testing.T) {
	clearEnv(t)
	d := newDataStore(t, 1)
	var orphans []string // paths
	for range 3 {
		orphans = append(orphans, plantOrphan(t, d.dir))
	}
	keyOf := func(path string) string { return filepath.Base(path) }

	// 3 orphans of 4 images: over max(0, min(16, 2)).
	stdout, _, err := runCLI(t, "sweep", "--data", d.dir)
	if err == nil {
		t.Fatalf("sweep of 3 orphans among 4 images succeeded, want it refused")
	}
	for _, w := range []string{"sweep refused", "3 of the 4 images", "sweep --force", "quarantine restore", d.blobsURL(), d.dbURL()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q does not contain %q", err, w)
		}
	}
	if exitCode(err) != 1 || stdout != "" {
		t.Errorf("refused sweep: exit code %d, printed %q; want 1 and nothing", exitCode(err), stdout)
	}
	for _, o := range orphans {
		assertFileBytes(t, o, []byte("orphaned image bytes"))
	}

	// serve's start-up sweep is refused the same way, and serve starts.
	s := startServe(t, serveArgs(d.dir)...)
	if got := s.download(t, d.key, slices.Collect(mapsKeys(d.photos))[0]); len(got) == 0 {
		t.Errorf("serve with a refused start-up sweep does not serve")
	}
	s.stop(t)
	if log := s.stderr.String(); !strings.Contains(log, "sweep refused") || !strings.Contains(log, "sweep --force") {
		t.Errorf("serve's log does not report the refused sweep and its override:\n%s", log)
	}
	for _, o := range orphans {
		assertFileBytes(t, o, []byte("orphaned image bytes"))
	}

	// Forced, they go to quarantine.
	if out := mustRun(t, "sweep", "--data", d.dir, "--force"); out != sweptOut(3) {
		t.Errorf("sweep --force printed %q, want %q", out, sweptOut(3))
	}
	for _, o := range orphans {
		assertGone(t, o, "quarantined orphan")
	}
	d.assertIntact(t)
	rows := quarantineList(t, "--data", d.dir)
	if len(rows) != 3 {
		t.Fatalf("quarantine list: %d rows, want 3: %q", len(rows), rows)
	}
	for _, o := range orphans {
		if r, ok := rows[keyOf(o)]; !ok || r[0] != "20" {
			t.Errorf("quarantine list row of %s = %q, want size 20", keyOf(o), r)
		}
	}

	// Restore one; again is refused; one whose key is taken stays.
	out, stderr, err := runCLI(t, "quarantine", "restore", "--data", d.dir, keyOf(orphans[0]))
	if err != nil || out != "Restored "+keyOf(orphans[0])+".\nRestored 1 images.\n" {
		t.Errorf("quarantine restore: %q, %v", out, err)
	}
	if !strings.Contains(stderr, "1 of the restored images have no record") {
		t.Errorf("quarantine restore of an orphan does not warn that it has no record: %q", stderr)
	}
	assertFileBytes(t, orphans[0], []byte("orphaned image bytes"))
	if _, _, err := runCLI(t, "quarantine", "restore", "--data", d.dir, keyOf(orphans[0])); err == nil || exitCode(err) != 1 {
		t.Errorf("restoring what is not in quarantine: %v, want exit code 1", err)
	}
	if err := os.WriteFile(orphans[1], []byte("a newer image"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runCLI(t, "quarantine", "restore", "--data", d.dir, "--all")
	if err == nil || exitCode(err) != 1 || !strings.Contains(stderr, keyOf(orphans[1])+": not restored: an image with this key is in the image store") {
		t.Errorf("restore --all over an image: %v, stderr %q; want exit code 1 naming %s", err, stderr, keyOf(orphans[1]))
	}
	assertFileBytes(t, orphans[1], []byte("a newer image"))
	assertFileBytes(t, orphans[2], []byte("orphaned image bytes"))
	if rows := quarantineList(t, "--data", d.dir); len(rows) != 1 || rows[keyOf(orphans[1])] == nil {
		t.Errorf("quarantine after restore --all: %q, want only %s", rows, keyOf(orphans[1]))
	}

	// Expiry: a quarantine older than --quarantine-for is purged.
	time.Sleep(20 * time.Millisecond)
	out = mustRun(t, "sweep", "--data", d.dir, "--force", "--quarantine-for", "10ms")
	if !strings.HasPrefix(out, "Destroyed 1 images quarantined more than 10ms ago.\n") {
		t.Errorf("sweep --quarantine-for 10ms printed %q, want it to purge the 1 expired image first", out)
	}
	if rows := quarantineList(t, "--data", d.dir); len(rows) != 3 {
		t.Errorf("quarantine after the sweep: %q, want the 3 orphans it moved", rows)
	}
	time.Sleep(20 * time.Millisecond)
	if out := mustRun(t, "sweep", "--data", d.dir, "--quarantine-for", "0"); out != "Destroyed 3 images quarantined more than 0s ago.\nRemoved 0 orphan images.\n" {
		t.Errorf("sweep --quarantine-for 0 printed %q", out)
	}
	if rows := quarantineList(t, "--data", d.dir); len(rows) != 0 {
		t.Errorf("quarantine after purging: %q, want nothing", rows)
	}
	d.assertIntact(t)
	d.assertServes(t)
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// quarantineList runs quarantine list and returns its rows by key: size and
// time.
func quarantineList(t *testing.T, args ...string) map[string][]string {
	t.Helper()
	out := mustRun(t, append([]string{"quarantine", "list"}, args...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "KEY SIZE QUARANTINED" {
		t.Fatalf("quarantine list header %q, want KEY SIZE QUARANTINED", lines[0])
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 3 || !facevault.ValidID(f[0]) {
			t.Fatalf("quarantine list line %q, want KEY SIZE TIME", l)
		}
		if _, err := time.Parse(time.RFC3339, f[2]); err != nil {
			t.Errorf("quarantine list line %q: time: %v", l, err)
		}
		rows[f[0]] = f[1:]
	}
	return rows
}

func TestQuarantineUsage(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	key := facevault.NewID(time.Now())
	for _, args := range [][]string{
		{"quarantine"},
		{"quarantine", "empty"},
		{"quarantine", "restore", "--data", dir},
		{"quarantine", "restore", "--data", dir, "--all", key},
		{"quarantine", "restore", "--data", dir, "not-a-key"},
		{"quarantine", "list", "--data", dir, "extra"},
		{"sweep", "--data", dir, "--quarantine-for", "-1s"},
		{"serve", "--data", dir, "--quarantine-for", "-1s"},
	} {
		_, _, err := runCLI(t, args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("facevault %q: got %v, want a usage error (exit code 2)", args, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors touched the data directory")
	}
}

// TestServePurgesQuarantine: serve's periodic sweep moves an orphan to
// quarantine, and purges it once --quarantine-for has passed.
func TestServePurgesQuarantine(t *testing.T) {
	clearEnv(t)
	d := newDataStore(t, 2)
	s := startServe(t, append(serveArgs(d.dir), "--sweep-interval", "10ms", "--quarantine-for", "300ms")...)
	orphan := plantOrphan(t, d.dir)
	// The periodic sweep considers images older than its grace period only:
	// the photos too, so that one orphan is within the bound.
	old := time.Now().Add(-sweepGrace - time.Minute)
	for _, p := range append([]string{orphan}, d.photoFiles()...) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	quarantined := filepath.Join(d.dir, "blobs", "quarantine", filepath.Base(orphan))
	waitFor(t, "the orphan to go to quarantine", func() bool {
		_, err := os.Stat(quarantined)
		return err == nil
	})
	assertGone(t, orphan, "the orphan")
	waitFor(t, "the quarantined orphan to be purged", func() bool {
		_, err := os.Stat(quarantined)
		return errors.Is(err, fs.ErrNotExist)
	})
	s.stop(t)
	if log := s.stderr.String(); !strings.Contains(log, "sweep destroyed images whose quarantine was over") {
		t.Errorf("serve's log does not report the purge:\n%s", log)
	}
	d.assertIntact(t)
}

// TestFileModes runs with umask 0: whatever existed before, the data
// directory ends up 0700, its database files 0600, and the image
// directory's directories 0700 and files 0600.
func TestFileModes(t *testing.T) {
	clearEnv(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	// An operator made the data directory, as mkdir does.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, when string) {
		t.Helper()
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("%s: %s has mode %#o, want %#o", when, path, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	photo := s.uploadPhoto(t, key, s.createClient(t, key), testimage.JPEG(256, 256, 1))
	for _, f := range []string{"facevault.db", "facevault.db-wal", "facevault.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s while serve runs: %v", f, err)
		}
	}
	check(t, "a new data directory")
	s.stop(t)

	// Everything widened, as an older version or an operator left it.
	for _, p := range []string{dir, filepath.Join(dir, "blobs"), filepath.Dir(blobFile(dir, photo)), filepath.Join(dir, "blobs", "tmp")} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	widen := []string{filepath.Join(dir, "facevault.db"), blobFile(dir, photo), filepath.Join(dir, "blobs", "store-id"), filepath.Join(dir, "blobs", "LOCK")}
	for _, suffix := range []string{"-wal", "-shm"} {
		p := filepath.Join(dir, "facevault.db"+suffix)
		if err := os.WriteFile(p, nil, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatal(err)
		}
		widen = append(widen, p)
	}
	for _, p := range widen {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A command that opens the database alone narrows the database files
	// and the data directory.
	keysList(t, "--data", dir)
	for _, p := range []string{dir, filepath.Join(dir, "facevault.db")} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm()&0o077 != 0 {
			t.Errorf("after keys list, %s: %v, %v; want no group or other permissions", p, info.Mode().Perm(), err)
		}
	}
	s = startServe(t, serveArgs(dir)...)
	check(t, "a data directory left 0755/0644")
	s.stop(t)
}

// TestSweepDuringUploads runs serve's periodic sweep every millisecond
// while photos are uploaded: none of them is ever set aside, since the
// sweep leaves images younger than its grace period and looks every
// orphan's record up again just before moving it.
func TestSweepDuringUploads(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, append(serveArgs(dir), "--sweep-interval", "1ms")...)
	key := s.bootstrapKeys(t).test
	client := s.createClient(t, key)
	photos := map[string][]byte{}
	for i := range 20 {
		img := testimage.JPEG(256, 256, uint64(300+i))
		photos[s.uploadPhoto(t, key, client, img)] = img
	}
	for id, img := range photos {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download %s: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	s.stop(t)
	if entries, err := os.ReadDir(filepath.Join(dir, "blobs", "quarantine")); err == nil && len(entries) != 0 {
		t.Errorf("the sweep quarantined %d images while photos were uploaded", len(entries))
	}
	if log := s.stderr.String(); strings.Contains(log, "sweep refused") || strings.Contains(log, "moved orphan image") {
		t.Errorf("the sweep acted on uploads in flight:\n%s", log)
	}
}

// downTo returns the statements that take a database of the given dialect
// ("sqlite" or "postgres") back to schema version v: the Down section of
// every newer migration, newest first, each followed by the removal of its
// row from goose's version table. They are read from the migration files,
// so that a test of upgrades from an old release stays right as
// migrations are added.
func downTo(t *testing.T, dialect string, v int) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", dialect, "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s migrations found: %v", dialect, err)
	}
	slices.Sort(files)
	slices.Reverse(files)
	var stmts []string
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		if n <= v {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, down, ok := strings.Cut(string(b), "-- +goose Down")
		if !ok {
			t.Fatalf("migration %s has no Down section", f)
		}
		stmts = append(stmts, down, fmt.Sprintf("DELETE FROM goose_db_version WHERE version_id = %d", n))
	}
	return stmts
}
