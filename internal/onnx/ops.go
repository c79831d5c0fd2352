package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// maxFold is the largest number of elements a folded constant may have
// that is not simply a copy of data in the file (ConstantOfShape).
const maxFold = 1 << 20

// node plans one graph node: it folds it when its inputs are constants
// (shape arithmetic), else adds steps.
func (c *compiler) node(n *nodeProto) error {
	if n.domain != "" && n.domain != "ai.onnx" {
		return fmt.Errorf("operator domain %q is not supported", n.domain)
	}
	ins := make([]int, len(n.inputs))
	for i, name := range n.inputs {
		if name == "" {
			ins[i] = -1
			continue
		}
		id, ok := c.byName[name]
		if !ok {
			return fmt.Errorf("input %q is not defined", name)
		}
		ins[i] = id
	}
	for _, o := range n.outputs {
		if o == "" {
			continue
		}
		if _, dup := c.byName[o]; dup {
			return fmt.Errorf("output %q is already defined", o)
		}
	}
	h, ok := opHandlers[n.op]
	if !ok {
		return fmt.Errorf("operator %s is not supported", n.op)
	}
	if len(ins) < h.minIn || len(ins) > h.maxIn {
		if h.minIn == h.maxIn {
			return fmt.Errorf("has %d inputs, want %d", len(ins), h.minIn)
		}
		return fmt.Errorf("has %d inputs, want %d to %d", len(ins), h.minIn, h.maxIn)
	}
	for i := 0; i < h.minIn; i++ {
		if ins[i] < 0 {
			return fmt.Errorf("required input %d is missing", i)
		}
	}
	if len(n.outputs) < 1 || n.outputs[0] == "" {
		return errors.New("has no output")
	}
	for _, o := range n.outputs[1:] {
		if o != "" {
			return fmt.Errorf("optional output %q is not supported", o)
		}
	}
	if err := checkAttrs(n, h.attrs...); err != nil {
		return err
	}
	return h.plan(c, n, ins, n.outputs[0])
}

type opHandler struct {
	minIn, maxIn int
	attrs        []string
	plan         func(c *compiler, n *nodeProto, ins []int, out string) error
}

var opHandlers map[string]opHandler

func init() {
	opHandlers = map[string]opHandler{
		"Identity":           {1, 1, nil, planIdentity},
		"Constant":           {0, 0, []string{"value", "value_float", "value_floats", "value_int", "value_ints"}, planConstant},
		"ConstantOfShape":    {1, 1, []string{"value"}, planConstantOfShape},
		"Shape":              {1, 1, []string{"start", "end"}, planShape},
		"Gather":             {2, 2, []string{"axis"}, planGather},
		"Unsqueeze":          {1, 2, []string{"axes"}, planUnsqueeze},
		"Squeeze":            {1, 2, []string{"axes"}, planSqueeze},
		"Concat":             {1, math.MaxInt, []string{"axis"}, planConcat},
		"Reshape":            {2, 2, []string{"allowzero"}, planReshape},
		"Transpose":          {1, 1, []string{"perm"}, planTranspose},
		"Conv":               {2, 3, []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, planConv},
		"MaxPool":            {1, 1, []string{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}, planMaxPool},
		"GlobalAveragePool":  {1, 1, nil, planGlobalAveragePool},
		"Relu":               {1, 1, nil, planUnary(eltRelu)},
		"Sigmoid":            {1, 1, nil, planUnary(eltSigmoid)},
		"PRelu":              {2, 2, nil, planPRelu},
		"Add":                {2, 2, nil, planBinary(eltAdd)},
		"Mul":                {2, 2, nil, planBinary(eltMul)},
		"MatMul":             {2, 2, nil, planMatMul},
		"BatchNormalization": {5, 5, []string{"epsilon", "momentum", "spatial", "training_mode"}, planBatchNorm},
	}
}

func planIdentity(c *compiler, n *nodeProto, ins []int, out string) error {
	v := c.val(ins[0])
	if v.isConst {
		c.byName[out] = ins[0]
		return nil
	}
	c.alias(out, ins[0], v.shape, v.cl, v.cs)
	return nil
}

func planConstant(c *compiler, n *nodeProto, ins []int, out string) error {
	if len(n.attrs) != 1 {
		return errors.New("needs exactly one of the attributes value, value_float, value_floats, value_int, value_ints")
	}
	a := n.attrs[0]
	switch {
	case a.name == "value" && a.typ == attrTensor:
		c.addConst(out, a.t.dims, a.t.f32, a.t.i64)
	case a.name == "value_float" && a.typ == attrFloat:
		c.addConst(out, nil, []float32{a.f}, nil)
	case a.name == "value_floats" && a.typ == attrFloats:
		c.addConst(out, []int{len(a.floats)}, slices.Clone(a.floats), nil)
	case a.name == "value_int" && a.typ == attrInt:
		c.addConst(out, nil, nil, []int64{a.i})
	case a.name == "value_ints" && a.typ == attrInts:
		c.addConst(out, []int{len(a.ints)}, nil, slices.Clone(a.ints))
	default:
		return fmt.Errorf("attribute %q of type %s is not supported", a.name, attrTypeName(a.typ))
	}
	return nil
}

