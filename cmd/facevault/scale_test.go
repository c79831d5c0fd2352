package main

// Tests of FaceVault scaled out: several serve nodes, in-process, over real
// HTTP, sharing one PostgreSQL database and one S3 bucket (the servers
// ./scripts/test starts; without them these tests fail, they never skip).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/browsertest"
	"github.com/facevault/facevault/internal/pgtest"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/tcpproxy"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/postgres"
	"github.com/facevault/facevault/s3blob"
	"github.com/facevault/facevault/seal"
)

// genericMessage is what a 500 says, whatever its cause (http/error.go).
const genericMessage = "An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."

// sharedStores are the back ends that nodes share: a PostgreSQL database,
// migrated, and an S3 bucket, both new and empty.
type sharedStores struct {
	dbURL    string
	endpoint string // the S3 server, http://host:port
	bucket   string
}

// newSharedStores creates a database and a bucket for the test, and
// migrates the database.
func newSharedStores(t *testing.T) *sharedStores {
	t.Helper()
	st := &sharedStores{dbURL: pgtest.URL(t)}
	st.endpoint, st.bucket = s3test.Bucket(t)
	// Their key store is in the database; the nodes share a master key,
	// in a file of the test's that the first node creates.
	if os.Getenv("FACEVAULT_MASTER_KEY_FILE") == "" {
		t.Setenv("FACEVAULT_MASTER_KEY_FILE", filepath.Join(t.TempDir(), "master.key"))
	}
	if err := st.open(t).Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

// open opens the database, migrating it if need be.
func (st *sharedStores) open(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), st.dbURL)
	if err != nil {
		t.Fatalf("open %s: %v", st.dbURL, err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		db.Close()
		t.Fatalf("migrate %s: %v", st.dbURL, err)
	}
	return db
}

func (st *sharedStores) blobsURL() string { return s3URL(st.bucket, st.endpoint) }

// args are the flags of a command on the shared stores.
func (st *sharedStores) args() []string {
	return []string{"--db", st.dbURL, "--blobs", st.blobsURL()}
}

func s3URL(bucket, endpoint string) string { return "s3://" + bucket + "?endpoint=" + endpoint }

// startNode starts a serve node on the stores the flags name.
func startNode(t *testing.T, storeArgs []string, extra ...string) *server {
	t.Helper()
	args := append(slices.Clone(storeArgs), "--addr", "127.0.0.1:0")
	return startServe(t, append(args, extra...)...)
}

