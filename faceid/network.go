package faceid

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// The face-recognition network is dlib's ResNet face descriptor
// (dlib_face_recognition_resnet_model_v1), as face-api.js defines it in code
// (src/faceRecognitionNet in @vladmandic/face-api 1.7.15) and ships its
// weights: a TensorFlow.js weights file and its manifest. FaceVault's
// executor runs ONNX, so buildNetwork reads the weights and writes the same
// network as an ONNX graph, which internal/onnx then loads like any other
// model. The graph follows face-api.js operation for operation:
//
//	input 150×150 RGB, (v − mean) / 255
//	conv 7×7/2 valid, scale, ReLU; max pool 3×3/2 valid
//	3 residual blocks of 32 channels
//	a down block and 3 residual blocks of 64, a down block and 2 of 128,
//	a down block and 2 of 256, and a last down block of 256
//	mean over the spatial dimensions; a 256×128 matrix: the descriptor
//
// where a convolution layer is conv + bias, then a per-channel scale and
// shift (dlib's affine layer, batch normalisation folded); a residual block
// is relu(conv2(relu(conv1(x))) + x) with 3×3 "same" convolutions; and a
// down block is the same with conv1 3×3/2 valid and, on the shortcut, a 2×2/2
// average pool zero-padded to the block's channels (and the block's output
// zero-padded by a row and a column when the pool comes out larger).
//
// Two rewrites keep the graph within the executor's operators and are exact
// up to float32 rounding: each layer's bias, scale and shift are folded into
// its convolution's weights and bias, and the 2×2 average pool is a
// depthwise 2×2/2 convolution whose weights are all 1/4.

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

// tfWeight is one decoded weight: its TensorFlow.js shape and values.
type tfWeight struct {
	shape []int
	data  []float32
}

// decodeWeights decodes a TensorFlow.js weights file as its manifest
// describes it, the way TensorFlow.js does: float32 values as they are,
// uint8 ones as min + scale·q.
func decodeWeights(manifest, bin []byte) (map[string]tfWeight, error) {
	var m tfjsManifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("weights manifest: %w", err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("weights manifest: %d groups, want 1", len(m))
	}
	out := make(map[string]tfWeight)
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
		out[w.Name] = tfWeight{shape: w.Shape, data: vals}
	}
	if off != len(bin) {
		return nil, fmt.Errorf("weights file has %d bytes, the manifest describes %d", len(bin), off)
	}
	return out, nil
}

// Names of the network's input and output in the ONNX graph.
const (
	netInput  = "input"
	netOutput = "descriptor"
	// ChipSize is the side, in pixels, of the aligned face the network
	// reads.
	ChipSize = 150
	// Dim is the number of values in an embedding.
	Dim = 128
)

// meanRGB is the per-channel mean face-api.js subtracts before dividing by
// 255.
var meanRGB = [3]float32{122.782, 117.001, 104.298}

// graph accumulates the ONNX graph buildNetwork writes.
type graph struct {
	w     map[string]tfWeight
	used  map[string]bool
	nodes [][]byte
	inits [][]byte
	n     int // for fresh value names
}

