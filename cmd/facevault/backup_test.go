package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/sqlite"
)

// readBackupManifest reads the manifest of a backup directory.
func readBackupManifest(t *testing.T, dir string) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, backupManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	return m
}

// restoredPhotos returns the ids of the live photo records of a data
// directory's database, and those of them whose image the store keeps.
func restoredPhotos(t *testing.T, data string) (withImage []string, total int) {
	t.Helper()
	db, err := sqlite.OpenFile(t.Context(), filepath.Join(data, "facevault.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if withImage, err = db.ImageKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if total, err = db.PhotoCount(t.Context()); err != nil {
		t.Fatal(err)
	}
	return withImage, total
}

// keyArgs are the flags that point serve on a restored data directory at
// the key store and master key of the original data directory.
func keyArgs(data string) []string {
	return []string{"--keys", "sqlite://" + filepath.Join(data+"-keys", "keys.db"),
		"--master-key-file", filepath.Join(data+"-keys", "master.key")}
}

// assertNothingRestored checks that a failed restore left neither the
// target nor a staging directory beside it.
func assertNothingRestored(t *testing.T, target string) {
	t.Helper()
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		t.Errorf("a failed restore left %d entries in %s", len(entries), target)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Error(err)
	}
	entries, err := os.ReadDir(filepath.Dir(target))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			t.Errorf("a failed restore left its staging directory %s", e.Name())
		}
	}
}

// TestBackupRestore: photos deleted and redacted between the snapshot and
// the copy of the images are left out of the backup (the deleted one's
// record is removed, the redacted one is redacted in it); the restored
// data directory, served with the original key store, gives every kept
// photo back byte for byte; a photo deleted after the backup reads as
// destroyed, its key gone.
func TestBackupRestore(t *testing.T) {
	clearEnv(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	s := startServe(t, serveArgs(data)...)
	key := s.bootstrapKeys(t).test
	client := s.createClient(t, key)
	imgs := map[string][]byte{}
	var ids []string
	for i := range 8 {
		img := testimage.JPEG(200+i, 200, uint64(i)+1)
		id := s.uploadPhoto(t, key, client, img)
		imgs[id] = img
		ids = append(ids, id)
	}
	redactedBefore := ids[0]
	if st, body := s.do(t, "POST", "/v1/livePhotos/"+redactedBefore+"/redact", key, nil); st != http.StatusOK {
		t.Fatalf("redact: %d %s", st, body)
	}
	deletedDuring, redactedDuring, deletedAfter := ids[1], ids[2], ids[3]

	backup := filepath.Join(root, "backup")
	var out bytes.Buffer
	cmd := &BackupCommand{Stdout: &out, Stderr: &out, afterSnapshot: func() {
		if st, body := s.do(t, "DELETE", "/v1/livePhotos/"+deletedDuring, key, nil); st != http.StatusNoContent {
			t.Errorf("delete during the backup: %d %s", st, body)
		}
		if st, body := s.do(t, "POST", "/v1/livePhotos/"+redactedDuring+"/redact", key, nil); st != http.StatusOK {
			t.Errorf("redact during the backup: %d %s", st, body)
		}
		// Uploaded after the snapshot: not in the backup.
		id := s.uploadPhoto(t, key, client, testimage.JPEG(300, 300, 99))
		imgs[id] = nil
	}}
	if err := cmd.Run(t.Context(), []string{"--data", data, "--to", backup}); err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	t.Logf("backup: %s", out.String())
	m := readBackupManifest(t, backup)
	if m.Photos != 7 || m.Images.Count != 5 || m.DeletedDuringBackup != 1 || m.RedactedDuringBackup != 1 {
		t.Errorf("manifest: %d photos, %d images, %d deleted and %d redacted during the backup; want 7, 5, 1, 1",
			m.Photos, m.Images.Count, m.DeletedDuringBackup, m.RedactedDuringBackup)
	}
	if m.Images.InClear != 0 {
		t.Errorf("manifest: %d images in the clear, want none", m.Images.InClear)
	}
	if st, body := s.do(t, "DELETE", "/v1/livePhotos/"+deletedAfter, key, nil); st != http.StatusNoContent {
		t.Fatalf("delete after the backup: %d %s", st, body)
	}
	s.stop(t)
	// The backup is the owner's alone, and holds no key.
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	filepath.WalkDir(backup, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		if !d.IsDir() && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
		}
		if strings.Contains(d.Name(), "key") {
			t.Errorf("the backup holds %s", path)
		}
		return nil
	})

	restored := filepath.Join(root, "restored")
	mustRun(t, "restore", "--from", backup, "--data", restored)
	withImage, total := restoredPhotos(t, restored)
	if total != m.Photos || len(withImage) != m.Images.Count {
		t.Errorf("restored: %d photos, %d with images; the manifest says %d and %d", total, len(withImage), m.Photos, m.Images.Count)
	}
	s = startServe(t, append(serveArgs(restored), keyArgs(data)...)...)
	defer s.stop(t)
	for _, id := range withImage {
		if id == deletedAfter {
			continue
		}
		if got := s.download(t, key, id); !bytes.Equal(got, imgs[id]) {
			t.Errorf("photo %s: %d bytes differing from the %d uploaded", id, len(got), len(imgs[id]))
		}
	}
	if !slices.Contains(withImage, deletedAfter) {
		t.Errorf("photo %s, deleted after the backup, is not in it", deletedAfter)
	}
	status, body := s.do(t, "GET", "/v1/livePhotos/"+deletedAfter+"/download", key, nil)
	if status != http.StatusNotFound || !strings.Contains(string(body), "was destroyed") {
		t.Errorf("photo deleted after the backup: %d %s; want 404, its image destroyed", status, body)
	}
	if status, body := s.do(t, "GET", "/v1/livePhotos/"+deletedDuring, key, nil); status != http.StatusNotFound {
		t.Errorf("photo deleted during the backup: %d %s; want 404", status, body)
	}
	for _, id := range []string{redactedBefore, redactedDuring} {
		status, body := s.do(t, "GET", "/v1/livePhotos/"+id, key, nil)
		var p struct{ Redacted bool }
		if status == http.StatusOK {
			decode(t, body, &p)
		}
		if status != http.StatusOK || !p.Redacted {
			t.Errorf("redacted photo %s: %d %s; want its record, redacted", id, status, body)
		}
	}
}

