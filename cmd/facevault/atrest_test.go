package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/seal"
	"github.com/facevault/facevault/sqlite"
)

// TestServeMasterKey: the first start makes a master key beside the data
// directory, 0600, and says where it is and how to back it up; later
// starts refuse a wrong, malformed, exposed or missing master key with a
// clear message, and nothing is lost: with the right key back, every photo
// downloads.
func TestServeMasterKey(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	keyDir := dir + "-keys"
	masterFile := filepath.Join(keyDir, "master.key")
	s := startServe(t, serveArgs(dir)...)
	out := s.stdout.String()
	for _, want := range []string{"Created a master key in " + masterFile, "Back it up now", "FACEVAULT_MASTER_KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("first start printed %q, want it to contain %q", out, want)
		}
	}
	if info, err := os.Stat(masterFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, %v; want it 0600", info, err)
	}
	if _, err := os.Stat(filepath.Join(keyDir, "keys.db")); err != nil {
		t.Fatalf("key store beside the data directory: %v", err)
	}
	// Nothing of the keys is in the data directory.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "key") && d.Name() != "facevault.db" {
			t.Errorf("the data directory holds %s", path)
		}
		return nil
	})
	key := s.bootstrapKeys(t).test
	client := s.createClient(t, key)
	img := testimage.JPEG(256, 256, 1)
	id := s.uploadPhoto(t, key, client, img)
	s.stop(t)
	assertSealedFile(t, dir, id, img)
	good, err := os.ReadFile(masterFile)
	if err != nil {
		t.Fatal(err)
	}

	other, _ := keyring.NewMasterKeyText()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		want  []string
	}{
		{"another key", func(t *testing.T) { writeFile(t, masterFile, other+"\n", 0o600) },
			[]string{"is not the key store", "nothing was changed"}},
		{"16 bytes", func(t *testing.T) {
			writeFile(t, masterFile, base64.StdEncoding.EncodeToString(make([]byte, 16))+"\n", 0o600)
		}, []string{masterFile, "16 bytes, want 32"}},
		{"not base64", func(t *testing.T) { writeFile(t, masterFile, "not a key!\n", 0o600) },
			[]string{masterFile, "not base64"}},
		{"readable by others", func(t *testing.T) { writeFile(t, masterFile, string(good), 0o644) },
			[]string{"readable by others", "chmod 600"}},
		{"missing", func(t *testing.T) { os.Remove(masterFile) },
			[]string{"its master key is missing", masterFile, "nothing was changed"}},
		{"in the environment, wrong", func(t *testing.T) {
			os.Remove(masterFile)
			t.Setenv(masterKeyEnv, other)
		}, []string{"is not the key store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			err := serveRefused(t, "--data", dir)
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("serve: %v; want it to say %q", err, want)
				}
			}
			if code := exitCode(err); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if _, err := os.Stat(masterFile); err == nil {
				if b, _ := os.ReadFile(masterFile); tc.name == "missing" && len(b) > 0 {
					t.Errorf("a refused serve made a new master key")
				}
			}
			writeFile(t, masterFile, string(good), 0o600)
		})
	}
	// Both ways at once is a usage error.
	t.Setenv(masterKeyEnv, strings.TrimSpace(lastKeyLine(good)))
	if err := serveRefused(t, "--data", dir, "--master-key-file", masterFile); exitCode(err) != 2 || !strings.Contains(err.Error(), "give the master key one way") {
		t.Errorf("serve with both: %v, want a usage error", err)
	}
	// The key in the environment alone, the file gone: every photo is there.
	os.Remove(masterFile)
	s = startServe(t, serveArgs(dir)...)
	if got := s.download(t, key, id); !bytes.Equal(got, img) {
		t.Errorf("download with the key from the environment: %d bytes differing from the %d uploaded", len(got), len(img))
	}
	s.stop(t)
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// lastKeyLine is the last line of a key file that is not a comment.
func lastKeyLine(text []byte) string {
	var key string
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			key = line
		}
	}
	return key
}

