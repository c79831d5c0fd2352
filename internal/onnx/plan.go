package onnx

import (
	"errors"
	"fmt"
	"slices"
)

// The operator set versions of the default domain this package knows.
const (
	minOpset = 7
	maxOpset = 22
)

// value is a tensor of the planned graph with its static shape. A constant
// holds its data; an activation lives in a storage slot, which it may share
// with the values that alias it (Reshape, Identity, a Transpose that only
// relabels the layout).
//
// A 4-D activation [N,C,H,W] may be stored channels-last (cl): physically
// [N,H,W,cs] with cs >= C channels per pixel, the cs-C padding channels
// always zero, so that the kernels work on whole vectors. Every other
// activation is stored plainly, in row-major order of its shape.
type value struct {
	name  string
	shape []int
	n     int // number of elements
	dtype int64

	isConst bool
	f32     []float32 // constant float32 data
	i64     []int64   // constant int64 data

	cl   bool // channels-last storage (activations of rank 4 only)
	cs   int  // channel stride when cl
	slot int  // storage slot of an activation, -1 for constants
}

// size is the number of float32s the value occupies in its slot.
func (v *value) size() int {
	if v.cl {
		return v.shape[0] * v.shape[2] * v.shape[3] * v.cs
	}
	return v.n
}

// step is one operation of the plan.
type step interface {
	// reads lists the activations the step reads (value ids).
	reads() []int
	// writes is the activation it writes (value id).
	writes() int
	// temp is a storage slot the step uses only while it runs, or -1.
	temp() int
	// exec runs the step.
	exec(p *plan, s *scratch)
}

// plan is a compiled graph.
type plan struct {
	values      []*value
	steps       []step
	inputs      []int // value ids of the graph inputs
	outputs     []int // value ids of the graph outputs
	outputNames []string
	slotSize    []int // float32s per storage slot
	slotBuf     []int // storage slot -> buffer
	bufSize     []int // float32s per buffer
	k           *kernels
}

// scratch holds the buffers of one Run, and the kernel call descriptions
// (kept here so that they do not escape to the heap at each call).
type scratch struct {
	bufs [][]float32
	gc   gemmCall
	dc   dwCall
	tile [4 * maxPanel]float32
	// resTile holds the residual of the rows computed into tile.
	resTile [4 * maxPanel]float32
	// aTile holds a copy of the last rows of a matrix product's left
	// operand when the rows after them cannot be read (grown as needed).
	aTile []float32
}

func (p *plan) newScratch() *scratch {
	s := &scratch{bufs: make([][]float32, len(p.bufSize))}
	for i, n := range p.bufSize {
		s.bufs[i] = make([]float32, n)
	}
	return s
}

func (p *plan) scratchBytes() int64 {
	var n int64
	for _, b := range p.bufSize {
		n += 4 * int64(b)
	}
	return n
}

// data returns the storage of a value.
func (p *plan) data(s *scratch, id int) []float32 {
	v := p.values[id]
	if v.isConst {
		return v.f32
	}
	return s.bufs[p.slotBuf[v.slot]][:v.size()]
}

// tempBuf returns a step's temporary slot.
func (p *plan) tempBuf(s *scratch, slot int) []float32 {
	return s.bufs[p.slotBuf[slot]][:p.slotSize[slot]]
}

// compiler builds a plan.
type compiler struct {
	p      *plan
	opset  int64
	byName map[string]int // value name -> value id
	opt    options
	budget int // float32s the planner may still allocate (see charge)
}

// Limits on what planning a model may cost, so that a small file cannot
// make Load allocate without bound: the planner's own allocations (folded
// constants, packed weights) may total loadBudget float32s plus 16 per
// byte of the file, and one Run's buffers at most maxScratch bytes.
const (
	loadBudget = 1 << 22
	maxScratch = 1 << 30
)

// charge accounts for n float32s the planner is about to allocate.
func (c *compiler) charge(n int) error {
	if n < 0 || n > c.budget {
		return errors.New("the model needs too much memory to plan (folded constants or packed weights)")
	}
	c.budget -= n
	return nil
}

func (c *compiler) newSlot(size int) int {
	c.p.slotSize = append(c.p.slotSize, size)
	return len(c.p.slotSize) - 1
}

// addConst adds a constant value.
func (c *compiler) addConst(name string, shape []int, f32 []float32, i64 []int64) int {
	v := &value{name: name, shape: slices.Clone(shape), n: numElements(shape), isConst: true, f32: f32, i64: i64, slot: -1, dtype: dtFloat}
	if f32 == nil {
		v.dtype = dtInt64
		if v.i64 == nil {
			v.i64 = []int64{}
		}
	}
	c.p.values = append(c.p.values, v)
	id := len(c.p.values) - 1
	if name != "" {
		c.byName[name] = id
	}
	return id
}

