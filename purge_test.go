package facevault_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/fsblob"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/sqlite"
)

// faultyBlobs is a real image store whose Delete can be made to fail, or to
// wait, for the tests of what deletes do when destroying bytes does not go
// as planned.
type faultyBlobs struct {
	facevault.BlobStore
	mu      sync.Mutex
	failing bool
	gate    chan struct{} // when set, Delete waits for it to close
	started chan string   // when set, Delete sends its key here first
	deletes int           // calls of Delete that destroyed bytes
}

var errStoreDown = errors.New("image store down")

func (b *faultyBlobs) Delete(ctx context.Context, key string) error {
	b.mu.Lock()
	failing, gate, started := b.failing, b.gate, b.started
	b.mu.Unlock()
	if started != nil {
		started <- key
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if failing {
		return errStoreDown
	}
	if err := b.BlobStore.Delete(ctx, key); err != nil {
		return err
	}
	b.mu.Lock()
	b.deletes++
	b.mu.Unlock()
	return nil
}

func (b *faultyBlobs) set(f func(b *faultyBlobs)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

// purgeEnv is a vault on a real SQLite file and image directory, with a
// clock the test moves.
type purgeEnv struct {
	vault *facevault.Vault
	db    *sqlite.DB
	blobs *faultyBlobs
	scope facevault.Scope
	now   time.Time
	mu    sync.Mutex
}

func newPurgeEnv(t *testing.T) *purgeEnv {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "facevault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	e := &purgeEnv{db: db, blobs: &faultyBlobs{BlobStore: fs}, now: time.Now().UTC().Truncate(time.Millisecond)}
	e.vault = facevault.NewVault(db, e.blobs, slog.New(slog.NewTextHandler(t.Output(), nil)))
	e.vault.Now = func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}
	acct, err := db.EnsureAccount(ctx, "acme", e.now)
	if err != nil {
		t.Fatal(err)
	}
	e.scope = facevault.Scope{AccountID: acct.ID, Mode: facevault.ModeTest}
	return e
}

// advance moves the vault's clock forward.
func (e *purgeEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *purgeEnv) client(t *testing.T, s facevault.Scope) string {
	t.Helper()
	email := "jo@example.com"
	first, last := "Jo", "Doe"
	c, err := e.vault.CreateClient(t.Context(), s, &facevault.ClientPatch{Type: ptr("person"), Email: &email,
		PersonDetails: &facevault.PersonDetailsPatch{FirstName: &first, LastName: &last}})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return c.ID
}

// upload stores a photo through the vault, as the API does, and returns its
// id and bytes.
func (e *purgeEnv) upload(ctx context.Context, s facevault.Scope, clientID string, seed uint64) (string, []byte, error) {
	img := testimage.JPEGSize(40<<10, seed)
	u, err := e.vault.BeginUpload(ctx)
	if err != nil {
		return "", nil, err
	}
	if _, err := u.Write(img); err != nil {
		u.Abort()
		return "", nil, err
	}
	p, err := e.vault.FinishUpload(ctx, s, u, clientID, false)
	if err != nil {
		return "", nil, err
	}
	return p.ID, img, nil
}

func (e *purgeEnv) mustUpload(t *testing.T, clientID string, seed uint64) (string, []byte) {
	t.Helper()
	id, img, err := e.upload(t.Context(), e.scope, clientID, seed)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return id, img
}

// blobExists reports whether the image store still holds key's bytes.
func (e *purgeEnv) blobExists(t *testing.T, key string) bool {
	t.Helper()
	r, err := e.blobs.Open(t.Context(), key)
	if errors.Is(err, facevault.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("open blob %s: %v", key, err)
	}
	r.Close()
	return true
}

func (e *purgeEnv) backlog(t *testing.T) facevault.PurgeBacklog {
	t.Helper()
	b, err := e.db.PurgeBacklog(t.Context())
	if err != nil {
		t.Fatalf("PurgeBacklog: %v", err)
	}
	return b
}

func (e *purgeEnv) purge(t *testing.T) facevault.PurgeResult {
	t.Helper()
	res, err := e.vault.Purge(t.Context())
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	return res
}

// TestPurgeRetriesUntilDestroyed: with an image store that cannot destroy
// bytes, deletes still answer at once and the photos are gone for every
// request; the bytes stay queued, are retried with a growing wait, are
// left alone by the orphan sweep, and are destroyed once the store works.
func TestPurgeRetriesUntilDestroyed(t *testing.T) {
	ctx := t.Context()
	e := newPurgeEnv(t)
	c := e.client(t, e.scope)
	single, _ := e.mustUpload(t, c, 1)
	redacted, _ := e.mustUpload(t, c, 2)
	doomed := e.client(t, e.scope)
	var doomedPhotos []string
	for i := range 5 {
		id, _ := e.mustUpload(t, doomed, uint64(10+i))
		doomedPhotos = append(doomedPhotos, id)
	}

	e.blobs.set(func(b *faultyBlobs) { b.failing = true })
	if err := e.vault.DeleteLivePhoto(ctx, e.scope, single); err != nil {
		t.Fatalf("DeleteLivePhoto with the image store down: %v", err)
	}
	if _, err := e.vault.RedactLivePhoto(ctx, e.scope, redacted); err != nil {
		t.Fatalf("RedactLivePhoto with the image store down: %v", err)
	}
	if err := e.vault.DeleteClient(ctx, e.scope, doomed); err != nil {
		t.Fatalf("DeleteClient with the image store down: %v", err)
	}
	// Gone for every request at once.
	if _, err := e.vault.LivePhoto(ctx, e.scope, single); facevault.ErrorCode(err) != facevault.ENotFound {
		t.Errorf("LivePhoto of a deleted photo: %v, want not found", err)
	}
	if _, _, err := e.vault.OpenImage(ctx, e.scope, redacted); facevault.ErrorCode(err) != facevault.ENotFound {
		t.Errorf("OpenImage of a redacted photo: %v, want not found", err)
	}
	for _, id := range doomedPhotos {
		if _, err := e.vault.LivePhoto(ctx, e.scope, id); facevault.ErrorCode(err) != facevault.ENotFound {
			t.Errorf("LivePhoto of a deleted client's photo: %v, want not found", err)
		}
	}
	// The bytes are all still there, and queued.
	for _, id := range append([]string{single, redacted}, doomedPhotos...) {
		if !e.blobExists(t, id) {
			t.Errorf("blob %s is gone though the store could not destroy it", id)
		}
	}
	if b := e.backlog(t); b != (facevault.PurgeBacklog{Keys: 2, DeletedClients: 1}) {
		t.Errorf("backlog = %+v, want 2 keys and 1 deleted client", b)
	}

	// The sweep leaves queued bytes alone: they are accounted for.
	if res, err := e.vault.Sweep(ctx, facevault.SweepOptions{Before: time.Now().Add(time.Hour)}); err != nil ||
		res.Orphans != 0 || res.Quarantined != 0 {
		t.Errorf("Sweep = %+v, %v; want no orphans", res, err)
	}

	// The delete and the redaction tried once already, and wait; the
	// deleted client's photos are drained and tried for the first time.
	res := e.purge(t)
	if res.Drained != 5 || res.Destroyed != 0 || res.Failed != 5 {
		t.Errorf("purge with the store down = %+v, want 5 drained, 5 failed", res)
	}
	// Failed keys wait before the next attempt: an immediate pass finds
	// nothing due.
	if res := e.purge(t); res != (facevault.PurgeResult{}) {
		t.Errorf("purge right after the failures = %+v, want nothing due", res)
	}
	e.advance(time.Second)
	if res := e.purge(t); res.Failed != 7 {
		t.Errorf("second attempt = %+v, want 7 failed", res)
	}
	e.advance(time.Second) // the second failure waits 2s
	if res := e.purge(t); res != (facevault.PurgeResult{}) {
		t.Errorf("purge 1s after the second failure = %+v, want nothing due", res)
	}
	due, err := e.db.DuePurges(ctx, e.now.Add(time.Second), 100)
	if err != nil || len(due) != 7 || due[0].Attempts != 2 {
		t.Errorf("DuePurges = %+v, %v; want 7 keys with 2 failed attempts", due, err)
	}

	e.blobs.set(func(b *faultyBlobs) { b.failing = false })
	e.advance(time.Second)
	if res := e.purge(t); res.Destroyed != 7 || res.Failed != 0 {
		t.Errorf("purge once the store works = %+v, want 7 destroyed", res)
	}
	for _, id := range append([]string{single, redacted}, doomedPhotos...) {
		if e.blobExists(t, id) {
			t.Errorf("blob %s still exists after the purge", id)
		}
	}
	if b := e.backlog(t); b != (facevault.PurgeBacklog{}) {
		t.Errorf("backlog after the purge = %+v, want none", b)
	}
	// The redacted photo keeps its record.
	if p, err := e.vault.LivePhoto(ctx, e.scope, redacted); err != nil || !p.Redacted() {
		t.Errorf("LivePhoto of the redacted photo = %+v, %v; want it, redacted", p, err)
	}
}

// TestDeleteDestroysAtOnce: with a working image store, a photo's delete and
// redaction destroy its bytes before they answer, and leave nothing queued.
func TestDeleteDestroysAtOnce(t *testing.T) {
	ctx := t.Context()
	e := newPurgeEnv(t)
	c := e.client(t, e.scope)
	a, _ := e.mustUpload(t, c, 1)
	b, _ := e.mustUpload(t, c, 2)
	if err := e.vault.DeleteLivePhoto(ctx, e.scope, a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.RedactLivePhoto(ctx, e.scope, b); err != nil {
		t.Fatal(err)
	}
	if e.blobExists(t, a) || e.blobExists(t, b) {
		t.Errorf("bytes remain after delete and redact answered")
	}
	if bl := e.backlog(t); bl != (facevault.PurgeBacklog{}) {
		t.Errorf("backlog = %+v, want none", bl)
	}
}

// TestDeleteClientCancelled deletes a client with a context that ends at
// ever later moments: each time, either nothing changed (the client and
// every photo are there, bytes intact) or the client and every photo are
// gone for every request and, once the purge has run, their bytes too.
func TestDeleteClientCancelled(t *testing.T) {
	ctx := t.Context()
	e := newPurgeEnv(t)
	const photos = 20
	outcomes := map[bool]int{}
	for round := 0; round < 40 && (outcomes[true] == 0 || outcomes[false] == 0 || round < 10); round++ {
		c := e.client(t, e.scope)
		imgs := map[string][]byte{}
		for i := range photos {
			id, img := e.mustUpload(t, c, uint64(round*100+i))
			imgs[id] = img
		}
		dctx, cancel := context.WithTimeout(ctx, time.Duration(round*round)*20*time.Microsecond)
		err := e.vault.DeleteClient(dctx, e.scope, c)
		cancel()
		_, cerr := e.vault.Client(ctx, e.scope, c)
		deleted := facevault.ErrorCode(cerr) == facevault.ENotFound
		if cerr != nil && !deleted {
			t.Fatalf("Client: %v", cerr)
		}
		if err == nil && !deleted {
			t.Fatalf("round %d: DeleteClient answered nil but the client is still there", round)
		}
		outcomes[deleted]++
		total, items, lerr := e.vault.LivePhotos(ctx, e.scope, c, facevault.ListOptions{Page: facevault.Page{Page: 1, PageSize: 100}})
		if lerr != nil {
			t.Fatal(lerr)
		}
		listed := 0
		for p, err := range items {
			if err != nil {
				t.Fatal(err)
			}
			listed++
			_, r, err := e.vault.OpenImage(ctx, e.scope, p.ID)
			if err != nil {
				t.Fatalf("round %d: a listed photo does not open: %v", round, err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, imgs[p.ID]) {
				t.Fatalf("round %d: a listed photo reads %d bytes, %v; want its %d bytes", round, len(got), err, len(imgs[p.ID]))
			}
		}
		switch {
		case deleted && (total != 0 || listed != 0):
			t.Fatalf("round %d: the client is gone but %d of its photos are listed (total %d)", round, listed, total)
		case !deleted && (total != photos || listed != photos):
			t.Fatalf("round %d: the client is there with %d photos listed (total %d), want all %d", round, listed, total, photos)
		}
		if deleted {
			e.purge(t)
			for id := range imgs {
				if e.blobExists(t, id) {
					t.Fatalf("round %d: the purge left the bytes of %s", round, id)
				}
			}
		}
	}
	t.Logf("outcomes: %d deleted, %d left whole", outcomes[true], outcomes[false])
	if outcomes[true] == 0 || outcomes[false] == 0 {
		t.Errorf("the cancellations never landed on both sides (%v): the test shows nothing", outcomes)
	}
}

// TestPurgeDoesNotHoldTheWriter: while the purge destroys a deleted
// client's bytes (held here in the middle of it), the database is free:
// another account uploads, lists and deletes.
func TestPurgeDoesNotHoldTheWriter(t *testing.T) {
	ctx := t.Context()
	e := newPurgeEnv(t)
	c := e.client(t, e.scope)
	for i := range 30 {
		e.mustUpload(t, c, uint64(i))
	}
	gate := make(chan struct{})
	started := make(chan string, 100)
	e.blobs.set(func(b *faultyBlobs) { b.gate, b.started = gate, started })
	start := time.Now()
	if err := e.vault.DeleteClient(ctx, e.scope, c); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	t.Logf("DeleteClient of 30 photos answered in %v", time.Since(start))
	done := make(chan error, 1)
	go func() {
		_, err := e.vault.Purge(ctx)
		done <- err
	}()
	<-started // the purge is destroying bytes

	other, err := e.db.EnsureAccount(ctx, "globex", e.now)
	if err != nil {
		t.Fatal(err)
	}
	s := facevault.Scope{AccountID: other.ID, Mode: facevault.ModeLive}
	e.blobs.set(func(b *faultyBlobs) { b.gate, b.started = nil, nil })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	oc := e.client(t, s)
	id, _, err := e.upload(wctx, s, oc, 99)
	if err != nil {
		t.Fatalf("another account's upload while the purge runs: %v", err)
	}
	if err := e.vault.DeleteLivePhoto(wctx, s, id); err != nil {
		t.Fatalf("another account's delete while the purge runs: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("the purge finished (%v) before it was let go: the test held nothing", err)
	default:
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if b := e.backlog(t); b != (facevault.PurgeBacklog{}) {
		t.Errorf("backlog = %+v, want none", b)
	}
}

// TestPurgeConcurrentPasses runs several purges at once over many deleted
// clients, as nodes sharing a store do: every record goes, every image is
// destroyed, and nothing fails.
func TestPurgeConcurrentPasses(t *testing.T) {
	ctx := t.Context()
	e := newPurgeEnv(t)
	var all []string
	for i := range 4 {
		c := e.client(t, e.scope)
		for j := range 60 {
			id, _ := e.mustUpload(t, c, uint64(i*1000+j))
			all = append(all, id)
		}
		if err := e.vault.DeleteClient(ctx, e.scope, c); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			if _, err := e.vault.Purge(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Purge: %v", err)
	}
	for _, id := range all {
		if e.blobExists(t, id) {
			t.Errorf("blob %s remains", id)
		}
	}
	if b := e.backlog(t); b != (facevault.PurgeBacklog{}) {
		t.Errorf("backlog = %+v, want none", b)
	}
	if e.blobs.deletes < len(all) {
		t.Errorf("%d destroys for %d images", e.blobs.deletes, len(all))
	}
}