// constShape reads a constant 1-D int64 tensor of dimensions.
func (c *compiler) constShape(id int, what string) ([]int64, error) {
	v := c.val(id)
	if !v.isConst || v.dtype != dtInt64 {
		return nil, fmt.Errorf("%s must be a constant INT64 tensor", what)
	}
	if len(v.shape) != 1 {
		return nil, fmt.Errorf("%s must be 1-D, has shape %v", what, v.shape)
	}
	if len(v.i64) > maxRank {
		return nil, fmt.Errorf("%s has more than %d elements", what, maxRank)
	}
	return v.i64, nil
}

func planConstantOfShape(c *compiler, n *nodeProto, ins []int, out string) error {
	dims, err := c.constShape(ins[0], "the shape input")
	if err != nil {
		return err
	}
	cnt, err := elements(dims)
	if err != nil {
		return err
	}
	if cnt > maxFold {
		return fmt.Errorf("shape %v has more than %d elements", dims, maxFold)
	}
	if err := c.charge(cnt); err != nil {
		return err
	}
	shape, _ := smallInts("shape", dims)
	a, err := attrOf(n, "value", attrTensor)
	if err != nil {
		return err
	}
	if a == nil {
		c.addConst(out, shape, make([]float32, cnt), nil)
		return nil
	}
	if a.t.f32 != nil && len(a.t.f32) == 1 {
		d := make([]float32, cnt)
		for i := range d {
			d[i] = a.t.f32[0]
		}
		c.addConst(out, shape, d, nil)
		return nil
	}
	if a.t.i64 != nil && len(a.t.i64) == 1 {
		d := make([]int64, cnt)
		for i := range d {
			d[i] = a.t.i64[0]
		}
		c.addConst(out, shape, nil, d)
		return nil
	}
	return errors.New("attribute value must hold exactly one element")
}

func planShape(c *compiler, n *nodeProto, ins []int, out string) error {
	shape := c.val(ins[0]).shape
	r := int64(len(shape))
	start, err := intAttr(n, "start", 0)
	if err != nil {
		return err
	}
	end, err := intAttr(n, "end", r)
	if err != nil {
		return err
	}
	if n.attr("start") != nil || n.attr("end") != nil {
		if c.opset < 15 {
			return errors.New("attributes start and end need operator set 15")
		}
	}
	clamp := func(x int64) int64 {
		if x < 0 {
			x += r
		}
		return min(max(x, 0), r)
	}
	start, end = clamp(start), clamp(end)
	d := []int64{}
	for i := start; i < end; i++ {
		d = append(d, int64(shape[i]))
	}
	c.addConst(out, []int{len(d)}, nil, d)
	return nil
}

func planGather(c *compiler, n *nodeProto, ins []int, out string) error {
	data, idx := c.val(ins[0]), c.val(ins[1])
	if !data.isConst || !idx.isConst {
		return errors.New("only constant data and indices are supported (shape arithmetic)")
	}
	if idx.dtype != dtInt64 {
		return errors.New("indices must be INT64")
	}
	if len(data.shape) == 0 {
		return errors.New("data must have rank 1 or more")
	}
	ax, err := intAttr(n, "axis", 0)
	if err != nil {
		return err
	}
	axis, err := normAxis(ax, len(data.shape))
	if err != nil {
		return err
	}
	shape := slices.Concat(data.shape[:axis], idx.shape, data.shape[axis+1:])
	if len(shape) > maxRank {
		return fmt.Errorf("result has more than %d dimensions", maxRank)
	}
	cnt, err := checkedElements(shape)
	if err != nil {
		return err
	}
	if cnt > maxFold {
		return fmt.Errorf("result has more than %d elements", maxFold)
	}
	if err := c.charge(cnt); err != nil {
		return err
	}
	outer := numElements(data.shape[:axis])
	inner := numElements(data.shape[axis+1:])
	dim := data.shape[axis]
	var f32 []float32
	var i64 []int64
	for o := range outer {
		for _, ix := range idx.i64 {
			if ix < -int64(dim) || ix >= int64(dim) {
				return fmt.Errorf("index %d out of range for dimension %d", ix, dim)
			}
			if ix < 0 {
				ix += int64(dim)
			}
			base := (o*dim + int(ix)) * inner
			if data.f32 != nil {
				f32 = append(f32, data.f32[base:base+inner]...)
			} else {
				i64 = append(i64, data.i64[base:base+inner]...)
			}
		}
	}
	if data.f32 != nil && f32 == nil {
		f32 = []float32{}
	}
	c.addConst(out, shape, f32, i64)
	return nil
}

