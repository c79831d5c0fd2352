package facevault_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/faceid"
)

// TestFaceSimilarity: the checks' score is faceid.Similarity, whose scale
// the thresholds are read on: the same on random vectors (negative cosines
// included), 100 for a vector with itself, 0 for vectors of other lengths.
func TestFaceSimilarity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, 128)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for range 200 {
		a, b := vec(), vec()
		if got, want := facevault.FaceSimilarity(a, b), faceid.Similarity(a, b); math.Abs(got-want) > 1e-3 {
			t.Fatalf("FaceSimilarity = %v, faceid.Similarity = %v", got, want)
		}
	}
	a := vec()
	if got := facevault.FaceSimilarity(a, a); math.Abs(got-100) > 1e-9 {
		t.Errorf("a vector with itself: %v, want 100", got)
	}
	if got := facevault.FaceSimilarity(a, a[:64]); got != 0 {
		t.Errorf("vectors of different lengths: %v, want 0", got)
	}
}
