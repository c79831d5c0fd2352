// Package onnxbuild writes ONNX models in Go, for the packages that rebuild a
// network as an ONNX graph from its weights (faceid, faceage): the decoding of
// TensorFlow.js weights files, and a minimal protobuf encoder of the part of
// ModelProto that internal/onnx reads (nodes, float32 and int64
// initializers, fixed-shape float32 inputs and outputs, IR version 7,
// operator set 13).
package onnxbuild

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Weight is one decoded weight: its TensorFlow.js shape and values.
type Weight struct {
	Shape []int
	Data  []float32
}

// tfjsManifest is a TensorFlow.js weights manifest.
type tfjsManifest []struct {
	Paths   []string `json:"paths"`
	Weights []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		Dtype        string `json:"dtype"`
		Quantization *struct {
			Dtype string  `json:"dtype"`
			Scale float64 `json:"scale"`
			Min   float64 `json:"min"`
		} `json:"quantization"`
	} `json:"weights"`
}

// DecodeTFJS decodes a TensorFlow.js weights file as its manifest describes
// it, the way TensorFlow.js does: float32 values as they are, uint8 ones as
// min + scale·q. The manifest must have one group, float32 weights, and
// account for every byte of the file.
func DecodeTFJS(manifest, bin []byte) (map[string]Weight, error) {
	var m tfjsManifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("weights manifest: %w", err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("weights manifest: %d groups, want 1", len(m))
	}
	out := make(map[string]Weight)
	off := 0
	for _, w := range m[0].Weights {
		if w.Dtype != "float32" {
			return nil, fmt.Errorf("weight %s: dtype %q, want float32", w.Name, w.Dtype)
		}
		n := 1
		for _, d := range w.Shape {
			if d <= 0 || d > 1<<20 {
				return nil, fmt.Errorf("weight %s: bad shape %v", w.Name, w.Shape)
			}
			n *= d
			if n > 1<<28 {
				return nil, fmt.Errorf("weight %s: shape %v too large", w.Name, w.Shape)
			}
		}
		vals := make([]float32, n)
		switch {
		case w.Quantization == nil:
			if off+4*n > len(bin) {
				return nil, fmt.Errorf("weight %s: weights file too short", w.Name)
			}
			for i := range vals {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(bin[off+4*i:]))
			}
			off += 4 * n
		case w.Quantization.Dtype == "uint8":
			if off+n > len(bin) {
				return nil, fmt.Errorf("weight %s: weights file too short", w.Name)
			}
			q := w.Quantization
			for i := range vals {
				vals[i] = float32(float64(bin[off+i])*q.Scale + q.Min)
			}
			off += n
		default:
			return nil, fmt.Errorf("weight %s: quantisation %q not supported", w.Name, w.Quantization.Dtype)
		}
		if _, dup := out[w.Name]; dup {
			return nil, fmt.Errorf("weight %s listed twice", w.Name)
		}
		out[w.Name] = Weight{Shape: w.Shape, Data: vals}
	}
	if off != len(bin) {
		return nil, fmt.Errorf("weights file has %d bytes, the manifest describes %d", len(bin), off)
	}
	return out, nil
}

// Graph accumulates an ONNX graph built from a set of named weights, and
// records which weights it used.
type Graph struct {
	w     map[string]Weight
	used  map[string]bool
	nodes [][]byte
	inits [][]byte
	n     int // for fresh value names
}

// NewGraph returns an empty graph that draws on weights w.
func NewGraph(w map[string]Weight) *Graph {
	return &Graph{w: w, used: make(map[string]bool)}
}

// Weight returns the named weight, checking its shape, and marks it used.
func (g *Graph) Weight(name string, shape []int) (Weight, error) {
	w, ok := g.w[name]
	if !ok {
		return Weight{}, fmt.Errorf("weight %s missing", name)
	}
	if !slices.Equal(w.Shape, shape) {
		return Weight{}, fmt.Errorf("weight %s has shape %v, want %v", name, w.Shape, shape)
	}
	g.used[name] = true
	return w, nil
}

// Shape returns the shape of the named weight, without marking it used.
func (g *Graph) Shape(name string) ([]int, bool) {
	w, ok := g.w[name]
	return w.Shape, ok
}