// axesArg reads the axes of Squeeze and Unsqueeze: an attribute before
// operator set 13, an optional input since.
func (c *compiler) axesArg(n *nodeProto, ins []int) ([]int64, bool, error) {
	if c.opset < 13 {
		if len(ins) > 1 {
			return nil, false, errors.New("axes as an input needs operator set 13")
		}
		return intsAttr(n, "axes")
	}
	if n.attr("axes") != nil {
		return nil, false, errors.New("attribute axes was removed in operator set 13 (axes is an input)")
	}
	if len(ins) < 2 || ins[1] < 0 {
		return nil, false, nil
	}
	a, err := c.constShape(ins[1], "axes")
	return a, err == nil, err
}

// reshapeTo gives value id a new shape with the same elements: a constant
// shares its data, an activation is made plain and aliased.
func (c *compiler) reshapeTo(id int, shape []int, out string) error {
	v := c.val(id)
	if numElements(shape) != v.n {
		return fmt.Errorf("cannot reshape %v to %v", v.shape, shape)
	}
	if v.isConst {
		c.addConst(out, shape, v.f32, v.i64)
		return nil
	}
	p, err := c.plain(id)
	if err != nil {
		return err
	}
	c.alias(out, p, shape, false, 0)
	return nil
}

func planUnsqueeze(c *compiler, n *nodeProto, ins []int, out string) error {
	axes, ok, err := c.axesArg(n, ins)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("axes are required")
	}
	v := c.val(ins[0])
	r := len(v.shape) + len(axes)
	if r > maxRank {
		return fmt.Errorf("result has more than %d dimensions", maxRank)
	}
	isNew := make([]bool, r)
	for _, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return err
		}
		if isNew[ax] {
			return fmt.Errorf("axis %d repeated", a)
		}
		isNew[ax] = true
	}
	shape := make([]int, 0, r)
	j := 0
	for i := range r {
		if isNew[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, v.shape[j])
			j++
		}
	}
	return c.reshapeTo(ins[0], shape, out)
}

func planSqueeze(c *compiler, n *nodeProto, ins []int, out string) error {
	axes, ok, err := c.axesArg(n, ins)
	if err != nil {
		return err
	}
	v := c.val(ins[0])
	drop := make([]bool, len(v.shape))
	if !ok {
		for i, d := range v.shape {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		ax, err := normAxis(a, len(v.shape))
		if err != nil {
			return err
		}
		if v.shape[ax] != 1 {
			return fmt.Errorf("cannot squeeze axis %d of shape %v", a, v.shape)
		}
		drop[ax] = true
	}
	shape := []int{}
	for i, d := range v.shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return c.reshapeTo(ins[0], shape, out)
}

func planReshape(c *compiler, n *nodeProto, ins []int, out string) error {
	allowZero, err := intAttr(n, "allowzero", 0)
	if err != nil {
		return err
	}
	if n.attr("allowzero") != nil && c.opset < 14 {
		return errors.New("attribute allowzero needs operator set 14")
	}
	if allowZero != 0 && allowZero != 1 {
		return fmt.Errorf("allowzero %d is not 0 or 1", allowZero)
	}
	spec, err := c.constShape(ins[1], "the shape input")
	if err != nil {
		return err
	}
	v := c.val(ins[0])
	shape := make([]int, len(spec))
	infer, known := -1, 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d == 0 && allowZero == 0:
			if i >= len(v.shape) {
				return fmt.Errorf("shape %v copies dimension %d of %v, which has none", spec, i, v.shape)
			}
			shape[i] = v.shape[i]
		case d < 0 || d > maxElements:
			return fmt.Errorf("bad dimension %d in shape %v", d, spec)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
		if known > maxElements {
			return fmt.Errorf("shape %v is too large", spec)
		}
	}
	if infer >= 0 {
		if known == 0 || v.n%known != 0 {
			return fmt.Errorf("cannot reshape %v to %v", v.shape, spec)
		}
		shape[infer] = v.n / known
	}
	return c.reshapeTo(ins[0], shape, out)
}

