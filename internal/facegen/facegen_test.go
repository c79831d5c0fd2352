package facegen

import (
	"math"
	"testing"
)

func cos(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// TestFigures: the cosines between photos of different people and of the
// same person fall where those of real embeddings do.
func TestFigures(t *testing.T) {
	g := New(1)
	const n = 400
	ids := make([][]float64, n)
	a, b := make([][]float32, n), make([][]float32, n)
	for i := range ids {
		ids[i] = g.Identity()
		a[i], b[i] = g.Photo(ids[i]), g.Photo(ids[i])
	}
	var sum, lo, hi float64 = 0, 1, -1
	pairs := 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			c := cos(a[i], a[j])
			sum += c
			lo, hi = min(lo, c), max(hi, c)
			pairs++
		}
	}
	mean := sum / float64(pairs)
	t.Logf("impostors: mean %.3f, min %.3f, max %.3f", mean, lo, hi)
	if mean < 0.79 || mean > 0.85 || lo < 0.65 || hi > 0.95 {
		t.Errorf("impostor cosines: mean %.3f in [%.3f, %.3f], want about 0.82 in [0.73, 0.92]", mean, lo, hi)
	}
	sum, lo, hi = 0, 1, -1
	for i := range n {
		c := cos(a[i], b[i])
		sum += c
		lo, hi = min(lo, c), max(hi, c)
	}
	t.Logf("genuine: mean %.3f, min %.3f, max %.3f", sum/n, lo, hi)
	if m := sum / n; m < 0.93 || m > 0.97 || lo < 0.9 {
		t.Errorf("genuine cosines: mean %.3f in [%.3f, %.3f], want about 0.93 to 0.97", m, lo, hi)
	}
}
