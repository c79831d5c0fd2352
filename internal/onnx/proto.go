package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// This file decodes the protobuf wire format of an ONNX ModelProto
// (onnx/onnx.proto), by hand and only for the fields an inference graph of
// float32 tensors needs. Fields that cannot change what the graph computes
// (documentation, metadata, value_info) are skipped; fields that would
// (external or sparse data, subgraphs, functions, training) are refused.
//
// Nothing is allocated in proportion to a number read from the file: every
// slice grows with the bytes actually present, and element counts taken
// from shapes are checked against the data and against maxElements.

// Limits on what a model may declare.
const (
	// maxElements is the largest number of elements of any tensor: a
	// constant, an input or an intermediate value (64 MiB of float32).
	maxElements = 1 << 24
	// maxRank is the largest number of dimensions of a tensor.
	maxRank = 8
	// maxNodes is the largest number of nodes in a graph.
	maxNodes = 1 << 13
	// maxAttrs is the largest number of attributes of a node.
	maxAttrs = 64
)

// ONNX TensorProto.DataType values this package knows by name.
const (
	dtFloat = 1
	dtInt32 = 6
	dtInt64 = 7
)

// ONNX AttributeProto.AttributeType values.
const (
	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrTensor  = 4
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
)

var dtypeNames = map[int64]string{
	0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
	7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32",
	13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
}

func dtypeName(t int64) string {
	if n, ok := dtypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("data type %d", t)
}

var attrTypeNames = map[int64]string{
	0: "UNDEFINED", 1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 5: "GRAPH", 6: "FLOATS",
	7: "INTS", 8: "STRINGS", 9: "TENSORS", 10: "GRAPHS", 11: "SPARSE_TENSOR",
	12: "SPARSE_TENSORS", 13: "TYPE_PROTO", 14: "TYPE_PROTOS",
}

func attrTypeName(t int64) string {
	if n, ok := attrTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("attribute type %d", t)
}

// errTruncated reports a message that ends inside a field.
var errTruncated = errors.New("truncated protobuf data")

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// wire reads the fields of one protobuf message.
type wire struct {
	b []byte
}

// next returns the next field's number and wire type, or ok false at the
// end of the message.
func (w *wire) next() (field int, typ int, ok bool, err error) {
	if len(w.b) == 0 {
		return 0, 0, false, nil
	}
	key, err := w.varint()
	if err != nil {
		return 0, 0, false, err
	}
	field, typ = int(key>>3), int(key&7)
	if key>>3 == 0 || key>>3 > math.MaxInt32 {
		return 0, 0, false, fmt.Errorf("bad protobuf field number %d", key>>3)
	}
	switch typ {
	case wireVarint, wireFixed64, wireBytes, wireFixed32:
	default:
		return 0, 0, false, fmt.Errorf("protobuf field %d has wire type %d, which ONNX never uses", field, typ)
	}
	return field, typ, true, nil
}

func (w *wire) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if i >= len(w.b) {
			return 0, errTruncated
		}
		c := w.b[i]
		if i == 9 && c > 1 {
			return 0, errors.New("protobuf varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			w.b = w.b[i+1:]
			return v, nil
		}
	}
	return 0, errors.New("protobuf varint longer than 10 bytes")
}

func (w *wire) bytes() ([]byte, error) {
	n, err := w.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(w.b)) {
		return nil, errTruncated
	}
	b := w.b[:n:n]
	w.b = w.b[n:]
	return b, nil
}

func (w *wire) fixed32() (uint32, error) {
	if len(w.b) < 4 {
		return 0, errTruncated
	}
	v := binary.LittleEndian.Uint32(w.b)
	w.b = w.b[4:]
	return v, nil
}

// skip discards the value of a field of wire type typ.
func (w *wire) skip(typ int) error {
	switch typ {
	case wireVarint:
		_, err := w.varint()
		return err
	case wireFixed64:
		if len(w.b) < 8 {
			return errTruncated
		}
		w.b = w.b[8:]
		return nil
	case wireFixed32:
		_, err := w.fixed32()
		return err
	default:
		_, err := w.bytes()
		return err
	}
}

// want checks a field's wire type.
func want(field, typ, wantTyp int, what string) error {
	if typ != wantTyp {
		return fmt.Errorf("%s (field %d) has wire type %d, want %d", what, field, typ, wantTyp)
	}
	return nil
}

func (w *wire) int64Field(field, typ int, what string) (int64, error) {
	if err := want(field, typ, wireVarint, what); err != nil {
		return 0, err
	}
	v, err := w.varint()
	return int64(v), err
}