func planTranspose(c *compiler, n *nodeProto, ins []int, out string) error {
	v := c.val(ins[0])
	r := len(v.shape)
	permA, ok, err := intsAttr(n, "perm")
	if err != nil {
		return err
	}
	perm := make([]int, r)
	if ok {
		if len(permA) != r {
			return fmt.Errorf("perm %v does not fit rank %d", permA, r)
		}
		seen := make([]bool, r)
		for i, p := range permA {
			if p < 0 || p >= int64(r) || seen[p] {
				return fmt.Errorf("perm %v is not a permutation", permA)
			}
			seen[p] = true
			perm[i] = int(p)
		}
	} else {
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	shape := make([]int, r)
	for i, p := range perm {
		shape[i] = v.shape[p]
	}
	if v.isConst {
		if v.dtype != dtFloat {
			return errors.New("transposing an INT64 constant is not supported")
		}
		if err := c.charge(v.n); err != nil {
			return err
		}
		d := make([]float32, v.n)
		transpose(d, v.f32, v.shape, perm)
		c.addConst(out, shape, d, nil)
		return nil
	}
	if r == 4 && v.shape[0] == 1 {
		switch {
		case slices.Equal(perm, []int{0, 3, 1, 2}) && !v.cl:
			// NHWC data read as NCHW: the same bytes, channels-last.
			c.alias(out, ins[0], shape, true, v.shape[3])
			return nil
		case slices.Equal(perm, []int{0, 2, 3, 1}) && v.cl:
			// Channels-last data read as NHWC.
			if v.cs == v.shape[1] {
				c.alias(out, ins[0], shape, false, 0)
				return nil
			}
			id, err := c.addAct(out, shape, 0)
			if err != nil {
				return err
			}
			c.p.steps = append(c.p.steps, &compactStep{in: ins[0], out: id})
			return nil
		}
	}
	in, err := c.plain(ins[0])
	if err != nil {
		return err
	}
	id, err := c.addAct(out, shape, 0)
	if err != nil {
		return err
	}
	c.p.steps = append(c.p.steps, &transposeStep{in: in, out: id, inShape: slices.Clone(v.shape), perm: perm})
	return nil
}

func planConcat(c *compiler, n *nodeProto, ins []int, out string) error {
	ax, err := intAttr(n, "axis", 0)
	if err != nil {
		return err
	}
	if n.attr("axis") == nil {
		return errors.New("attribute axis is required")
	}
	for _, id := range ins {
		if id < 0 {
			return errors.New("missing input")
		}
	}
	first := c.val(ins[0])
	r := len(first.shape)
	if r == 0 {
		return errors.New("cannot concatenate scalars")
	}
	axis, err := normAxis(ax, r)
	if err != nil {
		return err
	}
	shape := slices.Clone(first.shape)
	shape[axis] = 0
	allConst := true
	for _, id := range ins {
		v := c.val(id)
		if len(v.shape) != r {
			return fmt.Errorf("inputs of ranks %d and %d", r, len(v.shape))
		}
		for i := range r {
			if i != axis && v.shape[i] != first.shape[i] {
				return fmt.Errorf("shapes %v and %v do not fit along axis %d", first.shape, v.shape, axis)
			}
		}
		if v.dtype != first.dtype {
			return errors.New("inputs of different element types")
		}
		shape[axis] += v.shape[axis]
		allConst = allConst && v.isConst
	}
	total, err := checkedElements(shape)
	if err != nil {
		return err
	}
	outer := numElements(shape[:axis])
	inner := numElements(shape[axis+1:])
	if allConst {
		if total > maxFold {
			return fmt.Errorf("result has more than %d elements", maxFold)
		}
		if err := c.charge(total); err != nil {
			return err
		}
		var f32 []float32
		var i64 []int64
		for o := range outer {
			for _, id := range ins {
				v := c.val(id)
				chunk := v.shape[axis] * inner
				if v.f32 != nil {
					f32 = append(f32, v.f32[o*chunk:(o+1)*chunk]...)
				} else {
					i64 = append(i64, v.i64[o*chunk:(o+1)*chunk]...)
				}
			}
		}
		if first.dtype == dtFloat && f32 == nil {
			f32 = []float32{}
		}
		c.addConst(out, shape, f32, i64)
		return nil
	}
	if first.dtype != dtFloat {
		return errors.New("only FLOAT tensors can be concatenated at run time")
	}
	anyCL := false
	for _, id := range ins {
		anyCL = anyCL || c.val(id).cl
	}
	st := &concatStep{}
	if anyCL && r == 4 && axis == 1 {
		// Along the channels of channels-last activations.
		for _, id := range ins {
			v := c.val(id)
			if !v.isConst {
				if id, err = c.channelsLast(id); err != nil {
					return err
				}
			}
			st.parts = append(st.parts, id)
		}
		if st.out, err = c.addAct(out, shape, channelStride(shape[1])); err != nil {
			return err
		}
		st.cl = true
	} else {
		for _, id := range ins {
			if !c.val(id).isConst {
				if id, err = c.plain(id); err != nil {
					return err
				}
			}
			st.parts = append(st.parts, id)
		}
		if st.out, err = c.addAct(out, shape, 0); err != nil {
			return err
		}
		st.outer, st.inner, st.axis = outer, inner, axis
	}
	c.p.steps = append(c.p.steps, st)
	return nil
}

// actInput returns input id as an activation, refusing constants.
func (c *compiler) actInput(id int) (*value, error) {
	v := c.val(id)
	if v.isConst {
		return nil, errors.New("a constant input where an activation is expected is not supported")
	}
	if v.dtype != dtFloat {
		return nil, errors.New("input is not FLOAT")
	}
	return v, nil
}

func (c *compiler) constFloat(id int, what string) (*value, error) {
	v := c.val(id)
	if !v.isConst || v.dtype != dtFloat {
		return nil, fmt.Errorf("%s must be a constant FLOAT tensor", what)
	}
	return v, nil
}

// window reads the 2-D window attributes shared by Conv and MaxPool.
type window struct {
	kh, kw                 int
	sh, sw                 int
	padT, padL, padB, padR int
}

func readWindow(n *nodeProto, kh, kw int) (window, error) {
	w := window{kh: kh, kw: kw, sh: 1, sw: 1}
	if ap, err := stringAttr(n, "auto_pad", "NOTSET"); err != nil {
		return w, err
	} else if ap != "NOTSET" {
		return w, fmt.Errorf("auto_pad %q is not supported (only NOTSET, with explicit pads)", ap)
	}
	if d, ok, err := intsAttr(n, "dilations"); err != nil {
		return w, err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return w, fmt.Errorf("dilations %v are not supported (only [1 1])", d)
	}
	if ks, ok, err := intsAttr(n, "kernel_shape"); err != nil {
		return w, err
	} else if ok && (len(ks) != 2 || ks[0] != int64(kh) || ks[1] != int64(kw)) {
		return w, fmt.Errorf("kernel_shape %v does not match the window %dx%d", ks, kh, kw)
	}
	if s, ok, err := intsAttr(n, "strides"); err != nil {
		return w, err
	} else if ok {
		if len(s) != 2 || s[0] < 1 || s[1] < 1 || s[0] > 64 || s[1] > 64 {
			return w, fmt.Errorf("strides %v are not supported", s)
		}
		w.sh, w.sw = int(s[0]), int(s[1])
	}
	if p, ok, err := intsAttr(n, "pads"); err != nil {
		return w, err
	} else if ok {
		if len(p) != 4 {
			return w, fmt.Errorf("pads %v: want 4 values", p)
		}
		for _, x := range p {
			if x < 0 || x > 64 {
				return w, fmt.Errorf("pads %v are not supported", p)
			}
		}
		w.padT, w.padL, w.padB, w.padR = int(p[0]), int(p[1]), int(p[2]), int(p[3])
	}
	return w, nil
}

// outSize is the output size of a window along one axis (floor mode).
func outSize(in, k, s, before, after int) (int, error) {
	span := in + before + after - k
	if span < 0 {
		return 0, fmt.Errorf("window %d is larger than the padded input %d", k, in+before+after)
	}
	return span/s + 1, nil
}

func planConv(c *compiler, n *nodeProto, ins []int, out string) error {
	x, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return fmt.Errorf("input shape %v: only 2-D convolution (rank-4 input) is supported", x.shape)
	}
	w, err := c.constFloat(ins[1], "the weight W")
	if err != nil {
		return err
	}
	if len(w.shape) != 4 {
		return fmt.Errorf("weight shape %v: want rank 4", w.shape)
	}
	group, err := intAttr(n, "group", 1)
	if err != nil {
		return err
	}
	ci, co := x.shape[1], w.shape[0]
	if group < 1 || int64(ci)%group != 0 || int64(co)%group != 0 || int64(w.shape[1])*group != int64(ci) {
		return fmt.Errorf("group %d does not fit input channels %d and weight shape %v", group, ci, w.shape)
	}
	win, err := readWindow(n, w.shape[2], w.shape[3])
	if err != nil {
		return err
	}
	var bias []float32
	if len(ins) > 2 && ins[2] >= 0 {
		b, err := c.constFloat(ins[2], "the bias B")
		if err != nil {
			return err
		}
		if len(b.shape) != 1 || b.shape[0] != co {
			return fmt.Errorf("bias shape %v, want [%d]", b.shape, co)
		}
		bias = b.f32
	}
	in, err := c.channelsLast(ins[0])
	if err != nil {
		return err
	}
	g := convGeom{window: win, h: x.shape[2], w: x.shape[3], ci: ci, co: co, csIn: c.val(in).cs}
	if g.oh, err = outSize(g.h, win.kh, win.sh, win.padT, win.padB); err != nil {
		return err
	}
	if g.ow, err = outSize(g.w, win.kw, win.sw, win.padL, win.padR); err != nil {
		return err
	}
	if win.padT >= win.kh || win.padB >= win.kh || win.padL >= win.kw || win.padR >= win.kw {
		return fmt.Errorf("pads %d,%d,%d,%d as large as the window %dx%d are not supported", win.padT, win.padL, win.padB, win.padR, win.kh, win.kw)
	}
	depthwise := int(group) == ci && co == ci && group > 1
	// The matrix kernels write whole 8-column vectors; a depthwise
	// convolution keeps its input's layout.
	g.csOut = max(channelStride(co), 8)
	if depthwise {
		g.csOut = g.csIn
	}
	outID, err := c.addAct(out, []int{1, co, g.oh, g.ow}, g.csOut)
	if err != nil {
		return err
	}
	cost := g.csOut
	switch {
	case group == 1:
		cost += win.kh * win.kw * g.csIn * roundUp(co, 8)
	case depthwise:
		cost += win.kh * win.kw * g.csOut
	}
	if err := c.charge(cost); err != nil {
		return err
	}
	ep := epilogue{bias: make([]float32, g.csOut), res: -1}
	copy(ep.bias, bias)
	switch {
	case group == 1:
		st := &convStep{in: in, out: outID, g: g, ep: ep, padSlot: -1}
		st.pack(w.f32)
		st.pointwise = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 &&
			win.padT+win.padL+win.padB+win.padR == 0
		if !st.pointwise && win.padT+win.padL+win.padB+win.padR > 0 {
			st.hp, st.wp = g.h+win.padT+win.padB, g.w+win.padL+win.padR
			st.padSlot = c.newSlot(st.hp * st.wp * g.csIn)
		} else {
			st.hp, st.wp = g.h, g.w
		}
		c.p.steps = append(c.p.steps, st)
	case depthwise:
		st := &dwStep{in: in, out: outID, g: g, ep: ep}
		st.w = make([]float32, win.kh*win.kw*g.csOut)
		for ch := range co {
			for t := range win.kh * win.kw {
				st.w[t*g.csOut+ch] = w.f32[ch*win.kh*win.kw+t]
			}
		}
		c.p.steps = append(c.p.steps, st)
	default:
		st := &groupConvStep{in: in, out: outID, g: g, ep: ep, group: int(group), w: w.f32}
		c.p.steps = append(c.p.steps, st)
	}
	return nil
}

