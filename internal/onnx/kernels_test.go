package onnx

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The kernels selected for this CPU (the AVX2/FMA assembly on amd64 with
// AVX2) must agree with the portable Go ones on every tile shape the
// planner makes. They sum the same products in the same order, but the
// assembly fuses each multiply-add (one rounding instead of two), so the
// two may differ by rounding only: for a sum of n terms t_i, each result
// is within (n+2)·2⁻²⁴·Σ|t_i| of the exact value, and the two results
// within twice that. The tests accept exactly that bound, computed for
// each output value, and check that nothing is written outside the tile.

// roundingBound is the largest |kernel - generic| accepted for a value
// whose exact sum has n terms with absolute sum absSum.
func roundingBound(n int, absSum float64) float64 {
	return 2 * float64(n+2) * 0x1p-24 * absSum
}

func randSlice(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = 2*r.Float32() - 1
	}
	return d
}

// canary fills s with a value no kernel writes.
func canary(s []float32) {
	for i := range s {
		s[i] = 12345.5
	}
}

func TestKernelsMatchGeneric(t *testing.T) {
	k := selectKernels(options{})
	t.Logf("kernels for this CPU: %s", k.name)
	r := rand.New(rand.NewPCG(1, 2))

	t.Run("gemm4", func(t *testing.T) {
		if k.gemm4 == nil {
			t.Logf("no matrix kernel besides the portable one on this CPU")
			return
		}
		cases := 0
		for _, width := range []int{8, 16, 24} {
			for _, segs := range []int{1, 2, 3, 5} {
				for _, segLen := range []int{1, 3, 8, 24, 75} {
					for _, gap := range []int{0, 5} { // rowStride beyond one row's data
						for _, act := range []int{actNone, actRelu, actPRelu} {
							for _, withRes := range []bool{false, true} {
								checkGemm(t, k, r, width, segs, segLen, gap, act, withRes)
								cases++
							}
						}
					}
				}
			}
		}
		t.Logf("%d tile shapes", cases)
	})

	t.Run("depthwise", func(t *testing.T) {
		if k.dw == nil {
			t.Logf("no depthwise kernel besides the portable one on this CPU")
			return
		}
		cases := 0
		for _, cs := range []int{8, 16, 24, 104} {
			for _, win := range [][2]int{{1, 1}, {1, 3}, {2, 3}, {3, 2}, {3, 3}, {8, 8}} {
				for _, npix := range []int{1, 2, 3, 4, 5, 7, 8, 9} {
					for _, stride := range []int{1, 2} {
						for _, act := range []int{actNone, actRelu, actPRelu} {
							for _, withRes := range []bool{false, true} {
								checkDepthwise(t, k, r, cs, win[0], win[1], npix, stride, act, withRes)
								cases++
							}
						}
					}
				}
			}
		}
		t.Logf("%d window shapes", cases)
	})

	t.Run("maxpool2x2", func(t *testing.T) {
		for _, cs := range []int{3, 8, 16, 24, 104} {
			for _, npix := range []int{1, 2, 3, 7, 64} {
				src0, src1 := randSlice(r, 2*npix*cs), randSlice(r, 2*npix*cs)
				got := make([]float32, npix*cs+cs)
				want := make([]float32, npix*cs+cs)
				canary(got)
				canary(want)
				k.maxPool2x2(got, src0, src1, npix, cs)
				maxPool2x2Generic(want, src0, src1, npix, cs)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("cs %d, %d pixels: value %d is %g, want %g", cs, npix, i, got[i], want[i])
					}
				}
			}
		}
	})
}