func (w *wire) stringField(field, typ int, what string) (string, error) {
	if err := want(field, typ, wireBytes, what); err != nil {
		return "", err
	}
	b, err := w.bytes()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not valid UTF-8", what)
	}
	return string(b), nil
}

func (w *wire) msgField(field, typ int, what string) (*wire, error) {
	if err := want(field, typ, wireBytes, what); err != nil {
		return nil, err
	}
	b, err := w.bytes()
	if err != nil {
		return nil, err
	}
	return &wire{b: b}, nil
}

// int64s appends a repeated int64 field, packed or not.
func (w *wire) int64s(dst []int64, typ int, what string) ([]int64, error) {
	switch typ {
	case wireVarint:
		v, err := w.varint()
		return append(dst, int64(v)), err
	case wireBytes:
		b, err := w.bytes()
		if err != nil {
			return nil, err
		}
		p := wire{b: b}
		for len(p.b) > 0 {
			v, err := p.varint()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			dst = append(dst, int64(v))
		}
		return dst, nil
	}
	return nil, fmt.Errorf("%s has wire type %d", what, typ)
}

// float32s appends a repeated float field, packed or not.
func (w *wire) float32s(dst []float32, typ int, what string) ([]float32, error) {
	switch typ {
	case wireFixed32:
		v, err := w.fixed32()
		return append(dst, math.Float32frombits(v)), err
	case wireBytes:
		b, err := w.bytes()
		if err != nil {
			return nil, err
		}
		if len(b)%4 != 0 {
			return nil, fmt.Errorf("%s: packed floats of %d bytes", what, len(b))
		}
		for i := 0; i < len(b); i += 4 {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		return dst, nil
	}
	return nil, fmt.Errorf("%s has wire type %d", what, typ)
}

// The decoded messages.

type modelProto struct {
	irVersion int64
	opsets    map[string]int64 // domain ("" for ai.onnx) -> version
	producer  string
	graph     *graphProto
}

type graphProto struct {
	name    string
	nodes   []*nodeProto
	inits   []*tensorProto
	inputs  []*valueInfo
	outputs []*valueInfo
}

type nodeProto struct {
	name    string
	op      string
	domain  string
	inputs  []string
	outputs []string
	attrs   []*attribute
}

type attribute struct {
	name   string
	typ    int64
	f      float32
	i      int64
	s      string
	t      *tensorProto
	floats []float32
	ints   []int64
	// set records which value field was present, to check typ against.
	set int64
}

// tensorProto is a constant tensor: float32 or int64.
type tensorProto struct {
	name  string
	dims  []int
	dtype int64
	f32   []float32
	i64   []int64
}

// valueInfo is a graph input or output: a float32 tensor whose dimensions
// are known (>= 1) or unknown (-1, a dim_param or missing dim_value).
type valueInfo struct {
	name  string
	dtype int64
	dims  []int
	shape bool // whether a shape was given
}

// parseModel decodes a ModelProto.
func parseModel(data []byte) (*modelProto, error) {
	m := &modelProto{opsets: make(map[string]int64)}
	w := &wire{b: data}
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if !ok {
			break
		}
		switch field {
		case 1:
			if m.irVersion, err = w.int64Field(field, typ, "model ir_version"); err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
		case 2:
			if m.producer, err = w.stringField(field, typ, "model producer_name"); err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
		case 7:
			if m.graph != nil {
				return nil, errors.New("model: more than one graph")
			}
			sub, err := w.msgField(field, typ, "model graph")
			if err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
			if m.graph, err = parseGraph(sub); err != nil {
				return nil, err
			}
		case 8:
			sub, err := w.msgField(field, typ, "model opset_import")
			if err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
			domain, version, err := parseOpset(sub)
			if err != nil {
				return nil, err
			}
			if _, dup := m.opsets[domain]; dup {
				return nil, fmt.Errorf("model: opset_import lists domain %q twice", domain)
			}
			if len(m.opsets) >= 64 {
				return nil, errors.New("model: more than 64 opset imports")
			}
			m.opsets[domain] = version
		case 20:
			return nil, errors.New("model: training_info is not supported")
		case 25:
			return nil, errors.New("model: local functions are not supported")
		default:
			// producer_version, domain, model_version, doc_string,
			// metadata_props, ...: informational.
			if err := w.skip(typ); err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
		}
	}
	if m.graph == nil {
		return nil, errors.New("model: no graph")
	}
	if m.irVersion < 3 {
		return nil, fmt.Errorf("model: ir_version %d is not supported (need 3 or later, with opset_import)", m.irVersion)
	}
	return m, nil
}

