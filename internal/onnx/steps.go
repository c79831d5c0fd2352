package onnx

import (
	"math"
)

// convGeom is the geometry of a 2-D window operation over a channels-last
// activation of batch 1.
type convGeom struct {
	window
	h, w, ci   int // input
	oh, ow, co int // output
	csIn       int // channel strides
	csOut      int
}

// Activations applied by an epilogue.
const (
	actNone = iota
	actRelu
	actPRelu
)

// epilogue is what a convolution or matrix product does to each sum, in
// onnxruntime's order: add the bias, add the residual (a fused Add), then
// apply the activation (a fused Relu or PRelu).
type epilogue struct {
	bias  []float32 // per output channel, zero-padded to the channel stride
	res   int       // value id of the residual, -1 for none
	act   int
	slope []float32 // PRelu slopes per output channel, zero-padded
}

func (e *epilogue) reads() []int {
	if e.res >= 0 {
		return []int{e.res}
	}
	return nil
}

// layoutStep converts between plain and channels-last storage, or between
// two channel strides.
type layoutStep struct{ in, out int }

func (st *layoutStep) reads() []int { return []int{st.in} }
func (st *layoutStep) writes() int  { return st.out }
func (st *layoutStep) temp() int    { return -1 }
func (st *layoutStep) exec(p *plan, s *scratch) {
	in, out := p.values[st.in], p.values[st.out]
	src, dst := p.data(s, st.in), p.data(s, st.out)
	c, hw := in.shape[1], in.shape[2]*in.shape[3]
	switch {
	case out.cl && !in.cl:
		cs := out.cs
		for px := range hw {
			o := dst[px*cs : px*cs+cs]
			for ch := range c {
				o[ch] = src[ch*hw+px]
			}
			clear(o[c:])
		}
	case in.cl && !out.cl:
		cs := in.cs
		for ch := range c {
			o := dst[ch*hw : ch*hw+hw]
			for px := range o {
				o[px] = src[px*cs+ch]
			}
		}
	default: // channels-last to channels-last with another stride
		ci, co := in.cs, out.cs
		for px := range hw {
			o := dst[px*co : px*co+co]
			copy(o[:c], src[px*ci:px*ci+c])
			clear(o[c:])
		}
	}
}

// compactStep copies a channels-last activation to a plain NHWC one,
// dropping the padding channels (a Transpose from NCHW to NHWC).
type compactStep struct{ in, out int }

func (st *compactStep) reads() []int { return []int{st.in} }
func (st *compactStep) writes() int  { return st.out }
func (st *compactStep) temp() int    { return -1 }
func (st *compactStep) exec(p *plan, s *scratch) {
	in := p.values[st.in]
	src, dst := p.data(s, st.in), p.data(s, st.out)
	c, cs := in.shape[1], in.cs
	for px := range in.shape[2] * in.shape[3] {
		copy(dst[px*c:px*c+c], src[px*cs:px*cs+c])
	}
}

// transposeStep permutes the axes of a plain activation.
type transposeStep struct {
	in, out int
	inShape []int
	perm    []int
}

func (st *transposeStep) reads() []int { return []int{st.in} }
func (st *transposeStep) writes() int  { return st.out }
func (st *transposeStep) temp() int    { return -1 }
func (st *transposeStep) exec(p *plan, s *scratch) {
	transpose(p.data(s, st.out), p.data(s, st.in), st.inShape, st.perm)
}

// transpose writes src (of shape shape) with its axes permuted by perm to
// dst.
func transpose(dst, src []float32, shape, perm []int) {
	r := len(shape)
	if r == 0 {
		copy(dst, src)
		return
	}
	inStride := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		inStride[i] = st
		st *= shape[i]
	}
	outShape := make([]int, r)
	stride := make([]int, r) // input stride of each output axis
	for i, p := range perm {
		outShape[i] = shape[p]
		stride[i] = inStride[p]
	}
	idx := make([]int, r)
	off := 0
	for i := range dst {
		dst[i] = src[off]
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			off += stride[ax]
			if idx[ax] < outShape[ax] {
				break
			}
			off -= stride[ax] * outShape[ax]
			idx[ax] = 0
		}
	}
}

// concatStep concatenates activations and constants: along the channels
// of channels-last activations (cl), or plainly along any axis.
type concatStep struct {
	parts        []int
	out          int
	cl           bool
	outer, inner int
	axis         int
}

