package spoof

import (
	"errors"
	"fmt"
	"slices"
)

// value is a tensor of the graph with its static shape (batch 1). A
// constant holds its data; an activation lives in a storage slot, shared by
// the values that alias it (Identity, Reshape).
type value struct {
	name  string
	shape []int
	size  int
	c     *constant
	store int // storage slot of an activation, -1 for constants
}

type stepKind uint8

const (
	stepConv    stepKind = iota // _FusedConv2D
	stepMaxPool                 // MaxPool
	stepMatMul                  // _FusedMatMul
	stepSoftmax                 // Softmax over the last axis
	stepUnary                   // elementwise ops only (the epilogue), when nothing could absorb them
	stepBinary                  // elementwise Mul/Add of two tensors of the same shape
)

// epiKind is an elementwise operation applied to the output of a step.
type epiKind uint8

const (
	epiAddVec  epiKind = iota // x + v[c], c the index in the last axis (BiasAdd, Add of a per-channel constant)
	epiMulVec                 // x * v[c]
	epiRelu                   // max(x, 0)
	epiSigmoid                // 1 / (1 + exp(-x))
)

type epiOp struct {
	kind epiKind
	vec  []float32 // for epiAddVec and epiMulVec; a scalar is expanded to the channel count
}

type convParams struct {
	h, w, c    int // input
	kh, kw, co int // filter
	sh, sw     int // strides
	padT, padL int
	hp, wp     int       // padded input size (equal to h, w without padding)
	oh, ow     int       // output
	packed     []float32 // filter, see packB
	bias       []float32 // zero-padded to whole panels
	padStore   int       // storage slot of the zero-padded input, -1 when no padding
	padB, padR int
}

type poolParams struct {
	h, w, c    int
	kh, kw     int
	sh, sw     int
	padT, padL int
	oh, ow     int
}

type matmulParams struct {
	m, k, n    int
	transA     bool
	packed     []float32 // b, see packB
	bias       []float32 // zero-padded to whole panels
	transStore int       // storage slot for the transposed a, -1 when not transposed
}

type step struct {
	kind   stepKind
	name   string  // graph node that produced the step's final output
	in     int     // value id
	in2    int     // value id (stepBinary), -1 otherwise
	out    int     // value id
	binAdd bool    // stepBinary: add (true) or multiply (false)
	epi    []epiOp // elementwise ops applied to the output (after the bias of conv and matmul)
	conv   *convParams
	pool   *poolParams
	mm     *matmulParams
}

// plan is a compiled graph.
type plan struct {
	values  []value
	steps   []step
	input   int // value id of the placeholder
	output  int // value id of the graph output
	inShape []int
	// storage slot -> buffer index, and buffer sizes (in float32s, with
	// slack so the 6-row kernel may read past the last valid row).
	storeBuf []int
	bufSize  []int
	slack    int
}

// compiler builds a plan.
type compiler struct {
	p      *plan
	byName map[string]int // node name -> value id
	nstore int
}

func (c *compiler) newStore() int { c.nstore++; return c.nstore - 1 }

func (c *compiler) addValue(name string, shape []int, k *constant, store int) int {
	size := 1
	for _, d := range shape {
		size *= d
	}
	c.p.values = append(c.p.values, value{name: name, shape: shape, size: size, c: k, store: store})
	id := len(c.p.values) - 1
	c.byName[name] = id
	return id
}