func parseOpset(w *wire) (domain string, version int64, err error) {
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return "", 0, fmt.Errorf("opset_import: %w", err)
		}
		if !ok {
			return domain, version, nil
		}
		switch field {
		case 1:
			domain, err = w.stringField(field, typ, "opset_import domain")
		case 2:
			version, err = w.int64Field(field, typ, "opset_import version")
		default:
			err = w.skip(typ)
		}
		if err != nil {
			return "", 0, fmt.Errorf("opset_import: %w", err)
		}
	}
}

func parseGraph(w *wire) (*graphProto, error) {
	g := &graphProto{}
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
		if !ok {
			return g, nil
		}
		switch field {
		case 1:
			if len(g.nodes) >= maxNodes {
				return nil, fmt.Errorf("graph: more than %d nodes", maxNodes)
			}
			sub, err := w.msgField(field, typ, "graph node")
			if err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
			n, err := parseNode(sub)
			if err != nil {
				return nil, fmt.Errorf("graph: node %d: %w", len(g.nodes), err)
			}
			g.nodes = append(g.nodes, n)
		case 2:
			if g.name, err = w.stringField(field, typ, "graph name"); err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
		case 5:
			sub, err := w.msgField(field, typ, "graph initializer")
			if err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
			t, err := parseTensor(sub)
			if err != nil {
				return nil, fmt.Errorf("graph: initializer %d: %w", len(g.inits), err)
			}
			g.inits = append(g.inits, t)
		case 11, 12:
			what := "input"
			if field == 12 {
				what = "output"
			}
			sub, err := w.msgField(field, typ, "graph "+what)
			if err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
			v, err := parseValueInfo(sub)
			if err != nil {
				return nil, fmt.Errorf("graph: %s: %w", what, err)
			}
			if field == 11 {
				g.inputs = append(g.inputs, v)
			} else {
				g.outputs = append(g.outputs, v)
			}
		case 3, 4:
			return nil, fmt.Errorf("graph: field %d (deprecated string inputs/outputs) is not supported", field)
		case 15:
			return nil, errors.New("graph: sparse initializers are not supported")
		case 14:
			return nil, errors.New("graph: quantization annotations are not supported")
		default:
			// doc_string, value_info (shapes are inferred here),
			// metadata_props.
			if err := w.skip(typ); err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
		}
	}
}

func parseNode(w *wire) (*nodeProto, error) {
	n := &nodeProto{}
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch field {
		case 1, 2:
			s, err := w.stringField(field, typ, "node input/output")
			if err != nil {
				return nil, err
			}
			if field == 1 {
				n.inputs = append(n.inputs, s)
			} else {
				n.outputs = append(n.outputs, s)
			}
		case 3:
			n.name, err = w.stringField(field, typ, "node name")
		case 4:
			n.op, err = w.stringField(field, typ, "node op_type")
		case 7:
			n.domain, err = w.stringField(field, typ, "node domain")
		case 5:
			var sub *wire
			if sub, err = w.msgField(field, typ, "node attribute"); err != nil {
				return nil, err
			}
			a, err := parseAttribute(sub)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", n.op, n.name, err)
			}
			if len(n.attrs) >= maxAttrs {
				return nil, fmt.Errorf("%s %q: more than %d attributes", n.op, n.name, maxAttrs)
			}
			for _, b := range n.attrs {
				if b.name == a.name {
					return nil, fmt.Errorf("%s %q: attribute %q given twice", n.op, n.name, a.name)
				}
			}
			n.attrs = append(n.attrs, a)
		case 8:
			return nil, errors.New("node overloads (functions) are not supported")
		default:
			err = w.skip(typ) // doc_string, metadata_props, ...
		}
		if err != nil {
			return nil, err
		}
	}
	if n.op == "" {
		return nil, fmt.Errorf("node %q has no op_type", n.name)
	}
	return n, nil
}

