package onnx

import "slices"

// fuse merges into convolutions and matrix products the operations that
// follow them alone: a BatchNormalization (folded into the weights and
// bias, as onnxruntime does), then an Add of another activation of the same
// shape (the residual), then a Relu or PRelu. The merged operation computes
// each element with the same float32 operations in the same order, without
// the intermediate values.
func (c *compiler) fuse() {
	p := c.p
	uses := c.slotUses()
	producer := make(map[int]int) // value id -> the step writing it
	consumer := make(map[int]int) // value id -> the last step reading it
	for i, st := range p.steps {
		producer[st.writes()] = i
		for _, id := range st.reads() {
			consumer[id] = i
		}
	}
	// One pass in order; each fusable step absorbs the chain of steps
	// after it. Absorbed steps become nil. The producer indices of values
	// written by a fused chain stay those of its last step, which only
	// makes the residual check below more cautious.
	for i, st := range p.steps {
		ep, out := fusable(st)
		if ep == nil {
			continue
		}
		for uses[p.values[*out].slot] == 1 {
			j, ok := consumer[*out]
			if !ok || j <= i || p.steps[j] == nil {
				break
			}
			e, ok := p.steps[j].(*eltStep)
			if !ok || e.a != *out && e.b != *out {
				break
			}
			if !absorb(st, ep, e, p.values[*out], *out, i, producer) {
				break
			}
			*out = e.out
			p.steps[j] = nil
		}
	}
	p.steps = slices.DeleteFunc(p.steps, func(st step) bool { return st == nil })
}

// absorb merges elementwise step e, which reads out (the output of step
// st, at index i), into st's epilogue, and reports whether it could.
func absorb(st step, ep *epilogue, e *eltStep, ov *value, out, i int, producer map[int]int) bool {
	switch {
	case e.op == eltAffine && e.a == out && ep.res < 0 && ep.act == actNone && e.inner == 1 &&
		(ov.cl || len(e.vec) == ov.shape[len(ov.shape)-1]):
		foldAffine(st, e.vec, e.vec2)
		return true
	case e.op == eltAdd && e.b >= 0 && !e.bVec && ep.res < 0 && ep.act == actNone && ov.cl:
		other := e.a
		if other == out {
			other = e.b
		}
		if other == out {
			return false // x + x
		}
		if pi, ok := producer[other]; ok && pi >= i {
			return false // computed after the convolution
		}
		ep.res = other
		return true
	case e.op == eltRelu && ep.act == actNone:
		ep.act = actRelu
		return true
	case e.op == eltPRelu && ep.act == actNone && ov.cl && e.inner <= 1:
		ep.act = actPRelu
		ep.slope = make([]float32, ov.cs)
		for ch := range ov.shape[1] {
			if e.inner == 0 {
				ep.slope[ch] = e.vec[0]
			} else {
				ep.slope[ch] = e.vec[ch]
			}
		}
		return true
	}
	return false
}

// fusable returns the epilogue and output of a step that can absorb the
// operations after it.
func fusable(st step) (*epilogue, *int) {
	switch s := st.(type) {
	case *convStep:
		return &s.ep, &s.out
	case *dwStep:
		return &s.ep, &s.out
	case *matMulStep:
		return &s.ep, &s.out
	}
	return nil, nil
}

// foldAffine folds y*scale + shift, per output channel, into a step's
// weights and bias.
func foldAffine(st step, scale, shift []float32) {
	switch s := st.(type) {
	case *convStep:
		scalePanels(s.packed, s.panels, s.g.kh*s.g.kw*s.g.csIn, scale)
		foldBias(s.ep.bias, scale, shift)
	case *matMulStep:
		scalePanels(s.packed, s.panels, s.k, scale)
		foldBias(s.ep.bias, scale, shift)
	case *dwStep:
		cs := s.g.csOut
		for t := 0; t < len(s.w); t += cs {
			for ch := range cs {
				s.w[t+ch] *= scale[ch]
			}
		}
		foldBias(s.ep.bias, scale, shift)
	}
}

func scalePanels(packed []float32, panels []panel, k int, scale []float32) {
	for _, pn := range panels {
		for kk := range k {
			row := packed[pn.pos+kk*pn.width : pn.pos+kk*pn.width+pn.width]
			for j := range row {
				if pn.col+j < len(scale) {
					row[j] *= scale[pn.col+j]
				}
			}
		}
	}
}

func foldBias(bias, scale, shift []float32) {
	for j := range bias {
		if j < len(scale) {
			bias[j] = bias[j]*scale[j] + shift[j]
		}
	}
}