// buildNetwork returns the ONNX model (the bytes of a .onnx file) of the
// face-recognition network with the given TensorFlow.js weights.
func buildNetwork(manifest, bin []byte) ([]byte, error) {
	w, err := decodeWeights(manifest, bin)
	if err != nil {
		return nil, err
	}
	g := &graph{w: w, used: make(map[string]bool)}
	x, s, err := g.layer(netInput, ChipSize, "conv32_down", 7, 2, 0)
	if err != nil {
		return nil, err
	}
	x = g.node("Relu", []string{x}, nil)
	x = g.node("MaxPool", []string{x}, [][]byte{attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2)})
	s = (s-3)/2 + 1
	c := 32
	for _, b := range []struct {
		name string
		ch   int
		down bool
	}{
		{"conv32_1", 32, false}, {"conv32_2", 32, false}, {"conv32_3", 32, false},
		{"conv64_down", 64, true}, {"conv64_1", 64, false}, {"conv64_2", 64, false}, {"conv64_3", 64, false},
		{"conv128_down", 128, true}, {"conv128_1", 128, false}, {"conv128_2", 128, false},
		{"conv256_down", 256, true}, {"conv256_1", 256, false}, {"conv256_2", 256, false},
		{"conv256_down_out", 256, true},
	} {
		if b.down {
			x, s, err = g.down(x, b.name, s, c, b.ch)
		} else {
			x, err = g.residual(x, b.name, s)
		}
		if err != nil {
			return nil, err
		}
		c = b.ch
	}
	x = g.node("GlobalAveragePool", []string{x}, nil)
	x = g.node("Reshape", []string{x, g.int64s(1, int64(c))}, nil)
	fc, err := g.weight("fc", []int{c, Dim})
	if err != nil {
		return nil, err
	}
	g.nodes = append(g.nodes, encNode("MatMul", []string{x, g.init([]int{c, Dim}, fc.data)}, []string{netOutput}, nil))
	for name := range g.w {
		if !g.used[name] {
			return nil, fmt.Errorf("weight %s is not part of the network", name)
		}
	}
	return g.model(), nil
}

// weight returns the named weight, checking its shape.
func (g *graph) weight(name string, shape []int) (tfWeight, error) {
	w, ok := g.w[name]
	if !ok {
		return tfWeight{}, fmt.Errorf("weight %s missing", name)
	}
	if !slices.Equal(w.shape, shape) {
		return tfWeight{}, fmt.Errorf("weight %s has shape %v, want %v", name, w.shape, shape)
	}
	g.used[name] = true
	return w, nil
}