// TestBackupWhileUploading runs the binary: serve takes uploads, deletions
// and redactions from two goroutines while 'facevault backup' runs; the
// backup restored elsewhere and served with the original key store gives
// back every photo it holds byte for byte, save those deleted or redacted
// after it.
func TestBackupWhileUploading(t *testing.T) {
	bin := buildFacevault(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	env := childEnv()
	key := createKeyProcess(t, bin, env, []string{"--data", data}, "backup", "test")
	p := startServeProcess(t, bin, env, "--data", data)
	st, body, err := p.request("POST", "/v1/clients", key, map[string]any{
		"type": "person", "email": "ada@example.com",
		"personDetails": map[string]string{"firstName": "Ada", "lastName": "Lovelace"},
	})
	if err != nil || st != http.StatusOK {
		t.Fatalf("create client: %d %s %v", st, body, err)
	}
	var c struct{ ID string }
	decode(t, body, &c)

	var mu sync.Mutex
	imgs := map[string][]byte{}
	gone := map[string]bool{} // deleted or redacted: no image to compare
	var order []string
	upload := func(seed uint64) error {
		img := testimage.JPEG(200+int(seed%50), 200, seed)
		st, body, err := p.request("POST", "/v1/livePhotos", key, uploadBody(c.ID, img, false))
		if err != nil || st != http.StatusOK {
			return errors.New("upload: " + string(body))
		}
		var ph struct{ ID string }
		if err := json.Unmarshal(body, &ph); err != nil {
			return err
		}
		mu.Lock()
		imgs[ph.ID] = img
		order = append(order, ph.ID)
		mu.Unlock()
		return nil
	}
	for i := range 40 {
		if err := upload(uint64(i) + 1); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := upload(uint64(1000*(g+1) + i)); err != nil {
					errs <- err
					return
				}
				if i%3 != 0 {
					continue
				}
				// Delete or redact one of the first photos.
				mu.Lock()
				id := order[(g*20+i/3)%40]
				already := gone[id]
				gone[id] = true
				mu.Unlock()
				if already {
					continue
				}
				method, path, want := "DELETE", "/v1/livePhotos/"+id, http.StatusNoContent
				if g == 1 {
					method, path, want = "POST", "/v1/livePhotos/"+id+"/redact", http.StatusOK
				}
				if st, body, err := p.request(method, path, key, nil); err != nil || st != want {
					errs <- errors.New(method + " " + path + ": " + string(body))
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	backup := filepath.Join(root, "backup")
	t.Logf("backup: %s", runFacevault(t, bin, env, "backup", "--data", data, "--to", backup))
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := readBackupManifest(t, backup)
	mu.Lock()
	t.Logf("%d photos uploaded, %d deleted or redacted; the backup holds %d photos, %d images; %d deleted and %d redacted during it",
		len(imgs), len(gone), m.Photos, m.Images.Count, m.DeletedDuringBackup, m.RedactedDuringBackup)
	mu.Unlock()

	// One more deletion after the backup, of a photo it holds.
	restored := filepath.Join(root, "restored")
	runFacevault(t, bin, env, "restore", "--from", backup, "--data", restored)
	withImage, total := restoredPhotos(t, restored)
	if total != m.Photos || len(withImage) != m.Images.Count {
		t.Fatalf("restored: %d photos, %d with images; the manifest says %d and %d", total, len(withImage), m.Photos, m.Images.Count)
	}
	var deletedAfter string
	for _, id := range withImage {
		if !gone[id] {
			deletedAfter = id
			break
		}
	}
	if st, body, err := p.request("DELETE", "/v1/livePhotos/"+deletedAfter, key, nil); err != nil || st != http.StatusNoContent {
		t.Fatalf("delete after the backup: %d %s %v", st, body, err)
	}
	p.stop(t)

	q := startServeProcess(t, bin, env, append([]string{"--data", restored}, keyArgs(data)...)...)
	defer q.stop(t)
	kept := 0
	for _, id := range withImage {
		st, body, err := q.request("GET", "/v1/livePhotos/"+id+"/download", key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id == deletedAfter || gone[id] {
			// Deleted or redacted since the backup: its key is destroyed.
			if st != http.StatusNotFound || !strings.Contains(string(body), "was destroyed") {
				t.Errorf("photo %s, deleted or redacted after the backup: %d %s; want 404, its image destroyed", id, st, snippet(body))
			}
			continue
		}
		var d struct{ Data []byte }
		if st != http.StatusOK || json.Unmarshal(body, &d) != nil {
			t.Errorf("photo %s: %d %s; want 200", id, st, snippet(body))
			continue
		}
		if want, ok := imgs[id]; !ok || !bytes.Equal(d.Data, want) {
			t.Errorf("photo %s: %d bytes differing from the %d uploaded", id, len(d.Data), len(want))
		}
		kept++
	}
	if kept < 20 {
		t.Errorf("only %d photos of the backup downloaded", kept)
	}
	t.Logf("%d photos of the restored backup download as uploaded", kept)
}

// backupFixture is a data directory with a few photos, served once.
type backupFixture struct {
	root, data, key string
	imgs            map[string][]byte
}

func newBackupFixture(t *testing.T, photos int) *backupFixture {
	t.Helper()
	clearEnv(t)
	f := &backupFixture{root: t.TempDir(), imgs: map[string][]byte{}}
	f.data = filepath.Join(f.root, "data")
	s := startServe(t, serveArgs(f.data)...)
	f.key = s.bootstrapKeys(t).test
	client := s.createClient(t, f.key)
	for i := range photos {
		img := testimage.JPEG(200, 200+i, uint64(i)+7)
		f.imgs[s.uploadPhoto(t, f.key, client, img)] = img
	}
	s.stop(t)
	return f
}

// backup runs 'facevault backup' of the fixture into a new directory and
// returns it.
func (f *backupFixture) backup(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "backup")
	mustRun(t, "backup", "--data", f.data, "--to", dir)
	return dir
}

// checkRestored serves a restored data directory with the fixture's key
// store and checks that every photo downloads as uploaded.
func (f *backupFixture) checkRestored(t *testing.T, restored string) {
	t.Helper()
	s := startServe(t, append(serveArgs(restored), keyArgs(f.data)...)...)
	defer s.stop(t)
	for id, img := range f.imgs {
		if got := s.download(t, f.key, id); !bytes.Equal(got, img) {
			t.Errorf("photo %s: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
}

// TestBackupErrors: each refusal of backup says why, and leaves no backup
// behind.
func TestBackupErrors(t *testing.T) {
	f := newBackupFixture(t, 2)
	target := filepath.Join(f.root, "target")
	noTarget := func(t *testing.T) {
		t.Helper()
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed backup left %s: %v", target, err)
		}
	}
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no --to", []string{"backup", "--data", f.data}, true, "--to is required"},
		{"argument", []string{"backup", "--data", f.data, "--to", target, "extra"}, true, "unexpected argument"},
		{"PostgreSQL", []string{"backup", "--db", "postgres://fv:secret@127.0.0.1:1/fv", "--to", target}, true, "pg_dump"},
		{"S3 images", []string{"backup", "--data", f.data, "--blobs", "s3://bucket?endpoint=http://127.0.0.1:1", "--to", target}, true, "versioning"},
		{"bad S3 URL", []string{"backup", "--data", f.data, "--to", "s3://bucket?endpoint=http://127.0.0.1:1&color=red"}, true, "unknown parameter"},
		{"URL target", []string{"backup", "--data", f.data, "--to", "file://" + target}, true, "want a directory or s3://"},
		{"inside the data directory", []string{"backup", "--data", f.data, "--to", filepath.Join(f.data, "backup")}, true, "inside"},
		{"no database", []string{"backup", "--data", filepath.Join(f.root, "nothing"), "--to", target}, false, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, tc.args...)
			if err == nil {
				t.Fatalf("backup succeeded; want it refused\n%s", stderr)
			}
			if tc.usage {
				assertUsageError(t, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the database password", err)
			}
			noTarget(t)
		})
	}

	t.Run("target not empty", func(t *testing.T) {
		dir := filepath.Join(f.root, "full")
		os.Mkdir(dir, 0o700)
		writeFile(t, filepath.Join(dir, "notes.txt"), "mine", 0o600)
		_, _, err := runCLI(t, "backup", "--data", f.data, "--to", dir)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("backup into a directory with a file: %v; want it refused as not empty", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the refused target holds %d entries, want its 1", len(entries))
		}
	})

	t.Run("images of another store", func(t *testing.T) {
		marker := filepath.Join(f.data, "blobs", "store-id")
		saved, err := os.ReadFile(marker)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, marker, "0123456789abcdef0123456789abcdef\n", 0o600)
		defer writeFile(t, marker, string(saved), 0o600)
		_, _, err = runCLI(t, "backup", "--data", f.data, "--to", target)
		if err == nil || !strings.Contains(err.Error(), "not one store") {
			t.Fatalf("backup of a database and images of two stores: %v; want it refused", err)
		}
		noTarget(t)
	})

	t.Run("no store id", func(t *testing.T) {
		data := filepath.Join(f.root, "new")
		db, err := openDB(t.Context(), data)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		os.Mkdir(filepath.Join(data, "blobs"), 0o700)
		_, _, err = runCLI(t, "backup", "--data", data, "--to", target)
		if err == nil || !strings.Contains(err.Error(), "has no store id") {
			t.Fatalf("backup of a database never served: %v; want it refused", err)
		}
		noTarget(t)
	})

	t.Run("image missing", func(t *testing.T) {
		// A record whose image is gone, with the photo still there, is
		// damage: the backup fails and leaves nothing.
		var victim string
		for id := range f.imgs {
			victim = id
			break
		}
		saved, err := os.ReadFile(blobFile(f.data, victim))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(blobFile(f.data, victim))
		defer writeFile(t, blobFile(f.data, victim), string(saved), 0o600)
		_, _, err = runCLI(t, "backup", "--data", f.data, "--to", target)
		if err == nil || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "no image") {
			t.Fatalf("backup of a store missing the image of %s: %v; want it refused, naming the photo", victim, err)
		}
		noTarget(t)
	})

	t.Run("empty target directory", func(t *testing.T) {
		dir := filepath.Join(f.root, "empty")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "backup", "--data", f.data, "--to", dir)
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("backup directory mode %v, want 0700", fi.Mode().Perm())
		}
		if m := readBackupManifest(t, dir); m.Images.Count != len(f.imgs) {
			t.Errorf("manifest: %d images, want %d", m.Images.Count, len(f.imgs))
		}
	})
}

