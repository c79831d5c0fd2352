package s3blob

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/s3test"
)

// TestFiles: named files under the prefix are written, listed (relative to
// the prefix, nothing outside it), read back and removed; a name that
// would leave its place is refused.
func TestFiles(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t)
	s := openStore(t, storeURL(endpoint, bucket, "backups/one"), Options{})
	other := openStore(t, storeURL(endpoint, bucket, "backups/two"), Options{})
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("manifest"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"manifest.json", "images/ab/0123456789abcdef012345ab"} {
		if err := s.PutFile(ctx, name, path); err != nil {
			t.Fatalf("PutFile %s: %v", name, err)
		}
	}
	if err := other.PutFile(ctx, "elsewhere", path); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := s.Files(ctx, func(name string) error { names = append(names, name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"images/ab/0123456789abcdef012345ab", "manifest.json"}; !slices.Equal(names, want) {
		t.Errorf("Files: %q, want %q", names, want)
	}
	r, err := s.GetFile(ctx, "manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "manifest" {
		t.Errorf("GetFile: %q, %v", b, err)
	}
	if err := s.RemoveFile(ctx, "manifest.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFile(ctx, "manifest.json"); !errors.Is(err, facevault.ErrNotFound) {
		t.Errorf("GetFile after RemoveFile: %v, want ErrNotFound", err)
	}
	if err := s.RemoveFile(ctx, "manifest.json"); err != nil {
		t.Errorf("RemoveFile of a missing file: %v", err)
	}
	for _, bad := range []string{"", "../two/elsewhere", "a//b", "./x", "x/"} {
		if err := s.PutFile(ctx, bad, path); err == nil {
			t.Errorf("PutFile %q succeeded", bad)
		}
		if _, err := s.GetFile(ctx, bad); err == nil {
			t.Errorf("GetFile %q succeeded", bad)
		}
	}
}
