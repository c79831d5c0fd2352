package imgdecode

// BoxPlane resamples one channel of w×h samples (sample (x, y) at
// src[y*stride+x*step]) to ow×oh (output (x, y) at dst[(y*ow+x)*dstep]).
// Output sample (ox, oy) is the mean of the source samples in
// [ox*w/ow, (ox+1)*w/ow) × [oy*h/oh, (oy+1)*h/oh), at least one in each
// direction: an area filter when shrinking, a copy at the same size.
func BoxPlane(src []byte, stride, step, w, h int, dst []byte, dstep, ow, oh int) {
	x0, x1 := spans(w, ow)
	acc := make([]uint32, ow)
	for oy := range oh {
		y0 := oy * h / oh
		y1 := max(y0+1, (oy+1)*h/oh)
		clear(acc)
		for y := y0; y < y1; y++ {
			row := src[y*stride:]
			if step == 1 {
				row = row[:w]
				for ox := range acc {
					s := uint32(0)
					for _, v := range row[x0[ox]:x1[ox]] {
						s += uint32(v)
					}
					acc[ox] += s
				}
				continue
			}
			for ox := range acc {
				s := uint32(0)
				for x := x0[ox]; x < x1[ox]; x++ {
					s += uint32(row[int(x)*step])
				}
				acc[ox] += s
			}
		}
		out := dst[oy*ow*dstep:]
		rows := uint32(y1 - y0)
		for ox, a := range acc {
			n := uint32(x1[ox]-x0[ox]) * rows
			out[ox*dstep] = byte((a + n/2) / n)
		}
	}
}

// spans returns, for each of n output positions over m source positions,
// the half-open source range [lo[i], hi[i]) it averages.
func spans(m, n int) (lo, hi []int32) {
	lo, hi = make([]int32, n), make([]int32, n)
	for i := range n {
		a := i * m / n
		lo[i], hi[i] = int32(a), int32(max(a+1, (i+1)*m/n))
	}
	return lo, hi
}

// FitWithin returns the size a w×h image is decoded to when its longest
// side may be at most longest: the same when it fits, otherwise scaled so
// that the longest side is longest, keeping the aspect ratio (each side at
// least 1).
func FitWithin(w, h, longest int) (int, int) {
	if w <= longest && h <= longest {
		return w, h
	}
	if w >= h {
		return longest, min(max((h*longest+w/2)/w, 1), longest)
	}
	return min(max((w*longest+h/2)/h, 1), longest), longest
}