func planMaxPool(c *compiler, n *nodeProto, ins []int, out string) error {
	x, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return fmt.Errorf("input shape %v: only 2-D pooling (rank-4 input) is supported", x.shape)
	}
	if v, err := intAttr(n, "ceil_mode", 0); err != nil {
		return err
	} else if v != 0 {
		return fmt.Errorf("ceil_mode %d is not supported (only 0)", v)
	}
	if v, err := intAttr(n, "storage_order", 0); err != nil {
		return err
	} else if v != 0 {
		return fmt.Errorf("storage_order %d is not supported (only 0)", v)
	}
	ks, ok, err := intsAttr(n, "kernel_shape")
	if err != nil {
		return err
	}
	if !ok || len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > 64 || ks[1] > 64 {
		return fmt.Errorf("kernel_shape %v is not supported (need two sizes 1 to 64)", ks)
	}
	win, err := readWindow(n, int(ks[0]), int(ks[1]))
	if err != nil {
		return err
	}
	if win.padT >= win.kh || win.padB >= win.kh || win.padL >= win.kw || win.padR >= win.kw {
		return fmt.Errorf("pads as large as the window %dx%d", win.kh, win.kw)
	}
	in, err := c.channelsLast(ins[0])
	if err != nil {
		return err
	}
	g := convGeom{window: win, h: x.shape[2], w: x.shape[3], ci: x.shape[1], co: x.shape[1], csIn: c.val(in).cs}
	g.csOut = g.csIn
	if g.oh, err = outSize(g.h, win.kh, win.sh, win.padT, win.padB); err != nil {
		return err
	}
	if g.ow, err = outSize(g.w, win.kw, win.sw, win.padL, win.padR); err != nil {
		return err
	}
	id, err := c.addAct(out, []int{1, g.ci, g.oh, g.ow}, g.csOut)
	if err != nil {
		return err
	}
	c.p.steps = append(c.p.steps, &maxPoolStep{in: in, out: id, g: g})
	return nil
}