// TestDataDirectoryCopyAfterDeletion: a copy of the whole data directory
// taken before photos were deleted, redacted, or their client deleted, put
// back in place of the data directory, yields none of them: each is an
// image that was destroyed, while the photos kept download as uploaded. No
// file of the copy holds an image in the clear.
func TestDataDirectoryCopyAfterDeletion(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	keep, doomed := s.createClient(t, key), s.createClient(t, key)
	imgs := map[string][]byte{}
	upload := func(client string, seed uint64) string {
		img := testimage.JPEG(256, 256, seed)
		id := s.uploadPhoto(t, key, client, img)
		imgs[id] = img
		return id
	}
	deleted, redacted, kept, ofDeleted := upload(keep, 1), upload(keep, 2), upload(keep, 3), upload(doomed, 4)
	s.stop(t)
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)
	filepath.WalkDir(backup, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for id, img := range imgs {
			if bytes.Contains(b, img[:32]) || bytes.Contains(b, img[len(img)-32:]) {
				t.Errorf("%s holds photo %s in the clear", path, id)
			}
		}
		return nil
	})

	s = startServe(t, serveArgs(dir)...)
	if st, body := s.do(t, "DELETE", "/v1/livePhotos/"+deleted, key, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, body)
	}
	if st, body := s.do(t, "POST", "/v1/livePhotos/"+redacted+"/redact", key, nil); st != http.StatusOK {
		t.Fatalf("redact: %d %s", st, body)
	}
	if st, body := s.do(t, "DELETE", "/v1/clients/"+doomed, key, nil); st != http.StatusNoContent {
		t.Fatalf("delete client: %d %s", st, body)
	}
	s.stop(t)

	// The copy in place of the data directory; the key store is today's.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, dir)
	s = startServe(t, serveArgs(dir)...)
	defer s.stop(t)
	for _, id := range []string{deleted, redacted, ofDeleted} {
		status, body := s.do(t, "GET", "/v1/livePhotos/"+id+"/download", key, nil)
		if status != http.StatusNotFound || !strings.Contains(string(body), "was destroyed") {
			t.Errorf("download of %s from the copy: %d %s; want 404, its image destroyed", id, status, body)
		}
	}
	if got := s.download(t, key, kept); !bytes.Equal(got, imgs[kept]) {
		t.Errorf("the kept photo: %d bytes differing from the %d uploaded", len(got), len(imgs[kept]))
	}
}

// copyDir copies a directory tree, as a backup would.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", from, to, err, out)
	}
}

