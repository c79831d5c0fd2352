package spoof

import "math"

// Kernel tile: mr output rows (pixels) by nr output columns (channels).
const (
	mr = 6
	nr = 16
)

// scratch holds the activation buffers of one forward pass. A plan's
// scratch is used by one goroutine at a time (Model keeps them in a
// sync.Pool).
type scratch struct {
	bufs [][]float32
	// For Model.Score: the face crop and its resized copy.
	crop, resized []float32
}

func (p *plan) newScratch() *scratch {
	s := &scratch{bufs: make([][]float32, len(p.bufSize))}
	for i, n := range p.bufSize {
		s.bufs[i] = make([]float32, n)
	}
	return s
}

// data returns the elements of a value.
func (p *plan) data(s *scratch, id int) []float32 {
	v := &p.values[id]
	if v.c != nil {
		return v.c.f32
	}
	return s.bufs[p.storeBuf[v.store]][:v.size]
}

// full returns the whole buffer of a value, slack included.
func (p *plan) full(s *scratch, id int) []float32 {
	return s.bufs[p.storeBuf[p.values[id].store]]
}

// run executes the plan on input (already checked to have the input's
// size) and returns the output, which lives in s.
func (p *plan) run(s *scratch, input []float32) []float32 {
	copy(p.data(s, p.input), input)
	for i := range p.steps {
		st := &p.steps[i]
		switch st.kind {
		case stepConv:
			p.execConv(s, st)
		case stepMaxPool:
			p.execMaxPool(s, st)
		case stepMatMul:
			p.execMatMul(s, st)
		case stepSoftmax:
			p.execSoftmax(s, st)
		case stepUnary:
			in, out := p.data(s, st.in), p.data(s, st.out)
			copy(out, in) // no-op when in place
			applyEpi(out, p.lastDim(st.out), st.epi)
		case stepBinary:
			a, b, out := p.data(s, st.in), p.data(s, st.in2), p.data(s, st.out)
			b = b[:len(a)]
			out = out[:len(a)]
			if st.binAdd {
				for i := range a {
					out[i] = a[i] + b[i]
				}
			} else {
				for i := range a {
					out[i] = a[i] * b[i]
				}
			}
			applyEpi(out, p.lastDim(st.out), st.epi)
		}
	}
	return p.data(s, p.output)
}

func (p *plan) lastDim(id int) int {
	sh := p.values[id].shape
	if len(sh) == 0 {
		return 1
	}
	return sh[len(sh)-1]
}

// applyEpi applies elementwise operations to buf, whose last axis has c
// elements. Each operation is one float32 operation per element, in graph
// order, as TensorFlow.js computes them.
func applyEpi(buf []float32, c int, epi []epiOp) {
	if c <= 0 {
		return
	}
	for _, op := range epi {
		switch op.kind {
		case epiAddVec:
			vec := op.vec[:c]
			for i := 0; i+c <= len(buf); i += c {
				seg := buf[i : i+c]
				seg = seg[:len(vec)]
				for j, v := range vec {
					seg[j] += v
				}
			}
		case epiMulVec:
			vec := op.vec[:c]
			for i := 0; i+c <= len(buf); i += c {
				seg := buf[i : i+c]
				seg = seg[:len(vec)]
				for j, v := range vec {
					seg[j] *= v
				}
			}
		case epiRelu:
			// Go's max is JavaScript's Math.max(0, x): NaN stays NaN
			// and -0 becomes +0.
			for i, x := range buf {
				buf[i] = max(x, 0)
			}
		case epiSigmoid:
			for i, x := range buf {
				buf[i] = float32(1 / (1 + math.Exp(-float64(x))))
			}
		}
	}
}

