package facevault

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/facegen"
)

// coneVectors returns n unit vectors of d dimensions around one direction,
// like face embeddings (cosines between them mostly 0.6 to 0.95).
func coneVectors(rng *rand.Rand, n, d int, spread float64) [][]float32 {
	mean := make([]float64, d)
	for i := range mean {
		mean[i] = rng.NormFloat64()
	}
	out := make([][]float32, n)
	for k := range out {
		v := make([]float32, d)
		var norm float64
		for i := range v {
			x := mean[i] + spread*rng.NormFloat64()
			v[i] = float32(x)
			norm += x * x
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
		out[k] = v
	}
	return out
}

// TestPageCandidatesMissNothing: on faces with the statistics of real
// embeddings (package facegen), for every floor, every face whose exact
// score reaches it is a candidate of the code scan, and the bound keeps
// the candidates few: at the match threshold, far fewer than all.
func TestPageCandidatesMissNothing(t *testing.T) {
	g := facegen.New(7)
	people := make([][]float64, 2000)
	vecs := make([][]float32, len(people))
	for i := range people {
		people[i] = g.Identity()
		vecs[i] = g.Photo(people[i])
	}
	rows := make([]FaceIndexRow, len(vecs))
	for i := range rows {
		rows[i] = FaceIndexRow{PhotoID: "p" + strconv.Itoa(i), ClientID: "c" + strconv.Itoa(i/3)}
	}
	p, err := decodeFacePage(encodeFacePage(rows, vecs))
	if err != nil {
		t.Fatal(err)
	}
	if p.n != len(rows) || p.photo(17) != "p17" || p.client(17) != "c5" {
		t.Fatalf("decoded page: %d faces, photo 17 %q client %q", p.n, p.photo(17), p.client(17))
	}
	var probes [][]float32
	for i := range 10 { // new photos of enrolled people, and strangers
		probes = append(probes, g.Photo(people[i*97]), g.Photo(g.Identity()))
	}
	probes = append(probes, vecs[3], vecs[1999])
	for _, floor := range []float64{0, 50, 80, 85, 90, FaceMatchThreshold, 99.99} {
		cands, total := 0, 0
		for _, q := range probes {
			pq := newPageProbe(q, floor)
			got, _ := pq.candidates(p, nil, nil)
			cands += len(got)
			for i, e := range vecs {
				if faceSimilarity(q, e) >= floor {
					total++
					if !slices.Contains(got, i) {
						t.Fatalf("floor %v: face %d scores %.4f and is no candidate", floor, i, faceSimilarity(q, e))
					}
				}
			}
		}
		t.Logf("floor %v: %d candidates for %d faces reaching it (of %d)", floor, cands, total, len(vecs)*len(probes))
		if floor == FaceMatchThreshold && cands > len(vecs)*len(probes)/10 {
			t.Errorf("floor %v: %d candidates of %d faces", floor, cands, len(vecs)*len(probes))
		}
	}
}

// TestDotsInt8: the batch kernel (the AVX2 one on a CPU that has it) and
// the Go one equal the plain sum for every face, at the extremes of the
// codes too, for lengths the assembly takes and lengths it leaves to Go.
func TestDotsInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, d := range []int{16, 32, 128, 144, 127, 8, 1} {
		for _, n := range []int{1, 2, 7, 256} {
			q := make([]int16, d)
			codes := make([]int8, n*d+5) // longer than needed: only n faces are read
			for i := range q {
				q[i] = int16(rng.IntN(255) - 127)
			}
			for i := range codes {
				codes[i] = int8(rng.IntN(255) - 127)
			}
			if n == 2 { // the largest products: -127·-127 everywhere
				for i := range q {
					q[i] = -127
				}
				for i := range codes {
					codes[i] = -127
				}
			}
			got, generic := make([]int32, n), make([]int32, n)
			dotsInt8(q, codes, got)
			dotsInt8Generic(q, codes, generic)
			for i := range n {
				var want int32
				for j := range d {
					want += int32(q[j]) * int32(codes[i*d+j])
				}
				if got[i] != want || generic[i] != want {
					t.Fatalf("d=%d n=%d face %d: %d (Go: %d), want %d", d, n, i, got[i], generic[i], want)
				}
			}
		}
	}
}

