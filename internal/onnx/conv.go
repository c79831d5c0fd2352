package onnx

// panel is a block of columns of a packed right-hand matrix: columns
// col..col+width of the matrix, stored from packed[pos] as K rows of width
// values.
type panel struct {
	col, width, pos int
}

// Panel widths the kernels know.
const maxPanel = 24

// panelWidths splits np columns (a multiple of 8) into panels of 24, 16
// and 8 columns, preferring wide ones and avoiding a lone 8 next to others
// (two 16s compute faster than 24 and 8).
func panelWidths(np int) []int {
	q, r := np/24, np%24
	var w []int
	switch {
	case r == 8 && q > 0:
		for range q - 1 {
			w = append(w, 24)
		}
		w = append(w, 16, 16)
	default:
		for range q {
			w = append(w, 24)
		}
		if r > 0 {
			w = append(w, r)
		}
	}
	return w
}

// packPanels packs a K×N matrix, given by get, into panels covering N
// rounded up to a multiple of 8 columns (the extra columns are zero).
func packPanels(k, n int, get func(kk, j int) float32) ([]float32, []panel) {
	np := roundUp(n, 8)
	packed := make([]float32, k*np)
	var panels []panel
	col, pos := 0, 0
	for _, w := range panelWidths(np) {
		panels = append(panels, panel{col: col, width: w, pos: pos})
		for kk := range k {
			row := packed[pos+kk*w : pos+kk*w+w]
			for j := range w {
				if col+j < n {
					row[j] = get(kk, col+j)
				}
			}
		}
		col += w
		pos += k * w
	}
	return packed, panels
}

// gemmCall describes one call of the matrix kernel: rows output rows of
// one panel, where row r of the left operand is segs segments of segLen
// values, segment s starting at a[r*rowStride + s*segStride], and row r of
// the output (and of the residual) starts at c[r*ldc].
type gemmCall struct {
	a                                  []float32
	rowStride, segStride, segs, segLen int
	b                                  []float32 // the panel, K×width
	width                              int
	rows                               int
	c                                  []float32
	ldc                                int
	bias, res, slope                   []float32 // res and slope may be nil
	act                                int
}

// gemm computes rows output rows of all panels into c (row r at c[r*ldc],
// nValid columns), reading the left operand as gemmCall describes.
func (p *plan) gemm(s *scratch, a []float32, rowStride, segStride, segs, segLen, rows int,
	packed []float32, panels []panel, ep *epilogue, c, res []float32, ldc, nValid int) {
	k := segs * segLen
	tile := s.tile[:]
	g := &s.gc
	for _, pn := range panels {
		*g = gemmCall{
			rowStride: rowStride, segStride: segStride, segs: segs, segLen: segLen,
			b: packed[pn.pos : pn.pos+k*pn.width], width: pn.width,
			bias: ep.bias[pn.col : pn.col+pn.width], act: ep.act,
		}
		if ep.slope != nil {
			g.slope = ep.slope[pn.col : pn.col+pn.width]
		}
		partial := pn.col+pn.width > nValid
		cols := min(pn.width, nValid-pn.col)
		for r0 := 0; r0 < rows; r0 += 4 {
			valid := min(4, rows-r0)
			g.rows = valid
			g.a = a[r0*rowStride:]
			// The last rows, fewer than 4 (a convolution calls this once
			// per output row, so that is 1 to 3 rows of every call when
			// the output width is not a multiple of 4), run the 4-row
			// kernel too: on the operand rows after them when those can
			// be read, else on a copy of the valid rows padded with zero
			// rows; the extra rows are computed into the tile and dropped.
			tail := valid < 4 && p.k.gemm4 != nil
			if tail && 3*rowStride+(segs-1)*segStride+segLen > len(g.a) {
				if cap(s.aTile) < 4*k {
					s.aTile = make([]float32, 4*k)
				}
				at := s.aTile[:4*k]
				clear(at[valid*k:])
				for r := range valid {
					for sg := range segs {
						copy(at[r*k+sg*segLen:][:segLen], g.a[r*rowStride+sg*segStride:][:segLen])
					}
				}
				g.a, g.rowStride, g.segStride, g.segs, g.segLen = at, k, k, 1, k
			}
			if partial || tail {
				g.c, g.ldc, g.res = tile, pn.width, nil
				if res != nil {
					rt := s.resTile[:4*pn.width]
					clear(rt)
					for r := range valid {
						copy(rt[r*pn.width:][:cols], res[(r0+r)*ldc+pn.col:][:cols])
					}
					g.res = rt
				}
				if tail {
					g.rows = 4
				}
			} else {
				g.c, g.ldc = c[r0*ldc+pn.col:], ldc
				if res != nil {
					g.res = res[r0*ldc+pn.col:]
				}
			}
			if g.rows == 4 && p.k.gemm4 != nil {
				p.k.gemm4(g)
			} else {
				gemmGeneric(g)
			}
			if partial || tail {
				for r := range valid {
					copy(c[(r0+r)*ldc+pn.col:][:cols], tile[r*pn.width:r*pn.width+cols])
				}
			}
		}
	}
}

