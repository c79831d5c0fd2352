package evaluate

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		r        Rate
		value    float64
		ok       bool
		str      string
		jsonText string
	}{
		{"OK", Rate{2, 3}, 2.0 / 3, true, "66.7% (2/3)", `{"n":2,"of":3,"rate":0.6666666666666666}`},
		{"All", Rate{3, 3}, 1, true, "100% (3/3)", `{"n":3,"of":3,"rate":1}`},
		{"None", Rate{0, 4}, 0, true, "0% (0/4)", `{"n":0,"of":4,"rate":0}`},
		{"Undefined", Rate{0, 0}, 0, false, "n/a (0 photos)", `{"n":0,"of":0,"rate":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := tc.r.Value()
			if v != tc.value || ok != tc.ok {
				t.Errorf("Value() = %v, %v; want %v, %v", v, ok, tc.value, tc.ok)
			}
			if got := tc.r.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			b, err := json.Marshal(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.jsonText {
				t.Errorf("JSON = %s, want %s", b, tc.jsonText)
			}
		})
	}
}

// TestAUC checks the Mann–Whitney AUC on cases counted by hand: every
// (genuine, spoof) pair scores 1 when the genuine photo scores higher, ½ on
// a tie, 0 otherwise, and the sum is divided by the number of pairs.
func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name            string
		s               Scores
		auc, aucScored  float64
		aucOK, scoredOK bool
	}{
		{"PerfectSeparation", Scores{Genuine: []float64{80, 90}, Spoof: []float64{10, 20}}, 1, 1, true, true},
		{"Inverted", Scores{Genuine: []float64{10, 20}, Spoof: []float64{80, 90}}, 0, 0, true, true},
		{"AllEqual", Scores{Genuine: []float64{50, 50}, Spoof: []float64{50}}, 0.5, 0.5, true, true},
		// 30 beats nothing; 50 ties 50 (½) and loses to 60; 70 beats both:
		// 2.5 of 6 pairs.
		{"Ties", Scores{Genuine: []float64{30, 50, 70}, Spoof: []float64{50, 60}}, 2.5 / 6, 2.5 / 6, true, true},
		// One spoof at 40: 10 loses, 40 ties, 60 wins: 1.5 of 3.
		{"SingleSpoof", Scores{Genuine: []float64{10, 40, 60}, Spoof: []float64{40}}, 0.5, 0.5, true, true},
		// Unscored photos rank below every score and tie each other:
		// 80 > 20 (1), 80 > unscored spoof (1), unscored genuine < 20 (0),
		// unscored vs unscored (½): 2.5 of 4. Scored only: 1 of 1.
		{"Unscored", Scores{Genuine: []float64{80}, Spoof: []float64{20}, GenuineUnscored: 1, SpoofUnscored: 1}, 0.625, 1, true, true},
		// Only unscored genuine photos: each ties nothing and loses to
		// every scored spoof.
		{"GenuineAllUnscored", Scores{Spoof: []float64{20, 30}, GenuineUnscored: 2}, 0, 0, true, false},
		{"NoSpoof", Scores{Genuine: []float64{10, 90}}, 0, 0, false, false},
		{"NoGenuine", Scores{Spoof: []float64{10, 90}}, 0, 0, false, false},
		{"Empty", Scores{}, 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auc, ok := tc.s.AUC()
			if ok != tc.aucOK || !near(auc, tc.auc) {
				t.Errorf("AUC() = %v, %v; want %v, %v", auc, ok, tc.auc, tc.aucOK)
			}
			auc, ok = tc.s.AUCScored()
			if ok != tc.scoredOK || !near(auc, tc.aucScored) {
				t.Errorf("AUCScored() = %v, %v; want %v, %v", auc, ok, tc.aucScored, tc.scoredOK)
			}
		})
	}
}

// TestAUCIsAreaUnderROC checks that AUC is the area, by trapezoids, under
// the curve ROC traces from (0, 0) to (1, 1), ties and unscored photos
// included.
func TestAUCIsAreaUnderROC(t *testing.T) {
	s := Scores{
		Genuine:         []float64{12, 40, 40, 55, 61, 61, 80, 93},
		Spoof:           []float64{5, 40, 61, 70},
		GenuineUnscored: 2,
		SpoofUnscored:   1,
	}
	x, y := 0.0, 0.0
	area := 0.0
	pts := s.ROC()
	for _, p := range pts {
		a, _ := p.APCER.Value()
		b, _ := p.BPCER.Value()
		area += (a - x) * (y + 1 - b) / 2
		x, y = a, 1-b
	}
	area += (1 - x) * (y + 1) / 2
	auc, _ := s.AUC()
	if !near(auc, area) {
		t.Errorf("AUC %v, area under ROC %v", auc, area)
	}
}

func TestAt(t *testing.T) {
	s := Scores{Genuine: []float64{30, 50, 70}, Spoof: []float64{50, 60}, GenuineUnscored: 1}
	for _, tc := range []struct {
		threshold    float64
		apcer, bpcer Rate
	}{
		// Accepted when the score is at least the threshold; the
		// unscored genuine photo is always rejected.
		{0, Rate{2, 2}, Rate{1, 4}},
		{30, Rate{2, 2}, Rate{1, 4}},
		{50, Rate{2, 2}, Rate{2, 4}},
		{50.5, Rate{1, 2}, Rate{3, 4}},
		{60, Rate{1, 2}, Rate{3, 4}},
		{70, Rate{0, 2}, Rate{3, 4}},
		{71, Rate{0, 2}, Rate{4, 4}},
	} {
		a, b := s.At(tc.threshold)
		if a != tc.apcer || b != tc.bpcer {
			t.Errorf("At(%v) = APCER %v, BPCER %v; want %v, %v", tc.threshold, a, b, tc.apcer, tc.bpcer)
		}
	}
	if got, want := s.Thresholds(), []float64{70, 60, 50, 30}; !slices.Equal(got, want) {
		t.Errorf("Thresholds() = %v, want %v", got, want)
	}
	roc := s.ROC()
	want := []OperatingPoint{{70, Rate{0, 2}, Rate{3, 4}}, {60, Rate{1, 2}, Rate{3, 4}}, {50, Rate{2, 2}, Rate{2, 4}}, {30, Rate{2, 2}, Rate{1, 4}}}
	if !slices.Equal(roc, want) {
		t.Errorf("ROC() = %v, want %v", roc, want)
	}
}

func TestForBPCER(t *testing.T) {
	ten := Scores{Genuine: []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, Spoof: []float64{15, 95}}
	for _, tc := range []struct {
		name      string
		s         Scores
		target    float64
		want      OperatingPoint
		reachable bool
	}{
		// At most 1 of 10 genuine rejected: reject only the 10, so ≥ 20,
		// which accepts the spoof at 95.
		{"TenPercent", ten, 0.10, OperatingPoint{20, Rate{1, 2}, Rate{1, 10}}, true},
		// None rejected: ≥ 10 (≥ 15, a spoof's score, would reject the 10).
		{"FivePercent", ten, 0.05, OperatingPoint{10, Rate{2, 2}, Rate{0, 10}}, true},
		{"Half", ten, 0.5, OperatingPoint{60, Rate{1, 2}, Rate{5, 10}}, true},
		// One of two genuine photos has no face: BPCER is at least 50%,
		// and the lowest is at the lowest threshold.
		{"Unreachable", Scores{Genuine: []float64{50}, Spoof: []float64{20}, GenuineUnscored: 1}, 0.05,
			OperatingPoint{20, Rate{1, 1}, Rate{1, 2}}, false},
		{"NoSpoof", Scores{Genuine: []float64{50, 60}}, 0.05, OperatingPoint{50, Rate{0, 0}, Rate{0, 2}}, true},
		{"NoGenuine", Scores{Spoof: []float64{50}}, 0.05, OperatingPoint{50, Rate{1, 1}, Rate{0, 0}}, false},
		{"NothingScored", Scores{GenuineUnscored: 2, SpoofUnscored: 1}, 0.05, OperatingPoint{math.Inf(1), Rate{0, 1}, Rate{2, 2}}, false},
		{"AllEqual", Scores{Genuine: []float64{50, 50}, Spoof: []float64{50}}, 0.05, OperatingPoint{50, Rate{1, 1}, Rate{0, 2}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.s.ForBPCER(tc.target)
			if got != tc.want || ok != tc.reachable {
				t.Errorf("ForBPCER(%v) = %v, %v; want %v, %v", tc.target, got, ok, tc.want, tc.reachable)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	ms := func(v ...float64) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x * float64(time.Millisecond))
		}
		return d
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want TimeSummary
	}{
		{"Odd", ms(3, 1, 2), TimeSummary{3, 2 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}},
		{"Even", ms(10, 1, 3, 2), TimeSummary{4, 4 * time.Millisecond, 2500 * time.Microsecond, 10 * time.Millisecond}},
		{"One", ms(7), TimeSummary{1, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond}},
		{"None", nil, TimeSummary{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
