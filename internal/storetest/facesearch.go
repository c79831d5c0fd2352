package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/facegen"
	"github.com/facevault/facevault/keyring"
	"github.com/facevault/facevault/seal"
)

// RunFaceSearch runs the face search tests: the vault's search, indexer
// and rekey over the store open returns, with a key store of their own
// (a SQLite file). open must return a new, empty store each time.
func RunFaceSearch(t *testing.T, open func(t *testing.T) facevault.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, w *searchWorld)
	}{
		{"EqualsExact", testSearchEqualsExact},
		{"Rekey", testSearchRekey},
		{"DuringRekey", testSearchDuringRekey},
		{"Scopes", testSearchScopes},
		{"Lease", testSearchLease},
		{"Check", testSearchCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newSearchWorld(t, open(t)))
		})
	}
}

// searchWorld is a vault over a store and a keyring, and the plaintext of
// every face it enrolled, for comparing searches with exact scans.
type searchWorld struct {
	st    facevault.Store
	v     *facevault.Vault
	keys  *keyring.Keyring
	sc    scopes
	gen   *facegen.Gen
	faces map[facevault.Scope]map[string]face
	now   time.Time
	n     int
}

type face struct {
	client string
	e      []float32
}

func newSearchWorld(t *testing.T, st facevault.Store) *searchWorld {
	ctx := t.Context()
	db, err := keyring.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "keys", "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := keyring.NewLocalMaster(bytes.Repeat([]byte{7}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(ctx, db, []keyring.Master{m})
	if err != nil {
		t.Fatal(err)
	}
	w := &searchWorld{st: st, keys: keys, sc: mustScopes(t, st), gen: facegen.New(42),
		faces: map[facevault.Scope]map[string]face{}, now: t0}
	w.v = facevault.NewVault(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.v.Keys = keys
	w.v.Now = func() time.Time { return w.now }
	w.v.FaceIndex = facevault.FaceIndexConfig{MinFaces: 50, Cells: 8, Batch: 64}
	return w
}

// client makes a client of s.
func (w *searchWorld) client(t *testing.T, s facevault.Scope) string {
	t.Helper()
	w.n++
	return mustCreateClient(t, w.st, s, newPerson(t0.Add(time.Duration(w.n)*time.Millisecond), "P", fmt.Sprint(w.n))).ID
}

// enrol stores a photo of client with embedding e, sealed as an upload
// seals it, and returns its id.
func (w *searchWorld) enrol(t *testing.T, s facevault.Scope, client string, e []float32) string {
	t.Helper()
	ctx := t.Context()
	w.n++
	p := newPhoto(t0.Add(time.Duration(w.n)*time.Millisecond), client)
	p.Enrolled = true
	key, err := seal.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.keys.AddPhotoKey(ctx, facevault.PhotoRef{Scope: s, ClientID: client, PhotoID: p.ID, SHA256: p.SHA256}, key); err != nil {
		t.Fatal(err)
	}
	if p.SealedEmbedding, err = facevault.SealFaceEmbedding(e, key, p.ID); err != nil {
		t.Fatal(err)
	}
	mustCreatePhoto(t, w.st, s, p)
	if w.faces[s] == nil {
		w.faces[s] = map[string]face{}
	}
	w.faces[s][p.ID] = face{client, e}
	return p.ID
}

// population enrols n people of s, one photo each (every tenth two), and
// returns their identities.
func (w *searchWorld) population(t *testing.T, s facevault.Scope, n int) [][]float64 {
	ids := make([][]float64, n)
	for i := range ids {
		ids[i] = w.gen.Identity()
		c := w.client(t, s)
		w.enrol(t, s, c, w.gen.Photo(ids[i]))
		if i%10 == 0 {
			w.enrol(t, s, c, w.gen.Photo(ids[i]))
		}
	}
	return ids
}

// exact is the exact scan: every enrolled face of s scoring at least floor.
func (w *searchWorld) exact(s facevault.Scope, probe []float32, floor float64) []facevault.FaceHit {
	var hits []facevault.FaceHit
	for id, f := range w.faces[s] {
		if score := 100 * max(0, facevault.FaceCosine(probe, f.e)); score >= floor {
			hits = append(hits, facevault.FaceHit{PhotoID: id, ClientID: f.client, Score: score})
		}
	}
	slices.SortFunc(hits, func(a, b facevault.FaceHit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.PhotoID, b.PhotoID))
	})
	return hits
}