// gemmGeneric is the matrix kernel in portable Go.
func gemmGeneric(g *gemmCall) {
	w := g.width
	for r := range g.rows {
		for j0 := 0; j0 < w; j0 += 8 {
			var c0, c1, c2, c3, c4, c5, c6, c7 float32
			for s := range g.segs {
				ar := g.a[r*g.rowStride+s*g.segStride:][:g.segLen]
				bs := g.b[s*g.segLen*w:]
				for kk, av := range ar {
					bk := (*[8]float32)(bs[kk*w+j0 : kk*w+j0+8])
					c0 += av * bk[0]
					c1 += av * bk[1]
					c2 += av * bk[2]
					c3 += av * bk[3]
					c4 += av * bk[4]
					c5 += av * bk[5]
					c6 += av * bk[6]
					c7 += av * bk[7]
				}
			}
			acc := [8]float32{c0, c1, c2, c3, c4, c5, c6, c7}
			o := g.c[r*g.ldc+j0 : r*g.ldc+j0+8]
			var res []float32
			if g.res != nil {
				res = g.res[r*g.ldc+j0 : r*g.ldc+j0+8]
			}
			var slope []float32
			if g.slope != nil {
				slope = g.slope[j0 : j0+8]
			}
			finish(o, acc[:], g.bias[j0:j0+8], res, slope, g.act)
		}
	}
}

// finish applies an epilogue to sums: o = act(acc + bias (+ res)).
func finish(o, acc, bias, res, slope []float32, act int) {
	for j := range o {
		y := acc[j] + bias[j]
		if res != nil {
			y += res[j]
		}
		switch act {
		case actRelu:
			y = max(y, 0)
		case actPRelu:
			if y < 0 {
				y *= slope[j]
			}
		}
		o[j] = y
	}
}

// convStep is a dense convolution (group 1) as a matrix product over
// channels-last data: each output pixel is a row, each window position's
// channels a slice of the row, read in place from the input (or from a
// zero-padded copy of it).
type convStep struct {
	in, out   int
	g         convGeom
	ep        epilogue
	packed    []float32
	panels    []panel
	pointwise bool // 1x1, stride 1, no padding: all pixels are rows of one product
	padSlot   int  // temporary slot of the padded input, -1 when unpadded
	hp, wp    int  // padded input size
}

func (st *convStep) pack(w []float32) {
	g := &st.g
	k := g.kh * g.kw * g.csIn
	st.packed, st.panels = packPanels(k, g.co, func(kk, j int) float32 {
		tap, ch := kk/g.csIn, kk%g.csIn
		if ch >= g.ci {
			return 0
		}
		ky, kx := tap/g.kw, tap%g.kw
		return w[((j*g.ci+ch)*g.kh+ky)*g.kw+kx]
	})
}

func (st *convStep) reads() []int { return append([]int{st.in}, st.ep.reads()...) }
func (st *convStep) writes() int  { return st.out }
func (st *convStep) temp() int    { return st.padSlot }