// layer adds face-api.js's convolution layer prefix (conv, bias, scale,
// shift, no activation) on x, of side s, with a k×k kernel, the given
// stride and padding on every side, and returns its output and side.
func (g *graph) layer(x string, s int, prefix string, k, stride, pad int) (string, int, error) {
	f, ok := g.w[prefix+"/conv/filters"]
	if !ok || len(f.shape) != 4 {
		return "", 0, fmt.Errorf("weight %s/conv/filters missing or not 4-D", prefix)
	}
	cin, cout := f.shape[2], f.shape[3]
	filters, err := g.weight(prefix+"/conv/filters", []int{k, k, cin, cout})
	if err != nil {
		return "", 0, err
	}
	var vec [3]tfWeight
	for i, n := range []string{"/conv/bias", "/scale/weights", "/scale/biases"} {
		if vec[i], err = g.weight(prefix+n, []int{cout}); err != nil {
			return "", 0, err
		}
	}
	bias, scale, shift := vec[0].data, vec[1].data, vec[2].data
	// HWIO to OIHW, each output channel times its scale.
	w := make([]float32, cout*cin*k*k)
	for ky := range k {
		for kx := range k {
			for i := range cin {
				for o := range cout {
					w[((o*cin+i)*k+ky)*k+kx] = filters.data[((ky*k+kx)*cin+i)*cout+o] * scale[o]
				}
			}
		}
	}
	b := make([]float32, cout)
	for o := range b {
		b[o] = bias[o]*scale[o] + shift[o]
	}
	out := g.node("Conv", []string{x, g.init([]int{cout, cin, k, k}, w), g.init([]int{cout}, b)}, [][]byte{
		attrInts("kernel_shape", int64(k), int64(k)),
		attrInts("strides", int64(stride), int64(stride)),
		attrInts("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
	})
	return out, (s+2*pad-k)/stride + 1, nil
}

// residual adds a residual block on x (side s).
func (g *graph) residual(x, prefix string, s int) (string, error) {
	y, _, err := g.layer(x, s, prefix+"/conv1", 3, 1, 1)
	if err != nil {
		return "", err
	}
	y = g.node("Relu", []string{y}, nil)
	y, _, err = g.layer(y, s, prefix+"/conv2", 3, 1, 1)
	if err != nil {
		return "", err
	}
	return g.node("Relu", []string{g.node("Add", []string{y, x}, nil)}, nil), nil
}

// down adds a down block on x (side s, cin channels) that ends with cout
// channels, and returns its output and side.
func (g *graph) down(x, prefix string, s, cin, cout int) (string, int, error) {
	y, so, err := g.layer(x, s, prefix+"/conv1", 3, 2, 0)
	if err != nil {
		return "", 0, err
	}
	y = g.node("Relu", []string{y}, nil)
	y, _, err = g.layer(y, so, prefix+"/conv2", 3, 1, 1)
	if err != nil {
		return "", 0, err
	}
	quarter := make([]float32, cin*4)
	for i := range quarter {
		quarter[i] = 0.25
	}
	p := g.node("Conv", []string{x, g.init([]int{cin, 1, 2, 2}, quarter)}, [][]byte{
		attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2), attrInt("group", int64(cin)),
	})
	sp := s / 2
	switch {
	case sp == so+1:
		// face-api.js pads the block's output with a row of zeros below,
		// then a column on the right.
		y = g.node("Concat", []string{y, g.init([]int{1, cout, 1, so}, make([]float32, cout*so))}, [][]byte{attrInt("axis", 2)})
		y = g.node("Concat", []string{y, g.init([]int{1, cout, sp, 1}, make([]float32, cout*sp))}, [][]byte{attrInt("axis", 3)})
	case sp != so:
		return "", 0, fmt.Errorf("%s: pooled side %d and block side %d cannot be matched", prefix, sp, so)
	}
	if cout != cin {
		if cout < cin {
			return "", 0, fmt.Errorf("%s: %d channels in, %d out", prefix, cin, cout)
		}
		p = g.node("Concat", []string{p, g.init([]int{1, cout - cin, sp, sp}, make([]float32, (cout-cin)*sp*sp))}, [][]byte{attrInt("axis", 1)})
	}
	return g.node("Relu", []string{g.node("Add", []string{p, y}, nil)}, nil), sp, nil
}

// node adds a node with one fresh output and returns the output's name.
func (g *graph) node(op string, in []string, attrs [][]byte) string {
	g.n++
	out := fmt.Sprintf("v%d", g.n)
	g.nodes = append(g.nodes, encNode(op, in, []string{out}, attrs))
	return out
}

// init adds a float32 initializer and returns its name.
func (g *graph) init(shape []int, data []float32) string {
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

// int64s adds a 1-D int64 initializer and returns its name.
func (g *graph) int64s(v ...int64) string {
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

// model encodes the ModelProto: IR version 7, operator set 13.
func (g *graph) model() []byte {
	var gr []byte
	for _, n := range g.nodes {
		gr = pbBytes(gr, 1, n)
	}
	gr = pbString(gr, 2, "dlib_face_recognition_resnet_model_v1")
	for _, t := range g.inits {
		gr = pbBytes(gr, 5, t)
	}
	gr = pbBytes(gr, 11, encValue(netInput, []int{1, 3, ChipSize, ChipSize}))
	gr = pbBytes(gr, 12, encValue(netOutput, []int{1, Dim}))
	m := pbInt(nil, 1, 7)
	m = pbString(m, 2, "facevault faceid")
	m = pbBytes(m, 7, gr)
	return pbBytes(m, 8, pbInt(pbString(nil, 1, ""), 2, 13))
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

func attrInt(name string, v int64) []byte {
	return pbInt(pbInt(pbString(nil, 1, name), 20, 2), 3, v)
}

func attrInts(name string, v ...int64) []byte {
	var p []byte
	for _, x := range v {
		p = pbVarint(p, uint64(x))
	}
	return pbBytes(pbInt(pbString(nil, 1, name), 20, 7), 8, p)
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
