package fsblob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/blobtest"
)

// openStore opens a store on a fresh directory and closes it when the test
// ends.
func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

func newKey() string { return facevault.NewID(time.Now()) }

// randomBytes returns n random bytes, none of them zero, so that a
// zero-filled file can never be mistaken for them.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		if b[i] == 0 {
			b[i] = 1
		}
	}
	return b
}

// put stores data under key through Create, Write and Commit.
func put(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// get reads the blob under key through Open.
func get(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read blob %s: %v", key, err)
	}
	return b
}

// blobPath is where the store must keep the blob of key.
func blobPath(dir, key string) string {
	return filepath.Join(dir, key[len(key)-2:], key)
}

// tree lists every file and directory under root (relative, slash
// separated, directories ending in "/"), with each regular file's content
// digest, sorted.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out = append(out, rel+" "+hex.EncodeToString(sum[:8]))
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	slices.Sort(out)
	return out
}

// tempFiles lists the names in <dir>/tmp.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatalf("read temp directory: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// assertZeroed checks that the file at path (a hard link kept to a
// destroyed file) holds n zero bytes.
func assertZeroed(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read hard link: %v", err)
	}
	if len(b) != n {
		t.Fatalf("hard link holds %d bytes, want %d (the same length, overwritten in place)", len(b), n)
	}
	if i := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); i >= 0 {
		t.Fatalf("hard link byte %d is %#x after destroy, want every byte 0", i, b[i])
	}
}

func assertNotFound(t *testing.T, s *Store, key string) {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err == nil {
		r.Close()
		t.Fatalf("Open(%s) succeeded, want an error wrapping facevault.ErrNotFound", key)
	}
	if !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("Open(%s) error = %v, want one wrapping facevault.ErrNotFound", key, err)
	}
}

func TestCommitThenOpen(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	data := randomBytes(t, 150<<10)

	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Several writes, as an upload streams them.
	for chunk := range slices.Chunk(data, 7000) {
		if n, err := w.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(chunk))
		}
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	if got := get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("Open returned %d bytes differing from the %d written", len(got), len(data))
	}
	path := blobPath(dir, key)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("blob file: %v", err)
	}
	if got, want := info.Mode(), fs.FileMode(0o600); got != want {
		t.Errorf("blob file mode is %v, want %v", got, want)
	}
	if info.Size() != int64(len(data)) {
		t.Errorf("blob file is %d bytes, want %d", info.Size(), len(data))
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temp directory holds %q after Commit, want nothing", got)
	}
	want := []string{
		"LOCK " + hexDigest(nil),
		key[22:] + "/",
		key[22:] + "/" + key + " " + hexDigest(data),
		"tmp/",
	}
	slices.Sort(want)
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("store directory holds %q, want %q", got, want)
	}
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func TestUncommittedBlobIsInvisible(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	data := randomBytes(t, 40<<10)
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}

	assertNotFound(t, s, key)
	if _, err := os.Stat(blobPath(dir, key)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat blob path before Commit: got %v, want ErrNotExist", err)
	}
	tmp := tempFiles(t, dir)
	if len(tmp) != 1 {
		t.Fatalf("temp directory holds %q while writing, want one file", tmp)
	}
	var visited []string
	if err := s.Keys(t.Context(), time.Now().Add(time.Hour), func(k string) error {
		visited = append(visited, k)
		return nil
	}); err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if len(visited) != 0 {
		t.Fatalf("Keys listed %q before Commit, want nothing", visited)
	}

	// Abort destroys the temporary file, bytes first.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Link(filepath.Join(dir, "tmp", tmp[0]), link); err != nil {
		t.Fatalf("hard link to the temporary file: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	assertZeroed(t, link, len(data))
	want := []string{"LOCK " + hexDigest(nil), "tmp/"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Fatalf("store directory holds %q after Abort, want %q", got, want)
	}
	assertNotFound(t, s, key)

	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: got %v, want nil", err)
	}
	if err := w.Commit(t.Context()); err == nil {
		t.Errorf("Commit after Abort: got nil, want an error")
	}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Fatalf("store directory holds %q after Commit of an aborted blob, want %q", got, want)
	}
}

func TestAbortAfterCommitAndDoubleCommit(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	data := randomBytes(t, 1000)
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Commit(t.Context()); err == nil {
		t.Errorf("second Commit: got nil, want an error")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: got %v, want nil", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort after Commit: got %v, want nil", err)
	}
	if got := get(t, s, key); !bytes.Equal(got, data) {
		t.Fatalf("blob after Commit, Commit, Abort: got %d bytes differing from the %d written", len(got), len(data))
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temp directory holds %q, want nothing", got)
	}
}

