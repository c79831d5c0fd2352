// Package onnx runs ONNX models of float32 convolutional networks in pure
// Go: a strict reader of the ONNX protobuf format and an executor for the
// operators FaceVault's face models use, with AVX2/FMA assembly kernels on
// amd64 and portable Go everywhere else.
//
// Load reads a model and plans it once: it sorts the graph, infers every
// shape from the fixed input shapes, folds constant subgraphs, fuses
// convolutions with the additions and activations that follow them, and
// assigns the intermediate values to a few reusable buffers. Run then
// executes that plan with per-call buffers taken from a pool, so a Model is
// safe for concurrent use and a call allocates only its outputs.
//
// Supported (anything else is refused by Load with an error naming it):
// models of IR version 3 or later importing the default operator set
// (ai.onnx) versions 7 to 22; float32 tensors, and int64 tensors for shape
// computations that fold to constants; batch size 1 for the spatial
// operators; the operators Add, BatchNormalization,
// Concat, Constant, ConstantOfShape, Conv (2-D; dense, depthwise and
// grouped), Gather (on constants), GlobalAveragePool, Identity, MatMul (with a
// constant right operand), MaxPool (2-D), Mul, PRelu, Relu, Reshape, Shape,
// Sigmoid, Squeeze, Transpose and Unsqueeze, with the attribute values
// listed at each operator in ops.go.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"
)

// Tensor is a dense float32 tensor in row-major order: len(Data) is the
// product of Shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ValueInfo names a graph input or output and gives its shape.
type ValueInfo struct {
	Name  string
	Shape []int
}

// Model is a planned ONNX model. It is immutable after Load and safe for
// concurrent use.
type Model struct {
	p       *plan
	inputs  []ValueInfo
	outputs []ValueInfo
	pool    sync.Pool // *scratch
}

// options are Load's settings that only tests change.
type options struct {
	// generic disables the assembly kernels.
	generic bool
}

// Load reads and plans an ONNX model (the bytes of a .onnx file). It
// refuses, with an error saying what, anything this package does not
// implement exactly: an operator, attribute value or data type it does not
// know, external data, subgraphs, inputs whose shape is not fully known.
func Load(data []byte) (*Model, error) {
	return load(data, options{})
}

func load(data []byte, opt options) (*Model, error) {
	mp, err := parseModel(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	p, err := compile(mp, len(data), opt)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m := &Model{p: p}
	for _, id := range p.inputs {
		v := p.values[id]
		m.inputs = append(m.inputs, ValueInfo{Name: v.name, Shape: slices.Clone(v.shape)})
	}
	for i, id := range p.outputs {
		m.outputs = append(m.outputs, ValueInfo{Name: p.outputNames[i], Shape: slices.Clone(p.values[id].shape)})
	}
	m.pool.New = func() any { return p.newScratch() }
	return m, nil
}

// Inputs describes the model's inputs, in graph order.
func (m *Model) Inputs() []ValueInfo { return cloneInfo(m.inputs) }

// Outputs describes the model's outputs, in graph order.
func (m *Model) Outputs() []ValueInfo { return cloneInfo(m.outputs) }

func cloneInfo(in []ValueInfo) []ValueInfo {
	out := make([]ValueInfo, len(in))
	for i, v := range in {
		out[i] = ValueInfo{Name: v.Name, Shape: slices.Clone(v.Shape)}
	}
	return out
}

// ScratchBytes is the memory one Run needs besides the model itself: its
// working buffers (kept in a pool between calls), plus the outputs it
// returns.
func (m *Model) ScratchBytes() int64 {
	n := m.p.scratchBytes() + int64(unsafe.Sizeof(scratch{}))
	for _, o := range m.outputs {
		n += 4 * int64(numElements(o.Shape))
	}
	return n
}

// Errors returned by Run for bad inputs (wrapped with details).
var (
	// ErrInput reports inputs that do not match the model: a missing or
	// unknown name, a wrong shape or data length, or a value that is not
	// finite.
	ErrInput = errors.New("onnx: bad input")
)

// Run executes the model on inputs, keyed by input name (all of the
// model's inputs, each with exactly its shape and finite values), and
// returns the outputs keyed by name, newly allocated. It returns ctx's
// error if ctx is done before it finishes.
func (m *Model) Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error) {
	p := m.p
	if len(inputs) != len(p.inputs) {
		return nil, fmt.Errorf("%w: got %d inputs, the model has %d (%s)", ErrInput, len(inputs), len(p.inputs), m.inputNames())
	}
	for i, id := range p.inputs {
		v := p.values[id]
		t, ok := inputs[v.name]
		if !ok || t == nil {
			return nil, fmt.Errorf("%w: input %q is missing (the model's inputs are %s)", ErrInput, v.name, m.inputNames())
		}
		if !slices.Equal(t.Shape, v.shape) {
			return nil, fmt.Errorf("%w: input %q has shape %v, want %v", ErrInput, v.name, t.Shape, m.inputs[i].Shape)
		}
		if len(t.Data) != v.n {
			return nil, fmt.Errorf("%w: input %q has %d values, shape %v needs %d", ErrInput, v.name, len(t.Data), v.shape, v.n)
		}
		if j := nonFinite(t.Data); j >= 0 {
			return nil, fmt.Errorf("%w: input %q value %d is %v", ErrInput, v.name, j, t.Data[j])
		}
	}
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	for _, id := range p.inputs {
		copy(p.data(s, id), inputs[p.values[id].name].Data)
	}
	for i, st := range p.steps {
		if i%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		st.exec(p, s)
	}
	out := make(map[string]*Tensor, len(p.outputs))
	for i, id := range p.outputs {
		v := p.values[id]
		out[p.outputNames[i]] = &Tensor{Shape: slices.Clone(v.shape), Data: slices.Clone(p.data(s, id))}
	}
	return out, nil
}

func (m *Model) inputNames() string {
	s := ""
	for i, in := range m.inputs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q %v", in.Name, in.Shape)
	}
	return s
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// nonFinite returns the index of the first NaN or infinity in d, or -1.
func nonFinite(d []float32) int {
	const exp = 0x7f800000 // all exponent bits set: NaN or ±Inf
	for i, x := range d {
		if math.Float32bits(x)&exp == exp {
			return i
		}
	}
	return -1
}
