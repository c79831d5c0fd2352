// Package facegen makes synthetic face embeddings with the statistics of
// real ones, for the face search's tests and benchmark.
//
// Real face embeddings are not spread uniformly over the sphere: between
// the L2-normalised 128-float embeddings of the dlib model (package faceid)
// of two different people, the cosine is about 0.73 to 0.92, 0.82 on
// average; between two photos of the same person, about 0.93 to 0.97. The
// generator reproduces that with a shared mean direction m:
//
//   - an identity is x = a·m + √(1−a²)·u, with u a random unit vector
//     orthogonal to m and a² drawn uniformly from [0.81, 0.91];
//   - a photo of an identity is normalise(x + g·w), with w a random unit
//     vector and g drawn uniformly from [0.17, 0.26].
//
// Photos of two identities then have a cosine of 0.82 on average (0.68 to
// 0.91 over 80,000 pairs), and two photos of one identity 0.93 to 0.975
// (0.955 on average): TestFigures checks it.
//
// Everything comes from a seeded generator: the same seed gives the same
// embeddings.
package facegen

import (
	"math"
	"math/rand/v2"
)

// Dim is the length of an embedding.
const Dim = 128

// Gen makes embeddings.
type Gen struct {
	rng  *rand.Rand
	mean []float64
}

// New returns a generator seeded with seed.
func New(seed uint64) *Gen {
	g := &Gen{rng: rand.New(rand.NewPCG(seed, 0x66616365))}
	g.mean = g.unit()
	return g
}

func (g *Gen) unit() []float64 {
	v := make([]float64, Dim)
	var n float64
	for i := range v {
		v[i] = g.rng.NormFloat64()
		n += v[i] * v[i]
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] /= n
	}
	return v
}

// Identity returns a new person's face: the centre of their photos'
// embeddings.
func (g *Gen) Identity() []float64 {
	u := g.unit()
	var d float64
	for i := range u {
		d += u[i] * g.mean[i]
	}
	var n float64
	for i := range u {
		u[i] -= d * g.mean[i]
		n += u[i] * u[i]
	}
	n = math.Sqrt(n)
	a2 := 0.81 + 0.10*g.rng.Float64()
	a, b := math.Sqrt(a2), math.Sqrt(1-a2)
	x := make([]float64, Dim)
	for i := range x {
		x[i] = a*g.mean[i] + b*u[i]/n
	}
	return x
}

// Photo returns the embedding of a new photo of identity x, L2-normalised.
func (g *Gen) Photo(x []float64) []float32 {
	w := g.unit()
	s := 0.17 + 0.09*g.rng.Float64()
	e := make([]float32, Dim)
	var n float64
	for i := range x {
		v := x[i] + s*w[i]
		n += v * v
	}
	n = math.Sqrt(n)
	for i := range x {
		e[i] = float32((x[i] + s*w[i]) / n)
	}
	return e
}