func (c *compiler) inputs(n *tfNode) ([]int, error) {
	var ids []int
	for _, in := range n.Input {
		name, control, err := tensorName(in)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		if control {
			continue
		}
		id, ok := c.byName[name]
		if !ok {
			return nil, fmt.Errorf("node %q: input %q has no value", n.Name, in)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (c *compiler) val(id int) *value { return &c.p.values[id] }

// samePad computes TensorFlow's padding for one spatial axis.
func samePad(in, k, s int, padding string) (out, before, after int, err error) {
	switch padding {
	case "VALID":
		if in < k {
			return 0, 0, 0, fmt.Errorf("VALID padding: input size %d is smaller than the window %d", in, k)
		}
		return (in-k)/s + 1, 0, 0, nil
	case "SAME":
		out = (in + s - 1) / s
		total := max((out-1)*s+k-in, 0)
		return out, total / 2, total - total/2, nil
	default:
		return 0, 0, 0, fmt.Errorf("padding %q is not supported (only SAME and VALID)", padding)
	}
}

// fusedOps reads fused_ops/num_args of _FusedConv2D and _FusedMatMul: the
// first extra op must be BiasAdd, optionally followed by Relu.
func fusedOps(n *tfNode) (relu bool, err error) {
	ops, err := n.strList("fused_ops")
	if err != nil {
		return false, err
	}
	if len(ops) == 0 || ops[0] != "BiasAdd" || len(ops) > 2 || (len(ops) == 2 && ops[1] != "Relu") {
		return false, fmt.Errorf("node %q (%s): fused_ops %q is not supported (only [BiasAdd] and [BiasAdd Relu])", n.Name, n.Op, ops)
	}
	if na, ok, err := n.integer("num_args"); err != nil {
		return false, err
	} else if ok && na != 1 {
		return false, fmt.Errorf("node %q (%s): num_args %d is not supported (only 1)", n.Name, n.Op, na)
	}
	return len(ops) == 2, nil
}

func checkNHWC(n *tfNode) error {
	df, ok, err := n.str("data_format")
	if err != nil {
		return err
	}
	if ok && df != "NHWC" {
		return fmt.Errorf("node %q (%s): data_format %q is not supported (only NHWC)", n.Name, n.Op, df)
	}
	return nil
}

// window reads a 4-element NHWC attribute (strides, ksize, dilations) and
// returns its H and W entries; batch and channel entries must be 1.
func window(n *tfNode, key string, def int) (int, int, error) {
	l, err := n.intList(key)
	if err != nil {
		return 0, 0, err
	}
	if len(l) == 0 {
		return def, def, nil
	}
	if len(l) != 4 || l[0] != 1 || l[3] != 1 || l[1] < 1 || l[2] < 1 {
		return 0, 0, fmt.Errorf("node %q (%s): %s %v is not supported", n.Name, n.Op, key, l)
	}
	return l[1], l[2], nil
}

func (c *compiler) fourD(n *tfNode, id int) ([]int, error) {
	s := c.val(id).shape
	if len(s) != 4 || s[0] != 1 {
		return nil, fmt.Errorf("node %q (%s): input shape %v is not [1,H,W,C]", n.Name, n.Op, s)
	}
	return s, nil
}

func (c *compiler) constF32(n *tfNode, id int, what string) (*constant, error) {
	v := c.val(id)
	if v.c == nil || v.c.f32 == nil {
		return nil, fmt.Errorf("node %q (%s): %s must be a float32 constant", n.Name, n.Op, what)
	}
	return v.c, nil
}

func (c *compiler) node(n *tfNode) error {
	if err := n.checkFloat(); err != nil {
		return err
	}
	ins, err := c.inputs(n)
	if err != nil {
		return err
	}
	nin := func(want int) error {
		if len(ins) != want {
			return fmt.Errorf("node %q (%s): has %d inputs, want %d", n.Name, n.Op, len(ins), want)
		}
		return nil
	}
	switch n.Op {
	case "Const":
		return nil // added from the weights before compiling
	case "Placeholder":
		if c.p.inShape != nil {
			return fmt.Errorf("node %q: the graph has more than one Placeholder", n.Name)
		}
		a, ok := n.Attr["shape"]
		if !ok || a.Shape == nil {
			return fmt.Errorf("node %q: Placeholder without a shape", n.Name)
		}
		var shape []int
		for i, d := range a.Shape.Dim {
			v, err := d.Size.Int64()
			if err != nil {
				return fmt.Errorf("node %q: shape: %w", n.Name, err)
			}
			if v == -1 && i == 0 {
				v = 1 // batch
			}
			if v < 1 {
				return fmt.Errorf("node %q: unknown dimension %d in shape", n.Name, v)
			}
			shape = append(shape, int(v))
		}
		c.p.inShape = shape
		c.p.input = c.addValue(n.Name, shape, nil, c.newStore())
		return nil
	case "Identity":
		if err := nin(1); err != nil {
			return err
		}
		c.byName[n.Name] = ins[0]
		return nil
	case "Reshape":
		if err := nin(2); err != nil {
			return err
		}
		in := c.val(ins[0])
		sh := c.val(ins[1])
		if sh.c == nil || sh.c.i32 == nil {
			return fmt.Errorf("node %q (Reshape): shape must be an int32 constant", n.Name)
		}
		if in.c != nil {
			return fmt.Errorf("node %q (Reshape): reshaping a constant is not supported", n.Name)
		}
		shape := make([]int, len(sh.c.i32))
		infer, known := -1, 1
		for i, d := range sh.c.i32 {
			switch {
			case d == -1 && infer < 0:
				infer = i
			case d < 0:
				return fmt.Errorf("node %q (Reshape): bad shape %v", n.Name, sh.c.i32)
			default:
				shape[i] = int(d)
				known *= int(d)
			}
		}
		if infer >= 0 {
			if known == 0 || in.size%known != 0 {
				return fmt.Errorf("node %q (Reshape): cannot reshape %v to %v", n.Name, in.shape, sh.c.i32)
			}
			shape[infer] = in.size / known
		} else if known != in.size {
			return fmt.Errorf("node %q (Reshape): cannot reshape %v to %v", n.Name, in.shape, sh.c.i32)
		}
		c.addValue(n.Name, shape, nil, in.store)
		return nil
	case "_FusedConv2D":
		return c.conv(n, ins)
	case "MaxPool":
		if err := nin(1); err != nil {
			return err
		}
		return c.maxPool(n, ins[0])
	case "_FusedMatMul":
		return c.matMul(n, ins)
	case "Relu", "Sigmoid":
		if err := nin(1); err != nil {
			return err
		}
		if c.val(ins[0]).c != nil {
			return fmt.Errorf("node %q (%s): constant input is not supported", n.Name, n.Op)
		}
		k := epiRelu
		if n.Op == "Sigmoid" {
			k = epiSigmoid
		}
		c.elementwise(n, ins[0], epiOp{kind: k})
		return nil
	case "Softmax":
		if err := nin(1); err != nil {
			return err
		}
		in := c.val(ins[0])
		if in.c != nil {
			return fmt.Errorf("node %q (Softmax): constant input is not supported", n.Name)
		}
		out := c.addValue(n.Name, in.shape, nil, c.newStore())
		c.p.steps = append(c.p.steps, step{kind: stepSoftmax, name: n.Name, in: ins[0], in2: -1, out: out})
		return nil
	case "Mul", "Add", "AddV2":
		if err := nin(2); err != nil {
			return err
		}
		return c.binary(n, ins[0], ins[1])
	}
	return fmt.Errorf("node %q: unsupported operation %s", n.Name, n.Op)
}

// elementwise adds an elementwise step (later fused into its producer when
// possible).
func (c *compiler) elementwise(n *tfNode, in int, op epiOp) {
	out := c.addValue(n.Name, c.val(in).shape, nil, c.newStore())
	c.p.steps = append(c.p.steps, step{kind: stepUnary, name: n.Name, in: in, in2: -1, out: out, epi: []epiOp{op}})
}

func (c *compiler) binary(n *tfNode, a, b int) error {
	va, vb := c.val(a), c.val(b)
	if va.c != nil && vb.c != nil {
		return fmt.Errorf("node %q (%s): both inputs are constants", n.Name, n.Op)
	}
	add := n.Op != "Mul"
	if va.c != nil { // both ops commute
		a, b = b, a
		va, vb = vb, va
	}
	if vb.c == nil {
		if !slices.Equal(va.shape, vb.shape) {
			return fmt.Errorf("node %q (%s): shapes %v and %v differ (broadcasting between two activations is not supported)", n.Name, n.Op, va.shape, vb.shape)
		}
		out := c.addValue(n.Name, va.shape, nil, c.newStore())
		c.p.steps = append(c.p.steps, step{kind: stepBinary, name: n.Name, in: a, in2: b, out: out, binAdd: add})
		return nil
	}
	if vb.c.f32 == nil {
		return fmt.Errorf("node %q (%s): constant operand must be float32", n.Name, n.Op)
	}
	last := 1
	if len(va.shape) > 0 {
		last = va.shape[len(va.shape)-1]
	}
	var vec []float32
	switch {
	case vb.size == 1 && len(vb.shape) <= len(va.shape):
		vec = make([]float32, last)
		for i := range vec {
			vec[i] = vb.c.f32[0]
		}
	case len(vb.shape) >= 1 && vb.shape[len(vb.shape)-1] == last && vb.size == last && len(vb.shape) <= len(va.shape):
		vec = vb.c.f32
	default:
		return fmt.Errorf("node %q (%s): cannot broadcast constant of shape %v against %v (only scalars and vectors along the last axis)", n.Name, n.Op, vb.shape, va.shape)
	}
	k := epiMulVec
	if add {
		k = epiAddVec
	}
	c.elementwise(n, a, epiOp{kind: k, vec: vec})
	return nil
}

func (c *compiler) conv(n *tfNode, ins []int) error {
	if len(ins) != 3 {
		return fmt.Errorf("node %q (_FusedConv2D): has %d inputs, want 3 (x, filter, bias)", n.Name, len(ins))
	}
	if err := checkNHWC(n); err != nil {
		return err
	}
	relu, err := fusedOps(n)
	if err != nil {
		return err
	}
	if dh, dw, err := window(n, "dilations", 1); err != nil {
		return err
	} else if dh != 1 || dw != 1 {
		return fmt.Errorf("node %q (_FusedConv2D): dilations other than 1 are not supported", n.Name)
	}
	if ep, err := n.intList("explicit_paddings"); err != nil {
		return err
	} else if len(ep) > 0 {
		return fmt.Errorf("node %q (_FusedConv2D): explicit padding is not supported", n.Name)
	}
	sh, sw, err := window(n, "strides", 1)
	if err != nil {
		return err
	}
	padding, _, err := n.str("padding")
	if err != nil {
		return err
	}
	xs, err := c.fourD(n, ins[0])
	if err != nil {
		return err
	}
	if c.val(ins[0]).c != nil {
		return fmt.Errorf("node %q (_FusedConv2D): constant input is not supported", n.Name)
	}
	f, err := c.constF32(n, ins[1], "filter")
	if err != nil {
		return err
	}
	bias, err := c.constF32(n, ins[2], "bias")
	if err != nil {
		return err
	}
	if len(f.shape) != 4 || f.shape[2] != xs[3] {
		return fmt.Errorf("node %q (_FusedConv2D): filter shape %v does not fit input %v", n.Name, f.shape, xs)
	}
	p := &convParams{h: xs[1], w: xs[2], c: xs[3], kh: f.shape[0], kw: f.shape[1], co: f.shape[3], sh: sh, sw: sw, padStore: -1}
	if len(bias.shape) != 1 || bias.shape[0] != p.co {
		return fmt.Errorf("node %q (_FusedConv2D): bias shape %v, want [%d]", n.Name, bias.shape, p.co)
	}
	var padB, padR int
	if p.oh, p.padT, padB, err = samePad(p.h, p.kh, sh, padding); err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	if p.ow, p.padL, padR, err = samePad(p.w, p.kw, sw, padding); err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	p.padB, p.padR = padB, padR
	p.hp, p.wp = p.h+p.padT+padB, p.w+p.padL+padR
	if p.hp != p.h || p.wp != p.w {
		p.padStore = c.newStore()
	}
	// Filter HWIO is already [K][CO] with K = (ky, kx, ci), the order in
	// which one window of the input is laid out along each of its rows.
	p.packed = packB(f.f32, p.kh*p.kw*p.c, p.co, false)
	p.bias = padBias(bias.f32)
	out := c.addValue(n.Name, []int{1, p.oh, p.ow, p.co}, nil, c.newStore())
	var epi []epiOp
	if relu {
		epi = append(epi, epiOp{kind: epiRelu})
	}
	c.p.steps = append(c.p.steps, step{kind: stepConv, name: n.Name, in: ins[0], in2: -1, out: out, epi: epi, conv: p})
	return nil
}

func (c *compiler) maxPool(n *tfNode, in int) error {
	if err := checkNHWC(n); err != nil {
		return err
	}
	if ep, err := n.intList("explicit_paddings"); err != nil {
		return err
	} else if len(ep) > 0 {
		return fmt.Errorf("node %q (MaxPool): explicit padding is not supported", n.Name)
	}
	xs, err := c.fourD(n, in)
	if err != nil {
		return err
	}
	if c.val(in).c != nil {
		return fmt.Errorf("node %q (MaxPool): constant input is not supported", n.Name)
	}
	kh, kw, err := window(n, "ksize", 0)
	if err != nil {
		return err
	}
	if kh == 0 {
		return fmt.Errorf("node %q (MaxPool): no ksize", n.Name)
	}
	sh, sw, err := window(n, "strides", 1)
	if err != nil {
		return err
	}
	padding, _, err := n.str("padding")
	if err != nil {
		return err
	}
	p := &poolParams{h: xs[1], w: xs[2], c: xs[3], kh: kh, kw: kw, sh: sh, sw: sw}
	if p.oh, p.padT, _, err = samePad(p.h, kh, sh, padding); err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	if p.ow, p.padL, _, err = samePad(p.w, kw, sw, padding); err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	out := c.addValue(n.Name, []int{1, p.oh, p.ow, p.c}, nil, c.newStore())
	c.p.steps = append(c.p.steps, step{kind: stepMaxPool, name: n.Name, in: in, in2: -1, out: out, pool: p})
	return nil
}

func (c *compiler) matMul(n *tfNode, ins []int) error {
	if len(ins) != 3 {
		return fmt.Errorf("node %q (_FusedMatMul): has %d inputs, want 3 (a, b, bias)", n.Name, len(ins))
	}
	relu, err := fusedOps(n)
	if err != nil {
		return err
	}
	a := c.val(ins[0])
	if a.c != nil || len(a.shape) != 2 {
		return fmt.Errorf("node %q (_FusedMatMul): a must be a 2-D activation, got shape %v", n.Name, a.shape)
	}
	b, err := c.constF32(n, ins[1], "b")
	if err != nil {
		return err
	}
	bias, err := c.constF32(n, ins[2], "bias")
	if err != nil {
		return err
	}
	if len(b.shape) != 2 {
		return fmt.Errorf("node %q (_FusedMatMul): b shape %v is not 2-D", n.Name, b.shape)
	}
	p := &matmulParams{transA: n.boolean("transpose_a"), transStore: -1}
	transB := n.boolean("transpose_b")
	p.m, p.k = a.shape[0], a.shape[1]
	if p.transA {
		p.m, p.k = p.k, p.m
		p.transStore = c.newStore()
	}
	bk, bn := b.shape[0], b.shape[1]
	if transB {
		bk, bn = bn, bk
	}
	if bk != p.k {
		return fmt.Errorf("node %q (_FusedMatMul): inner dimensions differ: a %v, b %v", n.Name, a.shape, b.shape)
	}
	p.n = bn
	if len(bias.shape) != 1 || bias.shape[0] != p.n {
		return fmt.Errorf("node %q (_FusedMatMul): bias shape %v, want [%d]", n.Name, bias.shape, p.n)
	}
	p.packed = packB(b.f32, p.k, p.n, transB)
	p.bias = padBias(bias.f32)
	out := c.addValue(n.Name, []int{p.m, p.n}, nil, c.newStore())
	var epi []epiOp
	if relu {
		epi = append(epi, epiOp{kind: epiRelu})
	}
	c.p.steps = append(c.p.steps, step{kind: stepMatMul, name: n.Name, in: ins[0], in2: -1, out: out, epi: epi, mm: p})
	return nil
}

// packB lays out a [K][N] matrix (or [N][K] when trans) as column panels of
// width nr, each [K][nr], zero-padded to a multiple of nr columns: the
// order in which the kernel reads it.
func packB(b []float32, k, n int, trans bool) []float32 {
	panels := (n + nr - 1) / nr
	out := make([]float32, panels*k*nr)
	for p := range panels {
		for kk := range k {
			for j := range nr {
				col := p*nr + j
				if col >= n {
					continue
				}
				if trans {
					out[(p*k+kk)*nr+j] = b[col*k+kk]
				} else {
					out[(p*k+kk)*nr+j] = b[kk*n+col]
				}
			}
		}
	}
	return out
}

// padBias copies a bias vector, zero-padded to a multiple of nr.
func padBias(b []float32) []float32 {
	out := make([]float32, (len(b)+nr-1)/nr*nr)
	copy(out, b)
	return out
}

// compile turns the parsed graph into a plan.
func compile(m *tfjsModel, consts map[string]*constant) (*plan, error) {
	order, err := topoSort(m.ModelTopology.Node)
	if err != nil {
		return nil, err
	}
	c := &compiler{p: &plan{input: -1, output: -1}, byName: make(map[string]int)}
	for _, n := range order {
		if n.Op != "Const" {
			continue
		}
		k, ok := consts[n.Name]
		if !ok {
			return nil, fmt.Errorf("node %q: constant has no entry in the weights manifest", n.Name)
		}
		c.addValue(n.Name, k.shape, k, -1)
	}
	for _, n := range order {
		if err := c.node(n); err != nil {
			return nil, err
		}
	}
	if c.p.input < 0 {
		return nil, errors.New("graph has no Placeholder")
	}
	// The output: the signature's, else the one node nothing consumes.
	outName := ""
	if m.Signature != nil && len(m.Signature.Outputs) == 1 {
		for _, o := range m.Signature.Outputs {
			if outName, _, err = tensorName(o.Name); err != nil {
				return nil, fmt.Errorf("signature output: %w", err)
			}
		}
	} else {
		used := make(map[string]bool)
		for _, n := range order {
			for _, in := range n.Input {
				name, _, _ := tensorName(in)
				used[name] = true
			}
		}
		for _, n := range order {
			if !used[n.Name] && n.Op != "Const" {
				if outName != "" {
					return nil, fmt.Errorf("graph has several outputs (%q, %q)", outName, n.Name)
				}
				outName = n.Name
			}
		}
	}
	out, ok := c.byName[outName]
	if !ok {
		return nil, fmt.Errorf("graph output %q is not a node", outName)
	}
	if c.p.values[out].c != nil {
		return nil, fmt.Errorf("graph output %q is a constant", outName)
	}
	c.p.output = out
	c.fuse()
	c.prune()
	c.assignBuffers()
	return c.p, nil
}

// uses counts, for each value, the steps and aliases that read it.
func (c *compiler) uses() []int {
	u := make([]int, len(c.p.values))
	for _, s := range c.p.steps {
		u[s.in]++
		if s.in2 >= 0 {
			u[s.in2]++
		}
	}
	return u
}

// fuse moves elementwise steps into the step producing their input when
// that input is read by nothing else. The per-element sequence of float32
// operations is unchanged, so results are identical; only memory passes are
// saved.
func (c *compiler) fuse() {
	u := c.uses()
	aliased := make(map[int]bool) // stores read through an alias (Reshape)
	for id, v := range c.p.values {
		if v.c == nil && v.store >= 0 && c.firstValueOfStore(v.store) != id {
			aliased[v.store] = true
		}
	}
	for i := 0; i < len(c.p.steps); i++ {
		s := &c.p.steps[i]
		if s.kind == stepSoftmax || s.kind == stepBinary {
			continue
		}
		for {
			v := s.out
			if v == c.p.output || u[v] != 1 || aliased[c.p.values[v].store] {
				break
			}
			j := -1
			for k := i + 1; k < len(c.p.steps); k++ {
				if c.p.steps[k].in == v || c.p.steps[k].in2 == v {
					j = k
					break
				}
			}
			if j < 0 || c.p.steps[j].kind != stepUnary {
				break
			}
			t := c.p.steps[j]
			s.epi = append(s.epi, t.epi...)
			s.out = t.out
			s.name = t.name
			c.p.steps = slices.Delete(c.p.steps, j, j+1)
			s = &c.p.steps[i]
		}
	}
}

func (c *compiler) firstValueOfStore(store int) int {
	for id, v := range c.p.values {
		if v.c == nil && v.store == store {
			return id
		}
	}
	return -1
}

// prune drops steps whose results nothing reads (none in the two models,
// but a graph may have dead branches).
func (c *compiler) prune() {
	needed := make(map[int]bool) // stores
	needed[c.p.values[c.p.output].store] = true
	for i := len(c.p.steps) - 1; i >= 0; i-- {
		s := c.p.steps[i]
		if !needed[c.p.values[s.out].store] {
			c.p.steps = slices.Delete(c.p.steps, i, i+1)
			continue
		}
		needed[c.p.values[s.in].store] = true
		if s.in2 >= 0 {
			needed[c.p.values[s.in2].store] = true
		}
	}
}

// assignBuffers gives every storage slot a buffer, reusing the buffers of
// slots that are dead. Elementwise steps may write over their input.
func (c *compiler) assignBuffers() {
	p := c.p
	storeSize := make([]int, c.nstore)
	for _, v := range p.values {
		if v.c == nil && v.store >= 0 {
			storeSize[v.store] = max(storeSize[v.store], v.size)
		}
	}
	// Kernel overrun: a 6-row tile reads up to 5 row strides past the last
	// valid output pixel.
	for _, s := range p.steps {
		switch s.kind {
		case stepConv:
			cp := s.conv
			p.slack = max(p.slack, 5*cp.sw*cp.c+16)
			if cp.padStore >= 0 {
				storeSize[cp.padStore] = cp.hp * cp.wp * cp.c
			}
		case stepMatMul:
			if s.mm.m > 1 {
				p.slack = max(p.slack, 5*s.mm.k+16)
			}
			if s.mm.transStore >= 0 {
				storeSize[s.mm.transStore] = s.mm.m * s.mm.k
			}
		}
	}
	last := make([]int, c.nstore) // last step reading each store
	for i := range last {
		last[i] = -1
	}
	for i, s := range p.steps {
		last[p.values[s.in].store] = i
		if s.in2 >= 0 {
			last[p.values[s.in2].store] = i
		}
	}
	last[p.values[p.output].store] = len(p.steps)
	p.storeBuf = make([]int, c.nstore)
	for i := range p.storeBuf {
		p.storeBuf[i] = -1
	}
	var free []int
	alloc := func(store int) {
		// The smallest free buffer that is big enough, else the largest
		// free one (grown), else a new one.
		need := storeSize[store]
		best := -1
		for fi, b := range free {
			if best < 0 {
				best = fi
				continue
			}
			cur := p.bufSize[free[best]]
			size := p.bufSize[b]
			if (size >= need && (cur < need || size < cur)) || (size < need && cur < need && size > cur) {
				best = fi
			}
		}
		if best < 0 {
			p.bufSize = append(p.bufSize, need)
			p.storeBuf[store] = len(p.bufSize) - 1
			return
		}
		b := free[best]
		free = slices.Delete(free, best, best+1)
		p.bufSize[b] = max(p.bufSize[b], need)
		p.storeBuf[store] = b
	}
	release := func(store int) {
		if b := p.storeBuf[store]; b >= 0 && !slices.Contains(free, b) {
			free = append(free, b)
		}
	}
	alloc(p.values[p.input].store)
	for i, s := range p.steps {
		inStore := p.values[s.in].store
		outStore := p.values[s.out].store
		inPlace := (s.kind == stepUnary || s.kind == stepSoftmax || s.kind == stepBinary) &&
			last[inStore] == i && storeSize[inStore] >= storeSize[outStore]
		if inPlace {
			p.storeBuf[outStore] = p.storeBuf[inStore]
		} else {
			if s.conv != nil && s.conv.padStore >= 0 {
				alloc(s.conv.padStore)
			}
			if s.mm != nil && s.mm.transStore >= 0 {
				alloc(s.mm.transStore)
			}
			alloc(outStore)
			if s.conv != nil && s.conv.padStore >= 0 {
				release(s.conv.padStore)
			}
			if s.mm != nil && s.mm.transStore >= 0 {
				release(s.mm.transStore)
			}
		}
		for _, in := range []int{s.in, s.in2} {
			if in < 0 {
				continue
			}
			st := p.values[in].store
			if last[st] == i && p.storeBuf[st] != p.storeBuf[outStore] {
				release(st)
			}
		}
	}
	for i := range p.bufSize {
		p.bufSize[i] += p.slack
	}
}