func (w *searchWorld) search(t *testing.T, s facevault.Scope, probe []float32, floor float64) []facevault.FaceHit {
	t.Helper()
	hits, err := w.v.SearchFaces(t.Context(), s, probe, floor)
	if err != nil {
		t.Fatalf("SearchFaces: %v", err)
	}
	return hits
}

func sameHits(got, want []facevault.FaceHit) bool {
	return slices.EqualFunc(got, want, func(a, b facevault.FaceHit) bool {
		return a.PhotoID == b.PhotoID && a.ClientID == b.ClientID && math.Abs(a.Score-b.Score) < 1e-9
	})
}

// wantExact checks that searches for probes equal exact scans, at floor 0
// (every face, so every row is compared) and at the match threshold.
func (w *searchWorld) wantExact(t *testing.T, what string, s facevault.Scope, probes [][]float32) {
	t.Helper()
	for i, p := range probes {
		for _, floor := range []float64{0, facevault.FaceMatchThreshold} {
			got, want := w.search(t, s, p, floor), w.exact(s, p, floor)
			if !sameHits(got, want) {
				t.Fatalf("%s: probe %d, floor %v: search found %d faces, exact scan %d (or they differ)", what, i, floor, len(got), len(want))
			}
		}
	}
}

// probes returns new photos of some of ids, and strangers' faces.
func (w *searchWorld) probes(ids [][]float64, n int) [][]float32 {
	var out [][]float32
	for i := range n {
		out = append(out, w.gen.Photo(ids[(i*7)%len(ids)]))
		out = append(out, w.gen.Photo(w.gen.Identity()))
	}
	return out
}

func (w *searchWorld) indexAll(t *testing.T) int {
	t.Helper()
	total, after := 0, ""
	for {
		n, next, err := w.v.IndexFaces(t.Context(), after, 64)
		if err != nil {
			t.Fatalf("IndexFaces: %v", err)
		}
		total += n
		if next == "" {
			return total
		}
		after = next
	}
}

func noHold() error { return nil }

// testSearchEqualsExact: before indexing, with some faces indexed and some
// not, and with a partition searched in full, the search finds what an
// exact scan finds; with fewer cells searched, it finds a subset with the
// same scores.
func testSearchEqualsExact(t *testing.T, w *searchWorld) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.population(t, s, 120)
	probes := w.probes(ids, 10)
	w.wantExact(t, "nothing indexed", s, probes)

	if n := w.indexAll(t); n != len(w.faces[s]) {
		t.Fatalf("indexed %d faces, want %d", n, len(w.faces[s]))
	}
	if n := w.indexAll(t); n != 0 {
		t.Fatalf("indexed %d faces again", n)
	}
	for range 5 {
		w.enrol(t, s, w.client(t, s), w.gen.Photo(w.gen.Identity()))
	}
	w.wantExact(t, "indexed without a partition, and 5 faces not indexed", s, probes)

	w.indexAll(t)
	res, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, noHold)
	if err != nil || !res.Trained || res.Epoch != 2 || res.Moved != len(w.faces[s]) || res.Destroyed != 1 {
		t.Fatalf("MaintainFaceIndex = %+v, %v; want a partition trained into epoch 2, every row moved, key 1 destroyed", res, err)
	}
	epochs, err := w.st.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) != 1 || epochs[0].Cells != 8 || epochs[0].Centroids == nil {
		t.Fatalf("epochs after training = %+v, %v; want one with 8 cells", epochs, err)
	}
	rows, err := w.st.FaceIndexRows(ctx, s, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, r := range rows {
		used[r.Cell] = true
	}
	if len(used) < 4 {
		t.Errorf("rows use %d cells of 8", len(used))
	}
	for range 5 {
		w.enrol(t, s, w.client(t, s), w.gen.Photo(w.gen.Identity()))
	}
	w.wantExact(t, "partition searched in full, 5 faces not indexed", s, probes)

	w.v.FaceIndex.NProbe = 2
	found, want := 0, 0
	for _, p := range probes {
		got, all := w.search(t, s, p, facevault.FaceMatchThreshold), w.exact(s, p, facevault.FaceMatchThreshold)
		for _, h := range got {
			if !slices.ContainsFunc(all, func(x facevault.FaceHit) bool { return x == h }) {
				t.Fatalf("search with 2 cells found %+v, which the exact scan did not", h)
			}
		}
		found += len(got)
		want += len(all)
	}
	t.Logf("2 cells of 8: %d matches of %d", found, want)
	if want == 0 || found < want/2 {
		t.Errorf("2 cells of 8 found %d matches of %d", found, want)
	}
}