// TestRestoreErrors: restore refuses a target that is not empty, and a
// backup that is incomplete or damaged, each saying so and leaving nothing
// in the target.
func TestRestoreErrors(t *testing.T) {
	f := newBackupFixture(t, 3)
	good := f.backup(t)
	var victim string
	for id := range f.imgs {
		victim = id
		break
	}
	// damaged returns a copy of the backup changed by fn.
	damaged := func(t *testing.T, fn func(dir string)) string {
		dir := filepath.Join(t.TempDir(), "backup")
		copyDir(t, good, dir)
		fn(dir)
		return dir
	}
	flip := func(path string) func(string) {
		return func(dir string) {
			b, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(filepath.Join(dir, path), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// edit rewrites fields of the manifest, which is otherwise intact.
	edit := func(fields map[string]any) func(string) {
		return func(dir string) {
			path := filepath.Join(dir, backupManifest)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range fields {
				if inner, ok := v.(map[string]any); ok {
					for ik, iv := range inner {
						m[k].(map[string]any)[ik] = iv
					}
					continue
				}
				m[k] = v
			}
			b, _ = json.Marshal(m)
			writeFile(t, path, string(b), 0o600)
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"newer format", edit(map[string]any{"version": 2}), "this binary reads version 1"},
		{"invalid store id", edit(map[string]any{"storeId": "x"}), "store id"},
		{"another store", edit(map[string]any{"storeId": "0123456789abcdef0123456789abcdef"}), "the manifest says 0123456789abcdef0123456789abcdef"},
		{"photo count", edit(map[string]any{"photos": 9}), "the database has 3 photos, the manifest says 9"},
		{"image count", edit(map[string]any{"images": map[string]any{"count": 2}}), "lists 3 images, the manifest says 2"},
		{"image bytes", edit(map[string]any{"images": map[string]any{"bytes": 1}}), "the manifest says 1"},
		{"no manifest", func(dir string) { os.Remove(filepath.Join(dir, backupManifest)) }, "incomplete"},
		{"corrupt manifest", func(dir string) {
			writeFile(t, filepath.Join(dir, backupManifest), `{"format": "facevault-back`, 0o600)
		}, "manifest.json is damaged"},
		{"foreign manifest", func(dir string) { writeFile(t, filepath.Join(dir, backupManifest), `{"format": "other"}`, 0o600) }, "not a FaceVault backup"},
		{"tampered image", flip(backupImageName(victim)), "checksum mismatch"},
		{"tampered database", flip(backupDatabase), "checksum mismatch"},
		{"tampered list", flip(backupImageSum), "checksum mismatch"},
		{"missing image", func(dir string) { os.Remove(filepath.Join(dir, backupImageName(victim))) }, "missing from the backup"},
		{"missing database", func(dir string) { os.Remove(filepath.Join(dir, backupDatabase)) }, "facevault.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := damaged(t, tc.damage)
			target := filepath.Join(t.TempDir(), "restored")
			_, _, err := runCLI(t, "restore", "--from", from, "--data", target)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v; want an error saying %q", err, tc.want)
			}
			assertNothingRestored(t, target)
		})
	}

	t.Run("target not empty", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "restored")
		os.Mkdir(target, 0o700)
		writeFile(t, filepath.Join(target, "facevault.db"), "mine", 0o600)
		_, _, err := runCLI(t, "restore", "--from", good, "--data", target)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("restore into a directory with a file: %v; want it refused as not empty", err)
		}
		if b, _ := os.ReadFile(filepath.Join(target, "facevault.db")); string(b) != "mine" {
			t.Errorf("the refused target's file was changed: %q", b)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --from", []string{"restore", "--data", filepath.Join(f.root, "x")}, "--from is required"},
		{"no --data", []string{"restore", "--from", good}, "--data is required"},
		{"bad S3 URL", []string{"restore", "--from", "s3://bucket?endpoint=http://127.0.0.1:1&color=red", "--data", filepath.Join(f.root, "x")}, "unknown parameter"},
		{"URL source", []string{"restore", "--from", "file://" + good, "--data", filepath.Join(f.root, "x")}, "want a directory or s3://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, tc.args...)
			assertUsageError(t, err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v does not say %q", err, tc.want)
			}
		})
	}
	t.Run("no backup", func(t *testing.T) {
		_, _, err := runCLI(t, "restore", "--from", filepath.Join(f.root, "nothing"), "--data", filepath.Join(f.root, "x"))
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("restore from a missing directory: %v", err)
		}
	})

	t.Run("into an empty directory", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "restored")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "restore", "--from", good, "--data", target)
		if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o700 {
			t.Errorf("restored data directory mode %v, want 0700", fi.Mode().Perm())
		}
		f.checkRestored(t, target)
	})
}

