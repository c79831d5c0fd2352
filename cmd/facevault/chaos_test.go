package main

// TestChaos: the service killed with SIGKILL at random points under
// concurrent load, on both pairs of back ends, and what must hold after
// every restart.

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/s3test"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/s3blob"
)

// chaosSeedEnv overrides the chaos test's random seed, to repeat a run.
const chaosSeedEnv = "FACEVAULT_CHAOS_SEED"

const (
	// chaosCycles is how many times each pair of back ends is killed.
	chaosCycles = 12
	// chaosSettle bounds the wait, after a restart, for work the service
	// may finish in the background (a purge of deleted photos' bytes)
	// before every image in the live namespace must belong to a listed
	// photo.
	chaosSettle = 15 * time.Second
	// chaosMaxPhotos is how many photos an ordinary actor keeps before it
	// deletes whole clients rather than upload more: it bounds the photos
	// every restart check downloads.
	chaosMaxPhotos = 60
	// chaosBigClient is how many photos make a client big: the killer
	// waits for the delete of such a client in half the cycles.
	chaosBigClient = 20
)

// TestChaos runs 'facevault serve' as a child process, on SQLite and files
// and on PostgreSQL and S3, and in each of chaosCycles cycles starts it,
// checks what must hold, runs a concurrent workload from three accounts in
// both modes, and kills it with SIGKILL at a random moment: in half the
// cycles (chosen by the seed) at any point of the workload, in the other
// half at a random point inside the deletion of a client that has dozens of
// photos. Between a kill and the next start it sweeps the stores (the
// embedded default with 'facevault sweep'; the shared stores with the sweep
// and a cut-off past every image, as no upload can be in flight: VersityGW
// sets LastModified to the time of the PUT, and the sweep's grace period is
// ten minutes). After every restart:
//
//   - every photo whose upload was acknowledged downloads byte-identically,
//     unless its deletion, redaction or its client's deletion was
//     acknowledged; a photo whose deletion, redaction or client deletion was
//     in flight at the kill is either whole (downloads byte-identically) or
//     gone (404) or redacted, and a client in flight is wholly there or
//     wholly gone;
//   - an upload in flight at the kill is absent, or listed with exactly its
//     bytes;
//   - every client's list of photos is exactly the photos known to exist,
//     every account's list of clients exactly its clients, and every photo a
//     list shows downloads at once, byte-identically: a 500 or a cut body is
//     a failure, never retried;
//   - acknowledged deletions stay deleted (404) and acknowledged redactions
//     stay redacted;
//   - within chaosSettle, every image in the image store's live namespace
//     (fsblob: <dir>/<xx>/<id>; S3: <prefix>/livephotos/<id>) belongs to a
//     listed, unredacted photo, and every such photo has its image.
//
// At the end, 'facevault audit verify' finds every chain of the audit log
// whole: a kill never leaves an append half-made.
//
// During the workload the same holds for each actor's own photos (each
// actor is the only writer of its clients). The seed is printed; set
// FACEVAULT_CHAOS_SEED to repeat a run's choices (the interleaving of
// concurrent requests is the machine's). The counts are printed to stdout.
//
// Uploads run without the liveness check, to keep to the CPU budget, except
// one in ten of the ordinary actors' uploads: those run it, and in live mode
// may be refused (422, no face in a noise image), which must leave nothing.
//
// scripts/test runs it in a stage of its own, verbosely; the main test run
// skips it.
func TestChaos(t *testing.T) {
	seed := chaosSeed(t)
	fmt.Printf("chaos: seed %d (set %s=%d to repeat its choices)\n", seed, chaosSeedEnv, seed)
	bin := buildFacevault(t)
	t.Run("SQLiteFiles", func(t *testing.T) {
		dir := t.TempDir()
		env := childEnv()
		runChaos(t, bin, seed, &chaosBackend{
			name:      "SQLite and files",
			env:       env,
			storeArgs: []string{"--data", dir},
			liveImages: func(t *testing.T) map[string]bool {
				return fileLiveImages(t, filepath.Join(dir, "blobs"))
			},
			sweep: func(t *testing.T) string {
				return strings.TrimSpace(runFacevault(t, bin, env, "sweep", "--data", dir))
			},
		})
	})
	t.Run("PostgreSQLS3", func(t *testing.T) {
		st := newSharedStores(t)
		const prefix = "chaos"
		blobsURL := s3URL(st.bucket+"/"+prefix, st.endpoint)
		spool := t.TempDir() // S3 uploads are staged here (TMPDIR)
		runChaos(t, bin, seed, &chaosBackend{
			name:      "PostgreSQL and S3",
			env:       childEnv("TMPDIR="+spool, "FACEVAULT_MASTER_KEY_FILE="+filepath.Join(t.TempDir(), "master.key")),
			storeArgs: []string{"--db", st.dbURL, "--blobs", blobsURL},
			liveImages: func(t *testing.T) map[string]bool {
				return s3LiveImages(t, st.bucket, prefix+"/livephotos/")
			},
			sweep: func(t *testing.T) string {
				return sweepShared(t, st.dbURL, blobsURL, spool)
			},
		})
	})
}

// chaosSeed returns the seed from FACEVAULT_CHAOS_SEED, or a random one.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(chaosSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer: %v", chaosSeedEnv, s, err)
		}
		return seed
	}
	var b [8]byte
	crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// chaosBackend is a pair of back ends the chaos test runs on.
