package evaluate

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"time"
)

// Rate is a share counted out of a number of photos: N of Of.
type Rate struct {
	N, Of int
}

// Value returns N/Of, and false when Of is 0 (the rate is undefined).
func (r Rate) Value() (float64, bool) {
	if r.Of == 0 {
		return 0, false
	}
	return float64(r.N) / float64(r.Of), true
}

// MarshalJSON encodes r as {"n": N, "of": Of, "rate": N/Of}, the rate null
// when Of is 0.
func (r Rate) MarshalJSON() ([]byte, error) {
	var v *float64
	if x, ok := r.Value(); ok {
		v = &x
	}
	return json.Marshal(struct {
		N    int      `json:"n"`
		Of   int      `json:"of"`
		Rate *float64 `json:"rate"`
	}{r.N, r.Of, v})
}

// Scores holds one score's values on the bona fide (genuine) and attack
// (spoof) photos. A photo the check gave no score (no face was found in
// it) is only counted, in GenuineUnscored or SpoofUnscored: it is rejected
// at every threshold, as an upload without a face is never accepted.
type Scores struct {
	Genuine, Spoof                 []float64
	GenuineUnscored, SpoofUnscored int
}

func (s Scores) genuine() int { return len(s.Genuine) + s.GenuineUnscored }
func (s Scores) spoof() int   { return len(s.Spoof) + s.SpoofUnscored }

// At returns APCER and BPCER when a photo is accepted as bona fide if its
// score is at least threshold. As ISO/IEC 30107-3 defines them, APCER
// (attack presentation classification error rate) is the share of attack
// presentations accepted as bona fide, and BPCER (bona fide presentation
// classification error rate) the share of bona fide presentations
// rejected. Unscored photos are rejected.
func (s Scores) At(threshold float64) (apcer, bpcer Rate) {
	apcer = Rate{N: countAtLeast(s.Spoof, threshold), Of: s.spoof()}
	bpcer = Rate{N: s.genuine() - countAtLeast(s.Genuine, threshold), Of: s.genuine()}
	return apcer, bpcer
}

func countAtLeast(v []float64, t float64) int {
	n := 0
	for _, x := range v {
		if x >= t {
			n++
		}
	}
	return n
}

// AUC returns the area under the ROC curve of the score, by the
// Mann–Whitney statistic: the chance that a genuine photo scores higher
// than a spoof, a tie counting half. Unscored photos rank below every
// score (tied with each other), so the area is the one under the curve
// that APCER and BPCER trace as the threshold falls, ending at (1, 1) where
// unscored photos are accepted too. It is false when either class has no
// photos.
func (s Scores) AUC() (float64, bool) {
	ng, ns := s.genuine(), s.spoof()
	if ng == 0 || ns == 0 {
		return 0, false
	}
	wins := mannWhitney(s.Genuine, s.Spoof)
	wins += float64(len(s.Genuine)) * float64(s.SpoofUnscored)          // scored genuine over unscored spoof
	wins += 0.5 * float64(s.GenuineUnscored) * float64(s.SpoofUnscored) // unscored ties
	return wins / (float64(ng) * float64(ns)), true
}

// AUCScored is AUC over the scored photos only: how well the score itself
// separates the classes, whatever the detector missed. It is false when
// either class has no scored photo.
func (s Scores) AUCScored() (float64, bool) {
	if len(s.Genuine) == 0 || len(s.Spoof) == 0 {
		return 0, false
	}
	return mannWhitney(s.Genuine, s.Spoof) / (float64(len(s.Genuine)) * float64(len(s.Spoof))), true
}

// mannWhitney counts the pairs (g, s) with g > s, plus half those with
// g == s.
func mannWhitney(genuine, spoof []float64) float64 {
	sp := slices.Clone(spoof)
	slices.Sort(sp)
	var wins float64
	for _, g := range genuine {
		below := sort.SearchFloat64s(sp, g) // spoofs < g
		upTo := sort.Search(len(sp), func(i int) bool { return sp[i] > g })
		wins += float64(below) + 0.5*float64(upTo-below)
	}
	return wins
}

// Thresholds returns the distinct scored values, highest first: the
// thresholds at which APCER or BPCER change.
func (s Scores) Thresholds() []float64 {
	t := append(slices.Clone(s.Genuine), s.Spoof...)
	slices.Sort(t)
	t = slices.Compact(t)
	slices.Reverse(t)
	return t
}

// OperatingPoint is APCER and BPCER at a threshold: a photo is accepted as
// bona fide when its score is at least Threshold.
type OperatingPoint struct {
	Threshold float64 `json:"threshold"`
	APCER     Rate    `json:"apcer"`
	BPCER     Rate    `json:"bpcer"`
}

// ROC returns the operating point at each of Thresholds, highest first:
// APCER and 1 − BPCER grow from one to the next. (Above the highest
// threshold every photo is rejected; a curve starts at (0, 0) there.)
func (s Scores) ROC() []OperatingPoint {
	ts := s.Thresholds()
	pts := make([]OperatingPoint, len(ts))
	for i, t := range ts {
		a, b := s.At(t)
		pts[i] = OperatingPoint{Threshold: t, APCER: a, BPCER: b}
	}
	return pts
}

// ForBPCER returns the operating point with the highest threshold (so the
// lowest APCER) whose BPCER is at most target, and true; or, when no
// threshold brings BPCER that low (too many genuine photos are unscored,
// or there are none), the point with the lowest BPCER there is (at the
// lowest threshold) and false. With no scored photo at all the point's
// threshold is +Inf: everything is rejected.
func (s Scores) ForBPCER(target float64) (OperatingPoint, bool) {
	roc := s.ROC()
	if len(roc) == 0 {
		a, b := s.At(math.Inf(1))
		p := OperatingPoint{Threshold: math.Inf(1), APCER: a, BPCER: b}
		v, ok := b.Value()
		return p, ok && v <= target
	}
	for _, p := range roc {
		if v, ok := p.BPCER.Value(); ok && v <= target {
			return p, true
		}
	}
	return roc[len(roc)-1], false
}

// TimeSummary summarises the time a stage took over the photos that ran it.
type TimeSummary struct {
	Photos            int
	Mean, Median, Max time.Duration
}

// summarize returns the mean, median (of an even count, the mean of the
// middle two) and maximum of d.
func summarize(d []time.Duration) TimeSummary {
	if len(d) == 0 {
		return TimeSummary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return TimeSummary{Photos: n, Mean: sum / time.Duration(n), Median: med, Max: s[n-1]}
}
