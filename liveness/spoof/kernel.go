package spoof

// kernelGeneric computes one tile of up to mr×nr outputs of the
// convolution and matrix-multiplication steps, in portable Go:
//
//	c[r*ldc+j] = (Σ_s Σ_k a[r*rowStride + s*segStride + k] * b[(s*segLen+k)*nr + j]) + bias[j]
//
// for r < rows, s < segs, k < segLen, j < nr. Row r of the left operand is
// made of segs contiguous segments of segLen elements (one per filter row
// of a convolution window), b is one packed column panel (see packB) and
// bias holds the panel's nr bias values, added after the sum as
// TensorFlow.js adds BiasAdd.
func kernelGeneric(a []float32, rowStride, segStride, segs, segLen int, b, bias, c []float32, ldc, rows int) {
	bias = bias[:nr]
	for r := range rows {
		var c0, c1, c2, c3, c4, c5, c6, c7 float32
		var c8, c9, c10, c11, c12, c13, c14, c15 float32
		for s := range segs {
			ar := a[r*rowStride+s*segStride:][:segLen]
			bs := b[s*segLen*nr:][:segLen*nr]
			for k, av := range ar {
				bk := (*[nr]float32)(bs[k*nr : k*nr+nr])
				c0 += av * bk[0]
				c1 += av * bk[1]
				c2 += av * bk[2]
				c3 += av * bk[3]
				c4 += av * bk[4]
				c5 += av * bk[5]
				c6 += av * bk[6]
				c7 += av * bk[7]
				c8 += av * bk[8]
				c9 += av * bk[9]
				c10 += av * bk[10]
				c11 += av * bk[11]
				c12 += av * bk[12]
				c13 += av * bk[13]
				c14 += av * bk[14]
				c15 += av * bk[15]
			}
		}
		o := (*[nr]float32)(c[r*ldc : r*ldc+nr])
		o[0], o[1], o[2], o[3] = c0+bias[0], c1+bias[1], c2+bias[2], c3+bias[3]
		o[4], o[5], o[6], o[7] = c4+bias[4], c5+bias[5], c6+bias[6], c7+bias[7]
		o[8], o[9], o[10], o[11] = c8+bias[8], c9+bias[9], c10+bias[10], c11+bias[11]
		o[12], o[13], o[14], o[15] = c12+bias[12], c13+bias[13], c14+bias[14], c15+bias[15]
	}
}

// max4Generic sets dst[i] to the largest of a[i], b[i], c[i] and d[i]: a
// 2x2 max-pooling window over len(dst) channels.
func max4Generic(dst, a, b, c, d []float32) {
	a, b, c, d = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)]
	for i := range dst {
		dst[i] = max(max(a[i], b[i]), max(c[i], d[i]))
	}
}
