package http_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/seal"
)

// rawBlob reads the bytes the image store holds for a photo, as anyone
// with access to the disk, a backup or the bucket would.
func (e *testEnv) rawBlob(t testing.TB, id string) []byte {
	t.Helper()
	r, err := e.blobs.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("open blob %s: %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putRawBlob puts bytes back into the image store under a photo's id, as
// restoring a backup would.
func (e *testEnv) putRawBlob(t testing.TB, id string, b []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := e.blobs.Create(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// imageSignatures are byte strings that betray an image in the clear: long
// enough (4 bytes or more) not to turn up in a few MB of random bytes but
// once in 4 GB. The JPEG start of image (FF D8 FF) is too short for that;
// a sealed stream begins with its own header instead.
var imageSignatures = [][]byte{[]byte("\x89PNG\r\n"), []byte("JFIF\x00"), []byte("Exif\x00\x00"), []byte("IHDR"), []byte("IDAT")}

// assertOpaque checks that stored bytes are a sealed stream holding no
// image signature, and that their bytes are spread as random bytes are (a
// chi-square test over the byte values).
func assertOpaque(t testing.TB, what string, b []byte) {
	t.Helper()
	if !seal.IsSealed(b) {
		t.Errorf("%s: not sealed (starts % x)", what, b[:min(8, len(b))])
		return
	}
	body := b[seal.HeaderSize:]
	for _, sig := range imageSignatures {
		if i := bytes.Index(body, sig); i >= 0 {
			t.Errorf("%s: holds %q at byte %d", what, sig, i)
		}
	}
	var counts [256]float64
	for _, c := range body {
		counts[c]++
	}
	exp := float64(len(body)) / 256
	chi := 0.0
	for _, c := range counts {
		chi += (c - exp) * (c - exp) / exp
	}
	// 255 degrees of freedom: the 0.9999 quantile is about 360.
	if chi > 360 || math.IsNaN(chi) {
		t.Errorf("%s: chi-square %.0f over 255 degrees of freedom: its bytes are not spread as random bytes are", what, chi)
	}
}

// TestImagesSealedAtRest: on both back ends (S3 with versioning on), what
// the image store holds of a photo is a
// sealed stream that cannot be told from random bytes, of the size its
// upload seals to, and downloads give back the upload exactly.
func TestImagesSealedAtRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		imgs := map[string][]byte{
			"jpeg":       testimage.JPEG(640, 480, 1),
			"png":        testimage.PNG(200, 150, 2),
			"jpeg 1 MiB": testimage.JPEGSize(1<<20, 3),
		}
		for name, img := range imgs {
			photo := env.upload(t, env.KeyA, clientID, img)
			id := str(t, photo, "id")
			raw := env.rawBlob(t, id)
			assertOpaque(t, name, raw)
			if int64(len(raw)) != seal.SealedSize(int64(len(img))) {
				t.Errorf("%s: stored %d bytes, want the %d that %d bytes seal to", name, len(raw), seal.SealedSize(int64(len(img))), len(img))
			}
			if bytes.Contains(raw, img[:64]) {
				t.Errorf("%s: the stored bytes contain the upload's first 64 bytes", name)
			}
			env.checkDownload(t, env.KeyA, photo, img)
		}
	})
}

// TestUploadTempFilesSealed: while an upload is on its way, what its
// temporary file (or S3 spool file) holds is already sealed.
func TestUploadTempFilesSealed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		clientID := env.newClientID(t, env.KeyA)
		img := testimage.JPEGSize(400<<10, 9)
		enc := base64.StdEncoding.EncodeToString(img)
		pr, pw := io.Pipe()
		done := make(chan *response, 1)
		go func() {
			req, err := env.newRequest("POST", "/v1/livePhotos", env.KeyA, nil)
			if err != nil {
				pw.CloseWithError(err)
				done <- nil
				return
			}
			req.Body = pr
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			done <- env.send(t, req)
		}()
		half := len(enc) / 2
		fmt.Fprintf(pw, `{"clientId":%q,"data":"%s`, clientID, enc[:half])
		// Wait for the temporary file to hold more than a chunk.
		var temp []byte
		deadline := time.Now().Add(10 * time.Second)
		for len(temp) < seal.ChunkSize+seal.HeaderSize && time.Now().Before(deadline) {
			entries, _ := os.ReadDir(env.storage.tempDir)
			for _, e := range entries {
				if b, err := os.ReadFile(filepath.Join(env.storage.tempDir, e.Name())); err == nil && len(b) > len(temp) {
					temp = b
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(temp) < seal.ChunkSize+seal.HeaderSize {
			t.Fatalf("no temporary file of more than a chunk appeared in %s (largest %d bytes)", env.storage.tempDir, len(temp))
		}
		assertOpaque(t, "temporary file", temp)
		fmt.Fprintf(pw, `%s"}`, enc[half:])
		pw.Close()
		r := <-done
		wantStatus(t, r, http.StatusOK)
		env.checkDownload(t, env.KeyA, r.JSON, img)
	})
}

// TestDeletedPhotoBackupUnreadable: a copy of a photo's stored bytes taken
// before it was deleted or redacted, or before its client was deleted,
// cannot be opened afterwards: not by restoring it (bytes and record)
// into the running service, and not with any key the key store holds.
func TestDeletedPhotoBackupUnreadable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		keep := env.newClientID(t, env.KeyA)
		doomed := env.newClientID(t, env.KeyA)
		img := testimage.JPEG(320, 240, 7)
		upload := func(client string) string { return str(t, env.upload(t, env.KeyA, client, img), "id") }
		deleted, redacted, kept, ofDeletedClient := upload(keep), upload(keep), upload(keep), upload(doomed)

		// The backup: stored bytes and records, before anything goes.
		type copied struct {
			raw    []byte
			record *facevault.LivePhoto
		}
		backup := map[string]copied{}
		for _, id := range []string{deleted, redacted, kept, ofDeletedClient} {
			rec, err := env.store.LivePhoto(ctx, env.ScopeA, id)
			if err != nil {
				t.Fatal(err)
			}
			backup[id] = copied{env.rawBlob(t, id), rec}
		}

		wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+deleted, env.KeyA, nil), http.StatusNoContent)
		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+redacted+"/redact", env.KeyA, nil), http.StatusOK)
		wantStatus(t, env.do(t, "DELETE", "/v1/clients/"+doomed, env.KeyA, nil), http.StatusNoContent)
		env.waitPurged(t)

		// No key the deployment holds opens any of the three copies.
		var held [][]byte
		for after := ""; ; {
			ids, err := env.vault.Keys.PhotoKeyIDs(ctx, time.Now().Add(time.Hour), after, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) == 0 {
				break
			}
			after = ids[len(ids)-1]
			for _, id := range ids {
				k, err := env.vault.Keys.PhotoKey(ctx, id)
				if err == nil {
					held = append(held, k)
				}
			}
		}
		if len(held) == 0 {
			t.Fatal("the key store holds no key at all: the kept photo's should be there")
		}
		for _, id := range []string{deleted, redacted, ofDeletedClient} {
			if _, err := env.vault.Keys.PhotoKey(ctx, id); !errors.Is(err, facevault.ErrNotFound) {
				t.Errorf("key of %s after its deletion: %v, want ErrNotFound", id, err)
			}
			for i, k := range held {
				if r, err := seal.NewReader(bytes.NewReader(backup[id].raw), k); err == nil {
					if _, err := io.ReadAll(r); err == nil {
						t.Errorf("held key %d opens the backup of %s", i, id)
					}
				}
			}
		}

		// Restored into the service, bytes and record, the deleted photo
		// is an image that was destroyed; the kept one still downloads.
		env.putRawBlob(t, deleted, backup[deleted].raw)
		if err := env.store.CreateLivePhoto(ctx, env.ScopeA, backup[deleted].record); err != nil {
			t.Fatal(err)
		}
		r := env.do(t, "GET", "/v1/livePhotos/"+deleted+"/download", env.KeyA, nil)
		wantStatus(t, r, http.StatusNotFound)
		if msg := str(t, r.JSON, "message"); !strings.Contains(msg, "destroyed") {
			t.Errorf("download of a restored deleted photo: %q, want it to say the image was destroyed", msg)
		}
		if got := env.download(t, kept); !bytes.Equal(got, img) {
			t.Errorf("the kept photo downloads %d bytes differing from its %d", len(got), len(img))
		}
		// Tidy up what the restore put back, as the sweep would.
		wantStatus(t, env.do(t, "DELETE", "/v1/livePhotos/"+deleted, env.KeyA, nil), http.StatusNoContent)
		env.waitPurged(t)
		if env.storage.bucket != "" {
			// Versioning is on (see openPostgresS3): no version of a
			// deleted photo is left.
			for o := range s3test.Client(t).ListObjects(ctx, env.storage.bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
				for _, id := range []string{deleted, redacted, ofDeletedClient} {
					if strings.Contains(o.Key, id) {
						t.Errorf("bucket still holds %s (version %s)", o.Key, o.VersionID)
					}
				}
			}
		}
	})
}