func (st *convStep) exec(p *plan, s *scratch) {
	g := &st.g
	src := p.data(s, st.in)
	dst := p.data(s, st.out)
	var res []float32
	if st.ep.res >= 0 {
		res = p.data(s, st.ep.res)
	}
	cs := g.csIn
	if st.pointwise {
		p.gemm(s, src, cs, 0, 1, cs, g.oh*g.ow, st.packed, st.panels, &st.ep, dst, res, g.csOut, g.csOut)
		return
	}
	if st.padSlot >= 0 {
		pad := p.tempBuf(s, st.padSlot)
		rowLen := st.wp * cs
		clear(pad[:g.padT*rowLen])
		clear(pad[(g.padT+g.h)*rowLen : st.hp*rowLen])
		for y := range g.h {
			row := pad[(y+g.padT)*rowLen : (y+g.padT+1)*rowLen]
			clear(row[:g.padL*cs])
			copy(row[g.padL*cs:], src[y*g.w*cs:(y+1)*g.w*cs])
			clear(row[(g.padL+g.w)*cs:])
		}
		src = pad
	}
	segStride := st.wp * cs
	for oy := range g.oh {
		o := oy * g.ow * g.csOut
		var r []float32
		if res != nil {
			r = res[o:]
		}
		p.gemm(s, src[oy*g.sh*segStride:], g.sw*cs, segStride, g.kh, g.kw*cs, g.ow,
			st.packed, st.panels, &st.ep, dst[o:], r, g.csOut, g.csOut)
	}
}

// matMulStep multiplies a plain activation [..., M, K] by a constant K×N
// matrix.
type matMulStep struct {
	in, out int
	m, k, n int
	ep      epilogue
	packed  []float32
	panels  []panel
}

func (st *matMulStep) reads() []int { return []int{st.in} }
func (st *matMulStep) writes() int  { return st.out }
func (st *matMulStep) temp() int    { return -1 }
func (st *matMulStep) exec(p *plan, s *scratch) {
	p.gemm(s, p.data(s, st.in), st.k, 0, 1, st.k, st.m, st.packed, st.panels, &st.ep, p.data(s, st.out), nil, st.n, st.n)
}

// dwCall describes one call of the depthwise kernel: npix output pixels
// of one row, pixel i reading the window whose top-left tap is at
// src[i*pixStride] (rows rowStride apart, taps cs apart) with weights from
// w (rows wRowStride apart), and writing dst[i*cs:] (the residual likewise).
type dwCall struct {
	src                  []float32
	rowStride, pixStride int
	w                    []float32
	wRowStride           int
	nky, nkx             int
	cs, npix             int
	dst, res             []float32
	bias, slope          []float32
	act                  int
}

// dwGeneric is the depthwise kernel in portable Go. It sums the taps of
// each output into the output itself, in the assembly kernel's order.
func dwGeneric(d *dwCall) {
	cs := d.cs
	for i := range d.npix {
		o := d.dst[i*cs : i*cs+cs]
		base := i * d.pixStride
		for ky := range d.nky {
			for kx := range d.nkx {
				in := d.src[base+ky*d.rowStride+kx*cs:][:len(o)]
				w := d.w[ky*d.wRowStride+kx*cs:][:len(o)]
				if ky == 0 && kx == 0 {
					for j := range o {
						o[j] = in[j] * w[j]
					}
					continue
				}
				for j := range o {
					o[j] += in[j] * w[j]
				}
			}
		}
		var res, slope []float32
		if d.res != nil {
			res = d.res[i*cs : i*cs+cs]
		}
		if d.slope != nil {
			slope = d.slope[:cs]
		}
		finish(o, o, d.bias[:cs], res, slope, d.act)
	}
}

// dwStep is a depthwise convolution (group = input channels = output
// channels) over channels-last data. Its weights are stored [kh][kw][cs].
type dwStep struct {
	in, out int
	g       convGeom
	ep      epilogue
	w       []float32
}