type chaosBackend struct {
	name      string
	env       []string // of every facevault process
	storeArgs []string // the flags naming the back ends
	// liveImages lists the ids of the images in the image store's live
	// namespace, read directly.
	liveImages func(t *testing.T) map[string]bool
	// sweep removes images without a record, while no serve runs, and
	// says what it did.
	sweep func(t *testing.T) string
}

// fileLiveImages lists the images of an fsblob directory: the files
// <dir>/<xx>/<id>, where xx is the id's last two hex digits. Anything else
// there (temporary files, a lock, a quarantine) is not live.
func fileLiveImages(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	shards, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return ids
	} else if err != nil {
		t.Fatalf("read image directory: %v", err)
	}
	for _, shard := range shards {
		if !shard.IsDir() || !shardRE.MatchString(shard.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, shard.Name()))
		if err != nil {
			t.Fatalf("read image directory: %v", err)
		}
		for _, f := range files {
			if id := f.Name(); facevault.ValidID(id) && strings.HasSuffix(id, shard.Name()) && f.Type().IsRegular() {
				ids[id] = true
			}
		}
	}
	return ids
}

var shardRE = regexp.MustCompile(`^[0-9a-f]{2}$`)

// s3LiveImages lists the images under dir (<prefix>/livephotos/) of a
// bucket.
func s3LiveImages(t *testing.T, bucket, dir string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for o := range s3test.Client(t).ListObjectsIter(t.Context(), bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, o.Err)
		}
		if id, ok := strings.CutPrefix(o.Key, dir); ok && facevault.ValidID(id) {
			ids[id] = true
		}
	}
	if err := t.Context().Err(); err != nil {
		t.Fatalf("list bucket %s: %v", bucket, err)
	}
	return ids
}

// sweepShared runs the sweep on the shared stores with a cut-off in the
// future, while no node runs. 'facevault sweep' would leave the killed
// node's orphans alone: they are younger than the grace period, and the
// killed node still holds the sweep lease.
//
// That cut-off skips the grace period, which is there for transactions
// still on their way: a COMMIT the killed node sent just before it died
// still takes effect in PostgreSQL. So it first waits until every session
// of the killed node has ended.
func sweepShared(t *testing.T, dbURL, blobsURL, spool string) string {
	t.Helper()
	ctx := t.Context()
	waitForWithin(t, "the killed node's database sessions to end", 30*time.Second, func() bool {
		return queryInt(t, dbURL, `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`) == 0
	})
	db, err := openStore(ctx, dbURL, checkSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := s3blob.Open(ctx, blobsURL, s3blob.Options{SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	vault := facevault.NewVault(db, blobs, slog.New(slog.DiscardHandler))
	res, err := vault.Sweep(ctx, facevault.SweepOptions{Before: time.Now().Add(time.Minute), QuarantineFor: defaultQuarantineFor})
	if err != nil {
		t.Fatalf("sweep the shared stores: %v", err)
	}
	return fmt.Sprintf("Vault.Sweep moved %d orphan images to quarantine.", res.Quarantined)
}

// chaosScope is an account and mode, with its key.
type chaosScope struct {
	account, mode, key string
}

func (s *chaosScope) String() string { return s.account + "/" + s.mode }

type photoState int

const (
	photoLive photoState = iota
	photoRedacted
	photoDeleted
)

// chaosPhoto is what the test knows of a photo.
type chaosPhoto struct {
	id    string
	sum   [sha256.Size]byte
	size  int
	state photoState
	// note says, until the next check is over, what was in flight for
	// the photo at the kill, for messages.
	note string
}

func (p *chaosPhoto) String() string {
	if p.note == "" {
		return p.id
	}
	return p.id + " (" + p.note + ")"
}

// chaosClient is what the test knows of a client that exists.
type chaosClient struct {
	id, externalID string
	photos         []*chaosPhoto // live and redacted
	target         int           // photos a big actor fills it with before deleting it
}

// opKind is a change whose outcome is unknown when its request was in
// flight at a kill.
type opKind int

const (
	opCreateClient opKind = iota
	opUpload
	opDeletePhoto
	opRedact
	opDeleteClient
	numOpKinds
)

var opNames = [numOpKinds]string{"client creations", "uploads", "photo deletes", "redactions", "client deletes"}

// chaosOp is a change in flight.
type chaosOp struct {
	kind       opKind
	client     *chaosClient
	photo      *chaosPhoto
	externalID string            // opCreateClient
	sum        [sha256.Size]byte // opUpload
	size       int               // opUpload
}

// chaosCounts are what the test did and checked.
type chaosCounts struct {
	clientsCreated, uploads, livenessUploads, refused    int
	downloads, lists, gets, stillGone                    int
	deletes, redactions, clientDeletes, clientDeletedPix int
	inFlight, inFlightDone                               [numOpKinds]int
	photosInFlight                                       int
}

func (c *chaosCounts) add(o *chaosCounts) {
	c.clientsCreated += o.clientsCreated
	c.uploads += o.uploads
	c.livenessUploads += o.livenessUploads
	c.refused += o.refused
	c.downloads += o.downloads
	c.lists += o.lists
	c.gets += o.gets
	c.stillGone += o.stillGone
	c.deletes += o.deletes
	c.redactions += o.redactions
	c.clientDeletes += o.clientDeletes
	c.clientDeletedPix += o.clientDeletedPix
	for k := range numOpKinds {
		c.inFlight[k] += o.inFlight[k]
		c.inFlightDone[k] += o.inFlightDone[k]
	}
	c.photosInFlight += o.photosInFlight
}

// violations collects broken invariants, from every goroutine.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, fmt.Sprintf(format, args...))
}

func (v *violations) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.list)
}