// BenchmarkDotsInt8 times the code scan: a page of 256 faces of 128
// dimensions.
func BenchmarkDotsInt8(b *testing.B) {
	q := make([]int16, 128)
	codes := make([]int8, 256*128)
	for i := range codes {
		codes[i] = int8(i*31%255 - 127)
	}
	out := make([]int32, 256)
	b.Run("dispatch", func(b *testing.B) {
		for b.Loop() {
			dotsInt8(q, codes, out)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/face")
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			dotsInt8Generic(q, codes, out)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/face")
	})
}

// TestFacePageSealed: a page opens only with its key, scope, epoch, cell,
// page and version; its plaintext holds no embedding in the clear; a
// malformed plaintext is an error, not a panic.
func TestFacePageSealed(t *testing.T) {
	key := bytes.Repeat([]byte{5}, 32)
	s := Scope{AccountID: "acme", Mode: ModeTest}
	f, err := NewFaceIndexSealer(key, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	vecs := coneVectors(rand.New(rand.NewPCG(5, 6)), 3, 128, 0.5)
	rows := []FaceIndexRow{{PhotoID: "a", ClientID: "x"}, {PhotoID: "b", ClientID: "x"}, {PhotoID: "c", ClientID: "y"}}
	p := FacePage{Epoch: 3, Cell: 7, Page: 1, Version: 42, Faces: 3}
	if p.Data, err = f.sealPage(p, encodeFacePage(rows, vecs)); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("acme")) || bytes.Contains(p.Data, encodeFloats(vecs[0][:4])) {
		t.Fatal("the sealed page holds its content in the clear")
	}
	ids, err := FacePagePhotoIDs(key, s, p)
	if err != nil || !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("FacePagePhotoIDs = %v, %v", ids, err)
	}
	other := bytes.Repeat([]byte{6}, 32)
	for name, change := range map[string]func(*FacePage, *[]byte, *Scope){
		"key":     func(_ *FacePage, k *[]byte, _ *Scope) { *k = other },
		"scope":   func(_ *FacePage, _ *[]byte, sc *Scope) { sc.Mode = ModeLive },
		"epoch":   func(q *FacePage, _ *[]byte, _ *Scope) { q.Epoch = 4 },
		"cell":    func(q *FacePage, _ *[]byte, _ *Scope) { q.Cell = 8 },
		"page":    func(q *FacePage, _ *[]byte, _ *Scope) { q.Page = 0 },
		"version": func(q *FacePage, _ *[]byte, _ *Scope) { q.Version = 41 },
	} {
		q, k, sc := p, key, s
		change(&q, &k, &sc)
		if _, err := FacePagePhotoIDs(k, sc, q); err == nil {
			t.Errorf("a page opens with another %s", name)
		}
	}
	plain := encodeFacePage(rows, vecs)
	for n := range len(plain) {
		if _, err := decodeFacePage(plain[:n]); err == nil {
			t.Fatalf("a page cut to %d bytes of %d decodes", n, len(plain))
		}
	}
}

// TestFacePageCache: the cache hands back only the version it holds,
// replaces older versions, drops pages the store no longer has and those
// of epochs gone, and keeps within its budget.
func TestFacePageCache(t *testing.T) {
	s := Scope{AccountID: "acme", Mode: ModeTest}
	vecs := coneVectors(rand.New(rand.NewPCG(7, 8)), 10, 128, 0.5)
	rows := make([]FaceIndexRow, 10)
	for i := range rows {
		rows[i] = FaceIndexRow{PhotoID: strconv.Itoa(i), ClientID: "c"}
	}
	fp, err := decodeFacePage(encodeFacePage(rows, vecs))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := newFacePageCache(10 * fp.size())
	for cell := range 5 {
		c.put(s, FacePage{Epoch: 1, Cell: cell, Version: 1}, fp, now)
	}
	if c.get(s, FacePage{Epoch: 1, Cell: 2, Version: 1}, now) != fp || c.get(s, FacePage{Epoch: 1, Cell: 2, Version: 2}, now) != nil {
		t.Fatal("get does not check the version")
	}
	if got := c.known(s, 1, []int{1, 2, 9}, now); len(got) != 2 {
		t.Fatalf("known = %v", got)
	}
	if got := c.known(Scope{AccountID: "acme", Mode: ModeLive}, 1, nil, now); len(got) != 0 {
		t.Fatalf("known of another scope = %v", got)
	}
	c.put(s, FacePage{Epoch: 1, Cell: 2, Version: 2}, fp, now)
	if n, _ := c.held(); n != 5 || c.get(s, FacePage{Epoch: 1, Cell: 2, Version: 1}, now) != nil {
		t.Fatalf("a new version: %d pages held, or the old one is still handed out", n)
	}
	if c.nearlyFull() || !slices.Equal(c.cells(s, 1), []int{0, 1, 2, 3, 4}) {
		t.Fatalf("5 pages of a budget of 10: nearly full %v, cells %v", c.nearlyFull(), c.cells(s, 1))
	}
	c.dropGone(s, 1, []int{0, 1}, []FacePage{{Epoch: 1, Cell: 0, Version: 1}})
	if n, _ := c.held(); n != 4 {
		t.Fatalf("after a page went: %d held, want 4", n)
	}
	for cell := 10; cell < 30; cell++ {
		c.put(s, FacePage{Epoch: 2, Cell: cell, Version: 1}, fp, now)
	}
	if n, size := c.held(); size > 10*fp.size() || n > 10 || !c.nearlyFull() {
		t.Fatalf("over budget: %d pages, %d bytes of %d (nearly full: %v)", n, size, 10*fp.size(), c.nearlyFull())
	}
	c.forget(s, 3)
	if n, size := c.held(); n != 0 || size != 0 {
		t.Fatalf("after forgetting epochs before 3: %d pages, %d bytes", n, size)
	}
	c.put(s, FacePage{Epoch: 3, Cell: 1, Version: 1}, fp, now)
	c.put(s, FacePage{Epoch: 3, Cell: 2, Version: 1}, fp, now)
	c.get(s, FacePage{Epoch: 3, Cell: 2, Version: 1}, now.Add(time.Minute)) // checked again
	c.expire(now.Add(facePageTTL))
	if got := c.known(s, 3, nil, now.Add(facePageTTL)); len(got) != 1 || got[0].Cell != 2 {
		t.Fatalf("after %v: held %v, want only the page checked since", facePageTTL, got)
	}
	var none *facePageCache
	none.put(s, FacePage{Epoch: 1}, fp, now)
	if none.get(s, FacePage{Epoch: 1}, now) != nil || newFacePageCache(-1) != nil {
		t.Fatal("a nil cache keeps pages")
	}
}
