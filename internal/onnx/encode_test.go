package onnx

import (
	"encoding/binary"
	"math"
)

// A small ONNX encoder for tests: it writes the ModelProto fields the
// reader knows (and, where a test needs them, fields it must refuse), so
// that the tests can build single-operator models for onnxruntime and for
// the Go executor.

type tModel struct {
	ir      int64 // default 8
	opset   int64 // default 13
	domains map[string]int64
	inputs  []tValue
	outputs []tValue
	inits   []*tTensor
	nodes   []tNode
	extra   []byte // appended to the graph message
}

type tValue struct {
	name  string
	dtype int64 // default FLOAT
	shape []int64
	sym   []bool // symbolic dimensions
}

type tNode struct {
	op     string
	domain string
	in     []string
	out    []string
	attrs  []tAttr
}

type tAttr struct {
	name   string
	typ    int64
	i      int64
	f      float32
	s      string
	ints   []int64
	floats []float32
	t      *tTensor
}

type tTensor struct {
	name  string
	dtype int64 // default FLOAT
	dims  []int64
	f32   []float32
	i64   []int64
	raw   bool // store as raw_data rather than float_data/int64_data
	extra []byte
}

func aInt(name string, v int64) tAttr         { return tAttr{name: name, typ: attrInt, i: v} }
func aInts(name string, v ...int64) tAttr     { return tAttr{name: name, typ: attrInts, ints: v} }
func aFloat(name string, v float32) tAttr     { return tAttr{name: name, typ: attrFloat, f: v} }
func aString(name, v string) tAttr            { return tAttr{name: name, typ: attrString, s: v} }
func aTensor(name string, t *tTensor) tAttr   { return tAttr{name: name, typ: attrTensor, t: t} }
func aFloats(name string, v ...float32) tAttr { return tAttr{name: name, typ: attrFloats, floats: v} }

func fTensor(name string, dims []int64, data []float32) *tTensor {
	return &tTensor{name: name, dims: dims, f32: data, raw: true}
}

func iTensor(name string, data ...int64) *tTensor {
	return &tTensor{name: name, dtype: dtInt64, dims: []int64{int64(len(data))}, i64: data, raw: true}
}

func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func pbTag(b []byte, field, wt int) []byte { return pbVarint(b, uint64(field)<<3|uint64(wt)) }

func pbInt(b []byte, field int, v int64) []byte {
	return pbVarint(pbTag(b, field, wireVarint), uint64(v))
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = pbTag(b, field, wireBytes)
	b = pbVarint(b, uint64(len(v)))
	return append(b, v...)
}

func pbString(b []byte, field int, s string) []byte { return pbBytes(b, field, []byte(s)) }

func (t *tTensor) encode() []byte {
	var b []byte
	for _, d := range t.dims {
		b = pbInt(b, 1, d)
	}
	dt := t.dtype
	if dt == 0 {
		dt = dtFloat
	}
	b = pbInt(b, 2, dt)
	if t.name != "" {
		b = pbString(b, 8, t.name)
	}
	switch {
	case t.raw && t.f32 != nil:
		raw := make([]byte, 4*len(t.f32))
		for i, v := range t.f32 {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		b = pbBytes(b, 9, raw)
	case t.raw && t.i64 != nil:
		raw := make([]byte, 8*len(t.i64))
		for i, v := range t.i64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
		b = pbBytes(b, 9, raw)
	case t.f32 != nil:
		var p []byte
		for _, v := range t.f32 {
			p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
		}
		b = pbBytes(b, 4, p)
	case t.i64 != nil:
		var p []byte
		for _, v := range t.i64 {
			p = pbVarint(p, uint64(v))
		}
		b = pbBytes(b, 7, p)
	}
	return append(b, t.extra...)
}

func (a *tAttr) encode() []byte {
	b := pbString(nil, 1, a.name)
	b = pbInt(b, 20, a.typ)
	switch a.typ {
	case attrFloat:
		b = pbTag(b, 2, wireFixed32)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(a.f))
	case attrInt:
		b = pbInt(b, 3, a.i)
	case attrString:
		b = pbString(b, 4, a.s)
	case attrTensor:
		b = pbBytes(b, 5, a.t.encode())
	case attrFloats:
		var p []byte
		for _, v := range a.floats {
			p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
		}
		b = pbBytes(b, 7, p)
	case attrInts:
		var p []byte
		for _, v := range a.ints {
			p = pbVarint(p, uint64(v))
		}
		b = pbBytes(b, 8, p)
	}
	return b
}

func (v *tValue) encode() []byte {
	var shape []byte
	for i, d := range v.shape {
		var dim []byte
		if i < len(v.sym) && v.sym[i] {
			dim = pbString(nil, 2, "N")
		} else {
			dim = pbInt(nil, 1, d)
		}
		shape = pbBytes(shape, 1, dim)
	}
	dt := v.dtype
	if dt == 0 {
		dt = dtFloat
	}
	tensor := pbInt(nil, 1, dt)
	if v.shape != nil {
		tensor = pbBytes(tensor, 2, shape)
	}
	typ := pbBytes(nil, 1, tensor)
	b := pbString(nil, 1, v.name)
	return pbBytes(b, 2, typ)
}

func (n *tNode) encode() []byte {
	var b []byte
	for _, s := range n.in {
		b = pbString(b, 1, s)
	}
	for _, s := range n.out {
		b = pbString(b, 2, s)
	}
	b = pbString(b, 4, n.op)
	if n.domain != "" {
		b = pbString(b, 7, n.domain)
	}
	for i := range n.attrs {
		b = pbBytes(b, 5, n.attrs[i].encode())
	}
	return b
}

func (m *tModel) encode() []byte {
	var g []byte
	for i := range m.nodes {
		g = pbBytes(g, 1, m.nodes[i].encode())
	}
	g = pbString(g, 2, "test")
	for _, t := range m.inits {
		g = pbBytes(g, 5, t.encode())
	}
	for i := range m.inputs {
		g = pbBytes(g, 11, m.inputs[i].encode())
	}
	for i := range m.outputs {
		g = pbBytes(g, 12, m.outputs[i].encode())
	}
	g = append(g, m.extra...)
	ir, opset := m.ir, m.opset
	if ir == 0 {
		ir = 8
	}
	if opset == 0 {
		opset = 13
	}
	b := pbInt(nil, 1, ir)
	b = pbString(b, 2, "facevault-test")
	b = pbBytes(b, 7, g)
	b = pbBytes(b, 8, pbInt(pbString(nil, 1, ""), 2, opset))
	for d, v := range m.domains {
		b = pbBytes(b, 8, pbInt(pbString(nil, 1, d), 2, v))
	}
	return b
}
