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
	for {
		uses := c.slotUses()
		producer := make(map[int]int)
		consumer := make(map[int]int) // value id -> the last step reading it
		for i, st := range p.steps {
			producer[st.writes()] = i
			for _, id := range st.reads() {
				consumer[id] = i
			}
		}
		changed := false
		for i, st := range p.steps {
			ep, out := fusable(st)
			if ep == nil || uses[p.values[*out].slot] != 1 {
				continue
			}
			j, ok := consumer[*out]
			if !ok {
				continue
			}
			e, ok := p.steps[j].(*eltStep)
			if !ok || e.a != *out && e.b != *out {
				continue
			}
			ov := p.values[*out]
			switch {
			case e.op == eltAffine && e.a == *out && ep.res < 0 && ep.act == actNone && (ov.cl && e.inner == 1 || !ov.cl && e.inner == 1 && len(e.vec) == ov.shape[len(ov.shape)-1]):
				foldAffine(st, e.vec, e.vec2)
			case e.op == eltAdd && e.b >= 0 && !e.bVec && ep.res < 0 && ep.act == actNone && ov.cl:
				other := e.a
				if other == *out {
					other = e.b
				}
				if other == *out {
					continue // x + x
				}
				if pi, ok := producer[other]; ok && pi >= i {
					continue // computed after the convolution
				}
				ep.res = other
			case e.op == eltRelu && ep.act == actNone:
				ep.act = actRelu
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
			default:
				continue
			}
			*out = e.out
			p.steps = slices.Delete(p.steps, j, j+1)
			changed = true
			break
		}
		if !changed {
			return
		}
	}
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