func TestCommitCancelledContext(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write(randomBytes(t, 5000)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: got %v, want context.Canceled", err)
	}
	want := []string{"LOCK " + hexDigest(nil), "tmp/"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Fatalf("store directory holds %q after a cancelled Commit, want %q", got, want)
	}
	assertNotFound(t, s, key)
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after a failed Commit: got %v, want nil", err)
	}
}

func TestDelete(t *testing.T) {
	s, dir := openStore(t)
	key, other := newKey(), newKey()
	for other[22:] == key[22:] {
		other = newKey()
	}
	data := randomBytes(t, 100)
	put(t, s, key, data)
	put(t, s, other, data)

	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertNotFound(t, s, key)
	if _, err := os.Stat(blobPath(dir, key)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat deleted blob: got %v, want ErrNotExist", err)
	}
	if got := get(t, s, other); !bytes.Equal(got, data) {
		t.Fatalf("the other blob changed when one was deleted")
	}

	// A key in a shard that does exist, and one in a shard that never did.
	missingSameShard := newKey()[:22] + key[22:]
	for missingSameShard == key || missingSameShard == other {
		missingSameShard = newKey()[:22] + key[22:]
	}
	missingNoShard := newKey()
	for missingNoShard[22:] == key[22:] || missingNoShard[22:] == other[22:] {
		missingNoShard = newKey()
	}
	for _, tc := range []struct{ name, key string }{
		{"deleted twice", key},
		{"missing key, existing shard", missingSameShard},
		{"missing key, no shard directory", missingNoShard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Delete(t.Context(), tc.key); err != nil {
				t.Errorf("Delete(%s): got %v, want nil", tc.key, err)
			}
		})
	}
}

// TestDeleteOverwritesBytes keeps a second hard link to the blob file: after
// Delete the link must still exist with the same length and nothing but
// zeros, which shows the bytes were destroyed and not just unlinked.
func TestDeleteOverwritesBytes(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	data := randomBytes(t, 200<<10+123) // several zeroing buffers, and a partial one
	put(t, s, key, data)

	link := filepath.Join(dir, "hardlink")
	if err := os.Link(blobPath(dir, key), link); err != nil {
		t.Fatalf("hard link to the blob: %v", err)
	}
	if got, _ := os.ReadFile(link); !bytes.Equal(got, data) {
		t.Fatalf("hard link does not show the blob's bytes before Delete")
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(blobPath(dir, key)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat deleted blob: got %v, want ErrNotExist", err)
	}
	assertZeroed(t, link, len(data))
}

func TestInvalidKeys(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	// Files an unchecked key would reach: "../x" is root/x, and a key
	// with slashes could name root/<shard>/....
	sentinels := map[string]string{
		"x":                        "sentinel x",
		"victim":                   "sentinel victim",
		"0123456789abcdef01234567": "sentinel with a valid name",
	}
	for name, content := range sentinels {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	valid := newKey()
	put(t, s, valid, []byte("kept"))
	before := tree(t, root)

	for _, key := range []string{
		"",
		"abc",
		valid[:23],                  // 23 hex
		valid + "0",                 // 25 hex
		strings.ToUpper(valid),      // upper case hex
		valid[:23] + "g",            // not hex
		"../x",                      // climbs out
		"../victim",                 // climbs out
		"../../../../../../etc/pwd", // climbs far out
		"..",
		"0123456789abcdef0123/567",         // 24 characters with a slash
		"/123456789abcdef01234567",         // absolute
		"../0123456789abcdef01234567"[:24], // "../" and hex, 24 characters
		"0123456789abcdef0123456\x00",      // NUL
		valid[:22] + "/" + valid[23:],      // slash inside
		valid + "/../x",                    // a valid key, then climbs
	} {
		t.Run(strings.ReplaceAll(key, "/", "|"), func(t *testing.T) {
			if w, err := s.Create(t.Context(), key); err == nil {
				w.Abort()
				t.Errorf("Create(%q) succeeded, want an error", key)
			}
			if r, err := s.Open(t.Context(), key); err == nil {
				r.Close()
				t.Errorf("Open(%q) succeeded, want an error", key)
			}
			if err := s.Delete(t.Context(), key); err == nil {
				t.Errorf("Delete(%q) succeeded, want an error", key)
			}
		})
	}

	if got := tree(t, root); !slices.Equal(got, before) {
		t.Errorf("file system under %s changed:\ngot  %q\nwant %q", root, got, before)
	}
	for name, content := range sentinels {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != content {
			t.Errorf("sentinel %s: got %q, %v; want %q", name, b, err, content)
		}
	}
}

func TestOpenLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	for range 2 {
		second, err := Open(dir)
		if err == nil {
			second.Close()
			first.Close()
			t.Fatalf("second Open succeeded while the first store is open, want ErrLocked")
		}
		if !errors.Is(err, ErrLocked) {
			first.Close()
			t.Fatalf("second Open: got %v, want an error wrapping ErrLocked", err)
		}
	}
	// The refused Open must not have disturbed the first store.
	key := newKey()
	put(t, first, key, []byte("still works"))

	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: got %v, want nil", err)
	}
	defer again.Close()
	if got := get(t, again, key); string(got) != "still works" {
		t.Errorf("blob after reopening: got %q, want %q", got, "still works")
	}
}