// testSearchRekey: a rekey moves every row to a new epoch under a new key
// and destroys the old key: copies of the old rows (a backup's) can no
// longer be opened, and every face is still found.
func testSearchRekey(t *testing.T, w *searchWorld) {
	ctx := t.Context()
	s := w.sc.a
	w.population(t, s, 30)
	w.indexAll(t)
	backup, err := w.st.FaceIndexRows(ctx, s, 1, nil)
	if err != nil || len(backup) != len(w.faces[s]) {
		t.Fatalf("rows of epoch 1 = %d, %v", len(backup), err)
	}
	k1, err := w.keys.FaceIndexKey(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := facevault.OpenFaceIndexRow(k1, s, backup[0]); err != nil {
		t.Fatalf("opening a row with its key: %v", err)
	}
	// Not due yet: nothing changes.
	if res, err := w.v.MaintainFaceIndex(ctx, s, len(backup), false, noHold); err != nil || res.Epoch != 1 || res.Moved != 0 {
		t.Fatalf("MaintainFaceIndex before the rekey is due = %+v, %v", res, err)
	}
	w.now = w.now.Add(facevault.DefaultFaceIndexRekey)
	res, err := w.v.MaintainFaceIndex(ctx, s, len(backup), false, noHold)
	if err != nil || res.Epoch != 2 || res.Trained || res.Moved != len(backup) || res.Destroyed != 1 {
		t.Fatalf("MaintainFaceIndex once the rekey is due = %+v, %v; want epoch 2, no partition (30 faces), all moved, 1 key destroyed", res, err)
	}
	if _, err := w.keys.FaceIndexKey(ctx, s, 1); !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("key of epoch 1 after the rekey: %v, want ErrNotFound", err)
	}
	k2, err := w.keys.FaceIndexKey(ctx, s, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range backup {
		if _, err := facevault.OpenFaceIndexRow(k2, s, r); err == nil {
			t.Fatalf("the new key opens the old row of %s", r.PhotoID)
		}
	}
	for id, f := range w.faces[s] {
		hits := w.search(t, s, f.e, 99.99)
		if !slices.ContainsFunc(hits, func(h facevault.FaceHit) bool { return h.PhotoID == id }) {
			t.Fatalf("face %s not found after the rekey", id)
		}
	}
	if unindexed, err := w.st.ScopeUnindexedFaces(ctx, s); err != nil || len(unindexed) != 0 {
		t.Fatalf("unindexed after the rekey: %d, %v", len(unindexed), err)
	}
}

// testSearchDuringRekey: while a rekey has moved some rows and not others
// (it stopped: its node lost the lease), both epochs are searched, and the
// next round finishes the move and destroys the old key.
func testSearchDuringRekey(t *testing.T, w *searchWorld) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.population(t, s, 80) // 88 faces: one batch of 64 moves, 24 wait
	w.indexAll(t)
	lost := errors.New("lease lost")
	calls := 0
	stop := func() error { // held while sampling, lost after the first batch moved
		if calls++; calls >= 2 {
			return lost
		}
		return nil
	}
	res, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, stop)
	if !errors.Is(err, lost) || !res.Trained || res.Moved != 64 {
		t.Fatalf("interrupted rekey = %+v, %v; want a partition and one batch moved", res, err)
	}
	epochs, err := w.st.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) != 2 {
		t.Fatalf("epochs mid-rekey = %d, %v; want 2", len(epochs), err)
	}
	w.wantExact(t, "mid-rekey", s, w.probes(ids, 5))
	w.population(t, s, 3) // 4 faces
	if n := w.indexAll(t); n != 4 {
		t.Fatalf("indexed %d mid-rekey, want 4", n)
	}
	if rows, err := w.st.FaceIndexRows(ctx, s, 2, nil); err != nil || len(rows) != 64+4 {
		t.Fatalf("rows of the new epoch = %d, %v; want the 64 moved and the 4 new", len(rows), err)
	}
	res, err = w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, noHold)
	if err != nil || res.Trained || res.Moved != len(w.faces[s])-64-4 || res.Destroyed != 1 || res.Epoch != 2 {
		t.Fatalf("finishing the rekey = %+v, %v", res, err)
	}
	if _, err := w.keys.FaceIndexKey(ctx, s, 1); !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("key of epoch 1 after the rekey: %v", err)
	}
	w.wantExact(t, "after the rekey", s, w.probes(ids, 5))
}