// clearServeEnv is clearEnv but keeps the variables that name the test
// servers and the browser (FACEVAULT_TEST_*), and the screenshots'
// directory, which no command reads.
func clearServeEnv(t *testing.T) {
	t.Helper()
	masterFile := os.Getenv("FACEVAULT_MASTER_KEY_FILE")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FACEVAULT_") && name != pgtest.EnvVar && name != s3test.EnvVar &&
			name != browsertest.EnvChromium && name != browsertest.EnvScreenshots {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	// The nodes of a test share a master key, in a file of the test's:
	// the first to start creates it.
	if masterFile == "" {
		masterFile = filepath.Join(t.TempDir(), "master.key")
	}
	t.Setenv("FACEVAULT_MASTER_KEY_FILE", masterFile)
}

// request is server.do without t: for goroutines. It returns transport
// errors instead of failing the test.
func (s *server) request(ctx context.Context, method, path, key string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.addr+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// uploadBody is the JSON of an upload of img for a client.
func uploadBody(clientID string, img []byte, liveness bool) map[string]any {
	return map[string]any{
		"clientId":             clientID,
		"data":                 base64.StdEncoding.EncodeToString(img),
		"performLivenessCheck": liveness,
	}
}

// jsonObject decodes a JSON object body.
func jsonObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	decode(t, body, &m)
	return m
}

// faceJPEG is a real face: pigo's sample photo (liveness/testdata/SOURCES.md).
func faceJPEG(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// photoRecords returns the client id of every live photo record in the
// database, by photo id, read directly.
func photoRecords(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT id, client_id FROM live_photos`)
	if err != nil {
		t.Fatalf("query live_photos: %v", err)
	}
	recs := map[string]string{}
	for rows.Next() {
		var id, client string
		if err := rows.Scan(&id, &client); err != nil {
			t.Fatal(err)
		}
		recs[id] = client
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query live_photos: %v", err)
	}
	return recs
}

// queryInt runs a query that returns one integer, directly on the database.
func queryInt(t *testing.T, dbURL, sql string, args ...any) int {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// bucketObjects lists every object name in the bucket, read directly.
func bucketObjects(t *testing.T, bucket string) []string {
	t.Helper()
	var names []string
	for o := range s3test.Client(t).ListObjectsIter(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, o.Err)
		}
		names = append(names, o.Key)
	}
	return names
}

// waitPurged waits until the shared stores' purge has nothing left to do:
// no key queued, no deleted client left.
func waitPurged(t *testing.T, dbURL string) {
	t.Helper()
	waitForWithin(t, "the purge to finish", 30*time.Second, func() bool {
		return queryInt(t, dbURL, `SELECT (SELECT count(*) FROM purges) + (SELECT count(*) FROM clients WHERE deleted_at IS NOT NULL)`) == 0
	})
}

// assertOneToOne checks that every live photo record has its object in the
// bucket and every object in the bucket is the bytes of a record, and
// returns the records.
func assertOneToOne(t *testing.T, st *sharedStores) map[string]string {
	t.Helper()
	recs := photoRecords(t, st.dbURL)
	objects := map[string]bool{}
	for _, name := range bucketObjects(t, st.bucket) {
		if name == s3blob.MarkerName {
			continue // the store's marker: not an image
		}
		id, ok := strings.CutPrefix(name, "livephotos/")
		if !ok || !facevault.ValidID(id) {
			t.Errorf("the bucket holds %q, which is not livephotos/<id>", name)
			continue
		}
		objects[id] = true
		if _, ok := recs[id]; !ok {
			t.Errorf("object %s has no record", name)
		}
	}
	for id := range recs {
		if !objects[id] {
			t.Errorf("record %s has no object in the bucket", id)
		}
	}
	return recs
}

// assertObject checks whether the bucket holds the photo's bytes, and if
// want is not nil that they are want.
// objectBytes reads a photo's object.
func objectBytes(t *testing.T, bucket, id string) []byte {
	t.Helper()
	o, err := s3test.Client(t).GetObject(t.Context(), bucket, "livephotos/"+id, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertObject(t *testing.T, bucket, id string, exists bool, want []byte) {
	t.Helper()
	c := s3test.Client(t)
	o, err := c.GetObject(t.Context(), bucket, "livephotos/"+id, minio.GetObjectOptions{})
	var b []byte
	if err == nil {
		b, err = io.ReadAll(o)
		o.Close()
	}
	switch {
	case !exists && minio.ToErrorResponse(err).Code == minio.NoSuchKey:
	case !exists && err == nil:
		t.Errorf("object livephotos/%s is still in the bucket, want it gone", id)
	case !exists:
		t.Errorf("get livephotos/%s: %v, want NoSuchKey", id, err)
	case err != nil:
		t.Errorf("object livephotos/%s: %v, want it in the bucket", id, err)
	case want != nil && !seal.IsSealed(want) && seal.IsSealed(b):
		// A photo: sealed, of the size its upload seals to. The tests
		// that must see its plaintext open it (unseal).
		assertSealed(t, id, b)
		if int64(len(b)) != seal.SealedSize(int64(len(want))) {
			t.Errorf("object livephotos/%s holds %d bytes, want the %d that %d bytes seal to", id, len(b), seal.SealedSize(int64(len(want))), len(want))
		}
	case want != nil && !bytes.Equal(b, want):
		t.Errorf("object livephotos/%s holds %d bytes differing from the %d uploaded", id, len(b), len(want))
	}
}

// TestScaleTwoNodes runs two nodes on one database and one bucket: they
// behave as one service. What is done through one is seen at once through
// the other, and keys managed with the CLI take effect on both.
func TestScaleTwoNodes(t *testing.T) {
	st := newSharedStores(t)
	clearServeEnv(t)
	// Short key caches, so that the test sees a revocation reach both
	// nodes once their lifetime has passed.
	const keyTTL = time.Second
	a := startNode(t, st.args(), "--key-cache-ttl", keyTTL.String())
	keys := a.bootstrapKeys(t)
	b := startNode(t, st.args(), "--key-cache-ttl", keyTTL.String())
	if out := b.stdout.String(); out != "" {
		t.Errorf("the second node printed:\n%s\nwant nothing: the keys exist already, and are shown once", out)
	}
	key := keys.test
	face := faceJPEG(t)

	// A client and a photo made through A.
	clientID := a.createClient(t, key)
	status, body := a.do(t, "POST", "/v1/livePhotos", key, uploadBody(clientID, face, true))
	if status != http.StatusOK {
		t.Fatalf("upload through A: got %d %s, want 200", status, body)
	}
	uploaded := jsonObject(t, body)
	photoID, _ := uploaded["id"].(string)
	if !facevault.ValidID(photoID) {
		t.Fatalf("upload through A: id %v is not an object id", uploaded["id"])
	}
	assertObject(t, st.bucket, photoID, true, face)
	if got := unseal(t, st.dbURL, os.Getenv("FACEVAULT_MASTER_KEY_FILE"), photoID, objectBytes(t, st.bucket, photoID)); !bytes.Equal(got, face) {
		t.Errorf("object livephotos/%s opens to %d bytes differing from the %d uploaded", photoID, len(got), len(face))
	}

	// Through B at once: the client, the list, the photo, its bytes.
	if status, body := b.do(t, "GET", "/v1/clients/"+clientID, key, nil); status != http.StatusOK {
		t.Errorf("get the client through B: got %d %s, want 200", status, body)
	}
	status, body = b.do(t, "GET", "/v1/livePhotos?clientId="+clientID, key, nil)
	if status != http.StatusOK {
		t.Fatalf("list through B: got %d %s, want 200", status, body)
	}
	var list struct {
		TotalItems int
		Items      []map[string]any
	}
	decode(t, body, &list)
	if list.TotalItems != 1 || len(list.Items) != 1 || !reflect.DeepEqual(list.Items[0], uploaded) {
		t.Errorf("list through B: got %s, want the one photo uploaded through A: %v", body, uploaded)
	}
	status, body = b.do(t, "GET", "/v1/livePhotos/"+photoID, key, nil)
	if status != http.StatusOK {
		t.Fatalf("get the photo through B: got %d %s, want 200", status, body)
	}
	if got := jsonObject(t, body); !reflect.DeepEqual(got, uploaded) {
		t.Errorf("get the photo through B:\n got %v\nwant %v (the upload's answer through A)", got, uploaded)
	}
	if got := b.download(t, key, photoID); !bytes.Equal(got, face) {
		t.Errorf("download through B: %d bytes differing from the %d uploaded through A", len(got), len(face))
	}

	// Redacted through B: A sees it redacted, the bytes are gone.
	if status, body := b.do(t, "POST", "/v1/livePhotos/"+photoID+"/redact", key, nil); status != http.StatusOK || string(body) != "{}" {
		t.Fatalf("redact through B: got %d %s, want 200 {}", status, body)
	}
	status, body = a.do(t, "GET", "/v1/livePhotos/"+photoID, key, nil)
	if status != http.StatusOK {
		t.Fatalf("get the redacted photo through A: got %d %s, want 200", status, body)
	}
	if got := jsonObject(t, body); got["redacted"] != true || got["redactedAt"] == nil {
		t.Errorf("the photo redacted through B, as A sees it: %s, want redacted and redactedAt", body)
	}
	if status, body := a.do(t, "GET", "/v1/livePhotos/"+photoID+"/download", key, nil); status != http.StatusNotFound {
		t.Errorf("download through A of the photo redacted through B: got %d %s, want 404", status, body)
	}
	assertObject(t, st.bucket, photoID, false, nil)

	// Deleted through B: gone for A.
	if status, body := b.do(t, "DELETE", "/v1/livePhotos/"+photoID, key, nil); status != http.StatusNoContent {
		t.Fatalf("delete through B: got %d %s, want 204", status, body)
	}
	if status, body := a.do(t, "GET", "/v1/livePhotos/"+photoID, key, nil); status != http.StatusNotFound {
		t.Errorf("get through A of the photo deleted through B: got %d %s, want 404", status, body)
	}

	// A photo deleted through B without redaction first: its bytes go too.
	second := a.uploadPhoto(t, key, clientID, face)
	assertObject(t, st.bucket, second, true, face)
	if status, body := b.do(t, "DELETE", "/v1/livePhotos/"+second, key, nil); status != http.StatusNoContent {
		t.Fatalf("delete through B: got %d %s, want 204", status, body)
	}
	assertObject(t, st.bucket, second, false, nil)
	if status, body := a.do(t, "GET", "/v1/livePhotos/"+second+"/download", key, nil); status != http.StatusNotFound {
		t.Errorf("download through A of a photo deleted through B: got %d %s, want 404", status, body)
	}

	// A client deleted through B, with a photo uploaded through A.
	third := a.uploadPhoto(t, key, clientID, face)
	if status, body := b.do(t, "DELETE", "/v1/clients/"+clientID, key, nil); status != http.StatusNoContent {
		t.Fatalf("delete the client through B: got %d %s, want 204", status, body)
	}
	if status, body := a.do(t, "GET", "/v1/clients/"+clientID, key, nil); status != http.StatusNotFound {
		t.Errorf("get through A of the client deleted through B: got %d %s, want 404", status, body)
	}
	if status, body := a.do(t, "GET", "/v1/livePhotos/"+third, key, nil); status != http.StatusNotFound {
		t.Errorf("get through A of a photo of the client deleted through B: got %d %s, want 404", status, body)
	}
	// Its bytes go with the background purge, moments after the answer.
	waitPurged(t, st.dbURL)
	assertObject(t, st.bucket, third, false, nil)
	if recs := assertOneToOne(t, st); len(recs) != 0 {
		t.Errorf("records left after every photo went: %v", recs)
	}

	// Keys made with the CLI on the database work on both nodes at once;
	// a revocation reaches both within their key cache's lifetime.
	made := keysCreate(t, "--db", st.dbURL, "--mode", "test", "--account", "acme")
	a.assertAuthorized(t, "key made by keys create --db, on A", made.secret)
	b.assertAuthorized(t, "key made by keys create --db, on B", made.secret)
	rows, out := keysList(t, "--db", st.dbURL)
	if rows[made.id].status != "active" || rows[made.id].account != "acme" {
		t.Errorf("keys list --db does not show the key %s active for acme:\n%s", made.id, out)
	}
	mustRun(t, "keys", "revoke", "--db", st.dbURL, made.id)
	time.Sleep(keyTTL)
	a.assertUnauthorized(t, "a key revoked with keys revoke --db, on A", made.secret)
	b.assertUnauthorized(t, "a key revoked with keys revoke --db, on B", made.secret)
	a.assertAuthorized(t, "the bootstrap key on A", key)
	b.assertAuthorized(t, "the bootstrap key on B", key)
}

// TestScaleConcurrentUploadsAndDeletes uploads through two nodes at once,
// to a mix of clients, while some of those clients are deleted mid-way,
// each through both nodes at the same moment. Every request must answer
// 200, 204 or the contract's 404, and afterwards the records and objects
// must match one to one, with nothing left of the deleted clients.
func TestScaleConcurrentUploadsAndDeletes(t *testing.T) {
	const (
		uploaders   = 4  // per node
		uploadsEach = 10 // per uploader
		nClients    = 8
		nDoomed     = 3 // the first nDoomed clients are deleted mid-way
	)
	st := newSharedStores(t)
	clearServeEnv(t)
	a := startNode(t, st.args())
	key := a.bootstrapKeys(t).test
	b := startNode(t, st.args())
	nodes := []*server{a, b}
	img := testimage.JPEG(256, 256, 7)

	clients := make([]string, nClients)
	for i := range clients {
		clients[i] = nodes[i%2].createClient(t, key)
	}
	doomed := map[string]bool{}
	for _, c := range clients[:nDoomed] {
		doomed[c] = true
	}

	type result struct {
		node, op, clientID string
		status             int
		body               []byte
		err                error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	record := func(r result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	total := len(nodes) * uploaders * uploadsEach
	var done atomic.Int64
	third := make(chan struct{}) // closed when a third of the uploads are done
	var closeThird sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for n, node := range nodes {
		name := string(rune('A' + n))
		for g := range uploaders {
			wg.Go(func() {
				for i := range uploadsEach {
					c := clients[(g*3+i+n)%nClients]
					status, body, err := node.request(ctx, "POST", "/v1/livePhotos", key, uploadBody(c, img, false))
					record(result{node: name, op: "upload", clientID: c, status: status, body: body, err: err})
					if done.Add(1) >= int64(total/3) {
						closeThird.Do(func() { close(third) })
					}
				}
			})
		}
	}
	// Each doomed client is deleted through both nodes at once.
	for _, c := range clients[:nDoomed] {
		for n, node := range nodes {
			name := string(rune('A' + n))
			wg.Go(func() {
				select {
				case <-third:
				case <-ctx.Done():
					return
				}
				status, body, err := node.request(ctx, "DELETE", "/v1/clients/"+c, key, nil)
				record(result{node: name, op: "delete", clientID: c, status: status, body: body, err: err})
			})
		}
	}
	wg.Wait()
	took := time.Since(start)

	uploaded := map[string]string{} // photo id -> client id, of 200 uploads
	deletes := map[string][]int{}
	counts := map[string]int{}
	for _, r := range results {
		what := fmt.Sprintf("%s through %s for client %s", r.op, r.node, r.clientID)
		if r.err != nil {
			t.Errorf("%s: %v", what, r.err)
			continue
		}
		counts[fmt.Sprintf("%s %d", r.op, r.status)]++
		switch {
		case r.op == "upload" && r.status == http.StatusOK:
			var p struct{ ID, ClientID string }
			decode(t, r.body, &p)
			if p.ClientID != r.clientID || !facevault.ValidID(p.ID) {
				t.Errorf("%s: got %s", what, r.body)
			}
			uploaded[p.ID] = r.clientID
		case r.op == "delete" && (r.status == http.StatusNoContent || r.status == http.StatusNotFound):
			deletes[r.clientID] = append(deletes[r.clientID], r.status)
			if r.status == http.StatusNoContent && len(r.body) != 0 {
				t.Errorf("%s: 204 with a body %q", what, r.body)
			}
		case r.status == http.StatusNotFound:
			if !doomed[r.clientID] {
				t.Errorf("%s: got %d %s, want 200: the client is not deleted", what, r.status, r.body)
			}
		default:
			t.Errorf("%s: got %d %s, want 200, 204 or 404", what, r.status, r.body)
		}
		if r.status == http.StatusNotFound {
			var e struct{ Type, Message string }
			decode(t, r.body, &e)
			want := fmt.Sprintf("Invalid client id '%s'", r.clientID)
			if e.Type != facevault.ENotFound || e.Message != want {
				t.Errorf("%s: got 404 %s, want the contract's 404 %q", what, r.body, want)
			}
		}
	}
	t.Logf("%d uploads and %d deletes through 2 nodes in %v: %v", total, 2*nDoomed, took.Round(time.Millisecond), counts)
	if n := counts["upload 200"] + counts["upload 404"]; n != total {
		t.Errorf("%d uploads answered 200 or 404, want all %d", n, total)
	}
	for _, c := range clients[:nDoomed] {
		if got := deletes[c]; len(got) != 2 || slices.Index(got, 204) < 0 || slices.Index(got, 404) < 0 {
			t.Errorf("deleting client %s through both nodes at once: got %v, want one 204 and one 404", c, got)
		}
	}

	// The stores, once the purge has run: records and objects one to one;
	// of the deleted clients, nothing; of the others, every photo that
	// answered 200.
	waitPurged(t, st.dbURL)
	recs := assertOneToOne(t, st)
	for id, c := range recs {
		if doomed[c] {
			t.Errorf("record %s of the deleted client %s remains", id, c)
		}
		if uploaded[id] != c {
			t.Errorf("record %s of client %s: no upload answered 200 with it", id, c)
		}
	}
	perClient := map[string]int{}
	doomedPhotos := 0
	for id, c := range uploaded {
		if doomed[c] {
			doomedPhotos++
			if _, ok := recs[id]; ok {
				t.Errorf("photo %s of the deleted client %s still has a record", id, c)
			}
			continue
		}
		perClient[c]++
		if _, ok := recs[id]; !ok {
			t.Errorf("photo %s of client %s answered 200 but has no record", id, c)
		}
	}
	// Five of the eight uploaders start with a doomed client, and the
	// deletes wait for a third of all uploads: some photos of the doomed
	// clients were stored before they went, so "all gone" is not vacuous.
	if doomedPhotos == 0 {
		t.Errorf("no upload to a deleted client answered 200 before its deletion: the test did not race what it means to")
	}
	t.Logf("%d photos of the deleted clients were stored, then deleted with them", doomedPhotos)
	if n := queryInt(t, st.dbURL, `SELECT count(*) FROM clients WHERE id = ANY($1)`, clients[:nDoomed]); n != 0 {
		t.Errorf("%d deleted clients still have a record", n)
	}
	// Each node lists, for each client, what was uploaded through both.
	for _, c := range clients[nDoomed:] {
		for n, node := range nodes {
			status, body := node.do(t, "GET", "/v1/livePhotos?clientId="+c+"&pageSize=1000", key, nil)
			var list struct{ TotalItems int }
			decode(t, body, &list)
			if status != http.StatusOK || list.TotalItems != perClient[c] {
				t.Errorf("list of client %s through %c: got %d with totalItems %d, want 200 with %d", c, 'A'+n, status, list.TotalItems, perClient[c])
			}
		}
	}
}

// TestScaleSchema starts serve on a database that has no schema: it refuses,
// saying to run 'facevault migrate'. After migrate (run twice: the second
// finds nothing to do) it starts.
func TestScaleSchema(t *testing.T) {
	dbURL := pgtest.URL(t)
	endpoint, bucket := s3test.Bucket(t)
	clearServeEnv(t)
	args := []string{"--db", dbURL, "--blobs", s3URL(bucket, endpoint), "--addr", "127.0.0.1:0"}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stdout, stderr lockedBuffer
	cmd := &ServeCommand{Stdout: &stdout, Stderr: &stderr, OnListen: func(string) { cancel() }}
	err := cmd.Run(ctx, args)
	if err == nil {
		t.Fatalf("serve on an unmigrated database succeeded, want an error")
	}
	t.Logf("serve: %v", err)
	if !strings.Contains(err.Error(), "run 'facevault migrate") {
		t.Errorf("error %q does not say to run 'facevault migrate'", err)
	}
	var se *postgres.SchemaError
	if !errors.As(err, &se) || se.Current != 0 {
		t.Errorf("error %q does not wrap a *postgres.SchemaError for a database without schema", err)
	}
	if code := exitCode(err); code == 0 {
		t.Errorf("exit code 0 for %q", err)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("refused serve printed %q, want nothing", out)
	}
	// Refusing changed nothing: still no schema, no key made.
	if n := queryInt(t, dbURL, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
		t.Errorf("the refused serve created %d tables", n)
	}
	// Other commands refuse the same way.
	if _, _, err := runCLI(t, "keys", "create", "--db", dbURL, "--mode", "test"); err == nil || !strings.Contains(err.Error(), "run 'facevault migrate") {
		t.Errorf("keys create on an unmigrated database: got %v, want an error saying to run 'facevault migrate'", err)
	}

	versionRE := regexp.MustCompile(`^Schema is at version ([1-9][0-9]*)\.\n$`)
	first := mustRun(t, "migrate", "--db", dbURL)
	second := mustRun(t, "migrate", "--db", dbURL)
	if !versionRE.MatchString(first) || first != second {
		t.Errorf("migrate twice printed %q then %q, want the same %q both times", first, second, versionRE)
	}

	s := startServe(t, args...)
	keys := s.bootstrapKeys(t)
	s.assertAuthorized(t, "the bootstrap key after migrate", keys.test)
	s.createClient(t, keys.test)
}

// TestScaleBadURLs starts serve with store URLs that are malformed, of an
// unknown kind, or that point at nothing: each is refused at once with a
// message saying what is wrong, and a non-zero exit code.
func TestScaleBadURLs(t *testing.T) {
	pgtest.AdminURL(t) // fails now if PostgreSQL is not configured
	endpoint := s3test.Endpoint(t)
	clearServeEnv(t)
	sqliteURL := func(t *testing.T) string { return "sqlite://" + t.TempDir() + "/facevault.db" }
	okBlobs := func(t *testing.T) string { return "file://" + t.TempDir() }

	for _, tc := range []struct {
		name     string
		db, blob func(t *testing.T) string
		env      map[string]string
		wantCode int      // 2: a usage error
		want     []string // all in the message
		secret   string   // never in the message or output
	}{
		{name: "malformed postgres URL",
			db:   func(*testing.T) string { return "postgres://[::1" },
			want: []string{"--db", "missing ']' in host"}, wantCode: 2},
		{name: "malformed postgres URL with a password",
			db:   func(*testing.T) string { return "postgres://fv:hunter2@[::1" },
			want: []string{"--db", `"postgres://fv:xxxxx@[::1"`, "missing ']' in host"}, wantCode: 2, secret: "hunter2"},
		{name: "db not a URL",
			db:   func(*testing.T) string { return "facevault.db" },
			want: []string{"--db", "is not a URL"}, wantCode: 2},
		{name: "unknown db scheme",
			db:   func(*testing.T) string { return "mysql://x" },
			want: []string{"--db", `unknown scheme "mysql"`}, wantCode: 2},
		{name: "unknown db scheme with a password",
			db:   func(*testing.T) string { return "mysql://fv:hunter2@db.example/facevault" },
			want: []string{"--db", `unknown scheme "mysql"`}, wantCode: 2, secret: "hunter2"},
		{name: "sqlite without a path",
			db:   func(*testing.T) string { return "sqlite://" },
			want: []string{"--db", "names no file"}, wantCode: 2},
		{name: "postgres on a closed port",
			db: func(*testing.T) string {
				return "postgres://fv:hunter2@127.0.0.1:1/facevault?sslmode=disable&connect_timeout=5"
			},
			want:     []string{"PostgreSQL database postgres://fv:xxxxx@127.0.0.1:1/facevault", "127.0.0.1:1", "connect"},
			wantCode: 1, secret: "hunter2"},
		{name: "malformed s3 URL",
			blob: func(*testing.T) string { return "s3://" },
			want: []string{"--blobs", "no bucket"}, wantCode: 2},
		{name: "s3 endpoint not a URL",
			blob: func(*testing.T) string { return "s3://bucket?endpoint=127.0.0.1:7070" },
			want: []string{"--blobs", "must be an http:// or https:// URL"}, wantCode: 2},
		{name: "unknown blobs scheme",
			blob: func(*testing.T) string { return "gs://bucket" },
			want: []string{"--blobs", `unknown scheme "gs"`}, wantCode: 2},
		{name: "file without a path",
			blob: func(*testing.T) string { return "file://" },
			want: []string{"--blobs", "names no directory"}, wantCode: 2},
		{name: "s3 endpoint on a closed port",
			blob: func(*testing.T) string { return s3URL("facevault-bucket", "http://127.0.0.1:1") },
			want: []string{"open S3 image store", "cannot reach http://127.0.0.1:1"}, wantCode: 1},
		{name: "missing bucket",
			blob: func(*testing.T) string { return s3URL("facevault-no-such-bucket", endpoint) },
			want: []string{"open S3 image store", "bucket facevault-no-such-bucket does not exist at " + endpoint}, wantCode: 1},
		{name: "no S3 credentials",
			blob: func(t *testing.T) string { _, bucket := s3test.Bucket(t); return s3URL(bucket, endpoint) },
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_ACCESS_KEY": "", "AWS_SECRET_KEY": ""},
			want: []string{"open S3 image store", "AWS_ACCESS_KEY_ID"}, wantCode: 1},
		{name: "wrong S3 secret",
			blob: func(t *testing.T) string { _, bucket := s3test.Bucket(t); return s3URL(bucket, endpoint) },
			env:  map[string]string{"AWS_SECRET_ACCESS_KEY": "hunter2-wrong"},
			want: []string{"open S3 image store", "bucket facevault-test-"}, wantCode: 1, secret: "hunter2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, blobs := sqliteURL(t), okBlobs(t)
			if tc.db != nil {
				db = tc.db(t)
			}
			if tc.blob != nil {
				blobs = tc.blob(t) // before env: it may make a bucket
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var stdout, stderr lockedBuffer
			cmd := &ServeCommand{Stdout: &stdout, Stderr: &stderr, OnListen: func(string) { cancel() }}
			start := time.Now()
			err := cmd.Run(ctx, []string{"--data", t.TempDir(), "--db", db, "--blobs", blobs, "--addr", "127.0.0.1:0"})
			took := time.Since(start)
			if err == nil {
				t.Fatalf("serve --db %s --blobs %s succeeded, want an error", db, blobs)
			}
			t.Logf("facevault: %v (%v)", err, took.Round(time.Millisecond))
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code: got %d, want %d", got, tc.wantCode)
			}
			if tc.secret != "" {
				for what, s := range map[string]string{"error": err.Error(), "stdout": stdout.String(), "log": stderr.String()} {
					if strings.Contains(s, tc.secret) {
						t.Errorf("the %s shows the secret %q: %s", what, tc.secret, s)
					}
				}
			}
			if out := stdout.String(); out != "" {
				t.Errorf("refused serve printed %q, want nothing", out)
			}
			if took > 10*time.Second {
				t.Errorf("serve took %v to refuse, want it to fail fast", took)
			}
		})
	}
}

// internalErrors returns the "internal error" records of a JSON log.
func internalErrors(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["msg"] == "internal error" {
			recs = append(recs, m)
		}
	}
	return recs
}

// TestScaleFaults runs a node whose ways to PostgreSQL and to S3 go through
// proxies, and cuts each in turn while requests come: they answer the
// contract's generic 500, the log holds the cause, nothing is left
// half-done, and the node recovers by itself once the way is restored.
func TestScaleFaults(t *testing.T) {
	st := newSharedStores(t)
	clearServeEnv(t)
	u, err := url.Parse(st.dbURL)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q: the fault test needs a postgres:// URL with a host:port", pgtest.EnvVar, pgtest.AdminURL(t))
	}
	pgProxy := tcpproxy.Start(t, u.Host)
	u.Host = pgProxy.Addr()
	proxiedDB := u.String()
	s3Proxy := tcpproxy.Start(t, strings.TrimPrefix(st.endpoint, "http://"))
	// The key store is in the same database, reached through a way of its
	// own: each can be cut alone.
	ku, _ := url.Parse(st.dbURL)
	keysProxy := tcpproxy.Start(t, ku.Host)
	ku.Host = keysProxy.Addr()
	s := startNode(t, []string{"--db", proxiedDB, "--keys", ku.String(), "--blobs", s3URL(st.bucket, s3Proxy.URL())}, "--log-format", "json",
		"--purge-interval", "100ms")
	key := s.bootstrapKeys(t).test
	img := testimage.JPEG(256, 256, 3)
	clientID := s.createClient(t, key)
	kept := s.uploadPhoto(t, key, clientID, img)

	// try sends a request that must fail with the generic 500, and checks
	// the log got the cause, which must contain cause.
	try := func(t *testing.T, method, path string, body any, cause string) {
		t.Helper()
		mark := len(s.stderr.String())
		start := time.Now()
		status, resp, err := s.request(t.Context(), method, path, key, body)
		took := time.Since(start)
		what := method + " " + path
		if err != nil {
			t.Errorf("%s: %v, want a 500 answer", what, err)
			return
		}
		t.Logf("%s: %d in %v", what, status, took.Round(time.Millisecond))
		if status != http.StatusInternalServerError {
			t.Errorf("%s: got %d %s, want 500", what, status, resp)
			return
		}
		want := map[string]any{"type": "internal_server_error", "message": genericMessage}
		if got := jsonObject(t, resp); !maps.Equal(got, want) {
			t.Errorf("%s: got %s, want exactly %v", what, resp, want)
		}
		if took > 15*time.Second {
			t.Errorf("%s took %v to fail, want it bounded", what, took)
		}
		recs := internalErrors(t, s.stderr.String()[mark:])
		if len(recs) != 1 {
			t.Errorf("%s: the log got %d internal error records, want 1", what, len(recs))
			return
		}
		r := recs[0]
		if r["method"] != method || !strings.HasPrefix(path, fmt.Sprint(r["path"])) {
			t.Errorf("%s: logged for %v %v", what, r["method"], r["path"])
		}
		if e, _ := r["err"].(string); !strings.Contains(e, cause) {
			t.Errorf("%s: logged cause %q does not contain %q", what, e, cause)
		}
	}
	upload := uploadBody(clientID, img, false)

	// Photos and a client to delete while S3 is down.
	doomed := s.uploadPhoto(t, key, clientID, img)
	redacted := s.uploadPhoto(t, key, clientID, img)
	doomedClient := s.createClient(t, key)
	doomedClientPhoto := s.uploadPhoto(t, key, doomedClient, img)

	t.Run("S3 cut", func(t *testing.T) {
		s3Proxy.Cut()
		try(t, "POST", "/v1/livePhotos", upload, "s3blob: ")
		try(t, "GET", "/v1/livePhotos/"+kept+"/download", nil, "s3blob: ")
		// Deletes need only the database: the records go at once, and the
		// bytes, which cannot be destroyed now, stay queued for the purge.
		for _, req := range []struct {
			method, path string
			want         int
		}{
			{"DELETE", "/v1/livePhotos/" + doomed, http.StatusNoContent},
			{"POST", "/v1/livePhotos/" + redacted + "/redact", http.StatusOK},
			{"DELETE", "/v1/clients/" + doomedClient, http.StatusNoContent},
		} {
			start := time.Now()
			status, body := s.do(t, req.method, req.path, key, nil)
			t.Logf("%s %s: %d in %v", req.method, req.path, status, time.Since(start).Round(time.Millisecond))
			if status != req.want {
				t.Errorf("%s %s with S3 down: got %d %s, want %d", req.method, req.path, status, body, req.want)
			}
		}
		for _, path := range []string{"/v1/livePhotos/" + doomed, "/v1/livePhotos/" + doomedClientPhoto, "/v1/clients/" + doomedClient} {
			if status, body := s.do(t, "GET", path, key, nil); status != http.StatusNotFound {
				t.Errorf("GET %s after its delete: got %d %s, want 404", path, status, body)
			}
		}
		status, body := s.do(t, "GET", "/v1/livePhotos/"+redacted, key, nil)
		if p := jsonObject(t, body); status != http.StatusOK || p["redacted"] != true {
			t.Errorf("get the photo redacted while S3 was down: got %d %s, want it redacted", status, body)
		}
		status, body = s.do(t, "GET", "/v1/livePhotos/"+kept, key, nil)
		if p := jsonObject(t, body); status != http.StatusOK || p["redacted"] != nil {
			t.Errorf("get the photo nobody deleted: got %d %s, want it intact", status, body)
		}
		if n := queryInt(t, st.dbURL, `SELECT count(*) FROM purges WHERE attempts > 0 AND last_error <> ''`); n < 2 {
			t.Errorf("%d purges record a failed attempt, want at least the delete's and the redaction's", n)
		}
	})
	t.Run("S3 restored", func(t *testing.T) {
		s3Proxy.Restore()
		if got := s.download(t, key, kept); !bytes.Equal(got, img) {
			t.Errorf("download after the restore: %d bytes differing from the %d uploaded", len(got), len(img))
		}
		// The purge retries until the bytes are gone.
		waitPurged(t, st.dbURL)
		for _, id := range []string{doomed, redacted, doomedClientPhoto} {
			assertObject(t, st.bucket, id, false, nil)
		}
		again := s.uploadPhoto(t, key, clientID, img)
		if status, body := s.do(t, "DELETE", "/v1/livePhotos/"+again, key, nil); status != http.StatusNoContent {
			t.Errorf("delete after the restore: got %d %s, want 204", status, body)
		}
		assertObject(t, st.bucket, again, false, nil)
		s.do(t, "POST", "/v1/livePhotos/"+redacted+"/redact", key, nil)
		if status, body := s.do(t, "DELETE", "/v1/livePhotos/"+redacted, key, nil); status != http.StatusNoContent {
			t.Errorf("delete of the redacted photo: got %d %s, want 204", status, body)
		}
		waitPurged(t, st.dbURL)
		assertOneToOne(t, st)
	})

	t.Run("PostgreSQL cut", func(t *testing.T) {
		if status, body := s.do(t, "GET", "/v1/clients/"+clientID, key, nil); status != http.StatusOK {
			t.Fatalf("GET the client before the cut: %d %s", status, body)
		}
		pgProxy.Cut()
		// The key was looked up just now: the node's key cache vouches for
		// it, and deletion receipts live in the key store, which is up, so
		// the request is answered without the record store.
		status, body := s.do(t, "GET", "/v1/deletionReceipts?resourceId="+doomed, key, nil)
		if items, _ := jsonObject(t, body)["items"].([]any); status != http.StatusOK || len(items) != 1 {
			t.Errorf("deletion receipts with the record store cut: got %d %s, want 200 with the receipt, "+
				"the key vouched for by the key cache", status, body)
		}
		try(t, "GET", "/v1/clients/"+clientID, nil, "postgres: ")
		try(t, "POST", "/v1/livePhotos", upload, "postgres: ")
		try(t, "GET", "/v1/livePhotos/"+kept+"/download", nil, "postgres: ")
		try(t, "DELETE", "/v1/livePhotos/"+kept, nil, "postgres: ")
		try(t, "GET", "/v1/livePhotos?clientId="+clientID, nil, "postgres: ")
	})
	t.Run("PostgreSQL restored", func(t *testing.T) {
		pgProxy.Restore()
		start := time.Now()
		for {
			status, body, err := s.request(t.Context(), "GET", "/v1/clients/"+clientID, key, nil)
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("the node did not recover within 5s of the restore: last answer %d %s %v", status, body, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("recovered %v after the restore", time.Since(start).Round(time.Millisecond))
		if got := s.download(t, key, kept); !bytes.Equal(got, img) {
			t.Errorf("download after the restore: %d bytes differing from the %d uploaded", len(got), len(img))
		}
		again := s.uploadPhoto(t, key, clientID, img)
		if status, body := s.do(t, "DELETE", "/v1/livePhotos/"+again, key, nil); status != http.StatusNoContent {
			t.Errorf("delete after the restore: got %d %s, want 204", status, body)
		}
	})

	// The sharpest moment: the image is in S3 and its record not yet in
	// PostgreSQL. An upload's first S3 connection (a new one: the old ones
	// are closed first) is its commit, which comes after its last read of
	// the database and before the record's insert; cutting PostgreSQL then
	// makes the insert fail, and the upload must take its image back out.
	t.Run("PostgreSQL cut between an image and its record", func(t *testing.T) {
		s3Proxy.Cut()
		s3Proxy.Restore()
		var hooked atomic.Bool
		s3Proxy.OnAccept(func() {
			if !hooked.Swap(true) {
				pgProxy.Cut()
			}
		})
		defer s3Proxy.OnAccept(nil)
		try(t, "POST", "/v1/livePhotos", upload, "create live photo record: postgres: ")
		if !hooked.Load() {
			t.Errorf("the upload opened no new S3 connection: PostgreSQL was not cut at its commit")
		}
		pgProxy.Restore()
		waitForWithin(t, "the node to reach PostgreSQL again", 5*time.Second, func() bool {
			status, _, err := s.request(t.Context(), "GET", "/v1/clients/"+clientID, key, nil)
			return err == nil && status == http.StatusOK
		})
	})

	t.Run("key store cut", func(t *testing.T) {
		keysProxy.Cut()
		try(t, "POST", "/v1/livePhotos", upload, "key store: ")
		try(t, "GET", "/v1/livePhotos/"+kept+"/download", nil, "key store: ")
		// A delete notes why before it changes anything: refused whole.
		try(t, "DELETE", "/v1/livePhotos/"+kept, nil, "key store: ")
		keysProxy.Restore()
		waitForWithin(t, "the node to reach the key store again", 5*time.Second, func() bool {
			status, _, err := s.request(t.Context(), "GET", "/v1/livePhotos/"+kept+"/download", key, nil)
			return err == nil && status == http.StatusOK
		})
		again := s.uploadPhoto(t, key, clientID, img)
		if status, body := s.do(t, "DELETE", "/v1/livePhotos/"+again, key, nil); status != http.StatusNoContent {
			t.Errorf("delete after the key store came back: got %d %s, want 204", status, body)
		}
		waitPurged(t, st.dbURL)
	})

	// Nothing half-written: one photo, its record and its object.
	recs := assertOneToOne(t, st)
	if len(recs) != 1 || recs[kept] != clientID {
		t.Errorf("records after the faults: %v, want only %s of client %s", recs, kept, clientID)
	}
	assertObject(t, st.bucket, kept, true, img)
}

// leaseRow reads the sweep lease, directly.
func leaseRow(t *testing.T, dbURL string) (holder string, expires time.Time, ok bool) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT holder, expires_at FROM leases WHERE name = $1`, sweepLease).Scan(&holder, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, false
	}
	if err != nil {
		t.Fatalf("read the sweep lease: %v", err)
	}
	return holder, expires, true
}

// TestScaleSweepLease runs two nodes with a short --sweep-interval on one
// database and bucket. What it shows:
//
//   - one node at a time holds the sweep lease: the first node takes it and
//     keeps renewing it (its expiry moves forward, at about twice the
//     interval) while the second node runs; when the holder stops, the
//     other takes the lease over once it expires;
//   - 'facevault sweep' on the shared store, while a node holds the lease,
//     refuses with the lease message and touches nothing;
//   - once no node runs and the lease has expired, 'facevault sweep' runs,
//     and leaves alone an orphan object younger than the grace period (an
//     upload may be between its bytes and its record);
//   - the sweep itself, Vault.Sweep (what the sweeper calls), on the shared
//     PostgreSQL and S3, removes an orphan and keeps the photos uploaded
//     through both nodes.
//
// What it cannot show: a serve node removing an orphan older than the grace
// period. VersityGW sets an object's LastModified to the time of the PUT,
// and the grace (10 minutes) is a constant, so the last point calls
// Vault.Sweep with a cut-off in the future instead of waiting.
func TestScaleSweepLease(t *testing.T) {
	const interval = 100 * time.Millisecond // the lease lasts 2×interval
	st := newSharedStores(t)
	clearServeEnv(t)
	a := startNode(t, st.args(), "--sweep-interval", interval.String())
	key := a.bootstrapKeys(t).test
	first, _, ok := leaseRow(t, st.dbURL)
	if !ok {
		t.Fatalf("no sweep lease after the first node started (its start-up sweep takes it)")
	}
	b := startNode(t, st.args(), "--sweep-interval", interval.String(), "--log-level", "debug")
	photoA := a.uploadPhoto(t, key, a.createClient(t, key), testimage.JPEG(256, 256, 1))
	photoB := b.uploadPhoto(t, key, b.createClient(t, key), testimage.JPEG(256, 256, 2))

	// The start-up sweep took the lease for an hour; the first periodic
	// sweep renews it for 2×interval.
	waitForWithin(t, "the first periodic renewal of the lease", 5*time.Second, func() bool {
		_, expires, _ := leaseRow(t, st.dbURL)
		return time.Until(expires) < time.Minute
	})
	// The first node keeps the lease, renewing it, while the second runs.
	var lastExpiry time.Time
	renewals := 0
	for deadline := time.Now().Add(8 * interval); time.Now().Before(deadline); time.Sleep(interval / 4) {
		holder, expires, ok := leaseRow(t, st.dbURL)
		if !ok || holder != first {
			t.Fatalf("sweep lease held by %q (present %v) while the first node runs, want %q", holder, ok, first)
		}
		if !expires.Equal(lastExpiry) {
			if !lastExpiry.IsZero() {
				renewals++
			}
			lastExpiry = expires
		}
		if ahead := time.Until(expires); ahead > 2*interval+time.Second {
			t.Errorf("the lease expires %v from now, want about 2×%v (the periodic renewal's TTL)", ahead, interval)
		}
	}
	if renewals < 3 {
		t.Errorf("the first node renewed the lease %d times in %v, want it renewed every %v", renewals, 8*interval, interval)
	}
	if log := b.stderr.String(); !strings.Contains(log, "another node holds the sweep lease") {
		t.Errorf("the second node's debug log does not say another node holds the sweep lease:\n%s", log)
	}

	// Sweeping by hand while a node holds the lease is refused.
	orphan := facevault.NewID(time.Now())
	if _, err := s3test.Client(t).PutObject(t.Context(), st.bucket, "livephotos/"+orphan,
		strings.NewReader("orphaned image bytes"), 20, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCLI(t, append([]string{"sweep"}, st.args()...)...)
	wantMsg := `another node holds the "sweep" lease`
	if err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("sweep while a node holds the lease: got %v, want an error saying %q", err, wantMsg)
	} else if exitCode(err) != 1 {
		t.Errorf("exit code of the refused sweep: got %d, want 1", exitCode(err))
	}
	if stdout != "" {
		t.Errorf("the refused sweep printed %q, want nothing", stdout)
	}

	// The holder stops: the other node takes the lease over.
	a.stop(t)
	var second string
	waitForWithin(t, "the second node to take the lease over", 5*time.Second, func() bool {
		holder, _, ok := leaseRow(t, st.dbURL)
		second = holder
		return ok && holder != first
	})
	for range 4 {
		time.Sleep(interval)
		if holder, _, _ := leaseRow(t, st.dbURL); holder != second {
			t.Fatalf("sweep lease moved from %q to %q with one node running", second, holder)
		}
	}

	// No node runs: once the lease expires, sweeping by hand runs, and
	// leaves the recent orphan alone.
	b.stop(t)
	_, expires, _ := leaseRow(t, st.dbURL)
	if expires.After(time.Now()) {
		t.Errorf("a stopped node still holds the sweep lease until %v: it must release it", expires)
	}
	if out, want := mustRun(t, append([]string{"sweep"}, st.args()...)...), sweptOut(0); out != want {
		t.Errorf("sweep printed %q, want %q: the orphan is younger than the grace period", out, want)
	}
	assertObject(t, st.bucket, orphan, true, nil)

	// The sweep on the shared stores, with a cut-off past the orphan.
	db := st.open(t)
	defer db.Close()
	blobs, err := openBlobStore(t.Context(), st.blobsURL())
	if err != nil {
		t.Fatal(err)
	}
	vault := facevault.NewVault(db, blobs, slog.New(slog.NewTextHandler(t.Output(), nil)))
	res, err := vault.Sweep(t.Context(), facevault.SweepOptions{Before: time.Now().Add(time.Minute)})
	if err != nil || res.Destroyed != 1 {
		t.Errorf("Vault.Sweep on the shared stores: removed %d, %v; want the 1 orphan", res.Destroyed, err)
	}
	assertObject(t, st.bucket, orphan, false, nil)
	assertObject(t, st.bucket, photoA, true, nil)
	assertObject(t, st.bucket, photoB, true, nil)
	if recs := assertOneToOne(t, st); len(recs) != 2 {
		t.Errorf("records after the sweep: %v, want the two photos", recs)
	}
}

// waitForWithin polls cond until it holds, for at most d.
func waitForWithin(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