// addAct adds a float32 activation in a new slot, channels-last with
// channel stride cs if cs > 0, plain otherwise.
func (c *compiler) addAct(name string, shape []int, cs int) (int, error) {
	n, err := checkedElements(shape)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", name, err)
	}
	v := &value{name: name, shape: slices.Clone(shape), n: n, dtype: dtFloat, slot: -1}
	if cs > 0 {
		v.cl, v.cs = true, cs
	}
	if v.size() > maxElements {
		return 0, fmt.Errorf("value %q: shape %v needs more than %d elements", name, shape, maxElements)
	}
	v.slot = c.newSlot(v.size())
	c.p.values = append(c.p.values, v)
	id := len(c.p.values) - 1
	if name != "" {
		c.byName[name] = id
	}
	return id, nil
}

// alias adds an activation that shares the storage of value src.
func (c *compiler) alias(name string, src int, shape []int, cl bool, cs int) int {
	s := c.p.values[src]
	v := &value{name: name, shape: slices.Clone(shape), n: numElements(shape), dtype: dtFloat, cl: cl, cs: cs, slot: s.slot}
	c.p.values = append(c.p.values, v)
	id := len(c.p.values) - 1
	if name != "" {
		c.byName[name] = id
	}
	return id
}

func (c *compiler) val(id int) *value { return c.p.values[id] }

func checkedElements(shape []int) (int, error) {
	d := make([]int64, len(shape))
	for i, x := range shape {
		d[i] = int64(x)
	}
	return elements(d)
}

// compile plans a decoded model.
func compile(m *modelProto, fileSize int, opt options) (*plan, error) {
	c := &compiler{p: &plan{}, byName: make(map[string]int), opt: opt, budget: loadBudget + 16*fileSize}
	c.p.k = selectKernels(opt)
	opset, ok := m.opsets[""]
	if v, ok2 := m.opsets["ai.onnx"]; ok2 {
		if ok && v != opset {
			return nil, errors.New("model imports the default operator set twice, with different versions")
		}
		opset, ok = v, true
	}
	if !ok {
		return nil, errors.New("model does not import the default operator set (ai.onnx)")
	}
	if opset < minOpset || opset > maxOpset {
		return nil, fmt.Errorf("operator set version %d is not supported (only %d to %d)", opset, minOpset, maxOpset)
	}
	c.opset = opset
	g := m.graph

	for _, t := range g.inits {
		if t.name == "" {
			return nil, errors.New("initializer without a name")
		}
		if _, dup := c.byName[t.name]; dup {
			return nil, fmt.Errorf("initializer %q defined twice", t.name)
		}
		c.addConst(t.name, t.dims, t.f32, t.i64)
	}
	for _, in := range g.inputs {
		if _, isInit := c.byName[in.name]; isInit {
			continue // an initializer listed as an input (IR version < 4): a constant here
		}
		if in.dtype != dtFloat {
			return nil, fmt.Errorf("input %q: element type %s is not supported (only FLOAT)", in.name, dtypeName(in.dtype))
		}
		if !in.shape {
			return nil, fmt.Errorf("input %q has no shape", in.name)
		}
		for _, d := range in.dims {
			if d < 1 {
				return nil, fmt.Errorf("input %q: shape %v is not fully known (symbolic or zero dimensions are not supported)", in.name, in.dims)
			}
		}
		id, err := c.addAct(in.name, in.dims, 0)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.name, err)
		}
		c.p.inputs = append(c.p.inputs, id)
	}
	if len(c.p.inputs) == 0 {
		return nil, errors.New("the graph has no inputs")
	}
	if len(g.outputs) == 0 {
		return nil, errors.New("the graph has no outputs")
	}

	order, err := c.sortNodes(g)
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		if err := c.node(n); err != nil {
			name := n.name
			if name == "" && len(n.outputs) > 0 {
				name = n.outputs[0]
			}
			return nil, fmt.Errorf("node %q (%s): %w", name, n.op, err)
		}
	}
	seen := make(map[string]bool)
	for _, o := range g.outputs {
		if seen[o.name] {
			return nil, fmt.Errorf("output %q listed twice", o.name)
		}
		seen[o.name] = true
		if o.dtype != dtFloat {
			return nil, fmt.Errorf("output %q: element type %s is not supported (only FLOAT)", o.name, dtypeName(o.dtype))
		}
		id, ok := c.byName[o.name]
		if !ok {
			return nil, fmt.Errorf("output %q is not computed by the graph", o.name)
		}
		v := c.val(id)
		if v.isConst {
			return nil, fmt.Errorf("output %q is a constant", o.name)
		}
		if o.shape && len(o.dims) > 0 {
			if len(o.dims) != len(v.shape) {
				return nil, fmt.Errorf("output %q: declared shape %v, computed %v", o.name, o.dims, v.shape)
			}
			for i, d := range o.dims {
				if d >= 0 && d != v.shape[i] {
					return nil, fmt.Errorf("output %q: declared shape %v, computed %v", o.name, o.dims, v.shape)
				}
			}
		}
		if id, err = c.plain(id); err != nil {
			return nil, fmt.Errorf("output %q: %w", o.name, err)
		}
		c.p.outputs = append(c.p.outputs, id)
		c.p.outputNames = append(c.p.outputNames, o.name)
	}
	c.fuse()
	c.allocate()
	c.p.dropUnread()
	if n := c.p.scratchBytes(); n > maxScratch {
		return nil, fmt.Errorf("one run would need %d bytes of working memory, more than %d", n, maxScratch)
	}
	return c.p, nil
}