// testSearchScopes: a search never returns faces of another account or
// mode, indexed or not.
func testSearchScopes(t *testing.T, w *searchWorld) {
	s := w.sc.a
	id := w.gen.Identity()
	e := w.gen.Photo(id)
	mine := w.enrol(t, s, w.client(t, s), e)
	w.enrol(t, w.sc.aLive, w.client(t, w.sc.aLive), e)
	w.enrol(t, w.sc.b, w.client(t, w.sc.b), e)
	check := func(what string) {
		t.Helper()
		for _, sc := range []facevault.Scope{w.sc.a, w.sc.aLive, w.sc.b} {
			hits := w.search(t, sc, e, 0)
			if len(hits) != 1 || w.faces[sc][hits[0].PhotoID].e == nil {
				t.Fatalf("%s: search of %v = %+v, want its own face only", what, sc, hits)
			}
		}
	}
	check("not indexed")
	w.indexAll(t)
	check("indexed")
	if hits := w.search(t, s, e, 0); hits[0].PhotoID != mine {
		t.Fatalf("search = %+v, want %s", hits, mine)
	}
}

// testSearchLease: the index is maintained by the node that holds the
// lease; another does nothing meanwhile, and takes over once it expires.
func testSearchLease(t *testing.T, w *searchWorld) {
	ctx := t.Context()
	s := w.sc.a
	w.population(t, s, 60)
	if err := w.v.MaintainFaceIndexes(ctx, "node-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	w.population(t, s, 10)
	if err := w.v.MaintainFaceIndexes(ctx, "node-b", time.Minute); err != nil {
		t.Fatal(err)
	}
	unindexed, err := w.st.ScopeUnindexedFaces(ctx, s)
	if err != nil || len(unindexed) != 11 {
		t.Fatalf("unindexed while node-a holds the lease = %d, %v; want 11", len(unindexed), err)
	}
	epochs, err := w.st.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) != 1 || epochs[0].Epoch != 2 || epochs[0].Centroids == nil {
		t.Fatalf("node-a's round: epochs %+v, %v; want a partition (66 faces ≥ 50) in epoch 2", epochs, err)
	}
	w.now = w.now.Add(time.Minute)
	if err := w.v.MaintainFaceIndexes(ctx, "node-b", time.Minute); err != nil {
		t.Fatal(err)
	}
	if unindexed, err := w.st.ScopeUnindexedFaces(ctx, s); err != nil || len(unindexed) != 0 {
		t.Fatalf("unindexed after node-b took over = %d, %v", len(unindexed), err)
	}
	w.wantExact(t, "after both nodes", s, [][]float32{w.gen.Photo(w.gen.Identity())})
}

// testSearchCheck: a face check finds the same matches whether the faces
// it compares with are indexed or not, and lists every enrolled face of
// its client.
func testSearchCheck(t *testing.T, w *searchWorld) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.population(t, s, 60)
	alice := w.client(t, s)
	a1 := w.enrol(t, s, alice, w.gen.Photo(ids[3]))
	a2 := w.enrol(t, s, alice, w.gen.Photo(ids[3]))
	probe := w.enrol(t, s, alice, w.gen.Photo(ids[3]))
	run := func() *facevault.CheckResult {
		t.Helper()
		c, err := w.v.CreateCheck(ctx, s, facevault.CheckRequest{ClientID: alice, Type: facevault.CheckFaceAuthentication, LivePhotoID: probe})
		if err != nil {
			t.Fatal(err)
		}
		if ran, err := w.v.RunCheck(ctx, "runner", time.Minute); err != nil || !ran {
			t.Fatalf("RunCheck = %v, %v", ran, err)
		}
		got, err := w.v.Check(ctx, s, c.ID)
		if err != nil || got.Status != facevault.CheckComplete {
			t.Fatalf("check = %+v, %v", got, err)
		}
		return got.Result
	}
	before := run()
	fa := before.Breakdown.FaceAuthentication
	if !slices.Equal(fa.Breakdown.EnrolledFaces.LivePhotoIDs, sorted(a1, a2)) || len(fa.Breakdown.FacesMatched) != 2 ||
		before.Breakdown.PreviouslyEnrolledFace.Outcome != facevault.OutcomeAttention {
		t.Fatalf("check before indexing = %+v / %+v", fa, before.Breakdown.PreviouslyEnrolledFace)
	}
	w.indexAll(t)
	if _, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), true, noHold); err != nil {
		t.Fatal(err)
	}
	after := run()
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("check after indexing = %+v / %+v, before %+v / %+v", after.Breakdown.FaceAuthentication,
			after.Breakdown.PreviouslyEnrolledFace, fa, before.Breakdown.PreviouslyEnrolledFace)
	}

}
