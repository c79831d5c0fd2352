package faceid

import (
	"cmp"
	"math"
	"slices"
)

// Labelled is an embedding with the name of its photo and the identity of
// the person in it, and optionally the descriptor it was normalised from.
type Labelled struct {
	Name, Identity string
	Embedding      []float32
	Descriptor     []float32 // dlib's, not normalised; may be nil
}

// Pair is the similarity score of two labelled embeddings: genuine when
// they are of the same identity, impostor otherwise. Distance is the
// Euclidean distance of their descriptors, dlib's measure (NaN when either
// has none).
type Pair struct {
	A, B     string
	Genuine  bool
	Score    float64
	Distance float64
}

// Pairs scores every pair of items (each unordered pair once, in the
// order of items), highest score first, ties in input order.
func Pairs(items []Labelled) []Pair {
	var out []Pair
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			out = append(out, Pair{
				A: items[i].Name, B: items[j].Name,
				Genuine:  items[i].Identity == items[j].Identity,
				Score:    Similarity(items[i].Embedding, items[j].Embedding),
				Distance: distance(items[i].Descriptor, items[j].Descriptor),
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Pair) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// Rates returns, at threshold t (a match is a score ≥ t), the true match
// rate (the share of genuine pairs that match) and the false match rate
// (the share of impostor pairs that match); NaN for a kind with no pairs.
func Rates(pairs []Pair, t float64) (tmr, fmr float64) {
	var g, gm, im, imm int
	for _, p := range pairs {
		if p.Genuine {
			g++
			if p.Score >= t {
				gm++
			}
		} else {
			im++
			if p.Score >= t {
				imm++
			}
		}
	}
	return ratio(gm, g), ratio(imm, im)
}

// distance is the Euclidean distance of a and b; NaN if either is empty or
// their lengths differ.
func distance(a, b []float32) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN()
	}
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return math.Sqrt(sum)
}

// DlibRates returns the true and false match rates of dlib's own rule, a
// match when two descriptors are less than DlibThreshold apart, over the
// pairs that have a Distance; NaN for a kind with none.
func DlibRates(pairs []Pair) (tmr, fmr float64) {
	var g, gm, im, imm int
	for _, p := range pairs {
		if math.IsNaN(p.Distance) {
			continue
		}
		match := p.Distance < DlibThreshold
		if p.Genuine {
			g++
			if match {
				gm++
			}
		} else {
			im++
			if match {
				imm++
			}
		}
	}
	return ratio(gm, g), ratio(imm, im)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// ThresholdAtFMR returns the lowest threshold, among the pairs' scores
// and just above the highest impostor score, whose false match rate is at
// most fmr; with n impostor pairs, rates under 1/n can only be met by
// letting no impostor pair match, which says little about the rate itself.
// ok is false when pairs holds no impostor pair.
func ThresholdAtFMR(pairs []Pair, fmr float64) (t float64, ok bool) {
	var imp []float64
	for _, p := range pairs {
		if !p.Genuine {
			imp = append(imp, p.Score)
		}
	}
	if len(imp) == 0 {
		return 0, false
	}
	slices.Sort(imp)
	slices.Reverse(imp)
	// k impostor pairs may match: the threshold is just above the
	// (k+1)-th highest impostor score.
	k := int(math.Floor(fmr * float64(len(imp))))
	if k >= len(imp) {
		return 0, true
	}
	return math.Nextafter(imp[k], math.Inf(1)), true
}