// dropUnread lets go of the data of constants no step reads by value id:
// weights packed into panels or copied into a step, and folded
// intermediates. Without it a loaded model keeps a second copy of its
// weights for its lifetime.
func (p *plan) dropUnread() {
	read := make([]bool, len(p.values))
	for _, st := range p.steps {
		for _, id := range st.reads() {
			read[id] = true
		}
	}
	for id, v := range p.values {
		if v.isConst && !read[id] {
			v.f32, v.i64 = nil, nil
		}
	}
}

// sortNodes returns the nodes the outputs depend on, in an order where
// each comes after the producers of its inputs: the file's order if it is
// one, else a depth-first order.
func (c *compiler) sortNodes(g *graphProto) ([]*nodeProto, error) {
	producer := make(map[string]int)
	for i, n := range g.nodes {
		for _, o := range n.outputs {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup {
				return nil, fmt.Errorf("value %q is produced twice", o)
			}
			if _, isInit := c.byName[o]; isInit {
				return nil, fmt.Errorf("value %q is both an input or initializer and a node output", o)
			}
			producer[o] = i
		}
	}
	// Depth-first from the outputs, iteratively.
	const (
		unseen = iota
		open
		done
	)
	state := make([]uint8, len(g.nodes))
	var order []*nodeProto
	type frame struct{ node, next int }
	for _, out := range g.outputs {
		i, ok := producer[out.name]
		if !ok {
			continue // an input or initializer, or missing (reported later)
		}
		if state[i] == done {
			continue
		}
		stack := []frame{{i, 0}}
		state[i] = open
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			n := g.nodes[f.node]
			if f.next < len(n.inputs) {
				in := n.inputs[f.next]
				f.next++
				if in == "" {
					continue
				}
				j, ok := producer[in]
				if !ok {
					if _, known := c.byName[in]; !known {
						return nil, fmt.Errorf("node %q (%s): input %q is not defined", n.name, n.op, in)
					}
					continue
				}
				switch state[j] {
				case open:
					return nil, fmt.Errorf("the graph has a cycle through value %q", in)
				case unseen:
					state[j] = open
					stack = append(stack, frame{j, 0})
				}
				continue
			}
			state[f.node] = done
			order = append(order, n)
			stack = stack[:len(stack)-1]
		}
	}
	// ONNX asks for nodes in a topological order, and exporters write
	// them in the order of the original program, which keeps a residual
	// branch before the convolution it is added to (see fuse). Use the
	// file's order when it is one.
	produced := make([]bool, len(g.nodes))
	var inFile []*nodeProto
	for i, n := range g.nodes {
		if state[i] != done {
			continue
		}
		for _, in := range n.inputs {
			if j, ok := producer[in]; ok && !produced[j] {
				return order, nil
			}
		}
		produced[i] = true
		inFile = append(inFile, n)
	}
	return inFile, nil
}

// plain returns an activation with the same content as id stored plainly,
// adding a conversion step if needed.
func (c *compiler) plain(id int) (int, error) {
	v := c.val(id)
	if !v.cl {
		return id, nil
	}
	if v.shape[0] == 1 && v.shape[2]*v.shape[3] == 1 {
		// One pixel: the channels are the first C floats either way.
		return c.alias(v.name+"#plain", id, v.shape, false, 0), nil
	}
	out, err := c.addAct(v.name+"#plain", v.shape, 0)
	if err != nil {
		return 0, err
	}
	c.p.steps = append(c.p.steps, &layoutStep{in: id, out: out})
	return out, nil
}

// channelStride is the channel stride of a channels-last value with c
// channels: a multiple of 8 for the vector kernels, except for the few
// channels of an image, kept dense so that the first convolution does not
// multiply zeros.
func channelStride(c int) int {
	if c <= 4 {
		return c
	}
	return (c + 7) &^ 7
}