// download fetches a photo's bytes through the API.
func (e *testEnv) download(t testing.TB, id string) []byte {
	t.Helper()
	r := e.do(t, "GET", "/v1/livePhotos/"+id+"/download", e.KeyA, nil)
	wantStatus(t, r, http.StatusOK)
	b, err := base64.StdEncoding.DecodeString(str(t, r.JSON, "data"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLivenessFindingsSealed: the record store holds a photo's liveness
// findings sealed under the photo's key; the API shows them in the clear
// while the photo lives, and no more once redaction destroyed the key.
func TestLivenessFindingsSealed(t *testing.T) {
	imgs, err := livenessImages()
	if err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, env *testEnv) {
		livenessEnv(t, env, false)
		clientID := env.newClientID(t, env.KeyA)
		photo := env.upload(t, env.KeyA, clientID, imgs["face"])
		id := str(t, photo, "id")
		check, ok := photo["livenessCheck"].(map[string]any)
		if !ok {
			t.Fatalf("upload answered no livenessCheck: %v", photo)
		}
		rec, err := env.store.LivePhoto(context.Background(), env.ScopeA, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.LivenessCheck != nil || len(rec.SealedLivenessCheck) == 0 {
			t.Fatalf("the record store holds the check in the clear (%v) or not at all", rec.LivenessCheck)
		}
		for _, word := range []string{"outcome", "faceCount", "clear", "attention"} {
			if bytes.Contains(rec.SealedLivenessCheck, []byte(word)) {
				t.Errorf("the sealed check holds %q", word)
			}
		}
		got := env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil)
		wantStatus(t, got, http.StatusOK)
		if fmt.Sprint(got.JSON["livenessCheck"]) != fmt.Sprint(check) {
			t.Errorf("get shows livenessCheck %v, want the upload's %v", got.JSON["livenessCheck"], check)
		}
		list := env.do(t, "GET", "/v1/livePhotos?clientId="+clientID, env.KeyA, nil)
		wantStatus(t, list, http.StatusOK)
		if items := list.JSON["items"].([]any); len(items) != 1 || fmt.Sprint(items[0].(map[string]any)["livenessCheck"]) != fmt.Sprint(check) {
			t.Errorf("list shows %v, want the upload's check", items)
		}

		wantStatus(t, env.do(t, "POST", "/v1/livePhotos/"+id+"/redact", env.KeyA, nil), http.StatusOK)
		got = env.do(t, "GET", "/v1/livePhotos/"+id, env.KeyA, nil)
		wantStatus(t, got, http.StatusOK)
		if _, has := got.JSON["livenessCheck"]; has || got.JSON["redacted"] != true {
			t.Errorf("a redacted photo shows %v; want it redacted, without its liveness findings", got.JSON)
		}
		list = env.do(t, "GET", "/v1/livePhotos?clientId="+clientID, env.KeyA, nil)
		if items := list.JSON["items"].([]any); len(items) != 1 || items[0].(map[string]any)["livenessCheck"] != nil {
			t.Errorf("list shows %v, want the redacted photo without findings", items)
		}
	})
}
