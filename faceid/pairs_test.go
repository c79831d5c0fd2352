package faceid

import (
	"math"
	"testing"
)

func TestPairsAndRates(t *testing.T) {
	items := []Labelled{
		{"a1", "a", []float32{1, 0, 0}, nil},
		{"a2", "a", []float32{1, 0.1, 0}, nil},
		{"b1", "b", []float32{0, 1, 0}, nil},
		{"c1", "c", []float32{0.8, 0.6, 0}, nil},
	}
	pairs := Pairs(items)
	if len(pairs) != 6 {
		t.Fatalf("%d pairs, want 6", len(pairs))
	}
	if p := pairs[0]; p.A != "a1" || p.B != "a2" || !p.Genuine {
		t.Errorf("highest pair %+v, want the genuine a1–a2", p)
	}
	for i := 1; i < len(pairs); i++ {
		if pairs[i].Score > pairs[i-1].Score {
			t.Errorf("pairs not sorted by score: %v", pairs)
		}
		if pairs[i].Genuine {
			t.Errorf("pair %+v is genuine", pairs[i])
		}
	}
	tmr, fmr := Rates(pairs, 85)
	if tmr != 1 || math.Abs(fmr-1.0/5) > 1e-12 { // a2–c1 scores 85.6
		t.Errorf("Rates at 85: %g, %g; want 1, 0.2", tmr, fmr)
	}
	th, ok := ThresholdAtFMR(pairs, 0)
	if !ok {
		t.Fatal("no threshold")
	}
	if tmr, fmr := Rates(pairs, th); tmr != 1 || fmr != 0 {
		t.Errorf("at the threshold %g for no false match: %g, %g; want 1, 0", th, tmr, fmr)
	}
	if th, _ := ThresholdAtFMR(pairs, 0.2); th <= Similarity(items[0].Embedding, items[3].Embedding) {
		t.Errorf("threshold for FMR 0.2 is %g: lets two of five impostor pairs match", th)
	}
	if _, fmr := Rates(pairs[:1], 0); !math.IsNaN(fmr) {
		t.Errorf("FMR without impostor pairs %g, want NaN", fmr)
	}
	if _, ok := ThresholdAtFMR(pairs[:1], 0); ok {
		t.Error("ThresholdAtFMR without impostor pairs is ok")
	}
}

// TestDlibRates: dlib's rule (a match under DlibThreshold of distance) on
// the descriptors, pairs without descriptors left out.
func TestDlibRates(t *testing.T) {
	items := []Labelled{
		{"a1", "a", []float32{1, 0}, []float32{1, 0}},
		{"a2", "a", []float32{1, 0}, []float32{1.5, 0}},   // 0.5 from a1: a match
		{"b1", "b", []float32{0, 1}, []float32{1, 0.7}},   // 0.7 from a1, ~0.86 from a2
		{"c1", "c", []float32{0, 1}, []float32{1.2, 0.3}}, // ~0.36 from a1: a false match
		{"d1", "d", []float32{0, 1}, nil},
	}
	pairs := Pairs(items)
	var nan int
	for _, p := range pairs {
		if math.IsNaN(p.Distance) {
			nan++
		}
	}
	if nan != 4 {
		t.Errorf("%d pairs without a distance, want the 4 of d1", nan)
	}
	tmr, fmr := DlibRates(pairs)
	// Impostor pairs with distances: a1–b1 0.7, a1–c1 0.36, a2–b1 0.86,
	// a2–c1 0.42, b1–c1 0.45: three under 0.6.
	if tmr != 1 || math.Abs(fmr-3.0/5) > 1e-12 {
		t.Errorf("DlibRates = %g, %g; want 1, 0.6", tmr, fmr)
	}
	if tmr, fmr := DlibRates(pairs[:0]); !math.IsNaN(tmr) || !math.IsNaN(fmr) {
		t.Errorf("DlibRates of nothing = %g, %g; want NaN, NaN", tmr, fmr)
	}
}
