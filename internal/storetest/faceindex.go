package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// indexFixture is a scope with enrolled faces, for the face index tests.
// The store does not open what it keeps: embeddings and rows are opaque
// bytes here.
type indexFixture struct {
	st           facevault.Store
	sc           scopes
	alice, bob   *facevault.Client
	other        *facevault.Client // in sc.aLive
	a1, a2, b1   *facevault.LivePhoto
	optedOut     *facevault.LivePhoto
	noEmbedding  *facevault.LivePhoto
	otherPhoto   *facevault.LivePhoto
	photoCounter int
}

func newIndexFixture(t *testing.T, st facevault.Store) *indexFixture {
	f := &indexFixture{st: st, sc: mustScopes(t, st)}
	f.alice = mustCreateClient(t, st, f.sc.a, newPerson(t0, "Alice", "A"))
	f.bob = mustCreateClient(t, st, f.sc.a, newPerson(t0.Add(time.Millisecond), "Bob", "B"))
	f.other = mustCreateClient(t, st, f.sc.aLive, newPerson(t0, "Other", "O"))
	f.a1 = f.photo(t, f.sc.a, f.alice.ID, true, []byte("a1"))
	f.a2 = f.photo(t, f.sc.a, f.alice.ID, true, []byte("a2"))
	f.b1 = f.photo(t, f.sc.a, f.bob.ID, true, []byte("b1"))
	f.optedOut = f.photo(t, f.sc.a, f.alice.ID, false, []byte("x"))
	f.noEmbedding = f.photo(t, f.sc.a, f.alice.ID, true, nil)
	f.otherPhoto = f.photo(t, f.sc.aLive, f.other.ID, true, []byte("o1"))
	return f
}

func (f *indexFixture) photo(t *testing.T, s facevault.Scope, client string, enrolled bool, emb []byte) *facevault.LivePhoto {
	t.Helper()
	f.photoCounter++
	p := newPhoto(t0.Add(time.Duration(f.photoCounter)*time.Millisecond), client)
	p.Enrolled, p.SealedEmbedding = enrolled, emb
	return mustCreatePhoto(t, f.st, s, p)
}

// row is the index row the tests store for photo p: its vector is
// "vec:" and the photo id.
func row(p *facevault.LivePhoto, epoch int64, cell int) facevault.FaceIndexRow {
	return facevault.FaceIndexRow{PhotoID: p.ID, ClientID: p.ClientID, Epoch: epoch, Cell: cell, Vec: []byte("vec:" + p.ID)}
}

func (f *indexFixture) addEpoch(t *testing.T, s facevault.Scope, epoch int64, centroids []byte) {
	t.Helper()
	e := &facevault.FaceIndexEpoch{Epoch: epoch, Cells: len(centroids), Centroids: centroids, Size: 3, CreatedAt: t0}
	if err := f.st.AddFaceIndexEpoch(t.Context(), s, e); err != nil {
		t.Fatalf("AddFaceIndexEpoch(%d): %v", epoch, err)
	}
}

func (f *indexFixture) add(t *testing.T, s facevault.Scope, epoch int64, want int, rows ...facevault.FaceIndexRow) {
	t.Helper()
	n, err := f.st.AddFaceIndexRows(t.Context(), s, epoch, rows)
	if err != nil || n != want {
		t.Fatalf("AddFaceIndexRows(epoch %d, %d rows) = %d, %v; want %d", epoch, len(rows), n, err, want)
	}
}

// indexed returns the photo ids of the rows of s of epoch in cells (all if
// nil), sorted.
func (f *indexFixture) indexed(t *testing.T, s facevault.Scope, epoch int64, cells []int) []string {
	t.Helper()
	rows, err := f.st.FaceIndexRows(t.Context(), s, epoch, cells)
	if err != nil {
		t.Fatalf("FaceIndexRows: %v", err)
	}
	ids := []string{}
	for _, r := range rows {
		if string(r.Vec) != "vec:"+r.PhotoID || r.Epoch != epoch {
			t.Errorf("row %s: vec %q, epoch %d; want what was stored, epoch %d", r.PhotoID, r.Vec, r.Epoch, epoch)
		}
		ids = append(ids, r.PhotoID)
	}
	slices.Sort(ids)
	return ids
}

