package onnx

// kernels are the hot loops a plan calls; a nil kernel means the portable
// Go one (gemmGeneric, dwGeneric).
type kernels struct {
	// gemm4 computes a gemmCall of exactly 4 rows.
	gemm4 func(g *gemmCall)
	// dw computes a dwCall.
	dw func(d *dwCall)
	// maxPool2x2 computes npix pixels of 2x2, stride-2 max pooling from
	// two input rows (see maxPool2x2Generic).
	maxPool2x2 func(dst, src0, src1 []float32, npix, cs int)
	// name says which kernels these are, for benchmarks and errors.
	name string
}

var genericKernels = kernels{maxPool2x2: maxPool2x2Generic, name: "go"}

// maxPool2x2Generic sets, for each of npix output pixels of cs channels,
// dst[i] to the largest of the 2x2 window whose top row starts at
// src0[2i·cs] and bottom row at src1[2i·cs].
func maxPool2x2Generic(dst, src0, src1 []float32, npix, cs int) {
	for i := range npix {
		o := dst[i*cs : i*cs+cs]
		a, b := src0[2*i*cs:][:cs], src0[(2*i+1)*cs:][:cs]
		c, d := src1[2*i*cs:][:cs], src1[(2*i+1)*cs:][:cs]
		for j := range o {
			o[j] = max(max(a[j], b[j]), max(c[j], d[j]))
		}
	}
}
