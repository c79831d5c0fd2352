package main

// The store identity, the bounded sweep and the quarantine on PostgreSQL
// and S3 (the servers ./scripts/test starts).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/pgtest"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/s3blob"
	"github.com/facevault/facevault/seal"
)

// sharedWithPhotos is a shared store served once, with photos uploaded.
func sharedWithPhotos(t *testing.T, n int) (*sharedStores, string, map[string][]byte) {
	t.Helper()
	st := newSharedStores(t)
	s := startNode(t, st.args())
	key := s.bootstrapKeys(t).test
	client := s.createClient(t, key)
	photos := map[string][]byte{}
	for i := range n {
		img := testimage.JPEG(256, 256, uint64(200+i))
		photos[s.uploadPhoto(t, key, client, img)] = img
	}
	s.stop(t)
	return st, key, photos
}

// markerID reads the bucket's store marker; "" if there is none.
func markerID(t *testing.T, bucket string) string {
	t.Helper()
	o, err := s3test.Client(t).GetObject(t.Context(), bucket, s3blob.MarkerName, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// pgExec runs statements directly on a database.
func pgExec(t *testing.T, dbURL string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	for _, q := range stmts {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func assertPhotosInBucket(t *testing.T, bucket string, photos map[string][]byte) {
	t.Helper()
	for id, img := range photos {
		assertObject(t, bucket, id, true, img)
	}
}

// TestScaleEmptyPostgresAgainstFullBucket migrates a new, empty database
// and points it at a bucket full of another store's photos: migrate binds
// nothing, and serve and sweep refuse, marked bucket or not; nothing is
// removed. Forced, sweep binds and sets the images aside, and quarantine
// restore with the right database brings them all back.
func TestScaleEmptyPostgresAgainstFullBucket(t *testing.T) {
	st, key, photos := sharedWithPhotos(t, 3)
	clearServeEnv(t)
	storeID := markerID(t, st.bucket)
	if !facevault.ValidStoreID(storeID) {
		t.Fatalf("the bucket's marker holds %q after serve, want a store id", storeID)
	}
	empty := pgtest.URL(t)
	mustRun(t, "migrate", "--db", empty)
	if n := queryInt(t, empty, `SELECT count(*) FROM store_identity`); n != 0 {
		t.Fatalf("migrate recorded %d store ids, want none: it opens no image store", n)
	}
	flags := []string{"--db", empty, "--blobs", st.blobsURL()}
	refusedEverywhere := func(t *testing.T, want ...string) {
		t.Helper()
		assertPairError(t, "serve", serveRefused(t, flags...), want...)
		for _, cmd := range [][]string{{"sweep"}, {"quarantine", "list"}, {"quarantine", "restore", "--all"}} {
			_, _, err := runCLI(t, append(cmd, flags...)...)
			assertPairError(t, strings.Join(cmd, " "), err, want...)
		}
		assertPhotosInBucket(t, st.bucket, photos)
		if n := queryInt(t, empty, `SELECT count(*) FROM store_identity`); n != 0 {
			t.Errorf("a refusal recorded a store id in the new database")
		}
	}
	t.Run("marked bucket", func(t *testing.T) {
		refusedEverywhere(t, redact(empty), st.blobsURL(), storeID, "has no record of any of the 3 images checked")
	})
	t.Run("unmarked bucket", func(t *testing.T) {
		if err := s3test.Client(t).RemoveObject(t.Context(), st.bucket, s3blob.MarkerName, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		refusedEverywhere(t, redact(empty), st.blobsURL(), "no store id")
		if got := markerID(t, st.bucket); got != "" {
			t.Errorf("a refusal wrote the marker %q", got)
		}
		// The right database puts the marker back.
		s := startNode(t, st.args())
		s.stop(t)
		if got := markerID(t, st.bucket); got != storeID {
			t.Fatalf("marker after serving the right pair: %q, want %q", got, storeID)
		}
	})

	// An operator forces the sweep on the wrong database: the images go to
	// quarantine, all of them, and nothing is destroyed.
	out := mustRun(t, append([]string{"sweep", "--force"}, flags...)...)
	t.Logf("sweep --force: %s", out)
	if out != sweptOut(0) {
		// The shared store's grace keeps images younger than 10 minutes:
		// the forced sweep binds, but moves nothing yet.
		t.Errorf("sweep --force printed %q, want %q", out, sweptOut(0))
	}
	if got := queryInt(t, empty, `SELECT count(*) FROM store_identity WHERE id = $1`, storeID); got != 1 {
		t.Fatalf("sweep --force did not bind the new database to the bucket's store %s", storeID)
	}
	// What a sweep on it does once the images are old, with the vault the
	// command runs (VersityGW dates objects at their PUT).
	db, err := openStore(t.Context(), empty, checkSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := openBlobStore(t.Context(), st.blobsURL())
	if err != nil {
		t.Fatal(err)
	}
	vault := facevault.NewVault(db, blobs, slog.New(slog.NewTextHandler(t.Output(), nil)))
	future := facevault.SweepOptions{Before: time.Now().Add(time.Minute), QuarantineFor: defaultQuarantineFor}
	if _, err := vault.Sweep(t.Context(), future); err == nil || !strings.Contains(err.Error(), "sweep refused: 3 of the 3") {
		t.Fatalf("unforced sweep of every image: %v, want it refused", err)
	}
	assertPhotosInBucket(t, st.bucket, photos)
	future.Force = true
	if res, err := vault.Sweep(t.Context(), future); err != nil || res.Quarantined != 3 {
		t.Fatalf("forced sweep: %+v, %v; want 3 quarantined", res, err)
	}
	for id := range photos {
		assertObject(t, st.bucket, id, false, nil)
	}
	rows := quarantineList(t, st.args()...)
	for id, img := range photos {
		// The size of what is stored: the photo sealed.
		if r := rows[id]; r == nil || r[0] != strconv.FormatInt(seal.SealedSize(int64(len(img))), 10) {
			t.Errorf("quarantine list row of %s: %q, want size %d", id, r, seal.SealedSize(int64(len(img))))
		}
	}

	// The undo, with the right database.
	out = mustRun(t, append([]string{"quarantine", "restore", "--all"}, st.args()...)...)
	if !strings.HasSuffix(out, "Restored 3 images.\n") {
		t.Errorf("quarantine restore --all printed %q", out)
	}
	assertPhotosInBucket(t, st.bucket, photos)
	if rows := quarantineList(t, st.args()...); len(rows) != 0 {
		t.Errorf("quarantine after restore --all: %q", rows)
	}
	s := startNode(t, st.args())
	for id, img := range photos {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download %s after the undo: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
}

// TestScaleUpgradeWithoutMarkers takes a shared store back to before store
// ids (no marker, schema version 1): serve asks for migrate, as for any
// upgrade; after migrate it starts, binds both and serves every photo.
func TestScaleUpgradeWithoutMarkers(t *testing.T) {
	st, key, photos := sharedWithPhotos(t, 2)
	clearServeEnv(t)
	if err := s3test.Client(t).RemoveObject(t.Context(), st.bucket, s3blob.MarkerName, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	pgExec(t, st.dbURL, downTo(t, "postgres", 1)...)
	forgetKeyStoreID(t, "postgres", st.dbURL)
	if err := serveRefused(t, st.args()...); !strings.Contains(err.Error(), "run 'facevault migrate") {
		t.Errorf("serve on the old schema: %v, want it to ask for migrate", err)
	}
	mustRun(t, "migrate", "--db", st.dbURL)
	if got := markerID(t, st.bucket); got != "" {
		t.Errorf("migrate wrote the marker %q: it opens no image store", got)
	}
	s := startNode(t, st.args())
	for id, img := range photos {
		if got := s.download(t, key, id); !bytes.Equal(got, img) {
			t.Errorf("download %s after the upgrade: %d bytes differing from the %d uploaded", id, len(got), len(img))
		}
	}
	s.stop(t)
	var id string
	conn, err := pgx.Connect(t.Context(), st.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	if err := conn.QueryRow(t.Context(), `SELECT id FROM store_identity`).Scan(&id); err != nil {
		t.Fatalf("store id after the upgrade: %v", err)
	}
	if got := markerID(t, st.bucket); got != id || !facevault.ValidStoreID(id) {
		t.Errorf("after the upgrade the database holds %q and the marker %q: want one valid id", id, got)
	}
	assertOneToOne(t, st)
}

// TestScaleQuarantine lists, restores and expires quarantined images on S3
// through the commands. The images are quarantined with the vault the
// commands run, with a cut-off past them: VersityGW dates an object at its
// PUT, and a shared store's sweep leaves images younger than 10 minutes.
func TestScaleQuarantine(t *testing.T) {
	st, _, photos := sharedWithPhotos(t, 4)
	clearServeEnv(t)
	c := s3test.Client(t)
	orphan, taken := facevault.NewID(time.Now()), facevault.NewID(time.Now())
	for _, id := range []string{orphan, taken} {
		if _, err := c.PutObject(t.Context(), st.bucket, "livephotos/"+id, strings.NewReader("orphaned image bytes"), 20, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	db := st.open(t)
	defer db.Close()
	blobs, err := openBlobStore(t.Context(), st.blobsURL())
	if err != nil {
		t.Fatal(err)
	}
	vault := facevault.NewVault(db, blobs, slog.New(slog.NewTextHandler(t.Output(), nil)))
	res, err := vault.Sweep(t.Context(), facevault.SweepOptions{Before: time.Now().Add(time.Minute), QuarantineFor: time.Hour})
	if err != nil || res.Quarantined != 2 || res.Examined != 6 {
		t.Fatalf("sweep: %+v, %v; want 2 of 6 quarantined", res, err)
	}
	objects := bucketObjects(t, st.bucket)
	for _, id := range []string{orphan, taken} {
		assertObject(t, st.bucket, id, false, nil)
		if !slices.Contains(objects, "quarantine/"+id) {
			t.Errorf("the bucket holds %q, want quarantine/%s", objects, id)
		}
	}
	rows := quarantineList(t, st.args()...)
	if len(rows) != 2 || rows[orphan] == nil || rows[orphan][0] != "20" {
		t.Fatalf("quarantine list: %q, want %s and %s of 20 bytes", rows, orphan, taken)
	}

	out := mustRun(t, append(append([]string{"quarantine", "restore"}, st.args()...), orphan)...)
	if out != "Restored "+orphan+".\nRestored 1 images.\n" {
		t.Errorf("quarantine restore printed %q", out)
	}
	assertObject(t, st.bucket, orphan, true, []byte("orphaned image bytes"))
	if _, err := c.PutObject(t.Context(), st.bucket, "livephotos/"+taken, strings.NewReader("newer"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, append(append([]string{"quarantine", "restore"}, st.args()...), taken)...)
	if err == nil || exitCode(err) != 1 || !strings.Contains(stderr, "an image with this key is in the image store") {
		t.Errorf("restore over an object: %v, %q; want it refused", err, stderr)
	}
	assertObject(t, st.bucket, taken, true, []byte("newer"))

	// Expiry: purged by the next sweep once older than --quarantine-for.
	time.Sleep(20 * time.Millisecond)
	out = mustRun(t, append([]string{"sweep", "--quarantine-for", "10ms"}, st.args()...)...)
	if !strings.HasPrefix(out, "Destroyed 1 images quarantined more than 10ms ago.\n") {
		t.Errorf("sweep --quarantine-for 10ms printed %q", out)
	}
	if rows := quarantineList(t, st.args()...); len(rows) != 0 {
		t.Errorf("quarantine after the purge: %q", rows)
	}
	if objects := bucketObjects(t, st.bucket); slices.Contains(objects, "quarantine/"+taken) {
		t.Errorf("the purged image is still in the bucket: %q", objects)
	}
	assertPhotosInBucket(t, st.bucket, photos)
}