func parseAttribute(w *wire) (*attribute, error) {
	a := &attribute{}
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return nil, fmt.Errorf("attribute: %w", err)
		}
		if !ok {
			break
		}
		var setType int64
		switch field {
		case 1:
			a.name, err = w.stringField(field, typ, "attribute name")
		case 20:
			a.typ, err = w.int64Field(field, typ, "attribute type")
		case 2:
			if err = want(field, typ, wireFixed32, "attribute f"); err == nil {
				var v uint32
				v, err = w.fixed32()
				a.f = math.Float32frombits(v)
			}
			setType = attrFloat
		case 3:
			a.i, err = w.int64Field(field, typ, "attribute i")
			setType = attrInt
		case 4:
			a.s, err = w.stringField(field, typ, "attribute s")
			setType = attrString
		case 5:
			var sub *wire
			if sub, err = w.msgField(field, typ, "attribute t"); err == nil {
				a.t, err = parseTensor(sub)
			}
			setType = attrTensor
		case 7:
			a.floats, err = w.float32s(a.floats, typ, "attribute floats")
			setType = attrFloats
		case 8:
			a.ints, err = w.int64s(a.ints, typ, "attribute ints")
			setType = attrInts
		case 9:
			err = w.skip(typ)
			setType = attrStrings
		case 6, 10, 11, 14, 15, 22, 23:
			return nil, fmt.Errorf("attribute %q: graph, tensor list, sparse tensor and type values are not supported", a.name)
		case 21:
			return nil, fmt.Errorf("attribute %q: references to function attributes are not supported", a.name)
		default:
			err = w.skip(typ) // doc_string
		}
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		if setType != 0 {
			if a.set != 0 && a.set != setType {
				return nil, fmt.Errorf("attribute %q holds both %s and %s values", a.name, attrTypeName(a.set), attrTypeName(setType))
			}
			a.set = setType
		}
	}
	if a.name == "" {
		return nil, errors.New("attribute without a name")
	}
	if a.typ == 0 {
		return nil, fmt.Errorf("attribute %q has no type", a.name)
	}
	switch a.typ {
	case attrFloat, attrInt, attrString, attrTensor, attrFloats, attrInts:
	default:
		return nil, fmt.Errorf("attribute %q: type %s is not supported", a.name, attrTypeName(a.typ))
	}
	// Scalars may be omitted when zero or empty (proto3 default values),
	// lists when empty; any value present must match the type.
	if a.set != 0 && a.set != a.typ {
		return nil, fmt.Errorf("attribute %q of type %s holds a %s value", a.name, attrTypeName(a.typ), attrTypeName(a.set))
	}
	if a.typ == attrTensor && a.t == nil {
		return nil, fmt.Errorf("attribute %q of type TENSOR has no tensor", a.name)
	}
	return a, nil
}

func parseTensor(w *wire) (*tensorProto, error) {
	t := &tensorProto{}
	var (
		dims                   []int64
		raw                    []byte
		hasRaw                 bool
		f32                    []float32
		i64                    []int64
		dtypeSet, hasTypedData bool
	)
	for {
		field, typ, ok, err := w.next()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.name, err)
		}
		if !ok {
			break
		}
		switch field {
		case 1:
			if len(dims) >= maxRank {
				return nil, fmt.Errorf("tensor %q: more than %d dimensions", t.name, maxRank)
			}
			dims, err = w.int64s(dims, typ, "tensor dims")
		case 2:
			t.dtype, err = w.int64Field(field, typ, "tensor data_type")
			dtypeSet = true
		case 4:
			f32, err = w.float32s(f32, typ, "tensor float_data")
			hasTypedData = true
		case 7:
			i64, err = w.int64s(i64, typ, "tensor int64_data")
			hasTypedData = true
		case 8:
			t.name, err = w.stringField(field, typ, "tensor name")
		case 9:
			if err = want(field, typ, wireBytes, "tensor raw_data"); err == nil {
				raw, err = w.bytes()
				hasRaw = true
			}
		case 3:
			return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", t.name)
		case 5, 6, 10, 11:
			return nil, fmt.Errorf("tensor %q: data field %d (int32, string, double or uint64 data) is not supported", t.name, field)
		case 13:
			return nil, fmt.Errorf("tensor %q: external data is not supported", t.name)
		case 14:
			var loc int64
			if loc, err = w.int64Field(field, typ, "tensor data_location"); err == nil && loc != 0 {
				return nil, fmt.Errorf("tensor %q: external data is not supported", t.name)
			}
		default:
			err = w.skip(typ) // doc_string, metadata_props
		}
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.name, err)
		}
	}
	if !dtypeSet {
		return nil, fmt.Errorf("tensor %q has no data_type", t.name)
	}
	if len(dims) > maxRank {
		return nil, fmt.Errorf("tensor %q: more than %d dimensions", t.name, maxRank)
	}
	n, err := elements(dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, err)
	}
	t.dims = make([]int, len(dims))
	for i, d := range dims {
		t.dims[i] = int(d)
	}
	if hasRaw && hasTypedData {
		return nil, fmt.Errorf("tensor %q has both raw_data and typed data", t.name)
	}
	switch t.dtype {
	case dtFloat:
		if len(i64) > 0 {
			return nil, fmt.Errorf("tensor %q: FLOAT tensor with int64_data", t.name)
		}
		if hasRaw {
			if len(raw) != 4*n {
				return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, shape %v needs %d", t.name, len(raw), dims, 4*n)
			}
			f32 = make([]float32, n)
			for i := range f32 {
				f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if len(f32) != n {
			return nil, fmt.Errorf("tensor %q: %d float values, shape %v needs %d", t.name, len(f32), dims, n)
		}
		if f32 == nil {
			f32 = []float32{}
		}
		t.f32 = f32
	case dtInt64:
		if len(f32) > 0 {
			return nil, fmt.Errorf("tensor %q: INT64 tensor with float_data", t.name)
		}
		if hasRaw {
			if len(raw) != 8*n {
				return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, shape %v needs %d", t.name, len(raw), dims, 8*n)
			}
			i64 = make([]int64, n)
			for i := range i64 {
				i64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		if len(i64) != n {
			return nil, fmt.Errorf("tensor %q: %d int64 values, shape %v needs %d", t.name, len(i64), dims, n)
		}
		if i64 == nil {
			i64 = []int64{}
		}
		t.i64 = i64
	default:
		return nil, fmt.Errorf("tensor %q: data type %s is not supported (only FLOAT, and INT64 for shapes)", t.name, dtypeName(t.dtype))
	}
	return t, nil
}

// elements returns the number of elements of a shape, refusing negative
// dimensions and more than maxElements.
func elements(dims []int64) (int, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", dims)
		}
		if d > maxElements {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, maxElements)
		}
		n *= d
		if n > maxElements {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, maxElements)
		}
	}
	return int(n), nil
}

func parseValueInfo(w *wire) (*valueInfo, error) {
	v := &valueInfo{}
	var typ *wire
	for {
		field, wt, ok, err := w.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch field {
		case 1:
			v.name, err = w.stringField(field, wt, "value name")
		case 2:
			typ, err = w.msgField(field, wt, "value type")
		default:
			err = w.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	if v.name == "" {
		return nil, errors.New("value without a name")
	}
	if typ == nil {
		return nil, fmt.Errorf("value %q has no type", v.name)
	}
	// TypeProto: only tensor_type (1).
	var tensor *wire
	for {
		field, wt, ok, err := typ.next()
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v.name, err)
		}
		if !ok {
			break
		}
		switch field {
		case 1:
			tensor, err = typ.msgField(field, wt, "tensor_type")
		case 6:
			err = typ.skip(wt) // denotation
		default:
			return nil, fmt.Errorf("value %q: only tensor types are supported (TypeProto field %d)", v.name, field)
		}
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v.name, err)
		}
	}
	if tensor == nil {
		return nil, fmt.Errorf("value %q is not a tensor", v.name)
	}
	for {
		field, wt, ok, err := tensor.next()
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v.name, err)
		}
		if !ok {
			break
		}
		switch field {
		case 1:
			v.dtype, err = tensor.int64Field(field, wt, "elem_type")
		case 2:
			var shape *wire
			if shape, err = tensor.msgField(field, wt, "shape"); err == nil {
				v.shape = true
				v.dims, err = parseShape(shape)
			}
		default:
			err = tensor.skip(wt)
		}
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v.name, err)
		}
	}
	return v, nil
}

// parseShape decodes a TensorShapeProto: known dimensions, and -1 for
// symbolic or missing ones.
func parseShape(w *wire) ([]int, error) {
	dims := []int{}
	for {
		field, wt, ok, err := w.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return dims, nil
		}
		if field != 1 {
			if err := w.skip(wt); err != nil {
				return nil, err
			}
			continue
		}
		if len(dims) >= maxRank {
			return nil, fmt.Errorf("shape has more than %d dimensions", maxRank)
		}
		dw, err := w.msgField(field, wt, "shape dim")
		if err != nil {
			return nil, err
		}
		d := -1
		for {
			f, t, ok, err := dw.next()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			switch f {
			case 1:
				v, err := dw.int64Field(f, t, "dim_value")
				if err != nil {
					return nil, err
				}
				if v < 0 || v > maxElements {
					return nil, fmt.Errorf("dimension %d out of range", v)
				}
				d = int(v)
			case 2:
				if err := dw.skip(t); err != nil {
					return nil, err
				}
				d = -1
			default:
				if err := dw.skip(t); err != nil {
					return nil, err
				}
			}
		}
		dims = append(dims, d)
	}
}

// attr finds a node's attribute by name.
func (n *nodeProto) attr(name string) *attribute {
	for _, a := range n.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}