func (p *plan) execConv(s *scratch, st *step) {
	cp := st.conv
	src := p.full(s, st.in)
	if cp.padStore >= 0 {
		pad := s.bufs[p.storeBuf[cp.padStore]]
		clear(pad[:cp.hp*cp.wp*cp.c])
		rowLen := cp.w * cp.c
		for y := range cp.h {
			copy(pad[((y+cp.padT)*cp.wp+cp.padL)*cp.c:][:rowLen], src[y*rowLen:][:rowLen])
		}
		src = pad
	}
	out := p.data(s, st.out)
	k := cp.kh * cp.kw * cp.c
	panels := (cp.co + nr - 1) / nr
	rowStride, segStride, segLen := cp.sw*cp.c, cp.wp*cp.c, cp.kw*cp.c
	var tile [mr * nr]float32
	for oy := range cp.oh {
		rowBase := oy * cp.sh * segStride
		orow := out[oy*cp.ow*cp.co : (oy+1)*cp.ow*cp.co]
		for ox0 := 0; ox0 < cp.ow; ox0 += mr {
			rows := min(mr, cp.ow-ox0)
			a := src[rowBase+ox0*rowStride:]
			for pn := range panels {
				b := cp.packed[pn*k*nr : (pn+1)*k*nr]
				bias := cp.bias[pn*nr : (pn+1)*nr]
				if cols := cp.co - pn*nr; cols >= nr {
					kernel(a, rowStride, segStride, cp.kh, segLen, b, bias, orow[ox0*cp.co+pn*nr:], cp.co, rows)
				} else {
					kernel(a, rowStride, segStride, cp.kh, segLen, b, bias, tile[:], nr, rows)
					for r := range rows {
						copy(orow[(ox0+r)*cp.co+pn*nr:][:cols], tile[r*nr:r*nr+cols])
					}
				}
			}
		}
		applyEpi(orow, cp.co, st.epi)
	}
}

func (p *plan) execMatMul(s *scratch, st *step) {
	mp := st.mm
	a := p.full(s, st.in)
	if mp.transA {
		t := s.bufs[p.storeBuf[mp.transStore]]
		for i := range mp.m {
			for kk := range mp.k {
				t[i*mp.k+kk] = a[kk*mp.m+i]
			}
		}
		a = t
	}
	out := p.data(s, st.out)
	rowStride := mp.k
	if mp.m == 1 {
		rowStride = 0 // the kernel computes 6 copies of the one row
	}
	panels := (mp.n + nr - 1) / nr
	var tile [mr * nr]float32
	for i0 := 0; i0 < mp.m; i0 += mr {
		rows := min(mr, mp.m-i0)
		for pn := range panels {
			b := mp.packed[pn*mp.k*nr : (pn+1)*mp.k*nr]
			bias := mp.bias[pn*nr : (pn+1)*nr]
			if cols := mp.n - pn*nr; cols >= nr {
				kernel(a[i0*mp.k:], rowStride, 0, 1, mp.k, b, bias, out[i0*mp.n+pn*nr:], mp.n, rows)
			} else {
				kernel(a[i0*mp.k:], rowStride, 0, 1, mp.k, b, bias, tile[:], nr, rows)
				for r := range rows {
					copy(out[(i0+r)*mp.n+pn*nr:][:cols], tile[r*nr:r*nr+cols])
				}
			}
		}
	}
	applyEpi(out, mp.n, st.epi)
}

// execMaxPool takes the largest value of each window, ignoring padding.
// Values are finite (Predict refuses others), so the order of comparisons
// does not matter.
func (p *plan) execMaxPool(s *scratch, st *step) {
	pp := st.pool
	src := p.data(s, st.in)
	out := p.data(s, st.out)
	c := pp.c
	for oy := range pp.oh {
		y0 := oy*pp.sh - pp.padT
		ky0, ky1 := max(0, -y0), min(pp.kh, pp.h-y0)
		for ox := range pp.ow {
			x0 := ox*pp.sw - pp.padL
			kx0, kx1 := max(0, -x0), min(pp.kw, pp.w-x0)
			o := out[(oy*pp.ow+ox)*c:][:c]
			at := func(ky, kx int) []float32 { return src[((y0+ky)*pp.w+x0+kx)*c:][:c] }
			if ky1-ky0 == 2 && kx1-kx0 == 2 {
				max4(o, at(ky0, kx0), at(ky0, kx0+1), at(ky0+1, kx0), at(ky0+1, kx0+1))
				continue
			}
			copy(o, at(ky0, kx0))
			for ky := ky0; ky < ky1; ky++ {
				for kx := kx0; kx < kx1; kx++ {
					in := at(ky, kx)
					in = in[:len(o)]
					for j, v := range in {
						o[j] = max(o[j], v)
					}
				}
			}
		}
	}
	applyEpi(out, c, st.epi)
}

func (p *plan) execSoftmax(s *scratch, st *step) {
	in, out := p.data(s, st.in), p.data(s, st.out)
	c := p.lastDim(st.in)
	for i := 0; i+c <= len(in); i += c {
		x, y := in[i:i+c], out[i:i+c]
		m := float32(math.Inf(-1))
		for _, v := range x {
			if v > m {
				m = v
			}
		}
		var sum float64
		for j, v := range x {
			e := float32(math.Exp(float64(v - m)))
			y[j] = e
			sum += float64(e)
		}
		s32 := float32(sum)
		for j := range y {
			y[j] /= s32
		}
	}
	applyEpi(out, c, st.epi)
}