func (st *concatStep) reads() []int {
	var r []int
	for _, id := range st.parts {
		r = append(r, id)
	}
	return r
}
func (st *concatStep) writes() int { return st.out }
func (st *concatStep) temp() int   { return -1 }
func (st *concatStep) exec(p *plan, s *scratch) {
	out := p.values[st.out]
	dst := p.data(s, st.out)
	if st.cl {
		cs := out.cs
		hw := out.shape[2] * out.shape[3]
		off := 0
		for _, id := range st.parts {
			v := p.values[id]
			src := p.data(s, id)
			c := v.shape[1]
			if v.isConst { // plain NCHW
				for ch := range c {
					for px := range hw {
						dst[px*cs+off+ch] = src[ch*hw+px]
					}
				}
			} else {
				for px := range hw {
					copy(dst[px*cs+off:px*cs+off+c], src[px*v.cs:px*v.cs+c])
				}
			}
			off += c
		}
		for px := range hw {
			clear(dst[px*cs+off : px*cs+cs])
		}
		return
	}
	pos := 0
	for o := range st.outer {
		for _, id := range st.parts {
			v := p.values[id]
			chunk := v.shape[st.axis] * st.inner
			pos += copy(dst[pos:pos+chunk], p.data(s, id)[o*chunk:(o+1)*chunk])
		}
	}
}

// Elementwise operations.
type eltOp uint8

const (
	eltRelu    eltOp = iota
	eltSigmoid       // 1/(1+e^-x)
	eltPRelu         // x < 0 ? x*vec : x
	eltAdd
	eltMul
	eltAffine // x*vec + vec2 (BatchNormalization)
)

// eltStep is an elementwise operation of activation a with, for binary
// operations, either activation b of the same shape and storage, or (bVec)
// activation b of shape [1,C,1,1] broadcast along the channels of a, or a
// constant vec: the same shape as a (inner -1), a scalar (inner 0), or a
// vector indexed along one axis of a's storage, each entry covering inner
// consecutive elements (for a channels-last a, vec is padded to cs and
// inner is 1).
type eltStep struct {
	op        eltOp
	a, b, out int
	bVec      bool
	vec, vec2 []float32
	inner     int
}

func (st *eltStep) reads() []int {
	if st.b >= 0 {
		return []int{st.a, st.b}
	}
	return []int{st.a}
}
func (st *eltStep) writes() int { return st.out }
func (st *eltStep) temp() int   { return -1 }

func (st *eltStep) exec(p *plan, s *scratch) {
	av := p.values[st.a]
	a, out := p.data(s, st.a), p.data(s, st.out)
	var b []float32
	if st.b >= 0 {
		b = p.data(s, st.b)
	}
	if av.cl {
		// Per pixel: the C channels, then zeros in the padding.
		c, cs := av.shape[1], av.cs
		var y, z []float32
		switch {
		case st.b >= 0 && st.bVec:
			y = b[:c]
		case st.vec != nil && st.inner == 0:
			y = st.vec[:1]
		case st.vec != nil:
			y = st.vec[:c]
		}
		if st.vec2 != nil && st.inner == 0 {
			z = st.vec2[:1]
		} else if st.vec2 != nil {
			z = st.vec2[:c]
		}
		for base := 0; base < len(out); base += cs {
			if st.b >= 0 && !st.bVec {
				y = b[base : base+c]
			}
			st.apply(out[base:base+c], a[base:base+c], y, z)
			clear(out[base+c : base+cs])
		}
		return
	}
	switch {
	case st.b >= 0:
		st.apply(out, a, b, nil)
	case st.vec == nil || st.inner < 0 || st.inner == 0:
		st.apply(out, a, st.vec, nil)
	default:
		// Runs of inner elements share one vector entry.
		n := len(st.vec)
		for base, j := 0, 0; base < len(out); base, j = base+st.inner, (j+1)%n {
			var z []float32
			if st.vec2 != nil {
				z = st.vec2[j : j+1]
			}
			st.apply(out[base:base+st.inner], a[base:base+st.inner], st.vec[j:j+1], z)
		}
	}
}