func checkGemm(t *testing.T, k *kernels, r *rand.Rand, width, segs, segLen, gap, act int, withRes bool) {
	t.Helper()
	rowStride := segs*segLen + gap
	segStride := segLen + gap/2
	if segs > 1 {
		rowStride = segs*segStride + gap
	}
	ldc := width + 8
	g := gemmCall{
		a:         randSlice(r, 3*rowStride+(segs-1)*segStride+segLen),
		rowStride: rowStride, segStride: segStride, segs: segs, segLen: segLen,
		b:     randSlice(r, segs*segLen*width),
		width: width, rows: 4,
		c:     make([]float32, 4*ldc),
		ldc:   ldc,
		bias:  randSlice(r, width),
		slope: randSlice(r, width),
		act:   act,
	}
	if withRes {
		g.res = randSlice(r, 4*ldc)
	}
	want := g
	want.c = make([]float32, 4*ldc)
	canary(g.c)
	canary(want.c)
	k.gemm4(&g)
	gemmGeneric(&want)
	for row := range 4 {
		for j := range ldc {
			i := row*ldc + j
			if j >= width {
				if g.c[i] != 12345.5 {
					t.Fatalf("width %d: value %d outside the tile was written", width, i)
				}
				continue
			}
			abs := math.Abs(float64(g.bias[j]))
			for s := range segs {
				for kk := range segLen {
					abs += math.Abs(float64(g.a[row*rowStride+s*segStride+kk]) * float64(g.b[(s*segLen+kk)*width+j]))
				}
			}
			if withRes {
				abs += math.Abs(float64(g.res[i]))
			}
			bound := roundingBound(segs*segLen, abs)
			if act == actPRelu {
				bound *= max(1, math.Abs(float64(g.slope[j])))
			}
			if d := math.Abs(float64(g.c[i] - want.c[i])); d > bound || math.IsNaN(d) {
				t.Fatalf("width %d, %d segments of %d, act %d, residual %v: value (%d,%d) is %g, portable %g (differ by %g, bound %g)",
					width, segs, segLen, act, withRes, row, j, g.c[i], want.c[i], d, bound)
			}
		}
	}
}

func checkDepthwise(t *testing.T, k *kernels, r *rand.Rand, cs, nky, nkx, npix, stride, act int, withRes bool) {
	t.Helper()
	w := (npix-1)*stride + nkx + 1
	rowStride := w * cs
	d := dwCall{
		src:        randSlice(r, nky*rowStride),
		rowStride:  rowStride,
		pixStride:  stride * cs,
		w:          randSlice(r, nky*(nkx+1)*cs),
		wRowStride: (nkx + 1) * cs,
		nky:        nky, nkx: nkx, cs: cs, npix: npix,
		dst:   make([]float32, (npix+1)*cs),
		bias:  randSlice(r, cs),
		slope: randSlice(r, cs),
		act:   act,
	}
	if withRes {
		d.res = randSlice(r, npix*cs)
	}
	want := d
	want.dst = make([]float32, len(d.dst))
	canary(d.dst)
	canary(want.dst)
	k.dw(&d)
	dwGeneric(&want)
	for i := range d.dst {
		if i >= npix*cs {
			if d.dst[i] != 12345.5 {
				t.Fatalf("value %d after the last pixel was written", i)
			}
			continue
		}
		px, ch := i/cs, i%cs
		abs := math.Abs(float64(d.bias[ch]))
		for ky := range nky {
			for kx := range nkx {
				abs += math.Abs(float64(d.src[px*d.pixStride+ky*rowStride+kx*cs+ch]) * float64(d.w[ky*d.wRowStride+kx*cs+ch]))
			}
		}
		if withRes {
			abs += math.Abs(float64(d.res[i]))
		}
		bound := roundingBound(nky*nkx, abs)
		if act == actPRelu {
			bound *= max(1, math.Abs(float64(d.slope[ch])))
		}
		if diff := math.Abs(float64(d.dst[i] - want.dst[i])); diff > bound || math.IsNaN(diff) {
			t.Fatalf("cs %d, window %dx%d, %d pixels, stride %d, act %d, residual %v: value %d is %g, portable %g (differ by %g, bound %g)",
				cs, nky, nkx, npix, stride, act, withRes, i, d.dst[i], want.dst[i], diff, bound)
		}
	}
}
