package facevault

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// dot is the dot product of two vectors of the same length.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// nearestCells returns the indexes of the n centroids nearest to e (by
// cosine: centroids are unit vectors), nearest first.
func nearestCells(e []float32, centroids [][]float32, n int) []int {
	type cell struct {
		i int
		d float32
	}
	cells := make([]cell, len(centroids))
	for i, c := range centroids {
		cells[i] = cell{i, dot(e, c)}
	}
	slices.SortFunc(cells, func(a, b cell) int {
		switch {
		case a.d > b.d:
			return -1
		case a.d < b.d:
			return 1
		}
		return a.i - b.i
	})
	out := make([]int, min(n, len(cells)))
	for i := range out {
		out[i] = cells[i].i
	}
	return out
}

// parallel runs fn over [0, n) split into one range per CPU.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/64))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Go(func() { fn(lo, min(n, lo+step)) })
	}
	wg.Wait()
}

// AssignCells returns the index of the centroid nearest to each vector;
// all 0 when there are no centroids.
func AssignCells(vecs, centroids [][]float32) []int {
	out := make([]int, len(vecs))
	if len(centroids) == 0 {
		return out
	}
	parallel(len(vecs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			best, bd := 0, float32(math.Inf(-1))
			for j, c := range centroids {
				if d := dot(vecs[i], c); d > bd {
					best, bd = j, d
				}
			}
			out[i] = best
		}
	})
	return out
}

// kmeansSeed seeds the choices of TrainCentroids: the same sample always
// gives the same partition.
const kmeansSeed = 0x6661636576617531

// TrainCentroids partitions sample (unit vectors) into k cells by spherical
// k-means: k-means++ seeding from a generator with a fixed seed, then
// rounds of Lloyd's iteration, each centroid the normalised mean of its
// cell's vectors. It is deterministic: the same sample, in the same order,
// gives the same centroids. It returns fewer than k centroids when the
// sample has fewer vectors.
func TrainCentroids(sample [][]float32, k, rounds int) [][]float32 {
	k = min(k, len(sample))
	if k == 0 {
		return nil
	}
	d := len(sample[0])
	rng := rand.New(rand.NewPCG(kmeansSeed, uint64(len(sample))))
	centroids := make([][]float32, k)
	for i, j := range rng.Perm(len(sample))[:k] {
		centroids[i] = slices.Clone(sample[j])
	}
	for range rounds {
		cells := AssignCells(sample, centroids)
		sums := make([][]float64, k)
		for i := range sums {
			sums[i] = make([]float64, d)
		}
		for i, c := range cells {
			for j, x := range sample[i] {
				sums[c][j] += float64(x)
			}
		}
		for i, s := range sums {
			var n float64
			for _, x := range s {
				n += x * x
			}
			if n == 0 {
				continue // an empty cell keeps its centroid
			}
			n = math.Sqrt(n)
			for j, x := range s {
				centroids[i][j] = float32(x / n)
			}
		}
	}
	return centroids
}
