package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSnapshot: a snapshot taken through a read-only File beside the open
// store is a database of its own (0600) with the store's id and schema
// version; the read-only File cannot write; a missing file is not created.
func TestSnapshot(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path)
	if _, err := db.BindStoreID(t.Context(), "0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	live, err := OpenFile(t.Context(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := live.RedactPhotos(t.Context(), map[string]time.Time{"x": time.Now()}); err == nil {
		t.Error("a write through a read-only File succeeded")
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if err := live.SnapshotTo(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(snap); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := live.SnapshotTo(t.Context(), snap); err == nil {
		t.Error("a second snapshot onto the first succeeded")
	}
	f, err := OpenFile(t.Context(), snap, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if id, err := f.StoreID(t.Context()); err != nil || id != "0123456789abcdef0123456789abcdef" {
		t.Errorf("snapshot store id: %q, %v", id, err)
	}
	want, err := db.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.SchemaVersion(t.Context()); err != nil || v != want {
		t.Errorf("snapshot schema version: %d, %v; want %d", v, err, want)
	}
	if err := f.CheckIntegrity(t.Context()); err != nil {
		t.Error(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := OpenFile(t.Context(), missing, true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile created %s", missing)
	}
}