// apply computes out = op(x, y, z) elementwise, where y (and z) have the
// length of x, or length 1 (a scalar), or are unused (nil).
func (st *eltStep) apply(out, x, y, z []float32) {
	out = out[:len(x)]
	scalar := len(y) == 1 && len(x) != 1
	switch st.op {
	case eltRelu:
		for i, v := range x {
			out[i] = max(v, 0)
		}
	case eltSigmoid:
		for i, v := range x {
			out[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case eltPRelu:
		for i, v := range x {
			s := y[0]
			if !scalar {
				s = y[i]
			}
			if v < 0 {
				v *= s
			}
			out[i] = v
		}
	case eltAdd:
		if scalar {
			k := y[0]
			for i, v := range x {
				out[i] = v + k
			}
			return
		}
		y = y[:len(x)]
		for i, v := range x {
			out[i] = v + y[i]
		}
	case eltMul:
		if scalar {
			k := y[0]
			for i, v := range x {
				out[i] = v * k
			}
			return
		}
		y = y[:len(x)]
		for i, v := range x {
			out[i] = v * y[i]
		}
	case eltAffine:
		// Two roundings, as onnxruntime computes it (no fused
		// multiply-add: the conversion forbids fusing).
		if scalar {
			k, c := y[0], z[0]
			for i, v := range x {
				out[i] = float32(v*k) + c
			}
			return
		}
		y, z = y[:len(x)], z[:len(x)]
		for i, v := range x {
			out[i] = float32(v*y[i]) + z[i]
		}
	}
}

// gapStep averages a channels-last activation over its pixels.
type gapStep struct {
	in, out    int
	pixels, cs int
}

func (st *gapStep) reads() []int { return []int{st.in} }
func (st *gapStep) writes() int  { return st.out }
func (st *gapStep) temp() int    { return -1 }
func (st *gapStep) exec(p *plan, s *scratch) {
	src, dst := p.data(s, st.in), p.data(s, st.out)
	cs := st.cs
	dst = dst[:cs]
	clear(dst)
	for px := range st.pixels {
		row := src[px*cs : px*cs+cs]
		for ch, x := range row {
			dst[ch] += x
		}
	}
	n := float32(st.pixels)
	for ch := range dst {
		dst[ch] /= n
	}
}

// maxPoolStep takes the largest value of each window, ignoring padding.
type maxPoolStep struct {
	in, out int
	g       convGeom
}

func (st *maxPoolStep) reads() []int { return []int{st.in} }
func (st *maxPoolStep) writes() int  { return st.out }
func (st *maxPoolStep) temp() int    { return -1 }
func (st *maxPoolStep) exec(p *plan, s *scratch) {
	g := &st.g
	src, dst := p.data(s, st.in), p.data(s, st.out)
	cs := g.csIn
	fast := g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2
	// Output columns whose window lies wholly inside the input.
	oxL := min(g.ow, (g.padL+g.sw-1)/g.sw)
	oxR := oxL
	if t := g.w + g.padL - g.kw; t >= 0 {
		oxR = max(oxL, min(g.ow, t/g.sw+1))
	}
	for oy := range g.oh {
		y0 := oy*g.sh - g.padT
		ky0, ky1 := max(0, -y0), min(g.kh, g.h-y0)
		for ox := range g.ow {
			if fast && ky0 == 0 && ky1 == 2 && ox == oxL && oxR > oxL {
				x0 := ox*2 - g.padL
				row := src[(y0*g.w+x0)*cs:]
				p.k.maxPool2x2(dst[(oy*g.ow+ox)*cs:], row, row[g.w*cs:], oxR-oxL, cs)
			}
			if fast && ky0 == 0 && ky1 == 2 && ox >= oxL && ox < oxR {
				continue
			}
			x0 := ox*g.sw - g.padL
			kx0, kx1 := max(0, -x0), min(g.kw, g.w-x0)
			o := dst[(oy*g.ow+ox)*cs:][:cs]
			first := true
			for ky := ky0; ky < ky1; ky++ {
				for kx := kx0; kx < kx1; kx++ {
					in := src[((y0+ky)*g.w+x0+kx)*cs:][:cs]
					if first {
						copy(o, in)
						first = false
						continue
					}
					// onnxruntime keeps the first NaN; inputs are
					// finite, so any order gives the same. Branch-free
					// (a comparison of data is a coin toss for the
					// branch predictor).
					in = in[:len(o)]
					for j, v := range in {
						o[j] = max(o[j], v)
					}
				}
			}
		}
	}
}
