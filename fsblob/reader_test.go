package fsblob

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/facevault/facevault"
)

// TestReaderBesideOwner: a Reader reads the committed blobs and the marker
// of a directory another Store holds locked, sees no uncommitted blob, and
// changes nothing.
func TestReaderBesideOwner(t *testing.T) {
	dir := t.TempDir()
	owner, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	key := newKey()
	put(t, owner, key, []byte("committed"))
	pending := newKey()
	w, err := owner.Create(t.Context(), pending)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write([]byte("not yet"))
	id := facevault.NewStoreID()
	if _, err := owner.BindStoreID(t.Context(), id); err != nil {
		t.Fatal(err)
	}

	r, err := NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open of a committed blob: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "committed" {
		t.Errorf("read %q, want %q", b, "committed")
	}
	if _, err := r.Open(t.Context(), pending); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("Open of an uncommitted blob: %v, want ErrNotFound", err)
	}
	if _, err := r.Open(t.Context(), "../x"); err == nil {
		t.Error("Open of an invalid key succeeded")
	}
	if got, err := r.StoreID(t.Context()); err != nil || got != id {
		t.Errorf("StoreID: %q, %v; want %q", got, err, id)
	}
	if r.Path(key) != filepath.Join(dir, Path(key)) {
		t.Errorf("Path: %s", r.Path(key))
	}
	// The owner still holds its lock: the Reader took none.
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("Open beside the owner: %v, want ErrLocked", err)
	}
	if _, err := NewReader(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewReader of a missing directory: %v", err)
	}
}
