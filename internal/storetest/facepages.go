package storetest

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/facevault/facevault"
)

// RunFacePages runs the tests of the face search index's packed pages over
// a store that keeps them (facevault.FacePageStore), with the face search
// world of RunFaceSearch. open must return a new, empty store each time.
func RunFacePages(t *testing.T, open func(t *testing.T) facevault.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, w *searchWorld, ps facevault.FacePageStore)
	}{
		{"Deleted", testPagesDeleted},
		{"Rekey", testPagesRekey},
		{"Scopes", testPagesScopes},
		{"TwoNodes", testPagesTwoNodes},
		{"Approximate", testPagesApproximate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			ps, ok := st.(facevault.FacePageStore)
			if !ok {
				t.Fatalf("%T keeps no face index pages", st)
			}
			tt.fn(t, newSearchWorld(t, st), ps)
		})
	}
}

// packed enrols a population of s, indexes it and trains its partition,
// which packs it; it returns the identities.
func (w *searchWorld) packed(t *testing.T, s facevault.Scope, n int) [][]float64 {
	t.Helper()
	ids := w.population(t, s, n)
	w.indexAll(t)
	res, err := w.v.MaintainFaceIndex(t.Context(), s, len(w.faces[s]), true, noHold)
	if err != nil || res.Packed.Written == 0 {
		t.Fatalf("MaintainFaceIndex = %+v, %v; want pages written", res, err)
	}
	w.noPacking(t, s)
	return ids
}

// noPacking checks that s has nothing left to pack.
func (w *searchWorld) noPacking(t *testing.T, s facevault.Scope) {
	t.Helper()
	epochs, err := w.st.FaceIndexEpochs(t.Context(), s)
	if err != nil || len(epochs) == 0 {
		t.Fatalf("epochs: %d, %v", len(epochs), err)
	}
	cells, err := w.st.(facevault.FacePageStore).FaceCellsToPack(t.Context(), s, epochs[len(epochs)-1].Epoch)
	if err != nil || len(cells) != 0 {
		t.Fatalf("cells to pack = %v, %v; want none", cells, err)
	}
}