func (st *dwStep) reads() []int { return append([]int{st.in}, st.ep.reads()...) }
func (st *dwStep) writes() int  { return st.out }
func (st *dwStep) temp() int    { return -1 }

func (st *dwStep) exec(p *plan, s *scratch) {
	g := &st.g
	src, dst := p.data(s, st.in), p.data(s, st.out)
	var res []float32
	if st.ep.res >= 0 {
		res = p.data(s, st.ep.res)
	}
	cs := g.csOut
	d := &s.dc
	*d = dwCall{rowStride: g.w * cs, pixStride: g.sw * cs, wRowStride: g.kw * cs, cs: cs,
		bias: st.ep.bias, slope: st.ep.slope, act: st.ep.act}
	// Output columns whose window lies wholly inside the input.
	oxL := min(g.ow, (g.padL+g.sw-1)/g.sw)
	oxR := oxL
	if t := g.w + g.padL - g.kw; t >= 0 {
		oxR = max(oxL, min(g.ow, t/g.sw+1))
	}
	run := func(oy, ox0, ox1 int) {
		y0 := oy*g.sh - g.padT
		ky0, ky1 := max(0, -y0), min(g.kh, g.h-y0)
		x0 := ox0*g.sw - g.padL
		kx0, kx1 := max(0, -x0), min(g.kw, g.w-(x0+(ox1-ox0-1)*g.sw))
		d.nky, d.nkx, d.npix = ky1-ky0, kx1-kx0, ox1-ox0
		d.src = src[((y0+ky0)*g.w+x0+kx0)*cs:]
		d.w = st.w[(ky0*g.kw+kx0)*cs:]
		o := (oy*g.ow + ox0) * cs
		d.dst = dst[o:]
		if res != nil {
			d.res = res[o:]
		}
		if p.k.dw != nil {
			p.k.dw(d)
		} else {
			dwGeneric(d)
		}
	}
	for oy := range g.oh {
		for ox := range oxL {
			run(oy, ox, ox+1)
		}
		if oxR > oxL {
			run(oy, oxL, oxR)
		}
		for ox := oxR; ox < g.ow; ox++ {
			run(oy, ox, ox+1)
		}
	}
}

// groupConvStep is a grouped convolution that is neither dense nor
// depthwise, computed directly (no model here uses one in a hot path).
type groupConvStep struct {
	in, out int
	g       convGeom
	ep      epilogue
	group   int
	w       []float32 // [co][ci/group][kh][kw], as in the file
}

func (st *groupConvStep) reads() []int { return append([]int{st.in}, st.ep.reads()...) }
func (st *groupConvStep) writes() int  { return st.out }
func (st *groupConvStep) temp() int    { return -1 }

func (st *groupConvStep) exec(p *plan, s *scratch) {
	g := &st.g
	src, dst := p.data(s, st.in), p.data(s, st.out)
	var res []float32
	if st.ep.res >= 0 {
		res = p.data(s, st.ep.res)
	}
	cig, cog := g.ci/st.group, g.co/st.group
	acc := make([]float32, g.csOut)
	for oy := range g.oh {
		y0 := oy*g.sh - g.padT
		for ox := range g.ow {
			x0 := ox*g.sw - g.padL
			clear(acc)
			for oc := range g.co {
				grp := oc / cog
				var sum float32
				for ic := range cig {
					for ky := range g.kh {
						y := y0 + ky
						if y < 0 || y >= g.h {
							continue
						}
						for kx := range g.kw {
							x := x0 + kx
							if x < 0 || x >= g.w {
								continue
							}
							sum += src[(y*g.w+x)*g.csIn+grp*cig+ic] * st.w[((oc*cig+ic)*g.kh+ky)*g.kw+kx]
						}
					}
				}
				acc[oc] = sum
			}
			o := (oy*g.ow + ox) * g.csOut
			var r []float32
			if res != nil {
				r = res[o : o+g.csOut]
			}
			finish(dst[o:o+g.csOut], acc, st.ep.bias, r, st.ep.slope, st.ep.act)
		}
	}
}