func planGlobalAveragePool(c *compiler, n *nodeProto, ins []int, out string) error {
	x, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return fmt.Errorf("input shape %v: only rank 4 is supported", x.shape)
	}
	in, err := c.channelsLast(ins[0])
	if err != nil {
		return err
	}
	v := c.val(in)
	id, err := c.addAct(out, []int{1, x.shape[1], 1, 1}, v.cs)
	if err != nil {
		return err
	}
	c.p.steps = append(c.p.steps, &gapStep{in: in, out: id, pixels: x.shape[2] * x.shape[3], cs: v.cs})
	return nil
}

// broadcastVec describes how a small operand broadcasts against an
// activation v: as one scalar, or as a vector indexed by the position
// along one axis of v. It returns the vector laid out for v's storage (for
// a channels-last v, the channel vector padded with zeros to cs) and the
// inner size (elements of v per vector entry, in storage order).
func broadcastVec(v *value, small []int, data []float32) (vec []float32, inner int, ok bool) {
	if len(small) > len(v.shape) {
		return nil, 0, false
	}
	if numElements(small) == 1 {
		return data[:1], 0, true
	}
	// Align to the right; find the one axis where small is not 1.
	off := len(v.shape) - len(small)
	axis := -1
	for i, d := range small {
		if d == 1 {
			continue
		}
		if axis >= 0 || d != v.shape[off+i] {
			return nil, 0, false
		}
		axis = off + i
	}
	if v.cl {
		if axis != 1 {
			return nil, 0, false
		}
		vec = make([]float32, v.cs)
		copy(vec, data)
		return vec, 1, true
	}
	return data, numElements(v.shape[axis+1:]), true
}