// inPages returns the ids held by the pages of epoch of s, opened with the
// epoch's key, each page's ids in its order, pages in cell and page order.
func (w *searchWorld) inPages(t *testing.T, s facevault.Scope, epoch int64) []string {
	t.Helper()
	ctx := t.Context()
	pages, err := w.st.(facevault.FacePageStore).FacePages(ctx, s, epoch, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		return nil
	}
	key, err := w.keys.FaceIndexKey(ctx, s, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pages {
		ids, err := facevault.FacePagePhotoIDs(key, s, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != p.Faces || len(ids) > facevault.FacePageFaces {
			t.Fatalf("page %d/%d holds %d faces, says %d", p.Cell, p.Page, len(ids), p.Faces)
		}
		out = append(out, ids...)
	}
	return out
}

func (w *searchWorld) currentEpoch(t *testing.T, s facevault.Scope) int64 {
	t.Helper()
	epochs, err := w.st.FaceIndexEpochs(t.Context(), s)
	if err != nil || len(epochs) == 0 {
		t.Fatalf("epochs: %d, %v", len(epochs), err)
	}
	return epochs[len(epochs)-1].Epoch
}

// found reports whether a search of s for face id's own embedding, at a
// floor only it reaches, returns it.
func (w *searchWorld) found(t *testing.T, v *facevault.Vault, s facevault.Scope, id string, e []float32) bool {
	t.Helper()
	hits, err := v.SearchFaces(t.Context(), s, e, 99.99)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(hits, func(h facevault.FaceHit) bool { return h.PhotoID == id })
}

// testPagesDeleted: a face deleted by each path that ends its enrolment
// (photo deletion, which retention uses too; redaction; client deletion)
// is never returned by a search from the moment the deletion commits, even
// while its page still holds its code; the indexer's next round re-packs
// the page without it, and then nothing is left to pack.
func testPagesDeleted(t *testing.T, w *searchWorld, ps facevault.FacePageStore) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.packed(t, s, 150)
	epoch := w.currentEpoch(t, s)
	at := t0.Add(time.Hour)
	paths := []struct {
		name string
		del  func(id string) int // deletes and returns how many faces went
	}{
		{"photo deletion", func(id string) int {
			if _, err := w.st.DeleteLivePhoto(ctx, s, id, at); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{"redaction", func(id string) int {
			if _, err := w.st.RedactLivePhoto(ctx, s, id, at); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{"client deletion", func(id string) int {
			client := w.faces[s][id].client
			n := 0
			for _, f := range w.faces[s] {
				if f.client == client {
					n++
				}
			}
			if err := w.st.DeleteClient(ctx, s, client, at); err != nil {
				t.Fatal(err)
			}
			return n
		}},
	}
	for i, path := range paths {
		// Client 0 of the population has two photos (every tenth has).
		var id string
		for pid, f := range w.faces[s] {
			n := 0
			for _, g := range w.faces[s] {
				if g.client == f.client {
					n++
				}
			}
			if (n == 2) == (path.name == "client deletion") && (id == "" || pid < id) {
				id = pid
			}
		}
		e := w.faces[s][id].e
		if !w.found(t, w.v, s, id, e) {
			t.Fatalf("%s: face %s not found before", path.name, id)
		}
		if !slices.Contains(w.inPages(t, s, epoch), id) {
			t.Fatalf("%s: face %s not in a page before", path.name, id)
		}
		client := w.faces[s][id].client
		gone := path.del(id)
		for pid, f := range w.faces[s] {
			if pid == id || path.name == "client deletion" && f.client == client {
				delete(w.faces[s], pid)
			}
		}
		if !slices.Contains(w.inPages(t, s, epoch), id) {
			t.Fatalf("%s: face %s left its page before the indexer ran", path.name, id)
		}
		if w.found(t, w.v, s, id, e) {
			t.Fatalf("%s: face %s found after its deletion, while its page holds it", path.name, id)
		}
		if hits := w.search(t, s, e, 0); slices.ContainsFunc(hits, func(h facevault.FaceHit) bool { return h.PhotoID == id }) {
			t.Fatalf("%s: face %s found at floor 0 after its deletion", path.name, id)
		}
		w.wantExact(t, path.name+", before packing", s, append(w.probes(ids, 2), e))
		cells, err := ps.FaceCellsToPack(ctx, s, epoch)
		if err != nil || len(cells) == 0 {
			t.Fatalf("%s: cells to pack = %v, %v; want the deleted face's", path.name, cells, err)
		}
		var dead int
		if i == 0 {
			res, err := w.v.PackFaceIndex(ctx, s, noHold)
			if err != nil {
				t.Fatal(err)
			}
			dead = res.Dead
		} else {
			// The indexer's round, as every --face-index-interval.
			w.now = w.now.Add(time.Hour)
			res, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, noHold)
			if err != nil || res.Epoch != epoch {
				t.Fatalf("%s: indexer round = %+v, %v", path.name, res, err)
			}
			dead = res.Packed.Dead
		}
		if dead != gone {
			t.Fatalf("%s: packing dropped %d deleted faces, want %d", path.name, dead, gone)
		}
		if slices.Contains(w.inPages(t, s, epoch), id) {
			t.Fatalf("%s: face %s still in a page after packing", path.name, id)
		}
		w.noPacking(t, s)
		w.wantExact(t, path.name+", after packing", s, w.probes(ids, 2))
	}
	in := w.inPages(t, s, epoch)
	slices.Sort(in)
	var want []string
	for id := range w.faces[s] {
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(in, want) {
		t.Fatalf("pages hold %d faces, want the %d enrolled", len(in), len(want))
	}
}

// testPagesRekey: a rekey packs the rows into the new epoch's pages, under
// the new key, and removes the old epoch's pages with it; a copy of an old
// page (a backup's) cannot be opened once the old key is destroyed.
func testPagesRekey(t *testing.T, w *searchWorld, ps facevault.FacePageStore) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.packed(t, s, 100)
	old := w.currentEpoch(t, s)
	backup, err := ps.FacePages(ctx, s, old, nil, nil)
	if err != nil || len(backup) == 0 {
		t.Fatalf("pages of epoch %d = %d, %v", old, len(backup), err)
	}
	w.now = w.now.Add(facevault.DefaultFaceIndexRekey)
	res, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, noHold)
	if err != nil || res.Epoch != old+1 || res.Destroyed != 1 || res.Packed.Written == 0 {
		t.Fatalf("rekey = %+v, %v", res, err)
	}
	if pages, err := ps.FacePages(ctx, s, old, nil, nil); err != nil || len(pages) != 0 {
		t.Fatalf("pages of the old epoch after the rekey = %d, %v", len(pages), err)
	}
	if _, err := w.keys.FaceIndexKey(ctx, s, old); !errors.Is(err, facevault.ErrNotFound) {
		t.Fatalf("old key after the rekey: %v", err)
	}
	key, err := w.keys.FaceIndexKey(ctx, s, old+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range backup {
		if _, err := facevault.FacePagePhotoIDs(key, s, p); err == nil {
			t.Fatalf("the new key opens an old page")
		}
	}
	in := w.inPages(t, s, old+1)
	if len(in) != len(w.faces[s]) {
		t.Fatalf("new pages hold %d faces, want %d", len(in), len(w.faces[s]))
	}
	w.noPacking(t, s)
	w.wantExact(t, "after the rekey", s, w.probes(ids, 4))
}

// testPagesScopes: pages are sealed to their scope: another scope's key
// does not open them even with the same epoch, and searches never mix
// scopes.
func testPagesScopes(t *testing.T, w *searchWorld, ps facevault.FacePageStore) {
	ctx := t.Context()
	e := w.gen.Photo(w.gen.Identity())
	for _, s := range []facevault.Scope{w.sc.a, w.sc.aLive, w.sc.b} {
		w.population(t, s, 60)
		w.enrol(t, s, w.client(t, s), e)
		w.indexAll(t)
		if _, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), true, noHold); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []facevault.Scope{w.sc.a, w.sc.aLive, w.sc.b} {
		hits := w.search(t, s, e, 99)
		if len(hits) != 1 || w.faces[s][hits[0].PhotoID].e == nil {
			t.Fatalf("search of %v = %+v, want its own face only", s, hits)
		}
		w.wantExact(t, "scope", s, [][]float32{e})
	}
	pages, err := ps.FacePages(ctx, w.sc.a, 2, nil, nil)
	if err != nil || len(pages) == 0 {
		t.Fatalf("pages of a: %d, %v", len(pages), err)
	}
	for _, other := range []facevault.Scope{w.sc.aLive, w.sc.b} {
		key, err := w.keys.FaceIndexKey(ctx, other, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := facevault.FacePagePhotoIDs(key, w.sc.a, pages[0]); err == nil {
			t.Fatalf("the key of %v opens a page of %v", other, w.sc.a)
		}
		if theirs, err := ps.FacePages(ctx, other, 2, []int{pages[0].Cell}, nil); err != nil || slices.ContainsFunc(theirs, func(p facevault.FacePage) bool {
			return slices.Equal(p.Data, pages[0].Data)
		}) {
			t.Fatalf("pages of %v: %v", other, err)
		}
	}
}

// testPagesTwoNodes: two vaults over one store, as two nodes: one keeps
// the pages it opened, the other deletes and enrols faces and runs the
// indexer; the first's searches see every change at once: a deleted face
// is not returned, a face neither indexed nor packed is found, and pages
// re-packed are read again.
func testPagesTwoNodes(t *testing.T, w *searchWorld, ps facevault.FacePageStore) {
	ctx := t.Context()
	s := w.sc.a
	ids := w.packed(t, s, 150)
	node := facevault.NewVault(w.st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	node.Keys, node.FaceIndex, node.Now = w.keys, w.v.FaceIndex, w.v.Now
	probes := w.probes(ids, 3)
	exactOn := func(what string, extra ...[]float32) {
		t.Helper()
		for i, p := range append(slices.Clone(probes), extra...) {
			for _, floor := range []float64{0, facevault.FaceMatchThreshold} {
				got, err := node.SearchFaces(ctx, s, p, floor)
				if err != nil {
					t.Fatal(err)
				}
				if want := w.exact(s, p, floor); !sameHits(got, want) {
					t.Fatalf("%s: probe %d, floor %v: the other node found %d faces, exact scan %d (or they differ)", what, i, floor, len(got), len(want))
				}
			}
		}
	}
	exactOn("the other node, first")
	if pages, size := node.FacePageCacheSize(); pages == 0 || size == 0 {
		t.Fatalf("the other node keeps %d pages, %d bytes", pages, size)
	}
	var victim string
	for id := range w.faces[s] {
		if victim == "" || id < victim {
			victim = id
		}
	}
	ve := w.faces[s][victim].e
	if !w.found(t, node, s, victim, ve) {
		t.Fatalf("face %s not found", victim)
	}
	if _, err := w.st.DeleteLivePhoto(ctx, s, victim, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	delete(w.faces[s], victim)
	if w.found(t, node, s, victim, ve) {
		t.Fatalf("the other node found face %s after its deletion", victim)
	}
	fresh := w.gen.Photo(w.gen.Identity())
	freshID := w.enrol(t, s, w.client(t, s), fresh)
	if !w.found(t, node, s, freshID, fresh) {
		t.Fatal("a face not indexed yet is not found")
	}
	w.indexAll(t)
	if !w.found(t, node, s, freshID, fresh) {
		t.Fatal("a face indexed and not packed yet is not found")
	}
	exactOn("indexed, not packed", ve, fresh)
	before, err := ps.FacePages(ctx, s, w.currentEpoch(t, s), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.v.MaintainFaceIndexes(ctx, "node-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	w.noPacking(t, s)
	after, err := ps.FacePages(ctx, s, w.currentEpoch(t, s), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, a := range after {
		if !slices.ContainsFunc(before, func(b facevault.FacePage) bool {
			return b.Cell == a.Cell && b.Page == a.Page && b.Version == a.Version
		}) {
			changed++
		}
	}
	if changed == 0 || changed > 2 {
		t.Fatalf("%d pages rewritten by packing one new face and dropping one deleted, want 1 or 2", changed)
	}
	// Before the other node searches again, it holds the old versions;
	// its round of the face index reads the rewritten pages again.
	epoch := w.currentEpoch(t, s)
	current := func() []facevault.FacePageVersion {
		var out []facevault.FacePageVersion
		for _, p := range after {
			out = append(out, facevault.FacePageVersion{Cell: p.Cell, Page: p.Page, Version: p.Version})
		}
		return out
	}
	if held := node.CachedFacePages(s, epoch); slices.Equal(held, current()) {
		t.Fatal("the other node holds the new versions before it read them")
	}
	if err := node.RefreshFacePages(ctx); err != nil {
		t.Fatal(err)
	}
	if held := node.CachedFacePages(s, epoch); !slices.Equal(held, current()) {
		t.Fatalf("after the refresh the other node holds %v, the store has %v", held, current())
	}
	exactOn("packed", ve, fresh)
	if !w.found(t, node, s, freshID, fresh) || w.found(t, node, s, victim, ve) {
		t.Fatal("after packing: the new face not found, or the deleted one found")
	}
	// A rekey on the first node: at its next refresh the other drops the
	// old epoch's pages and opens the new epoch's, before any search.
	w.now = w.now.Add(facevault.DefaultFaceIndexRekey)
	if res, err := w.v.MaintainFaceIndex(ctx, s, len(w.faces[s]), false, noHold); err != nil || res.Epoch != epoch+1 {
		t.Fatalf("rekey = %+v, %v", res, err)
	}
	if err := node.RefreshFacePages(ctx); err != nil {
		t.Fatal(err)
	}
	if held := node.CachedFacePages(s, epoch); len(held) != 0 {
		t.Fatalf("the other node holds %d pages of the epoch gone", len(held))
	}
	after, err = ps.FacePages(ctx, s, epoch+1, nil, nil)
	if err != nil || len(after) == 0 {
		t.Fatalf("pages of the new epoch: %d, %v", len(after), err)
	}
	if held := node.CachedFacePages(s, epoch+1); !slices.Equal(held, current()) {
		t.Fatalf("after the refresh the other node holds %v of the new epoch, the store has %v", held, current())
	}
	exactOn("after a rekey by the first node", ve, fresh)
}

// testPagesApproximate: with fewer cells probed, every face returned is
// one the exact scan returns, with the same score.
func testPagesApproximate(t *testing.T, w *searchWorld, _ facevault.FacePageStore) {
	s := w.sc.a
	ids := w.packed(t, s, 150)
	w.v.FaceIndex.NProbe = 3
	found, want := 0, 0
	for _, p := range w.probes(ids, 20) {
		got, all := w.search(t, s, p, facevault.FaceMatchThreshold), w.exact(s, p, facevault.FaceMatchThreshold)
		for _, h := range got {
			if !slices.ContainsFunc(all, func(x facevault.FaceHit) bool { return x == h }) {
				t.Fatalf("search with 3 cells found %+v, which the exact scan did not", h)
			}
		}
		found += len(got)
		want += len(all)
	}
	if want == 0 || found < want/2 {
		t.Errorf("3 cells of 8 found %d matches of %d", found, want)
	}
}