// Unused returns the names of the weights the graph has not used, sorted.
func (g *Graph) Unused() []string {
	var out []string
	for name := range g.w {
		if !g.used[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Node adds a node with one fresh output and returns the output's name.
func (g *Graph) Node(op string, in []string, attrs ...[]byte) string {
	g.n++
	out := fmt.Sprintf("v%d", g.n)
	g.NodeTo(op, in, out, attrs...)
	return out
}

// NodeTo adds a node whose one output is named out (a graph output).
func (g *Graph) NodeTo(op string, in []string, out string, attrs ...[]byte) {
	g.nodes = append(g.nodes, encNode(op, in, []string{out}, attrs))
}

// Floats adds a float32 initializer and returns its name.
func (g *Graph) Floats(shape []int, data []float32) string {
	g.n++
	name := fmt.Sprintf("w%d", g.n)
	t := encTensorHead(name, shape, 1)
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	g.inits = append(g.inits, pbBytes(t, 9, raw))
	return name
}

// Int64s adds a 1-D int64 initializer and returns its name.
func (g *Graph) Int64s(v ...int64) string {
	g.n++
	name := fmt.Sprintf("w%d", g.n)
	t := encTensorHead(name, []int{len(v)}, 7)
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	g.inits = append(g.inits, pbBytes(t, 9, raw))
	return name
}

// Value names a float32 graph input or output of a fixed shape.
type Value struct {
	Name  string
	Shape []int
}

// Model encodes the ModelProto (IR version 7, operator set 13) of the
// graph, named name, with one input and one output.
func (g *Graph) Model(name, producer string, in, out Value) []byte {
	var gr []byte
	for _, n := range g.nodes {
		gr = pbBytes(gr, 1, n)
	}
	gr = pbString(gr, 2, name)
	for _, t := range g.inits {
		gr = pbBytes(gr, 5, t)
	}
	gr = pbBytes(gr, 11, encValue(in.Name, in.Shape))
	gr = pbBytes(gr, 12, encValue(out.Name, out.Shape))
	m := pbInt(nil, 1, 7)
	m = pbString(m, 2, producer)
	m = pbBytes(m, 7, gr)
	return pbBytes(m, 8, pbInt(pbString(nil, 1, ""), 2, 13))
}

// AttrInt encodes an INT attribute.
func AttrInt(name string, v int64) []byte {
	return pbInt(pbInt(pbString(nil, 1, name), 20, 2), 3, v)
}

// AttrInts encodes an INTS attribute.
func AttrInts(name string, v ...int64) []byte {
	var p []byte
	for _, x := range v {
		p = pbVarint(p, uint64(x))
	}
	return pbBytes(pbInt(pbString(nil, 1, name), 20, 7), 8, p)
}

// A minimal protobuf writer for the ONNX messages above (field numbers from
// onnx.proto).

func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func pbInt(b []byte, field int, v int64) []byte {
	return pbVarint(pbVarint(b, uint64(field)<<3), uint64(v))
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = pbVarint(b, uint64(field)<<3|2)
	return append(pbVarint(b, uint64(len(v))), v...)
}

func pbString(b []byte, field int, s string) []byte { return pbBytes(b, field, []byte(s)) }

// encTensorHead encodes a TensorProto's dims, data type and name.
func encTensorHead(name string, shape []int, dtype int64) []byte {
	var b []byte
	for _, d := range shape {
		b = pbInt(b, 1, int64(d))
	}
	b = pbInt(b, 2, dtype)
	return pbString(b, 8, name)
}

func encNode(op string, in, out []string, attrs [][]byte) []byte {
	var b []byte
	for _, s := range in {
		b = pbString(b, 1, s)
	}
	for _, s := range out {
		b = pbString(b, 2, s)
	}
	b = pbString(b, 4, op)
	for _, a := range attrs {
		b = pbBytes(b, 5, a)
	}
	return b
}

// encValue encodes a float32 ValueInfoProto of a fixed shape.
func encValue(name string, shape []int) []byte {
	var dims []byte
	for _, d := range shape {
		dims = pbBytes(dims, 1, pbInt(nil, 1, int64(d)))
	}
	tensor := pbBytes(pbInt(nil, 1, 1), 2, dims)
	return pbBytes(pbString(nil, 1, name), 2, pbBytes(nil, 1, tensor))
}