func TestOpenRemovesTemporaries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, s *Store, dir string) (tempSize int)
	}{
		{"stray file in tmp", func(t *testing.T, s *Store, dir string) int {
			data := randomBytes(t, 3000)
			if err := os.WriteFile(filepath.Join(dir, "tmp", newKey()+".deadbeef"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tmp", "junk"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return len(data)
		}},
		{"writer never committed nor aborted", func(t *testing.T, s *Store, dir string) int {
			w, err := s.Create(t.Context(), newKey())
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			data := randomBytes(t, 70<<10)
			if _, err := w.Write(data); err != nil {
				t.Fatalf("Write: %v", err)
			}
			return len(data)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			committed := newKey()
			put(t, s, committed, []byte("committed"))
			size := tc.crash(t, s, dir)

			temps := tempFiles(t, dir)
			if len(temps) == 0 {
				t.Fatalf("the simulated crash left no temporary file")
			}
			// A hard link outside the store shows the leftover's bytes
			// are destroyed, not just unlinked. It links the largest one.
			link := filepath.Join(t.TempDir(), "link")
			for _, name := range temps {
				p := filepath.Join(dir, "tmp", name)
				if info, err := os.Stat(p); err == nil && info.Size() == int64(size) {
					if err := os.Link(p, link); err != nil {
						t.Fatalf("hard link: %v", err)
					}
				}
			}
			if err := s.Close(); err != nil { // the "crash": no Abort
				t.Fatalf("Close: %v", err)
			}

			s, err = Open(dir)
			if err != nil {
				t.Fatalf("Open after the crash: %v", err)
			}
			defer s.Close()
			if got := tempFiles(t, dir); len(got) != 0 {
				t.Errorf("temp directory holds %q after Open, want nothing", got)
			}
			assertZeroed(t, link, size)
			if got := get(t, s, committed); string(got) != "committed" {
				t.Errorf("committed blob after Open: got %q, want %q", got, "committed")
			}
		})
	}
}

func TestKeys(t *testing.T) {
	s, dir := openStore(t)
	old1, old2, recent := newKey(), newKey(), newKey()
	for _, k := range []string{old1, old2, recent} {
		put(t, s, k, []byte(k))
	}
	// Neither an uncommitted blob nor stray files are keys.
	w, err := s.Create(t.Context(), newKey())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("uncommitted")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, recent[22:], "notakey"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tmp", newKey()), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	hourAgo := now.Add(-time.Hour)
	for _, k := range []string{old1, old2} {
		if err := os.Chtimes(blobPath(dir, k), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}

	list := func(before time.Time) []string {
		t.Helper()
		var keys []string
		if err := s.Keys(t.Context(), before, func(k string) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			t.Fatalf("Keys: %v", err)
		}
		slices.Sort(keys)
		return keys
	}
	sorted := func(keys ...string) []string { slices.Sort(keys); return keys }

	for _, tc := range []struct {
		name   string
		before time.Time
		want   []string
	}{
		{"after everything", now.Add(time.Minute), sorted(old1, old2, recent)},
		{"between old and recent", now.Add(-30 * time.Minute), sorted(old1, old2)},
		{"exactly the old mtime (strict bound)", hourAgo, nil},
		{"before everything", now.Add(-2 * time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.before); !slices.Equal(got, tc.want) {
				t.Errorf("Keys(%v): got %q, want %q", tc.before, got, tc.want)
			}
		})
	}

	// The callback error and cancellation are in the conformance suite.
}

// Reading back is for uploads in progress (the conformance suite covers
// it); a committed or aborted writer refuses.
func TestReadAtAfterCommit(t *testing.T) {
	s, _ := openStore(t)
	w, err := s.Create(t.Context(), newKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadAt(make([]byte, 1), 0); err == nil {
		t.Error("ReadAt after Commit: got nil error")
	}
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) facevault.BlobStore {
		s, _ := openStore(t)
		return s
	})
}