// chaosActor sends one request at a time, as one caller of one scope, and
// is the only writer of its clients: it knows what each of its photos must
// be, except for the one change in flight at a kill.
type chaosActor struct {
	name    string
	index   int
	scope   *chaosScope
	big     bool // fills clients with dozens of photos and deletes them whole
	seed    uint64
	rng     *rand.Rand
	clients []*chaosClient
	// gone are photos and clients deleted since the last check; allGone
	// every photo deleted in the run.
	gone        []*chaosPhoto
	allGone     []*chaosPhoto
	goneClients []string
	pending     *chaosOp // in flight at the kill
	n           uint64   // images and external ids made
	counts      chaosCounts
	v           *violations
}

// chaosServer is one serve process of a cycle, as the actors see it.
type chaosServer struct {
	p      *serveProcess
	when   string // "cycle 3", "restart 3"
	killed atomic.Bool
	// bigDelete receives, when someone waits on it, the moment an actor
	// sends the delete of a client with chaosBigClient photos or more.
	bigDelete chan struct{}
	// bigDeleteTook is how long the last acknowledged delete of a big
	// client took, in nanoseconds, shared across cycles.
	bigDeleteTook *atomic.Int64
}

// call sends a request about something (for messages) as the actor. ok is
// false if no complete answer came: once the server is being killed the
// request's outcome is unknown; otherwise it is a violation (a cut body
// included).
func (a *chaosActor) call(s *chaosServer, about, method, path string, body any) (status int, resp []byte, ok bool) {
	status, resp, err := s.p.request(method, path, a.scope.key, body)
	if err != nil {
		if !s.killed.Load() {
			a.bad(s, "%s: %s %s: no complete answer, and the server was not being killed: %v", about, method, path, err)
		}
		return 0, nil, false
	}
	return status, resp, true
}

// request sends a request with key as Authorization and body as JSON.
func (p *serveProcess) request(method, path, key string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read the body of a %d answer: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, b, nil
}