// TestBackupS3: a backup written to a bucket prefix restores from it; a
// prefix that holds anything is refused as a target, and one without a
// manifest as a source.
func TestBackupS3(t *testing.T) {
	endpoint, bucket := s3test.Bucket(t) // before the fixture clears FACEVAULT_*
	c := s3test.Client(t)
	f := newBackupFixture(t, 3)
	t.Setenv("TMPDIR", t.TempDir()) // where backup stages its uploads
	to := s3URL(bucket+"/backups/one", endpoint)
	out := mustRun(t, "backup", "--data", f.data, "--to", to)
	if !strings.Contains(out, "3 images") {
		t.Errorf("backup output: %q", out)
	}
	if entries, _ := os.ReadDir(os.Getenv("TMPDIR")); len(entries) != 0 {
		t.Errorf("backup left %d files in its scratch directory", len(entries))
	}
	restored := filepath.Join(t.TempDir(), "restored")
	mustRun(t, "restore", "--from", to, "--data", restored)
	f.checkRestored(t, restored)

	if _, _, err := runCLI(t, "backup", "--data", f.data, "--to", to); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup onto a prefix holding a backup: %v; want it refused as not empty", err)
	}
	// A backup that fails part-way removes what it uploaded: the image
	// missing is the last one copied, after the others.
	var victim string
	for id := range f.imgs {
		victim = max(victim, id)
	}
	saved, err := os.ReadFile(blobFile(f.data, victim))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(blobFile(f.data, victim))
	failed := s3URL(bucket+"/backups/failed", endpoint)
	if _, _, err := runCLI(t, "backup", "--data", f.data, "--to", failed); err == nil || !strings.Contains(err.Error(), "no image") {
		t.Errorf("backup of a store missing an image: %v; want it refused", err)
	}
	writeFile(t, blobFile(f.data, victim), string(saved), 0o600)
	for o := range c.ListObjectsIter(t.Context(), bucket, minio.ListObjectsOptions{Prefix: "backups/failed/", Recursive: true}) {
		t.Errorf("a failed backup left %s (%v)", o.Key, o.Err)
	}
	if entries, _ := os.ReadDir(os.Getenv("TMPDIR")); len(entries) != 0 {
		t.Errorf("a failed backup left %d files in its scratch directory", len(entries))
	}

	// A prefix with images but no manifest: an interrupted backup.
	r, err := os.Open(filepath.Join(restored, "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fi, _ := r.Stat()
	if _, err := c.PutObject(t.Context(), bucket, "backups/two/facevault.db", r, fi.Size(), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "restored")
	_, _, err = runCLI(t, "restore", "--from", s3URL(bucket+"/backups/two", endpoint), "--data", target)
	if err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("restore from a prefix without a manifest: %v; want it refused as incomplete", err)
	}
	assertNothingRestored(t, target)
}

// TestBackupClearImages: a backup of images an earlier release stored in
// the clear says so, in the manifest and in its output, and restores them
// as they are.
func TestBackupClearImages(t *testing.T) {
	clearEnv(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	_, photos := previousRelease(t, data, 2)
	backup := filepath.Join(root, "backup")
	out := mustRun(t, "backup", "--data", data, "--to", backup)
	if !strings.Contains(out, "Warning: 2 images were stored in the clear") {
		t.Errorf("backup output does not warn of the 2 clear images:\n%s", out)
	}
	if m := readBackupManifest(t, backup); m.Images.InClear != 2 || m.Images.Count != 2 {
		t.Errorf("manifest: %d images, %d in the clear; want 2 and 2", m.Images.Count, m.Images.InClear)
	}
	restored := filepath.Join(root, "restored")
	mustRun(t, "restore", "--from", backup, "--data", restored)
	for id, img := range photos {
		assertFileBytes(t, blobFile(restored, id), img)
	}
}
