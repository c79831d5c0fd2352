package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/testimage"
)

// litestreamEnv names the environment variable holding the path of the
// litestream binary that scripts/test builds (CGO_ENABLED=0).
const litestreamEnv = "FACEVAULT_TEST_LITESTREAM"

// TestLitestream: Litestream replicates the embedded SQLite database
// continuously while serve writes to it (uploads, a deletion); the
// database restored from the replica, with a copy of the image directory
// taken after it, serves every photo byte for byte with the original key
// store.
func TestLitestream(t *testing.T) {
	litestream := os.Getenv(litestreamEnv)
	if litestream == "" {
		t.Fatal(litestreamEnv + " is not set: run ./scripts/test, which builds Litestream")
	}
	bin := buildFacevault(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	replica := filepath.Join(root, "replica")
	env := childEnv()
	key := createKeyProcess(t, bin, env, []string{"--data", data}, "replica", "test")
	p := startServeProcess(t, bin, env, "--data", data)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs lockedBuffer
	ls := exec.CommandContext(ctx, litestream, "replicate", filepath.Join(data, "facevault.db"), "file://"+replica)
	ls.Stdout, ls.Stderr = &logs, &logs
	ls.Cancel = func() error { return ls.Process.Signal(os.Interrupt) }
	ls.WaitDelay = 10 * time.Second
	if err := ls.Start(); err != nil {
		t.Fatalf("start litestream: %v", err)
	}
	defer func() {
		cancel()
		ls.Wait()
		t.Logf("litestream log:\n%s", logs.String())
	}()

	st, body, err := p.request("POST", "/v1/clients", key, map[string]any{
		"type": "person", "email": "ada@example.com",
		"personDetails": map[string]string{"firstName": "Ada", "lastName": "Lovelace"},
	})
	if err != nil || st != http.StatusOK {
		t.Fatalf("create client: %d %s %v", st, body, err)
	}
	var c struct{ ID string }
	decode(t, body, &c)
	imgs := map[string][]byte{}
	var ids []string
	for i := range 20 {
		img := testimage.JPEG(200, 200+i, uint64(i)+500)
		st, body, err := p.request("POST", "/v1/livePhotos", key, uploadBody(c.ID, img, false))
		if err != nil || st != http.StatusOK {
			t.Fatalf("upload: %d %s %v", st, body, err)
		}
		var ph struct{ ID string }
		decode(t, body, &ph)
		imgs[ph.ID] = img
		ids = append(ids, ph.ID)
	}
	deleted := ids[3]
	if st, body, err := p.request("DELETE", "/v1/livePhotos/"+deleted, key, nil); err != nil || st != http.StatusNoContent {
		t.Fatalf("delete: %d %s %v", st, body, err)
	}
	delete(imgs, deleted)

	// The replica catches up within seconds, while serve still runs.
	restored := filepath.Join(root, "restored")
	out := filepath.Join(root, "probe", "facevault.db")
	deadline := time.Now().Add(30 * time.Second)
	for {
		os.RemoveAll(filepath.Dir(out))
		os.MkdirAll(filepath.Dir(out), 0o700)
		cmd := exec.Command(litestream, "restore", "-o", out, "file://"+replica)
		if msg, err := cmd.CombinedOutput(); err == nil {
			withImage, _ := restoredPhotos(t, filepath.Dir(out))
			if len(withImage) == len(imgs) {
				break
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("litestream restore: %v\n%s\nlog:\n%s", err, msg, logs.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up within 30s\nlog:\n%s", logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.stop(t)

	// The restored database, and the images copied after it.
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(out, filepath.Join(restored, "facevault.db")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(data, "blobs"), filepath.Join(restored, "blobs"))
	q := startServeProcess(t, bin, env, append([]string{"--data", restored}, keyArgs(data)...)...)
	defer q.stop(t)
	for id, img := range imgs {
		st, body, err := q.request("GET", "/v1/livePhotos/"+id+"/download", key, nil)
		var d struct{ Data []byte }
		if err != nil || st != http.StatusOK || json.Unmarshal(body, &d) != nil || !bytes.Equal(d.Data, img) {
			t.Errorf("photo %s from the replica: %d %s %v; want its %d bytes", id, st, snippet(body), err, len(img))
		}
	}
	if st, body, _ := q.request("GET", "/v1/livePhotos/"+deleted, key, nil); st != http.StatusNotFound {
		t.Errorf("photo deleted before the replica's point: %d %s; want 404", st, snippet(body))
	}
}