// bad records a violation: an answer that must not be.
func (a *chaosActor) bad(s *chaosServer, format string, args ...any) {
	a.v.add("%s: %s: %s", s.when, a.name, fmt.Sprintf(format, args...))
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// work runs the actor until the server is killed or an answer is wrong.
func (a *chaosActor) work(s *chaosServer) {
	for !s.killed.Load() && a.v.len() == 0 {
		var ok bool
		if a.big {
			ok = a.bigStep(s)
		} else {
			ok = a.step(s)
		}
		if !ok {
			return
		}
	}
}

// step does one thing an ordinary caller does.
func (a *chaosActor) step(s *chaosServer) bool {
	photos := a.photos(photoLive)
	x := a.rng.Float64()
	switch {
	case len(a.clients) < 2 || x < 0.04:
		return a.createClient(s, false)
	case len(a.photos(photoLive))+len(a.photos(photoRedacted)) > chaosMaxPhotos || x > 0.97:
		// Delete the client with the most photos.
		c := slices.MaxFunc(a.clients, func(x, y *chaosClient) int { return len(x.photos) - len(y.photos) })
		return a.deleteClient(s, c)
	case x < 0.50 || len(photos) == 0:
		return a.upload(s, a.clients[a.rng.IntN(len(a.clients))], a.rng.IntN(10) == 0)
	case x < 0.68:
		return a.checkDownload(s, photos[a.rng.IntN(len(photos))])
	case x < 0.76:
		return a.checkClient(s, a.clients[a.rng.IntN(len(a.clients))])
	case x < 0.80:
		all := append(photos, a.photos(photoRedacted)...)
		return a.checkPhoto(s, all[a.rng.IntN(len(all))])
	case x < 0.84:
		return a.checkListedClient(s, a.clients[a.rng.IntN(len(a.clients))])
	case x < 0.89:
		return a.redact(s, photos[a.rng.IntN(len(photos))])
	default:
		return a.deletePhoto(s, photos[a.rng.IntN(len(photos))])
	}
}

// bigStep fills a client with dozens of photos, then deletes it whole.
func (a *chaosActor) bigStep(s *chaosServer) bool {
	if len(a.clients) == 0 {
		return a.createClient(s, true)
	}
	c := a.clients[0]
	if len(c.photos) < c.target {
		return a.upload(s, c, false)
	}
	return a.deleteClient(s, c)
}

// photos returns the actor's photos in a state.
func (a *chaosActor) photos(state photoState) []*chaosPhoto {
	var ps []*chaosPhoto
	for _, c := range a.clients {
		for _, p := range c.photos {
			if p.state == state {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

func (a *chaosActor) newClient(id, externalID string, big bool) *chaosClient {
	c := &chaosClient{id: id, externalID: externalID}
	if big {
		c.target = 24 + a.rng.IntN(25)
	}
	a.clients = append(a.clients, c)
	return c
}

func (a *chaosActor) createClient(s *chaosServer, big bool) bool {
	a.n++
	ext := fmt.Sprintf("chaos-%d-%d", a.index, a.n)
	a.pending = &chaosOp{kind: opCreateClient, externalID: ext}
	status, body, ok := a.call(s, "client creation "+ext, "POST", "/v1/clients", map[string]any{
		"type":          "person",
		"email":         ext + "@example.com",
		"externalId":    ext,
		"personDetails": map[string]string{"firstName": "Chaos", "lastName": strconv.Itoa(a.index)},
	})
	if !ok {
		return false
	}
	a.pending = nil
	var c struct{ ID, ExternalID string }
	if status != http.StatusOK || json.Unmarshal(body, &c) != nil || !facevault.ValidID(c.ID) || c.ExternalID != ext {
		a.bad(s, "create a client: got %d %s, want 200 and the client", status, snippet(body))
		return false
	}
	a.newClient(c.ID, ext, big)
	a.counts.clientsCreated++
	return true
}

// image makes a new JPEG, different from every other of the run, of 43 to
// 60 KB: legal (at least 34 KB) and cheap.
func (a *chaosActor) image() []byte {
	a.n++
	w, h := 216+a.rng.IntN(41), 216+a.rng.IntN(41)
	return testimage.JPEG(w, h, a.seed^(uint64(a.index)<<48|a.n))
}

func (a *chaosActor) upload(s *chaosServer, c *chaosClient, liveness bool) bool {
	img := a.image()
	sum := sha256.Sum256(img)
	a.pending = &chaosOp{kind: opUpload, client: c, sum: sum, size: len(img)}
	status, body, ok := a.call(s, "upload to client "+c.id, "POST", "/v1/livePhotos", uploadBody(c.id, img, liveness))
	if !ok {
		return false
	}
	a.pending = nil
	if liveness {
		a.counts.livenessUploads++
	}
	if status == http.StatusUnprocessableEntity && liveness && a.scope.mode == "live" {
		a.counts.refused++ // nothing of it may remain: see the live images check
		return true
	}
	var p struct {
		ID, ClientID string
		Size         int
		Redacted     bool
	}
	if status != http.StatusOK || json.Unmarshal(body, &p) != nil || !facevault.ValidID(p.ID) ||
		p.ClientID != c.id || p.Size != len(img) || p.Redacted {
		a.bad(s, "upload %d bytes to client %s: got %d %s, want 200 and the photo", len(img), c.id, status, snippet(body))
		return false
	}
	c.photos = append(c.photos, &chaosPhoto{id: p.ID, sum: sum, size: len(img)})
	a.counts.uploads++
	return true
}

// checkDownload checks that a live photo downloads byte-identically.
func (a *chaosActor) checkDownload(s *chaosServer, p *chaosPhoto) bool {
	status, body, ok := a.call(s, "photo "+p.String(), "GET", "/v1/livePhotos/"+p.id+"/download", nil)
	if !ok {
		return false
	}
	var d struct{ Data string }
	if status != http.StatusOK || json.Unmarshal(body, &d) != nil {
		a.bad(s, "download photo %s: got %d %s, want 200 and its %d bytes", p, status, snippet(body), p.size)
		return false
	}
	img, err := base64.StdEncoding.DecodeString(d.Data)
	if err != nil || sha256.Sum256(img) != p.sum {
		a.bad(s, "download photo %s: got %d bytes (%v) differing from the %d uploaded", p, len(img), err, p.size)
		return false
	}
	a.counts.downloads++
	return true
}

// checkPhoto checks what GET says of a photo, and that it downloads as its
// state says.
func (a *chaosActor) checkPhoto(s *chaosServer, p *chaosPhoto) bool {
	status, body, ok := a.call(s, "photo "+p.String(), "GET", "/v1/livePhotos/"+p.id, nil)
	if !ok {
		return false
	}
	a.counts.gets++
	var got struct {
		ID       string
		Redacted bool
	}
	if status != http.StatusOK || json.Unmarshal(body, &got) != nil || got.ID != p.id || got.Redacted != (p.state == photoRedacted) {
		a.bad(s, "get %s photo %s: got %d %s", stateName(p.state), p, status, snippet(body))
		return false
	}
	if p.state == photoLive {
		return a.checkDownload(s, p)
	}
	return a.checkStatus(s, "GET", "/v1/livePhotos/"+p.id+"/download", http.StatusNotFound, "download of redacted photo "+p.String())
}

// checkStatus checks that a request is answered with want.
func (a *chaosActor) checkStatus(s *chaosServer, method, path string, want int, what string) bool {
	status, body, ok := a.call(s, what, method, path, nil)
	if !ok {
		return false
	}
	if status != want {
		a.bad(s, "%s: %s %s: got %d %s, want %d", what, method, path, status, snippet(body), want)
		return false
	}
	return true
}

func stateName(s photoState) string {
	return [...]string{"live", "redacted", "deleted"}[s]
}

// listItem is an item of a list, as far as the test reads it.
type listItem struct {
	ID, ClientID, ExternalID string
	Redacted                 bool
}

// list reads every page of a list.
func (a *chaosActor) list(s *chaosServer, path string) ([]listItem, bool) {
	var items []listItem
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for page := 1; ; page++ {
		status, body, ok := a.call(s, "list", "GET", fmt.Sprintf("%s%spageSize=1000&page=%d", path, sep, page), nil)
		if !ok {
			return nil, false
		}
		var l struct {
			TotalItems int
			Items      []listItem
		}
		if status != http.StatusOK || json.Unmarshal(body, &l) != nil {
			a.bad(s, "list %s page %d: got %d %s, want 200 and a list", path, page, status, snippet(body))
			return nil, false
		}
		items = append(items, l.Items...)
		if len(l.Items) == 0 || len(items) >= l.TotalItems {
			if len(items) != l.TotalItems {
				a.bad(s, "list %s: %d items on %d pages, but totalItems is %d", path, len(items), page, l.TotalItems)
				return nil, false
			}
			a.counts.lists++
			return items, true
		}
	}
}

// checkClient checks that a client exists and lists exactly its photos, in
// their states.
func (a *chaosActor) checkClient(s *chaosServer, c *chaosClient) bool {
	status, body, ok := a.call(s, "client "+c.id, "GET", "/v1/clients/"+c.id, nil)
	if !ok {
		return false
	}
	a.counts.gets++
	if status != http.StatusOK {
		a.bad(s, "get client %s (%d photos): got %d %s, want 200", c.id, len(c.photos), status, snippet(body))
		return false
	}
	items, ok := a.list(s, "/v1/livePhotos?clientId="+c.id)
	if !ok {
		return false
	}
	listed := map[string]listItem{}
	for _, it := range items {
		listed[it.ID] = it
	}
	good := true
	for _, p := range c.photos {
		it, ok := listed[p.id]
		switch {
		case !ok:
			a.bad(s, "client %s: %s photo %s is not listed", c.id, stateName(p.state), p)
			good = false
		case it.Redacted != (p.state == photoRedacted) || it.ClientID != c.id:
			a.bad(s, "client %s: %s photo %s is listed as %+v", c.id, stateName(p.state), p, it)
			good = false
		}
		delete(listed, p.id)
	}
	for id := range listed {
		a.bad(s, "client %s lists photo %s, which nobody uploaded to it", c.id, id)
		good = false
	}
	return good
}

// checkListedClient checks that the client list, filtered by a client's
// externalId, shows that client only.
func (a *chaosActor) checkListedClient(s *chaosServer, c *chaosClient) bool {
	items, ok := a.list(s, "/v1/clients?externalId="+url.QueryEscape(c.externalID))
	if !ok {
		return false
	}
	if len(items) != 1 || items[0].ID != c.id {
		a.bad(s, "clients with externalId %s: got %+v, want only %s", c.externalID, items, c.id)
		return false
	}
	return true
}

func (a *chaosActor) redact(s *chaosServer, p *chaosPhoto) bool {
	a.pending = &chaosOp{kind: opRedact, photo: p}
	status, body, ok := a.call(s, "photo "+p.String(), "POST", "/v1/livePhotos/"+p.id+"/redact", nil)
	if !ok {
		return false
	}
	a.pending = nil
	if status != http.StatusOK {
		a.bad(s, "redact photo %s: got %d %s, want 200", p.id, status, snippet(body))
		return false
	}
	p.state = photoRedacted
	a.counts.redactions++
	return a.checkStatus(s, "GET", "/v1/livePhotos/"+p.id+"/download", http.StatusNotFound, "download of a photo just redacted")
}

func (a *chaosActor) deletePhoto(s *chaosServer, p *chaosPhoto) bool {
	a.pending = &chaosOp{kind: opDeletePhoto, photo: p}
	status, body, ok := a.call(s, "photo "+p.String(), "DELETE", "/v1/livePhotos/"+p.id, nil)
	if !ok {
		return false
	}
	a.pending = nil
	if status != http.StatusNoContent {
		a.bad(s, "delete photo %s: got %d %s, want 204", p.id, status, snippet(body))
		return false
	}
	a.forgetPhoto(p)
	a.counts.deletes++
	return a.checkStatus(s, "GET", "/v1/livePhotos/"+p.id, http.StatusNotFound, "get of a photo just deleted")
}

func (a *chaosActor) forgetPhoto(p *chaosPhoto) {
	for _, c := range a.clients {
		c.photos = slices.DeleteFunc(c.photos, func(q *chaosPhoto) bool { return q == p })
	}
	p.state = photoDeleted
	a.gone = append(a.gone, p)
	a.allGone = append(a.allGone, p)
}

func (a *chaosActor) deleteClient(s *chaosServer, c *chaosClient) bool {
	big := len(c.photos) >= chaosBigClient
	if big {
		select {
		case s.bigDelete <- struct{}{}:
		default:
		}
	}
	start := time.Now()
	a.pending = &chaosOp{kind: opDeleteClient, client: c}
	status, body, ok := a.call(s, "client "+c.id, "DELETE", "/v1/clients/"+c.id, nil)
	if !ok {
		return false
	}
	a.pending = nil
	if status != http.StatusNoContent {
		a.bad(s, "delete client %s (%d photos): got %d %s, want 204", c.id, len(c.photos), status, snippet(body))
		return false
	}
	if big {
		s.bigDeleteTook.Store(int64(time.Since(start)))
	}
	a.counts.clientDeletes++
	a.counts.clientDeletedPix += len(c.photos)
	a.forgetClient(c)
	return a.checkStatus(s, "GET", "/v1/clients/"+c.id, http.StatusNotFound, "get of a client just deleted")
}

func (a *chaosActor) forgetClient(c *chaosClient) {
	for _, p := range slices.Clone(c.photos) {
		a.forgetPhoto(p)
	}
	a.clients = slices.DeleteFunc(a.clients, func(x *chaosClient) bool { return x == c })
	a.goneClients = append(a.goneClients, c.id)
}

// resolve finds out, after a restart, what became of the change in flight
// at the kill, and checks it is one of the outcomes allowed.
func (a *chaosActor) resolve(s *chaosServer) bool {
	op := a.pending
	if op == nil {
		return true
	}
	a.pending = nil
	a.counts.inFlight[op.kind]++
	done := false
	switch op.kind {
	case opCreateClient:
		items, ok := a.list(s, "/v1/clients?externalId="+url.QueryEscape(op.externalID))
		if !ok {
			return false
		}
		switch len(items) {
		case 0:
		case 1:
			done = true
			a.newClient(items[0].ID, op.externalID, a.big)
		default:
			a.bad(s, "a client creation in flight at the kill made %d clients: %+v", len(items), items)
			return false
		}
	case opUpload:
		a.counts.photosInFlight++
		c := op.client
		items, ok := a.list(s, "/v1/livePhotos?clientId="+c.id)
		if !ok {
			return false
		}
		var unknown []string
		for _, it := range items {
			if !slices.ContainsFunc(c.photos, func(p *chaosPhoto) bool { return p.id == it.ID }) {
				unknown = append(unknown, it.ID)
			}
		}
		if len(unknown) > 1 {
			a.bad(s, "client %s lists %d photos nobody knows of (one upload was in flight at the kill): %v", c.id, len(unknown), unknown)
			return false
		}
		if len(unknown) == 1 {
			// The upload committed: the photo must be exactly its bytes;
			// the checks after resolve download it.
			done = true
			c.photos = append(c.photos, &chaosPhoto{id: unknown[0], sum: op.sum, size: op.size,
				note: "its upload was in flight at the kill, unanswered, and it is listed"})
		}
	case opDeletePhoto, opRedact:
		a.counts.photosInFlight++
		p := op.photo
		status, body, ok := a.call(s, "photo "+p.String(), "GET", "/v1/livePhotos/"+p.id, nil)
		if !ok {
			return false
		}
		var got struct{ Redacted bool }
		switch {
		case status == http.StatusNotFound && op.kind == opDeletePhoto:
			done = true
			a.forgetPhoto(p)
		case status == http.StatusOK && json.Unmarshal(body, &got) == nil:
			p.note = "its " + strings.TrimSuffix(opNames[op.kind], "s") + " was in flight at the kill"
			if got.Redacted && p.state == photoLive && op.kind == opRedact {
				done = true
				p.state = photoRedacted
			} else if got.Redacted != (p.state == photoRedacted) {
				a.bad(s, "photo %s (%s, %s in flight at the kill) is now %s", p.id, stateName(p.state), opNames[op.kind], snippet(body))
				return false
			}
		default:
			a.bad(s, "get photo %s (%s, %s in flight at the kill): got %d %s", p.id, stateName(p.state), opNames[op.kind], status, snippet(body))
			return false
		}
	case opDeleteClient:
		c := op.client
		a.counts.photosInFlight += len(c.photos)
		status, body, ok := a.call(s, "client "+c.id, "GET", "/v1/clients/"+c.id, nil)
		if !ok {
			return false
		}
		switch status {
		case http.StatusNotFound:
			done = true
			a.forgetClient(c)
		case http.StatusOK:
			// Not deleted: the client must be whole, which the checks
			// after resolve verify, photo by photo.
			for _, p := range c.photos {
				p.note = fmt.Sprintf("the delete of its client %s, with %d photos, was in flight at the kill, and the client is still there", c.id, len(c.photos))
			}
		default:
			a.bad(s, "get client %s (its delete in flight at the kill): got %d %s", c.id, status, snippet(body))
			return false
		}
	}
	if done {
		a.counts.inFlightDone[op.kind]++
	}
	return true
}

// verify checks, after a restart, everything the actor knows: each client
// lists exactly its photos, each live photo downloads byte-identically,
// each redacted photo stays redacted, each photo and client deleted since
// the last check is gone (every photo ever deleted, if all is true). It
// goes on after a broken invariant, to report them all.
func (a *chaosActor) verify(s *chaosServer, all bool) {
	if !a.resolve(s) {
		return
	}
	for _, c := range a.clients {
		a.checkClient(s, c)
		for _, p := range c.photos {
			a.checkPhoto(s, p)
		}
	}
	gone := a.gone
	if all {
		gone = a.allGone
	}
	for _, p := range gone {
		if a.checkStatus(s, "GET", "/v1/livePhotos/"+p.id, http.StatusNotFound, "get of deleted photo "+p.String()) &&
			a.checkStatus(s, "GET", "/v1/livePhotos/"+p.id+"/download", http.StatusNotFound, "download of deleted photo "+p.String()) {
			a.counts.stillGone++
		}
	}
	for _, id := range a.goneClients {
		a.checkStatus(s, "GET", "/v1/clients/"+id, http.StatusNotFound, "get of deleted client "+id)
		if items, ok := a.list(s, "/v1/livePhotos?clientId="+id); ok && len(items) != 0 {
			a.bad(s, "deleted client %s lists %d photos", id, len(items))
		}
	}
	a.gone, a.goneClients = nil, nil
	for _, c := range a.clients {
		for _, p := range c.photos {
			p.note = ""
		}
	}
}

// chaosRun is the test on one pair of back ends.
type chaosRun struct {
	t       *testing.T
	bin     string
	b       *chaosBackend
	seed    uint64
	rng     *rand.Rand // the run's choices: when to kill
	scopes  []*chaosScope
	actors  []*chaosActor
	checker chaosCounts // of the checks of whole scopes
	v       *violations
	took    atomic.Int64 // how long the last big client delete took, in ns
	started time.Time
	// afterKill are the live images right after the last kill.
	afterKill map[string]bool

	kills, killsInDelete int
	orphans              int // images without a listed photo after a kill
	checkTime            time.Duration
}

func runChaos(t *testing.T, bin string, seed uint64, b *chaosBackend) {
	r := &chaosRun{t: t, bin: bin, b: b, seed: seed, rng: rand.New(rand.NewPCG(seed, 0)), v: &violations{}, started: time.Now()}
	r.took.Store(int64(50 * time.Millisecond))
	for _, account := range []string{"chaos-a", "chaos-b", "chaos-c"} {
		for _, mode := range []string{"test", "live"} {
			key := createKeyProcess(t, bin, b.env, b.storeArgs, account, mode)
			r.scopes = append(r.scopes, &chaosScope{account: account, mode: mode, key: key})
		}
	}
	newActor := func(scope *chaosScope, big bool) {
		i := len(r.actors)
		kind := "actor"
		if big {
			kind = "big-client actor"
		}
		r.actors = append(r.actors, &chaosActor{
			name:  fmt.Sprintf("%s %d (%s)", kind, i, scope),
			index: i, scope: scope, big: big, seed: seed,
			rng: rand.New(rand.NewPCG(seed, uint64(i)+1)),
			v:   r.v,
		})
	}
	for _, scope := range r.scopes {
		newActor(scope, false)
	}
	newActor(r.scopes[0], true) // chaos-a test
	newActor(r.scopes[3], true) // chaos-b live
	defer r.printCounts()

	for cycle := 1; cycle <= chaosCycles; cycle++ {
		p := startServeProcess(t, bin, b.env, b.storeArgs...)
		if !r.check(p, fmt.Sprintf("restart %d", cycle-1), false) {
			p.kill()
			return
		}
		if !r.killCycle(p, cycle) {
			return
		}
		t.Logf("cycle %d: sweep: %s", cycle, b.sweep(t))
	}
	p := startServeProcess(t, bin, b.env, b.storeArgs...)
	if r.check(p, fmt.Sprintf("restart %d", chaosCycles), true) {
		p.stop(t)
	} else {
		p.kill()
		return
	}
	// Every audit chain holds together, twelve kills later: no append was
	// half-made, none lost its place.
	t.Logf("audit verify:\n%s", runFacevault(t, bin, b.env, append([]string{"audit", "verify"}, b.storeArgs...)...))
}

// killCycle runs the workload on p and kills p with SIGKILL: at a random
// moment, or at a random point of a big client delete. It reports whether
// every answer was right.
func (r *chaosRun) killCycle(p *serveProcess, cycle int) bool {
	s := &chaosServer{p: p, when: fmt.Sprintf("cycle %d", cycle), bigDelete: make(chan struct{}), bigDeleteTook: &r.took}
	var wg sync.WaitGroup
	for _, a := range r.actors {
		wg.Go(func() { a.work(s) })
	}
	start := time.Now()
	// Every choice is drawn before any wait, so that the seed decides them.
	inDelete := r.rng.IntN(2) == 1
	warmUp := time.Duration(100+r.rng.IntN(400)) * time.Millisecond
	anyTime := time.Duration(150+r.rng.IntN(1650)) * time.Millisecond
	intoDelete := r.rng.Float64()
	how := "at a random moment"
	if inDelete {
		time.Sleep(warmUp)
		select {
		case <-s.bigDelete:
			d := time.Duration(intoDelete * float64(r.took.Load()))
			time.Sleep(d)
			how = fmt.Sprintf("%v into a big client delete (the last one took %v)", d.Round(time.Microsecond),
				time.Duration(r.took.Load()).Round(time.Microsecond))
			r.killsInDelete++
		case <-time.After(5 * time.Second):
			how = "after waiting 5s in vain for a big client delete"
		}
	} else {
		time.Sleep(anyTime)
	}
	s.killed.Store(true)
	p.kill()
	r.kills++
	wg.Wait()
	r.t.Logf("cycle %d: killed %v after the workload started, %s", cycle, time.Since(start).Round(time.Millisecond), how)
	if r.v.len() > 0 {
		r.report(p, s.when)
		return false
	}
	r.afterKill = r.b.liveImages(r.t)
	return true
}

// check runs every check after a restart of p; all checks every photo ever
// deleted, not only those deleted since the last check.
func (r *chaosRun) check(p *serveProcess, when string, all bool) bool {
	start := time.Now()
	s := &chaosServer{p: p, when: when, bigDelete: make(chan struct{}), bigDeleteTook: &r.took}
	var wg sync.WaitGroup
	for _, a := range r.actors {
		wg.Go(func() { a.verify(s, all) })
	}
	wg.Wait()
	if r.v.len() == 0 {
		r.checkScopes(s)
	}
	if r.v.len() == 0 {
		r.checkLiveImages(s)
	}
	r.checkTime += time.Since(start)
	if r.v.len() > 0 {
		r.report(p, when)
		return false
	}
	r.t.Logf("%s: checked in %v", when, time.Since(start).Round(time.Millisecond))
	return true
}

// checkScopes checks that each scope lists exactly the clients its actors
// know.
func (r *chaosRun) checkScopes(s *chaosServer) {
	for _, scope := range r.scopes {
		want := map[string]bool{}
		for _, a := range r.actors {
			if a.scope == scope {
				for _, c := range a.clients {
					want[c.id] = true
				}
			}
		}
		checker := &chaosActor{name: "checker (" + scope.String() + ")", scope: scope, v: r.v}
		items, ok := checker.list(s, "/v1/clients")
		r.checker.add(&checker.counts)
		if !ok {
			return
		}
		for _, it := range items {
			if !want[it.ID] {
				checker.bad(s, "the clients list shows %s (externalId %q), which nobody created", it.ID, it.ExternalID)
			}
			delete(want, it.ID)
		}
		for id := range want {
			checker.bad(s, "the clients list lacks client %s", id)
		}
	}
}

// checkLiveImages checks that the image store's live namespace holds the
// images of the listed unredacted photos and nothing else, allowing
// chaosSettle for work the service finishes in the background.
func (r *chaosRun) checkLiveImages(s *chaosServer) {
	listed := map[string]bool{}
	for _, a := range r.actors {
		for _, p := range a.photos(photoLive) {
			listed[p.id] = true
		}
	}
	for id := range r.afterKill {
		if !listed[id] {
			r.orphans++
		}
	}
	r.afterKill = nil
	deadline := time.Now().Add(chaosSettle)
	for {
		images := r.b.liveImages(r.t)
		var missing, extra []string
		for id := range listed {
			if !images[id] {
				missing = append(missing, id)
			}
		}
		for id := range images {
			if !listed[id] {
				extra = append(extra, id)
			}
		}
		if len(missing) > 0 {
			r.v.add("%s: %d listed photos have no image in the live namespace: %v", s.when, len(missing), missing[:min(len(missing), 10)])
			return
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var what []string
			for _, id := range extra[:min(len(extra), 10)] {
				what = append(what, id+" ("+r.whatIs(id)+")")
			}
			r.v.add("%s: %d images in the live namespace belong to no listed photo %v after the restart, the sweep having run: %s",
				s.when, len(extra), chaosSettle, strings.Join(what, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// whatIs says what the test knows of a photo id.
func (r *chaosRun) whatIs(id string) string {
	for _, a := range r.actors {
		for _, c := range a.clients {
			for _, p := range c.photos {
				if p.id == id {
					return fmt.Sprintf("a %s photo of client %s of %s", stateName(p.state), c.id, a.name)
				}
			}
		}
		for _, p := range a.allGone {
			if p.id == id {
				return "a deleted photo of " + a.name
			}
		}
	}
	return "no photo the test knows of: an upload unanswered at a kill and not listed since"
}

// report fails the test with the broken invariants and the server's
// errors.
func (r *chaosRun) report(p *serveProcess, when string) {
	r.v.mu.Lock()
	list := slices.Clone(r.v.list)
	r.v.mu.Unlock()
	r.t.Errorf("%s on %s: %d broken invariants (seed %d; %s=%d repeats its choices):\n  %s",
		when, r.b.name, len(list), r.seed, chaosSeedEnv, r.seed, strings.Join(list[:min(len(list), 25)], "\n  "))
	var errs []string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 {
		r.t.Logf("the server's log has %d error lines; the first:\n%s", len(errs), strings.Join(errs[:min(len(errs), 10)], "\n"))
	}
}

// printCounts prints what the run did and checked.
func (r *chaosRun) printCounts() {
	var c chaosCounts
	for _, a := range r.actors {
		c.add(&a.counts)
	}
	c.add(&r.checker)
	inFlight, done := 0, 0
	var parts []string
	for k := range numOpKinds {
		inFlight += c.inFlight[k]
		done += c.inFlightDone[k]
		parts = append(parts, fmt.Sprintf("%d %s (%d done)", c.inFlight[k], opNames[k], c.inFlightDone[k]))
	}
	fmt.Printf(`chaos on %s, seed %d: %d kills (%d inside a big client delete), %v in all, %v of it checking after restarts
  acknowledged: %d uploads (%d with the liveness check, of which %d refused in live mode: 422), %d clients created,
    %d photo deletes, %d redactions, %d client deletes (%d photos)
  checked: %d downloads byte-identical, %d lists, %d gets, %d deletes still in force after a restart
  in flight at the kills: %d changes (%d took effect) touching %d photos: %s
  images without a listed photo after a kill, gone by the next check: %d
  broken invariants: %d
`, r.b.name, r.seed, r.kills, r.killsInDelete, time.Since(r.started).Round(time.Millisecond), r.checkTime.Round(time.Millisecond),
		c.uploads, c.livenessUploads, c.refused, c.clientsCreated,
		c.deletes, c.redactions, c.clientDeletes, c.clientDeletedPix,
		c.downloads, c.lists, c.gets, c.stillGone,
		inFlight, done, c.photosInFlight, strings.Join(parts, ", "),
		r.orphans, r.v.len())
}