func planUnary(op eltOp) func(c *compiler, n *nodeProto, ins []int, out string) error {
	return func(c *compiler, n *nodeProto, ins []int, out string) error {
		x, err := c.actInput(ins[0])
		if err != nil {
			return err
		}
		id, err := c.addActLike(out, x)
		if err != nil {
			return err
		}
		c.p.steps = append(c.p.steps, &eltStep{op: op, a: ins[0], b: -1, out: id})
		return nil
	}
}

// addActLike adds an activation with the shape and storage layout of v.
func (c *compiler) addActLike(name string, v *value) (int, error) {
	cs := 0
	if v.cl {
		cs = v.cs
	}
	return c.addAct(name, v.shape, cs)
}

func planPRelu(c *compiler, n *nodeProto, ins []int, out string) error {
	x, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	s, err := c.constFloat(ins[1], "the slope")
	if err != nil {
		return err
	}
	if err := c.charge(x.cs); err != nil {
		return err
	}
	vec, inner, ok := broadcastVec(x, s.shape, s.f32)
	if !ok {
		return fmt.Errorf("slope of shape %v against input %v: only a scalar or one vector along one axis is supported", s.shape, x.shape)
	}
	id, err := c.addActLike(out, x)
	if err != nil {
		return err
	}
	c.p.steps = append(c.p.steps, &eltStep{op: eltPRelu, a: ins[0], b: -1, out: id, vec: vec, inner: inner})
	return nil
}

func planBinary(op eltOp) func(c *compiler, n *nodeProto, ins []int, out string) error {
	return func(c *compiler, n *nodeProto, ins []int, out string) error {
		a, b := c.val(ins[0]), c.val(ins[1])
		if a.dtype != dtFloat || b.dtype != dtFloat {
			return errors.New("only FLOAT inputs are supported")
		}
		ia, ib := ins[0], ins[1]
		if a.isConst && b.isConst {
			return errors.New("two constant inputs are not supported")
		}
		// Both operators commute: put the activation, and the larger
		// operand, first.
		if a.isConst || (!b.isConst && b.n > a.n) {
			a, b = b, a
			ia, ib = ib, ia
		}
		if b.isConst {
			if slices.Equal(a.shape, b.shape) && !a.cl {
				id, err := c.addActLike(out, a)
				if err != nil {
					return err
				}
				c.p.steps = append(c.p.steps, &eltStep{op: op, a: ia, b: -1, out: id, vec: b.f32, inner: -1})
				return nil
			}
			if err := c.charge(a.cs); err != nil {
				return err
			}
			vec, inner, ok := broadcastVec(a, b.shape, b.f32)
			if !ok {
				return fmt.Errorf("constant of shape %v against input %v: only a scalar, one vector along one axis, or the same shape is supported", b.shape, a.shape)
			}
			id, err := c.addActLike(out, a)
			if err != nil {
				return err
			}
			c.p.steps = append(c.p.steps, &eltStep{op: op, a: ia, b: -1, out: id, vec: vec, inner: inner})
			return nil
		}
		if slices.Equal(a.shape, b.shape) {
			if a.cl || b.cl {
				// Both channels-last, with the same channel stride.
				cs := max(a.cs, b.cs)
				var err error
				if ia, err = c.channelsLastCS(ia, cs); err != nil {
					return err
				}
				if ib, err = c.channelsLastCS(ib, cs); err != nil {
					return err
				}
				a = c.val(ia)
			}
			id, err := c.addActLike(out, a)
			if err != nil {
				return err
			}
			c.p.steps = append(c.p.steps, &eltStep{op: op, a: ia, b: ib, out: id})
			return nil
		}
		// An activation broadcast along the channels ([1,C,1,1] against
		// [1,C,H,W]): squeeze-and-excitation blocks.
		if len(a.shape) == 4 && len(b.shape) == 4 && b.shape[0] == 1 && a.shape[0] == 1 &&
			b.shape[1] == a.shape[1] && b.shape[2] == 1 && b.shape[3] == 1 {
			ia, err := c.channelsLast(ia)
			if err != nil {
				return err
			}
			a = c.val(ia)
			id, err := c.addActLike(out, a)
			if err != nil {
				return err
			}
			c.p.steps = append(c.p.steps, &eltStep{op: op, a: ia, b: ib, out: id, bVec: true})
			return nil
		}
		return fmt.Errorf("inputs of shapes %v and %v: this broadcast between two activations is not supported", a.shape, b.shape)
	}
}

