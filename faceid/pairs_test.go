package faceid

import (
	"math"
	"testing"
)

func TestPairsAndRates(t *testing.T) {
	items := []Labelled{
		{"a1", "a", []float32{1, 0, 0}},
		{"a2", "a", []float32{1, 0.1, 0}},
		{"b1", "b", []float32{0, 1, 0}},
		{"c1", "c", []float32{0.8, 0.6, 0}},
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
