package spoof

// kernel is the matrix kernel the executor uses.
func kernel(a []float32, rowStride, segStride, segs, segLen int, b, bias, c []float32, ldc, rows int) {
	kernelGeneric(a, rowStride, segStride, segs, segLen, b, bias, c, ldc, rows)
}

// max4 is the 2x2 max-pooling kernel the executor uses.
func max4(dst, a, b, c, d []float32) { max4Generic(dst, a, b, c, d) }
