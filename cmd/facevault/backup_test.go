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