// TestQuarantineMovesInPlace: a quarantined blob is the same file, renamed
// (no copy of the bytes is left behind), and a purge zeroes it before
// unlinking it.
func TestQuarantineMovesInPlace(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	data := randomBytes(t, 100<<10)
	put(t, s, key, data)
	before, err := os.Stat(blobPath(dir, key))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(t.Context(), key); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	q := filepath.Join(dir, "quarantine", key)
	after, err := os.Stat(q)
	if err != nil {
		t.Fatalf("stat the quarantined file: %v", err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("the quarantined file is not the blob's file: its bytes were copied")
	}
	if got := after.Mode().Perm(); got != 0o600 {
		t.Errorf("quarantined file mode %#o, want 0600", got)
	}
	if info, err := os.Stat(filepath.Dir(q)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("quarantine directory: %v, %v; want mode 0700", info.Mode().Perm(), err)
	}
	link := filepath.Join(dir, "hardlink")
	if err := os.Link(q, link); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyQuarantined(t.Context(), key); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if _, err := os.Stat(q); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat purged file: got %v, want ErrNotExist", err)
	}
	assertZeroed(t, link, len(data))
}

// TestQuarantineAfterInterruptedRestore: a Restore that died between its
// link and its unlink leaves the blob under its key and in quarantine, as
// two links of one file; quarantining it again must still take it out of
// the store.
func TestQuarantineAfterInterruptedRestore(t *testing.T) {
	s, dir := openStore(t)
	key := newKey()
	put(t, s, key, randomBytes(t, 40<<10))
	if err := s.Quarantine(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "quarantine", key), blobPath(dir, key)); err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(t.Context(), key); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	assertNotFound(t, s, key)
	if _, err := os.Stat(filepath.Join(dir, "quarantine", key)); err != nil {
		t.Errorf("the quarantined file: %v", err)
	}
}

// TestMarkerFile: the store id is a 0600 file holding the id and a
// newline; a marker that holds anything else is an error, never taken for
// none.
func TestMarkerFile(t *testing.T) {
	s, dir := openStore(t)
	id := facevault.NewStoreID()
	if got, err := s.BindStoreID(t.Context(), id); err != nil || got != id {
		t.Fatalf("BindStoreID = %q, %v", got, err)
	}
	path := filepath.Join(dir, MarkerFile)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != id+"\n" {
		t.Fatalf("marker file holds %q, %v; want %q", b, err, id+"\n")
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("marker mode %#o, want 0600", info.Mode().Perm())
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	for _, bad := range []string{"", "garbage\n", id[:31] + "\n", strings.ToUpper(id) + "\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := s.StoreID(t.Context()); err == nil {
			t.Errorf("StoreID with a marker holding %q = %q, nil; want an error", bad, got)
		}
		if got, err := s.BindStoreID(t.Context(), facevault.NewStoreID()); err == nil {
			t.Errorf("BindStoreID over a marker holding %q = %q, nil; want an error", bad, got)
		}
	}
}

// TestOpenNarrowsPermissions: whatever modes an older version or an
// operator left, Open leaves the store's directories 0700 and files 0600,
// and leaves alone what is not the store's.
func TestOpenNarrowsPermissions(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	s, dir := openStore(t)
	key := newKey()
	put(t, s, key, randomBytes(t, 40<<10))
	if _, err := s.BindStoreID(t.Context(), facevault.NewStoreID()); err != nil {
		t.Fatal(err)
	}
	other := newKey()
	put(t, s, other, randomBytes(t, 40<<10))
	if err := s.Quarantine(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	s.Close()
	foreign := filepath.Join(dir, "README.txt")
	if err := os.WriteFile(foreign, []byte("not the store's"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case path == foreign:
			want = 0o644
		case d.IsDir():
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %#o after Open, want %#o", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A sticky directory (a shared one, such as /tmp) keeps its mode.
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(shared)
	if err != nil {
		t.Fatal(err)
	}
	s3.Close()
	if info, _ := os.Stat(shared); info.Mode().Perm() != 0o777 {
		t.Errorf("a sticky directory's mode became %#o, want it left 0777", info.Mode().Perm())
	}
}