// channelsLast returns an activation with the same content as id stored
// channels-last, adding a conversion step if needed.
func (c *compiler) channelsLast(id int) (int, error) { return c.channelsLastCS(id, 0) }

// channelsLastCS is channelsLast with channel stride cs (0: the value's
// own if it is channels-last, else channelStride).
func (c *compiler) channelsLastCS(id, cs int) (int, error) {
	v := c.val(id)
	if v.isConst {
		return 0, errors.New("a constant where an activation is needed is not supported")
	}
	if len(v.shape) != 4 {
		return 0, fmt.Errorf("input of rank %d (shape %v), want 4 (NCHW)", len(v.shape), v.shape)
	}
	if v.cl && (cs == 0 || cs == v.cs) {
		return id, nil
	}
	if v.shape[0] != 1 {
		return 0, fmt.Errorf("batch size %d is not supported (only 1)", v.shape[0])
	}
	if cs == 0 {
		cs = channelStride(v.shape[1])
	}
	if cs < v.shape[1] {
		return 0, fmt.Errorf("internal error: channel stride %d for %d channels", cs, v.shape[1])
	}
	if !v.cl && v.shape[2]*v.shape[3] == 1 && cs == v.shape[1] {
		return c.alias(v.name+"#cl", id, v.shape, true, cs), nil
	}
	out, err := c.addAct(v.name+"#cl", v.shape, cs)
	if err != nil {
		return 0, err
	}
	c.p.steps = append(c.p.steps, &layoutStep{in: id, out: out})
	return out, nil
}

// slotUses counts, for each storage slot, the steps reading it (through
// any of the values stored there), plus one for a graph output.
func (c *compiler) slotUses() []int {
	n := make([]int, len(c.p.slotSize))
	for _, st := range c.p.steps {
		for _, id := range st.reads() {
			if s := c.p.values[id].slot; s >= 0 {
				n[s]++
			}
		}
	}
	for _, id := range c.p.outputs {
		if s := c.p.values[id].slot; s >= 0 {
			n[s]++
		}
	}
	return n
}

// allocate assigns storage slots to buffers: a slot's buffer is free again
// after the last step that reads it, and goes to the next slot that fits
// (best fit), else a new buffer is made.
func (c *compiler) allocate() {
	p := c.p
	nslots := len(p.slotSize)
	last := make([]int, nslots)
	for i := range last {
		last[i] = -2
	}
	for _, id := range p.inputs {
		last[p.values[id].slot] = max(last[p.values[id].slot], -1)
	}
	for i, st := range p.steps {
		for _, id := range st.reads() {
			if s := p.values[id].slot; s >= 0 {
				last[s] = max(last[s], i)
			}
		}
		s := p.values[st.writes()].slot
		last[s] = max(last[s], i)
		if t := st.temp(); t >= 0 {
			last[t] = i
		}
	}
	for _, id := range p.outputs {
		if s := p.values[id].slot; s >= 0 {
			last[s] = len(p.steps)
		}
	}
	p.slotBuf = make([]int, nslots)
	for i := range p.slotBuf {
		p.slotBuf[i] = -1
	}
	var free []int // buffer indices
	take := func(slot int) {
		best := -1
		for j, b := range free {
			if p.bufSize[b] >= p.slotSize[slot] && (best < 0 || p.bufSize[b] < p.bufSize[free[best]]) {
				best = j
			}
		}
		if best < 0 {
			// Grow the largest free buffer rather than adding one.
			for j, b := range free {
				if best < 0 || p.bufSize[b] > p.bufSize[free[best]] {
					best = j
				}
			}
		}
		if best >= 0 {
			b := free[best]
			free = slices.Delete(free, best, best+1)
			p.bufSize[b] = max(p.bufSize[b], p.slotSize[slot])
			p.slotBuf[slot] = b
			return
		}
		p.bufSize = append(p.bufSize, p.slotSize[slot])
		p.slotBuf[slot] = len(p.bufSize) - 1
	}
	endsAt := make(map[int][]int) // step -> slots last used there
	for s := range nslots {
		endsAt[last[s]] = append(endsAt[last[s]], s)
	}
	release := func(step int) {
		for _, s := range endsAt[step] {
			if p.slotBuf[s] >= 0 {
				free = append(free, p.slotBuf[s])
			}
		}
	}
	for _, id := range p.inputs {
		if s := p.values[id].slot; p.slotBuf[s] < 0 {
			take(s)
		}
	}
	release(-1)
	for i, st := range p.steps {
		s := p.values[st.writes()].slot
		if p.slotBuf[s] < 0 {
			take(s)
		}
		if t := st.temp(); t >= 0 {
			take(t)
		}
		release(i)
	}
	// Slots of values that fusion made unnecessary keep slotBuf -1:
	// nothing reads or writes them.
}