func planMatMul(c *compiler, n *nodeProto, ins []int, out string) error {
	a, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	b, err := c.constFloat(ins[1], "the second input")
	if err != nil {
		return err
	}
	if len(b.shape) != 2 {
		return fmt.Errorf("second input shape %v: only a 2-D constant is supported", b.shape)
	}
	if len(a.shape) < 1 {
		return errors.New("scalar input")
	}
	k, nn := b.shape[0], b.shape[1]
	if a.shape[len(a.shape)-1] != k {
		return fmt.Errorf("shapes %v and %v do not multiply", a.shape, b.shape)
	}
	shape := slices.Clone(a.shape)
	var m int
	if len(a.shape) == 1 {
		shape = []int{nn}
		m = 1
	} else {
		shape[len(shape)-1] = nn
		m = a.n / k
	}
	in, err := c.plain(ins[0])
	if err != nil {
		return err
	}
	id, err := c.addAct(out, shape, 0)
	if err != nil {
		return err
	}
	if err := c.charge((k + 1) * roundUp(nn, 8)); err != nil {
		return err
	}
	st := &matMulStep{in: in, out: id, m: m, k: k, n: nn}
	st.packed, st.panels = packPanels(k, nn, func(kk, j int) float32 { return b.f32[kk*nn+j] })
	st.ep = epilogue{bias: make([]float32, roundUp(nn, 8)), res: -1}
	c.p.steps = append(c.p.steps, st)
	return nil
}

func planBatchNorm(c *compiler, n *nodeProto, ins []int, out string) error {
	x, err := c.actInput(ins[0])
	if err != nil {
		return err
	}
	if len(x.shape) < 2 {
		return fmt.Errorf("input shape %v: want rank 2 or more", x.shape)
	}
	ch := x.shape[1]
	var p [4][]float32
	for i, what := range []string{"scale", "B", "mean", "var"} {
		v, err := c.constFloat(ins[1+i], what)
		if err != nil {
			return err
		}
		if len(v.shape) != 1 || v.shape[0] != ch {
			return fmt.Errorf("%s has shape %v, want [%d]", what, v.shape, ch)
		}
		p[i] = v.f32
	}
	eps, err := floatAttr(n, "epsilon", 1e-5)
	if err != nil {
		return err
	}
	if _, err := floatAttr(n, "momentum", 0.9); err != nil {
		return err
	}
	if v, err := intAttr(n, "spatial", 1); err != nil {
		return err
	} else if v != 1 || (n.attr("spatial") != nil && c.opset >= 9) {
		return errors.New("attribute spatial is only supported as 1 before operator set 9")
	}
	if v, err := intAttr(n, "training_mode", 0); err != nil {
		return err
	} else if v != 0 || (n.attr("training_mode") != nil && c.opset < 14) {
		return errors.New("training_mode is only supported as 0 from operator set 14")
	}
	// As onnxruntime computes it: y = x*scale' + bias', with
	// scale' = scale / sqrt(var + epsilon) and bias' = B - mean*scale'.
	if err := c.charge(2 * (ch + x.cs)); err != nil {
		return err
	}
	scale, shift := make([]float32, ch), make([]float32, ch)
	for i := range ch {
		inv := 1 / float32(math.Sqrt(float64(p[3][i]+eps)))
		scale[i] = inv * p[0][i]
		shift[i] = p[1][i] - p[2][i]*scale[i]
	}
	shape := make([]int, len(x.shape))
	for i := range shape {
		shape[i] = 1
	}
	shape[1] = ch
	sv, inner, _ := broadcastVec(x, shape, scale)
	tv, _, _ := broadcastVec(x, shape, shift)
	id, err := c.addActLike(out, x)
	if err != nil {
		return err
	}
	c.p.steps = append(c.p.steps, &eltStep{op: eltAffine, a: ins[0], b: -1, out: id, vec: sv, vec2: tv, inner: inner})
	return nil
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }
