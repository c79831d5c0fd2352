package imgdecode

import "image"

// accum is an area (box) filter from a w×h image to an ow×oh output
// (ow ≤ w, oh ≤ h), fed with the image at 1/r scale (r = 1, 2, 4 or 8), a
// row, or part of a row, at a time. Output pixel (ox, oy) is the mean over
// the full-size pixels in [ox*w/ow, (ox+1)*w/ow) × [oy*h/oh, (oy+1)*h/oh),
// rounded to nearest: the same areas as FaceVault's former scaleDown. Each
// source pixel (X, Y) at 1/r scale stands for the full-size pixels
// [X*r, X*r+r) × [Y*r, Y*r+r) inside the image, and is added to each output
// pixel whose area it overlaps, weighted by the overlap in full-size pixels;
// so the areas are exactly those of a full-size area filter whatever r is.
// At r = 1 the areas partition the source and each pixel goes to one sum.
//
// In row mode the rows must arrive in increasing order and only the sums of
// the output rows that the current source row overlaps are kept (at most r,
// in a ring); in full mode (for interlaced images) rows arrive in any order
// and a sum is kept for every output pixel.
type accum struct {
	dst    *image.RGBA
	w, h   int // full size
	sw, sh int // source size: w and h divided by r, rounded up
	ow, oh int
	r      int
	full   bool
	ring   int      // row mode: output rows of sums kept
	sums   []uint32 // 3 per output pixel, ring rows of them or all oh
	cur    int      // row mode: the first output row not yet written
	rgb    []byte   // the producer's row: 3 bytes a pixel, sw pixels

	// r == 1: the output column of each source column.
	colOf []int32
	// r > 1: for source column X, the output columns it overlaps are
	// segOx[segAt[X]:segAt[X+1]], with overlaps segW (in full-size pixels).
	segAt []int32
	segOx []int32
	segW  []uint8
}

// accumRing returns the rows of sums a row-mode accumulator keeps.
func accumRing(r, oh int) int {
	return min(r+1, oh)
}

// accumCost bounds the bytes newAccum allocates besides the output.
func accumCost(w, r, ow, oh int, full bool) int64 {
	sw := int64((w + r - 1) / r)
	n := 3*sw + 64 // rgb row, struct
	if r == 1 {
		n += 4 * sw
	} else {
		n += 4*(sw+1) + 5*(sw+int64(ow))
	}
	rows := int64(accumRing(r, oh))
	if full {
		rows = int64(oh)
	}
	return n + 12*int64(ow)*rows
}

func newAccum(w, h, r, ow, oh int, full bool) *accum {
	a := &accum{
		dst: image.NewRGBA(image.Rect(0, 0, ow, oh)),
		w:   w, h: h, sw: (w + r - 1) / r, sh: (h + r - 1) / r, ow: ow, oh: oh, r: r,
		full: full,
	}
	a.rgb = make([]byte, 3*a.sw)
	if r == 1 {
		a.colOf = make([]int32, w)
		for ox := range ow {
			for x := ox * w / ow; x < (ox+1)*w/ow; x++ {
				a.colOf[x] = int32(ox)
			}
		}
	} else {
		a.segAt = make([]int32, a.sw+1)
		a.segOx = make([]int32, 0, a.sw+ow)
		a.segW = make([]uint8, 0, a.sw+ow)
		for X := range a.sw {
			a.segAt[X] = int32(len(a.segOx))
			x0, x1 := X*r, min(X*r+r, w)
			for ox := cellOf(x0, w, ow); ox < ow && ox*w/ow < x1; ox++ {
				lo, hi := max(x0, ox*w/ow), min(x1, (ox+1)*w/ow)
				a.segOx = append(a.segOx, int32(ox))
				a.segW = append(a.segW, uint8(hi-lo))
			}
		}
		a.segAt[a.sw] = int32(len(a.segOx))
	}
	a.ring = accumRing(r, oh)
	if full {
		a.ring = oh
	}
	a.sums = make([]uint32, 3*ow*a.ring)
	return a
}

// cellOf returns the output cell (of n over m positions) holding position p.
func cellOf(p, m, n int) int {
	return ((p+1)*n - 1) / m
}

// rowSums returns the sums of output row oy.
func (a *accum) rowSums(oy int) []uint32 {
	i := oy % a.ring
	return a.sums[3*a.ow*i : 3*a.ow*(i+1)]
}

// start flushes, in row mode, the output rows before oy.
func (a *accum) start(oy int) {
	if a.full {
		return
	}
	for ; a.cur < oy; a.cur++ {
		s := a.rowSums(a.cur)
		a.flush(a.cur, s)
		clear(s)
	}
}

// addRow adds source row Y, held in a.rgb.
func (a *accum) addRow(Y int) {
	if a.r == 1 {
		oy := cellOf(Y, a.h, a.oh)
		a.start(oy)
		s := a.rowSums(oy)
		rgb := a.rgb[:3*a.sw]
		for x, ox := range a.colOf {
			p := rgb[3*x : 3*x+3 : 3*x+3]
			q := s[3*ox : 3*ox+3 : 3*ox+3]
			q[0] += uint32(p[0])
			q[1] += uint32(p[1])
			q[2] += uint32(p[2])
		}
		return
	}
	y0, y1 := Y*a.r, min(Y*a.r+a.r, a.h)
	first := cellOf(y0, a.h, a.oh)
	a.start(first)
	for oy := first; oy < a.oh && oy*a.h/a.oh < y1; oy++ {
		wy := uint32(min(y1, (oy+1)*a.h/a.oh) - max(y0, oy*a.h/a.oh))
		s := a.rowSums(oy)
		for X := range a.sw {
			p := a.rgb[3*X : 3*X+3 : 3*X+3]
			r, g, b := uint32(p[0])*wy, uint32(p[1])*wy, uint32(p[2])*wy
			for i := a.segAt[X]; i < a.segAt[X+1]; i++ {
				ox, wx := a.segOx[i], uint32(a.segW[i])
				q := s[3*ox : 3*ox+3 : 3*ox+3]
				q[0] += r * wx
				q[1] += g * wx
				q[2] += b * wx
			}
		}
	}
}

// addStrided adds n pixels of source row y, at columns x0, x0+dx, ...,
// held in a.rgb (r == 1 only).
func (a *accum) addStrided(y, x0, dx, n int) {
	oy := cellOf(y, a.h, a.oh)
	a.start(oy)
	s := a.rowSums(oy)
	for i := range n {
		ox := a.colOf[x0+i*dx]
		p := a.rgb[3*i : 3*i+3 : 3*i+3]
		q := s[3*ox : 3*ox+3 : 3*ox+3]
		q[0] += uint32(p[0])
		q[1] += uint32(p[1])
		q[2] += uint32(p[2])
	}
}

// flush writes the means of output row oy from its sums.
func (a *accum) flush(oy int, sums []uint32) {
	rows := uint32((oy+1)*a.h/a.oh - oy*a.h/a.oh)
	out := a.dst.Pix[oy*a.dst.Stride : oy*a.dst.Stride+4*a.ow]
	for ox := range a.ow {
		n := uint32((ox+1)*a.w/a.ow-ox*a.w/a.ow) * rows
		q := sums[3*ox : 3*ox+3 : 3*ox+3]
		p := out[4*ox : 4*ox+4 : 4*ox+4]
		p[0] = byte((q[0] + n/2) / n)
		p[1] = byte((q[1] + n/2) / n)
		p[2] = byte((q[2] + n/2) / n)
		p[3] = 0xFF
	}
}

// finish flushes what is left and returns the output image.
func (a *accum) finish() *image.RGBA {
	if a.full {
		for oy := range a.oh {
			a.flush(oy, a.rowSums(oy))
		}
		return a.dst
	}
	a.start(a.oh)
	return a.dst
}