func (f *indexFixture) unindexed(t *testing.T, s facevault.Scope) []string {
	t.Helper()
	faces, err := f.st.ScopeUnindexedFaces(t.Context(), s)
	if err != nil {
		t.Fatalf("ScopeUnindexedFaces: %v", err)
	}
	ids := []string{}
	for _, u := range faces {
		if u.Scope != s {
			t.Errorf("unindexed face %s of scope %v, want %v", u.PhotoID, u.Scope, s)
		}
		ids = append(ids, u.PhotoID)
	}
	return ids
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// testFaceIndexRows: the indexer's view (unindexed faces, across scopes and
// per scope), rows added only under the current epoch and only for faces
// still enrolled, read by cell, and scopes kept apart.
func testFaceIndexRows(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	f := newIndexFixture(t, st)
	s := f.sc.a
	checkIDs(t, "unindexed faces of a", f.unindexed(t, s), sorted(f.a1.ID, f.a2.ID, f.b1.ID))
	all, err := st.UnindexedFaces(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var allIDs []string
	for _, u := range all {
		allIDs = append(allIDs, u.PhotoID)
		if u.PhotoID == f.a1.ID && (u.ClientID != f.alice.ID || string(u.SealedEmbedding) != "a1" || u.Scope != s) {
			t.Errorf("unindexed face a1 = %+v", u)
		}
	}
	checkIDs(t, "unindexed faces of every scope", allIDs, sorted(f.a1.ID, f.a2.ID, f.b1.ID, f.otherPhoto.ID))
	page, err := st.UnindexedFaces(ctx, allIDs[0], 2)
	if err != nil || len(page) != 2 || page[0].PhotoID != allIDs[1] {
		t.Errorf("UnindexedFaces after %s, 2 = %d faces, %v; want from %s", allIDs[0], len(page), err, allIDs[1])
	}

	// No epoch yet: nothing is added.
	f.add(t, s, 1, 0, row(f.a1, 1, 0))
	if epochs, err := st.FaceIndexEpochs(ctx, s); err != nil || len(epochs) != 0 {
		t.Fatalf("FaceIndexEpochs before any = %v, %v", epochs, err)
	}
	if err := st.AddFaceIndexEpoch(ctx, s, &facevault.FaceIndexEpoch{Epoch: 2, CreatedAt: t0}); !errors.Is(err, facevault.ErrConflict) {
		t.Fatalf("AddFaceIndexEpoch(2) first = %v, want ErrConflict", err)
	}
	f.addEpoch(t, s, 1, nil)
	if err := st.AddFaceIndexEpoch(ctx, s, &facevault.FaceIndexEpoch{Epoch: 1, CreatedAt: t0}); !errors.Is(err, facevault.ErrConflict) {
		t.Fatalf("AddFaceIndexEpoch(1) again = %v, want ErrConflict", err)
	}
	// Faces not enrolled, without an embedding, or of another scope get no row.
	f.add(t, s, 1, 2, row(f.a1, 1, 0), row(f.b1, 1, 3), row(f.optedOut, 1, 0), row(f.noEmbedding, 1, 0), row(f.otherPhoto, 1, 0))
	f.add(t, s, 1, 0, row(f.a1, 1, 0)) // indexed already
	checkIDs(t, "index rows", f.indexed(t, s, 1, nil), sorted(f.a1.ID, f.b1.ID))
	checkIDs(t, "index rows of cell 3", f.indexed(t, s, 1, []int{3}), []string{f.b1.ID})
	checkIDs(t, "index rows of cells 1, 2", f.indexed(t, s, 1, []int{1, 2}), []string{})
	checkIDs(t, "unindexed faces after indexing", f.unindexed(t, s), []string{f.a2.ID})
	checkIDs(t, "rows of the other mode", f.indexed(t, f.sc.aLive, 1, nil), []string{})
	checkIDs(t, "unindexed faces of the other mode", f.unindexed(t, f.sc.aLive), []string{f.otherPhoto.ID})

	// A newer epoch: the old one no longer takes rows.
	f.addEpoch(t, s, 2, []byte("centroids"))
	f.add(t, s, 1, 0, row(f.a2, 1, 0))
	f.add(t, s, 2, 1, row(f.a2, 2, 0))
	epochs, err := st.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) != 2 || epochs[0].Epoch != 1 || epochs[1].Epoch != 2 ||
		string(epochs[1].Centroids) != "centroids" || epochs[1].Cells != 9 || epochs[0].Centroids != nil ||
		!epochs[1].CreatedAt.Equal(t0) || epochs[1].Size != 3 {
		t.Fatalf("FaceIndexEpochs = %+v, %v", epochs, err)
	}
	scopesGot, err := st.FaceIndexScopes(ctx)
	if err != nil || len(scopesGot) != 1 || scopesGot[0].Scope != s || scopesGot[0].Rows != 3 {
		t.Fatalf("FaceIndexScopes = %+v, %v; want %v with 3 rows", scopesGot, err, s)
	}
	ids, err := st.EnrolledFaceIDs(ctx, s, f.alice.ID)
	checkIDs(t, "EnrolledFaceIDs of alice", ids, sorted(f.a1.ID, f.a2.ID))
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := st.EnrolledFaceIDs(ctx, f.sc.aLive, f.alice.ID); err != nil || len(ids) != 0 {
		t.Errorf("EnrolledFaceIDs of alice in the other mode = %v, %v", ids, err)
	}
}

// testFaceIndexRekey: rows of older epochs are listed, moved (only if not
// moved or deleted meanwhile), and an epoch is removed only once no row
// uses it.
func testFaceIndexRekey(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	f := newIndexFixture(t, st)
	s := f.sc.a
	f.addEpoch(t, s, 1, nil)
	f.add(t, s, 1, 3, row(f.a1, 1, 0), row(f.a2, 1, 0), row(f.b1, 1, 0))
	f.addEpoch(t, s, 2, []byte("c"))
	if gone, err := st.RemoveFaceIndexEpochs(ctx, s, 2); err != nil || gone {
		t.Fatalf("RemoveFaceIndexEpochs with rows left = %v, %v; want false", gone, err)
	}
	old, err := st.FaceIndexRowsBefore(ctx, s, 2, "", 2)
	if err != nil || len(old) != 2 {
		t.Fatalf("FaceIndexRowsBefore = %d rows, %v; want 2", len(old), err)
	}
	rest, err := st.FaceIndexRowsBefore(ctx, s, 2, old[1].PhotoID, 10)
	if err != nil || len(rest) != 1 {
		t.Fatalf("FaceIndexRowsBefore after = %d rows, %v; want 1", len(rest), err)
	}
	rows := append(old, rest...)
	// One is deleted after it was read: moving it must not bring it back.
	deleted := rows[0]
	if _, err := st.DeleteLivePhoto(ctx, s, deleted.PhotoID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Cell = i
	}
	n, err := st.MoveFaceIndexRows(ctx, s, 2, rows)
	if err != nil || n != 2 {
		t.Fatalf("MoveFaceIndexRows = %d, %v; want 2", n, err)
	}
	if n, err := st.MoveFaceIndexRows(ctx, s, 2, rows); err != nil || n != 0 {
		t.Fatalf("MoveFaceIndexRows again = %d, %v; want 0 (moved already)", n, err)
	}
	checkIDs(t, "rows of epoch 2", f.indexed(t, s, 2, nil), sorted(rows[1].PhotoID, rows[2].PhotoID))
	checkIDs(t, "rows of epoch 2, cell 2", f.indexed(t, s, 2, []int{2}), []string{rows[2].PhotoID})
	if left, err := st.FaceIndexRowsBefore(ctx, s, 2, "", 10); err != nil || len(left) != 0 {
		t.Fatalf("rows before epoch 2 after the move = %d, %v", len(left), err)
	}
	if gone, err := st.RemoveFaceIndexEpochs(ctx, s, 2); err != nil || !gone {
		t.Fatalf("RemoveFaceIndexEpochs = %v, %v; want true", gone, err)
	}
	epochs, err := st.FaceIndexEpochs(ctx, s)
	if err != nil || len(epochs) != 1 || epochs[0].Epoch != 2 {
		t.Fatalf("epochs after removal = %+v, %v; want epoch 2 alone", epochs, err)
	}
	// The next epoch follows the highest, not the count.
	f.addEpoch(t, s, 3, nil)
}

// testFaceIndexEnds: whatever ends a face's enrolment deletes its index
// row in the same transaction, and a row read before that cannot be added
// back afterwards.
func testFaceIndexEnds(t *testing.T, st facevault.Store) {
	ctx := t.Context()
	f := newIndexFixture(t, st)
	s := f.sc.a
	at := t0.Add(time.Hour)
	carol := mustCreateClient(t, st, s, newPerson(t0.Add(2*time.Millisecond), "Carol", "C"))
	c1 := f.photo(t, s, carol.ID, true, []byte("c1"))
	c2 := f.photo(t, s, carol.ID, true, []byte("c2"))
	dave := mustCreateClient(t, st, s, newPerson(t0.Add(3*time.Millisecond), "Dave", "D"))
	d1 := f.photo(t, s, dave.ID, true, []byte("d1"))
	late := f.photo(t, s, dave.ID, true, []byte("late"))
	f.addEpoch(t, s, 1, nil)
	f.add(t, s, 1, 6, row(f.a1, 1, 0), row(f.a2, 1, 0), row(f.b1, 1, 0), row(c1, 1, 0), row(c2, 1, 0), row(d1, 1, 0))

	if _, err := st.DeleteLivePhoto(ctx, s, f.a1.ID, at); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedactLivePhoto(ctx, s, f.a2.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteClient(ctx, s, carol.ID, at); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "rows after delete, redact, client delete", f.indexed(t, s, 1, nil), sorted(f.b1.ID, d1.ID))
	if ids, err := st.EnrolledFaceIDs(ctx, s, carol.ID); err != nil || len(ids) != 0 {
		t.Errorf("EnrolledFaceIDs of a deleted client = %v, %v", ids, err)
	}
	// Draining the deleted client's photos leaves no row either.
	for {
		keys, err := st.DrainDeletedClients(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
	}
	checkIDs(t, "rows after the drain", f.indexed(t, s, 1, nil), sorted(f.b1.ID, d1.ID))

	// Rows read for indexing before their face's enrolment ended are not
	// added: the store checks the photo as it inserts.
	unindexed := f.unindexed(t, s)
	checkIDs(t, "unindexed", unindexed, []string{late.ID})
	if _, err := st.DeleteLivePhoto(ctx, s, late.ID, at); err != nil {
		t.Fatal(err)
	}
	f.add(t, s, 1, 0, row(late, 1, 0), row(f.a1, 1, 0), row(f.a2, 1, 0), row(c1, 1, 0))
	late2 := f.photo(t, s, dave.ID, true, []byte("late2"))
	if _, err := st.RedactLivePhoto(ctx, s, late2.ID, at); err != nil {
		t.Fatal(err)
	}
	f.add(t, s, 1, 0, row(late2, 1, 0))
	late3 := f.photo(t, s, dave.ID, true, []byte("late3"))
	if err := st.DeleteClient(ctx, s, dave.ID, at); err != nil {
		t.Fatal(err)
	}
	f.add(t, s, 1, 0, row(late3, 1, 0))
	checkIDs(t, "rows at the end", f.indexed(t, s, 1, nil), []string{f.b1.ID})
	checkIDs(t, "unindexed at the end", f.unindexed(t, s), []string{})
}