// previousRelease writes a data directory as the release before encryption
// at rest did: the same record store and image directory, images in the
// clear, no key store. It returns an API key and the photos.
func previousRelease(t *testing.T, dir string, n int) (string, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	if _, err := facevault.Bind(ctx, facevault.Pair{Records: db, Images: blobs}, false); err != nil {
		t.Fatal(err)
	}
	v := facevault.NewVault(db, blobs, slog.New(slog.DiscardHandler)) // no Keys: images in the clear
	secret, _, err := createKey(ctx, db, "default", facevault.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	scope, err := facevault.Authenticate(ctx, db, secret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.CreateClient(ctx, scope, &facevault.ClientPatch{Type: strPtr("person"), Email: strPtr("old@example.com"),
		PersonDetails: &facevault.PersonDetailsPatch{FirstName: strPtr("Old"), LastName: strPtr("Release")}})
	if err != nil {
		t.Fatal(err)
	}
	photos := map[string][]byte{}
	for i := range n {
		img := testimage.JPEG(256, 256, uint64(50+i))
		u, err := v.BeginUpload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write(img); err != nil {
			t.Fatal(err)
		}
		p, err := v.FinishUpload(ctx, scope, u, c.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		photos[p.ID] = img
	}
	return secret, photos
}

func strPtr(s string) *string { return &s }

// TestUpgradeFromClearImages: a data directory written by the release
// before encryption at rest keeps working at once, and serve encrypts its
// images in the background: each is then sealed on disk, under a key of
// its own, and still downloads as uploaded. A photo deleted afterwards is
// crypto-shredded like any other.
func TestUpgradeFromClearImages(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	key, photos := previousRelease(t, dir, 3)
	for id, img := range photos {
		assertFileBytes(t, blobFile(dir, id), img) // in the clear, as that release left them
	}
	s := startServe(t, serveArgs(dir)...)
	for id, img := range photos {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download of %s after the upgrade: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	waitFor(t, "the images to be sealed", func() bool {
		for id := range photos {
			b, err := os.ReadFile(blobFile(dir, id))
			if err != nil || !seal.IsSealed(b) {
				return false
			}
		}
		return true
	})
	for id, img := range photos {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download of %s once sealed: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	waitFor(t, "serve to log the sealing", func() bool {
		log := s.stderr.String()
		return strings.Contains(log, "sealed images stored in the clear") && strings.Contains(log, "count=3")
	})
	s.stop(t)
	for id, img := range photos {
		assertSealedFile(t, dir, id, img)
	}
	// A sweep by hand finds nothing left to seal.
	if out := mustRun(t, "sweep", "--data", dir); strings.Contains(out, "Encrypted") {
		t.Errorf("sweep after sealing: %q, want nothing sealed", out)
	}
}

// TestSweepSealsClearImages: 'facevault sweep' seals the clear images of
// an earlier release too, and says how many; without a master key on a
// store never encrypted, it leaves them and makes no key.
func TestSweepSealsClearImages(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	_, photos := previousRelease(t, dir, 2)
	if out, _, err := runCLI(t, "sweep", "--data", dir); err != nil || strings.Contains(out, "Encrypted") {
		t.Fatalf("sweep with no master key: %q, %v; want it to run and encrypt nothing", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir+"-keys", "master.key")); err == nil {
		t.Error("sweep made a master key: only serve's first start does")
	}
	for id, img := range photos {
		assertFileBytes(t, blobFile(dir, id), img)
	}
	master, err := keyring.NewMasterKeyText()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(masterKeyEnv, master)
	if out := mustRun(t, "sweep", "--data", dir); !strings.Contains(out, "Encrypted 2 images stored in the clear") {
		t.Errorf("sweep with a master key: %q, want 2 images encrypted", out)
	}
	masterFile := filepath.Join(t.TempDir(), "master.key")
	writeFile(t, masterFile, master+"\n", 0o600)
	for id, img := range photos {
		stored, err := os.ReadFile(blobFile(dir, id))
		if err != nil {
			t.Fatal(err)
		}
		if got := unseal(t, "sqlite://"+filepath.Join(dir+"-keys", "keys.db"), masterFile, id, stored); !bytes.Equal(got, img) {
			t.Errorf("photo %s opens to %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	if out := mustRun(t, "sweep", "--data", dir); strings.Contains(out, "Encrypted") {
		t.Errorf("a second sweep: %q, want nothing left to encrypt", out)
	}
}

// TestRotateMaster rotates the master key while serve runs: every client
// key is rewrapped, no image is touched, serve goes on reading and writing,
// and once the old key is retired, the new key alone opens the store.
func TestRotateMaster(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	masterFile := filepath.Join(dir+"-keys", "master.key")
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	imgs := map[string][]byte{}
	for i := range 3 {
		img := testimage.JPEG(256, 256, uint64(i))
		imgs[s.uploadPhoto(t, key, s.createClient(t, key), img)] = img
	}
	stored := map[string][]byte{}
	for id := range imgs {
		b, err := os.ReadFile(blobFile(dir, id))
		if err != nil {
			t.Fatal(err)
		}
		stored[id] = b
	}
	oldFile, _ := os.ReadFile(masterFile)
	oldMasters, err := keyring.ParseMasterKeys(oldFile, masterFile)
	if err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "keys", "rotate-master", "--data", dir)
	if !strings.Contains(out, "Rewrapped 3 client keys") {
		t.Errorf("rotate-master printed %q, want 3 client keys rewrapped", out)
	}
	masters, err := keyring.ReadMasterFile(masterFile)
	if err != nil || len(masters) != 2 || masters[1].ID() != oldMasters[0].ID() {
		t.Fatalf("key file after rotation: %v, %v; want the new key first, the old second", masters, err)
	}
	for id, b := range stored {
		if now, _ := os.ReadFile(blobFile(dir, id)); !bytes.Equal(now, b) {
			t.Errorf("rotation changed the stored bytes of %s", id)
		}
	}
	// serve, still running with the old key in memory, reads every photo
	// (it rereads the file) and makes new clients' keys.
	for id, img := range imgs {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download of %s after rotation: %d bytes differing", id, len(got))
		}
	}
	img := testimage.JPEG(256, 256, 9)
	imgs[s.uploadPhoto(t, key, s.createClient(t, key), img)] = img
	s.stop(t)

	if _, _, err := runCLI(t, "keys", "retire-master", "--data", dir, masters[0].ID()); err == nil {
		t.Error("retire-master of the current key succeeded")
	}
	// The upload above may have wrapped its client's key with the old
	// master, before serve reread the file: a second rotation takes it.
	mustRun(t, "keys", "rotate-master", "--data", dir)
	masters, _ = keyring.ReadMasterFile(masterFile)
	for _, m := range masters[1:] {
		out := mustRun(t, "keys", "retire-master", "--data", dir, m.ID())
		if !strings.Contains(out, "Retired master key "+m.ID()) {
			t.Errorf("retire-master printed %q", out)
		}
	}
	if ms, err := keyring.ReadMasterFile(masterFile); err != nil || len(ms) != 1 {
		t.Fatalf("key file after retiring: %d keys, %v; want 1", len(ms), err)
	}
	s = startServe(t, serveArgs(dir)...)
	for id, img := range imgs {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download of %s with the new key alone: %d bytes differing", id, len(got))
		}
	}
	s.stop(t)
	// The original key alone no longer opens the store.
	writeFile(t, masterFile, string(oldFile), 0o600)
	if err := serveRefused(t, "--data", dir); err == nil || !strings.Contains(err.Error(), "is not the key store") {
		t.Errorf("serve with the retired key: %v", err)
	}
}

// TestReceiptsVerify: a receipt fetched from a running serve verifies
// offline with 'facevault receipts verify' against the key served at
// /.well-known/facevault-receipts.pub (which 'receipts public-key' prints
// too); with any byte of it changed, it does not.
func TestReceiptsVerify(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	s := startServe(t, serveArgs(dir)...)
	key := s.bootstrapKeys(t).test
	client := s.createClient(t, key)
	id := s.uploadPhoto(t, key, client, testimage.JPEG(256, 256, 3))
	if st, body := s.do(t, "DELETE", "/v1/livePhotos/"+id, key, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, body)
	}
	st, list := s.do(t, "GET", "/v1/deletionReceipts?resourceId="+id, key, nil)
	if st != http.StatusOK {
		t.Fatalf("receipts: %d %s", st, list)
	}
	st, pem := s.do(t, "GET", "/.well-known/facevault-receipts.pub", "", nil)
	if st != http.StatusOK {
		t.Fatalf("public key: %d %s", st, pem)
	}
	s.stop(t)
	if printed := mustRun(t, "receipts", "public-key", "--data", dir); printed != string(pem) {
		t.Errorf("receipts public-key printed %q, serve served %q", printed, pem)
	}
	work := t.TempDir()
	keyFile, listFile := filepath.Join(work, "receipts.pub"), filepath.Join(work, "list.json")
	writeFile(t, keyFile, string(pem), 0o644)
	writeFile(t, listFile, string(list), 0o644)
	out := mustRun(t, "receipts", "verify", "--public-key", keyFile, listFile)
	if !strings.Contains(out, "valid receipt") || !strings.Contains(out, "livePhoto.deleted of livePhoto "+id) {
		t.Errorf("verify printed %q", out)
	}
	// One receipt alone, as an object.
	var doc struct{ Items []map[string]any }
	decode(t, list, &doc)
	one, _ := json.Marshal(doc.Items[0])
	writeFile(t, listFile, string(one), 0o644)
	mustRun(t, "receipts", "verify", "--public-key", keyFile, listFile)
	// Any byte of the payload or signature changed: invalid, exit code 1.
	payload := doc.Items[0]["payload"].(string)
	for _, change := range []func(m map[string]any){
		func(m map[string]any) { m["payload"] = strings.Replace(payload, id, facevault.NewID(time.Now()), 1) },
		func(m map[string]any) {
			m["payload"] = strings.Replace(payload, "livePhoto.deleted", "livePhoto.redacted", 1)
		},
		func(m map[string]any) {
			sig := []byte(m["signature"].(string))
			sig[5] ^= 1
			m["signature"] = string(sig)
		},
	} {
		m := maps.Clone(doc.Items[0])
		change(m)
		b, _ := json.Marshal(m)
		writeFile(t, listFile, string(b), 0o644)
		out, _, err := runCLI(t, "receipts", "verify", "--public-key", keyFile, listFile)
		if err == nil || exitCode(err) != 1 || !strings.Contains(out, "INVALID") {
			t.Errorf("a changed receipt: %q, %v; want it refused", out, err)
		}
	}
	// Usage errors.
	for _, args := range [][]string{{"receipts", "verify", listFile}, {"receipts", "verify", "--public-key", keyFile}} {
		if _, _, err := runCLI(t, args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	writeFile(t, listFile, "{}", 0o644)
	if _, _, err := runCLI(t, "receipts", "verify", "--public-key", keyFile, listFile); err == nil || !strings.Contains(err.Error(), "no receipt") {
		t.Errorf("an empty object: %v", err)
	}
	if _, _, err := runCLI(t, "receipts", "verify", "--public-key", listFile, listFile); err == nil || !strings.Contains(err.Error(), "not a PEM public key") {
		t.Errorf("a bad key file: %v", err)
	}
}

// TestServeFaceEmbeddings: by default serve keeps the sealed embedding of
// an upload with one face; with --face-embeddings=false, none.
func TestServeFaceEmbeddings(t *testing.T) {
	clearEnv(t)
	face, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		dir := t.TempDir()
		args := serveArgs(dir)
		if !on {
			args = append(args, "--face-embeddings=false")
		}
		s := startServe(t, args...)
		key := s.bootstrapKeys(t).test
		client := s.createClient(t, key)
		status, body := s.do(t, "POST", "/v1/livePhotos", key, uploadBody(client, face, true))
		if status != http.StatusOK {
			t.Fatalf("upload: %d %s", status, body)
		}
		id, _ := jsonObject(t, body)["id"].(string)
		s.stop(t)
		db, err := sql.Open("sqlite", filepath.Join(dir, "facevault.db"))
		if err != nil {
			t.Fatal(err)
		}
		var sealed []byte
		err = db.QueryRowContext(t.Context(), `SELECT face_embedding FROM live_photos WHERE id = ?`, id).Scan(&sealed)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if on != (len(sealed) > 0) {
			t.Errorf("--face-embeddings=%v: the record holds %d bytes of embedding", on, len(sealed))
		}
	}
}
