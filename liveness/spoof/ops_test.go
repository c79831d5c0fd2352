package spoof

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tiny graphs built in the tests, in the tfjs graph-model format.

type tnode struct {
	name, op string
	inputs   []string
	attr     map[string]any
}

type tweight struct {
	name  string
	shape []int
	f32   []float32
	i32   []int32
}

func attrS(s string) map[string]any {
	return map[string]any{"s": base64.StdEncoding.EncodeToString([]byte(s))}
}
func attrB(b bool) map[string]any { return map[string]any{"b": b} }
func attrInts(v ...int) map[string]any {
	l := make([]string, len(v))
	for i, x := range v {
		l[i] = fmt.Sprint(x)
	}
	return map[string]any{"list": map[string]any{"i": l}}
}
func attrStrs(v ...string) map[string]any {
	l := make([]string, len(v))
	for i, x := range v {
		l[i] = base64.StdEncoding.EncodeToString([]byte(x))
	}
	return map[string]any{"list": map[string]any{"s": l}}
}

func placeholder(name string, shape ...int) tnode {
	dims := make([]map[string]string, len(shape))
	for i, d := range shape {
		dims[i] = map[string]string{"size": fmt.Sprint(d)}
	}
	return tnode{name: name, op: "Placeholder", attr: map[string]any{
		"dtype": map[string]string{"type": "DT_FLOAT"},
		"shape": map[string]any{"shape": map[string]any{"dim": dims}},
	}}
}

func conv2D(name, x, filter, bias, padding string, stride int, relu bool) tnode {
	ops := []string{"BiasAdd"}
	if relu {
		ops = append(ops, "Relu")
	}
	return tnode{name: name, op: "_FusedConv2D", inputs: []string{x, filter, bias}, attr: map[string]any{
		"padding": attrS(padding), "strides": attrInts(1, stride, stride, 1), "dilations": attrInts(1, 1, 1, 1),
		"data_format": attrS("NHWC"), "fused_ops": attrStrs(ops...), "num_args": map[string]any{"i": "1"},
		"T": map[string]string{"type": "DT_FLOAT"}, "explicit_paddings": map[string]any{"list": map[string]any{}},
	}}
}

// buildGraph writes a model JSON and weights file; every weight becomes a
// Const node.
func buildGraph(t *testing.T, nodes []tnode, weights []tweight) (js, bin []byte) {
	t.Helper()
	var jn []map[string]any
	var specs []map[string]any
	for _, w := range weights {
		dtype, tfType := "float32", "DT_FLOAT"
		if w.i32 != nil {
			dtype, tfType = "int32", "DT_INT32"
		}
		jn = append(jn, map[string]any{"name": w.name, "op": "Const", "attr": map[string]any{"dtype": map[string]string{"type": tfType}}})
		specs = append(specs, map[string]any{"name": w.name, "shape": w.shape, "dtype": dtype})
		for _, v := range w.f32 {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
		}
		for _, v := range w.i32 {
			bin = binary.LittleEndian.AppendUint32(bin, uint32(v))
		}
	}
	for _, n := range nodes {
		m := map[string]any{"name": n.name, "op": n.op}
		if n.inputs != nil {
			m["input"] = n.inputs
		}
		if n.attr != nil {
			m["attr"] = n.attr
		}
		jn = append(jn, m)
	}
	js, err := json.Marshal(map[string]any{
		"format":          "graph-model",
		"modelTopology":   map[string]any{"node": jn},
		"weightsManifest": []map[string]any{{"paths": []string{"test.bin"}, "weights": specs}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return js, bin
}

// runGraph compiles a graph and runs it on input.
func runGraph(t *testing.T, nodes []tnode, weights []tweight, input []float32) []float32 {
	t.Helper()
	js, bin := buildGraph(t, nodes, weights)
	p, err := parseModel("test", js, bin)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), p.run(p.newScratch(), input)...)
}

func seq(from, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(from + i)
	}
	return out
}

func ones(n int) []float32 { return constTensor(1, n) }

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol || math.IsNaN(d) {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

func TestConvHandComputed(t *testing.T) {
	for _, c := range []struct {
		name           string
		h, w           int
		k              int
		padding        string
		stride         int
		input, want    []float32
		wantH, wantOut int
	}{
		// 3x3 input 1..9, 2x2 ones, VALID stride 1.
		{name: "valid-s1", h: 3, w: 3, k: 2, padding: "VALID", stride: 1, input: seq(1, 9), want: []float32{12, 16, 24, 28}},
		// 3x3 input 1..9, 3x3 ones, SAME stride 1: sums of neighbourhoods.
		{name: "same-s1", h: 3, w: 3, k: 3, padding: "SAME", stride: 1, input: seq(1, 9), want: []float32{12, 21, 16, 27, 45, 33, 24, 39, 28}},
		// 4x4 input 1..16, 3x3 ones, SAME stride 2: TensorFlow pads 0
		// before and 1 after, so windows start at rows/cols 0 and 2.
		{name: "same-s2", h: 4, w: 4, k: 3, padding: "SAME", stride: 2, input: seq(1, 16), want: []float32{54, 45, 72, 54}},
		// 5x5 input 1..25, 3x3 ones, VALID stride 2.
		{name: "valid-s2", h: 5, w: 5, k: 3, padding: "VALID", stride: 2, input: seq(1, 25), want: []float32{63, 81, 153, 171}},
		// 5x5, 3x3 ones, SAME stride 2: out 3x3, pad 1 on each side.
		{name: "same-s2-odd", h: 5, w: 5, k: 3, padding: "SAME", stride: 2, input: seq(1, 25),
			want: []float32{16, 33, 28, 69, 117, 87, 76, 123, 88}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := runGraph(t,
				[]tnode{placeholder("x", 1, c.h, c.w, 1), conv2D("y", "x", "f", "b", c.padding, c.stride, false)},
				[]tweight{{name: "f", shape: []int{c.k, c.k, 1, 1}, f32: ones(c.k * c.k)}, {name: "b", shape: []int{1}, f32: []float32{0}}},
				c.input)
			checkClose(t, c.name, got, c.want, 0)
		})
	}
	// Channels, bias and the fused Relu: x = [1, 2], filter 1x1x2x3.
	got := runGraph(t,
		[]tnode{placeholder("x", 1, 1, 1, 2), conv2D("y", "x", "f", "b", "VALID", 1, true)},
		[]tweight{
			{name: "f", shape: []int{1, 1, 2, 3}, f32: []float32{1, -1, 0.5, 2, -3, 1}},
			{name: "b", shape: []int{3}, f32: []float32{0.5, 1, -3}},
		},
		[]float32{1, 2})
	checkClose(t, "bias+relu", got, []float32{5.5, 0, 0}, 0) // [5, -7, 2.5] + bias = [5.5, -6, -0.5]
}

// naiveConv is a direct NHWC convolution with TensorFlow's padding, for
// checking the tiled kernels on many shapes.
func naiveConv(x []float32, h, w, c int, f []float32, kh, kw, co int, bias []float32, stride int, same bool) ([]float32, int, int) {
	var oh, ow, pt, pl int
	if same {
		oh, ow = (h+stride-1)/stride, (w+stride-1)/stride
		pt = max((oh-1)*stride+kh-h, 0) / 2
		pl = max((ow-1)*stride+kw-w, 0) / 2
	} else {
		oh, ow = (h-kh)/stride+1, (w-kw)/stride+1
	}
	out := make([]float32, oh*ow*co)
	for oy := range oh {
		for ox := range ow {
			for o := range co {
				var sum float64
				for ky := range kh {
					for kx := range kw {
						iy, ix := oy*stride+ky-pt, ox*stride+kx-pl
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						for ci := range c {
							sum += float64(x[(iy*w+ix)*c+ci]) * float64(f[((ky*kw+kx)*c+ci)*co+o])
						}
					}
				}
				out[(oy*ow+ox)*co+o] = float32(sum) + bias[o]
			}
		}
	}
	return out, oh, ow
}

func TestConvShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	for i := range 60 {
		h, w := 1+r.IntN(12), 1+r.IntN(14)
		c, co := 1+r.IntN(5), 1+r.IntN(40)
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		stride := 1 + r.IntN(2)
		same := r.IntN(2) == 0
		if !same && (h < kh || w < kw) {
			same = true
		}
		x := randomTensor(uint64(i), h*w*c)
		f := randomTensor(uint64(i+1000), kh*kw*c*co)
		bias := randomTensor(uint64(i+2000), co)
		want, oh, ow := naiveConv(x, h, w, c, f, kh, kw, co, bias, stride, same)
		padding := "VALID"
		if same {
			padding = "SAME"
		}
		got := runGraph(t,
			[]tnode{placeholder("x", 1, h, w, c), conv2D("y", "x", "f", "b", padding, stride, false)},
			[]tweight{{name: "f", shape: []int{kh, kw, c, co}, f32: f}, {name: "b", shape: []int{co}, f32: bias}},
			x)
		checkClose(t, fmt.Sprintf("conv %dx%dx%d k%dx%d co%d s%d %s -> %dx%d", h, w, c, kh, kw, co, stride, padding, oh, ow), got, want, 1e-5)
	}
}

func TestMaxPool(t *testing.T) {
	pool := func(padding string, k, s int) tnode {
		return tnode{name: "y", op: "MaxPool", inputs: []string{"x"}, attr: map[string]any{
			"padding": attrS(padding), "ksize": attrInts(1, k, k, 1), "strides": attrInts(1, s, s, 1), "data_format": attrS("NHWC"),
		}}
	}
	neg := seq(1, 16)
	for i := range neg {
		neg[i] = -neg[i]
	}
	for _, c := range []struct {
		name        string
		node        tnode
		input, want []float32
	}{
		{"valid-2x2-s2", pool("VALID", 2, 2), seq(1, 16), []float32{6, 8, 14, 16}},
		{"valid-2x2-s2-negative", pool("VALID", 2, 2), neg, []float32{-1, -3, -9, -11}},
		{"valid-3x3-s1", pool("VALID", 3, 1), seq(1, 16), []float32{11, 12, 15, 16}},
		// SAME 3x3 stride 2 on 4x4: padding (0 before, 1 after) is
		// ignored, not taken as zero.
		{"same-3x3-s2-negative", pool("SAME", 3, 2), neg, []float32{-1, -3, -9, -11}},
		{"same-2x2-s1", pool("SAME", 2, 1), seq(1, 16), []float32{6, 7, 8, 8, 10, 11, 12, 12, 14, 15, 16, 16, 14, 15, 16, 16}},
	} {
		got := runGraph(t, []tnode{placeholder("x", 1, 4, 4, 1), c.node}, nil, c.input)
		checkClose(t, c.name, got, c.want, 0)
	}
	// Channels are pooled separately.
	x := []float32{1, 8, 2, 7, 3, 6, 4, 5} // 2x2 pixels, 2 channels
	got := runGraph(t, []tnode{placeholder("x", 1, 2, 2, 2), pool("VALID", 2, 2)}, nil, x)
	checkClose(t, "channels", got, []float32{4, 8}, 0)
}

func TestMatMul(t *testing.T) {
	mm := func(transA, transB, relu bool) tnode {
		ops := []string{"BiasAdd"}
		if relu {
			ops = append(ops, "Relu")
		}
		return tnode{name: "y", op: "_FusedMatMul", inputs: []string{"x", "w", "b"}, attr: map[string]any{
			"transpose_a": attrB(transA), "transpose_b": attrB(transB), "fused_ops": attrStrs(ops...), "num_args": map[string]any{"i": "1"},
		}}
	}
	a := []float32{1, 2, 3, 4, 5, 6}  // [2,3]
	aT := []float32{1, 4, 2, 5, 3, 6} // [3,2]
	b := []float32{1, 0, 0, 1, 1, 1}  // [3,2]
	bT := []float32{1, 0, 1, 0, 1, 1} // [2,3]
	bias := tweight{name: "b", shape: []int{2}, f32: []float32{1, -20}}
	// a·b = [[4, 5], [10, 11]]; + bias = [[5, -15], [11, -9]].
	for _, c := range []struct {
		name           string
		transA, transB bool
		relu           bool
		in             []float32
		inShape        []int
		w              tweight
		want           []float32
	}{
		{"plain", false, false, false, a, []int{2, 3}, tweight{name: "w", shape: []int{3, 2}, f32: b}, []float32{5, -15, 11, -9}},
		{"relu", false, false, true, a, []int{2, 3}, tweight{name: "w", shape: []int{3, 2}, f32: b}, []float32{5, 0, 11, 0}},
		{"transpose_b", false, true, false, a, []int{2, 3}, tweight{name: "w", shape: []int{2, 3}, f32: bT}, []float32{5, -15, 11, -9}},
		{"transpose_a", true, false, false, aT, []int{3, 2}, tweight{name: "w", shape: []int{3, 2}, f32: b}, []float32{5, -15, 11, -9}},
		{"transpose_both", true, true, true, aT, []int{3, 2}, tweight{name: "w", shape: []int{2, 3}, f32: bT}, []float32{5, 0, 11, 0}},
	} {
		got := runGraph(t, []tnode{placeholder("x", c.inShape...), mm(c.transA, c.transB, c.relu)}, []tweight{c.w, bias}, c.in)
		checkClose(t, c.name, got, c.want, 0)
	}
	// Bigger, against a direct computation: m rows past one tile, n past
	// one panel.
	m, k, n := 13, 37, 21
	x, w, bb := randomTensor(1, m*k), randomTensor(2, k*n), randomTensor(3, n)
	want := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for kk := range k {
				s += float64(x[i*k+kk]) * float64(w[kk*n+j])
			}
			want[i*n+j] = float32(s) + bb[j]
		}
	}
	got := runGraph(t, []tnode{placeholder("x", m, k), mm(false, false, false)},
		[]tweight{{name: "w", shape: []int{k, n}, f32: w}, {name: "b", shape: []int{n}, f32: bb}}, x)
	checkClose(t, "13x37x21", got, want, 1e-5)
}

func TestSoftmaxSigmoidElementwise(t *testing.T) {
	sm := []tnode{placeholder("x", 2, 3), {name: "y", op: "Softmax", inputs: []string{"x"}}}
	got := runGraph(t, sm, nil, []float32{1, 2, 3, 1000, 1000, 1000})
	checkClose(t, "softmax", got, []float32{0.09003057, 0.24472847, 0.66524096, 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-7)

	sig := []tnode{placeholder("x", 1, 3), {name: "y", op: "Sigmoid", inputs: []string{"x"}}}
	got = runGraph(t, sig, nil, []float32{0, 2, -100})
	checkClose(t, "sigmoid", got, []float32{0.5, 0.880797, 3.7200760e-44}, 1e-6)

	// x*[2,3] + [10,20] (per channel), then AddV2 with a scalar, then
	// Relu; and Identity/Reshape around them.
	nodes := []tnode{
		placeholder("x", 1, 2, 2),
		{name: "m", op: "Mul", inputs: []string{"x", "scale"}},
		{name: "a", op: "Add", inputs: []string{"offset", "m"}},
		{name: "a2", op: "AddV2", inputs: []string{"a", "s"}},
		{name: "r", op: "Relu", inputs: []string{"a2"}},
		{name: "flat", op: "Reshape", inputs: []string{"r", "shape"}},
		{name: "out", op: "Identity", inputs: []string{"flat"}},
	}
	weights := []tweight{
		{name: "scale", shape: []int{2}, f32: []float32{2, 3}},
		{name: "offset", shape: []int{2}, f32: []float32{10, 20}},
		{name: "s", shape: []int{}, f32: []float32{-30}},
		{name: "shape", shape: []int{2}, i32: []int32{-1, 4}},
	}
	got = runGraph(t, nodes, weights, []float32{1, 2, 3, 4})
	// [1*2+10-30, 2*3+20-30, 3*2+10-30, 4*3+20-30] = [-18, -4, -14, 2] -> relu
	checkClose(t, "mul/add/addv2/relu", got, []float32{0, 0, 0, 2}, 0)

	// Two activations of the same shape.
	nodes = []tnode{
		placeholder("x", 1, 3),
		{name: "sq", op: "Mul", inputs: []string{"x", "x"}},
		{name: "y", op: "Add", inputs: []string{"sq", "x"}},
	}
	got = runGraph(t, nodes, nil, []float32{1, 2, -3})
	checkClose(t, "x*x+x", got, []float32{2, 6, 6}, 0)
}

func TestLoadRefuses(t *testing.T) {
	for _, c := range []struct {
		name    string
		nodes   []tnode
		weights []tweight
		want    string
	}{
		{"unknown op", []tnode{placeholder("x", 1, 4), {name: "y", op: "Conv3D", inputs: []string{"x"}}}, nil,
			`unsupported operation: Conv3D (node "y")`},
		{"two unknown ops", []tnode{placeholder("x", 1, 4), {name: "y", op: "Tanh", inputs: []string{"x"}}, {name: "z", op: "Erf", inputs: []string{"y"}}}, nil,
			`unsupported operation: Tanh (node "y"), Erf (node "z")`},
		{"missing input", []tnode{placeholder("x", 1, 4), {name: "y", op: "Relu", inputs: []string{"nope"}}}, nil,
			`input "nope" is not a node`},
		{"cycle", []tnode{placeholder("x", 1, 4), {name: "y", op: "Add", inputs: []string{"x", "z"}}, {name: "z", op: "Relu", inputs: []string{"y"}}}, nil,
			"cycle"},
		{"dilated conv", []tnode{placeholder("x", 1, 4, 4, 1), func() tnode {
			n := conv2D("y", "x", "f", "b", "VALID", 1, false)
			n.attr["dilations"] = attrInts(1, 2, 2, 1)
			return n
		}()}, []tweight{{name: "f", shape: []int{2, 2, 1, 1}, f32: ones(4)}, {name: "b", shape: []int{1}, f32: []float32{0}}},
			"dilations"},
		{"fused prelu", []tnode{placeholder("x", 1, 4, 4, 1), func() tnode {
			n := conv2D("y", "x", "f", "b", "VALID", 1, false)
			n.attr["fused_ops"] = attrStrs("BiasAdd", "Prelu")
			return n
		}()}, []tweight{{name: "f", shape: []int{2, 2, 1, 1}, f32: ones(4)}, {name: "b", shape: []int{1}, f32: []float32{0}}},
			"fused_ops"},
		{"NCHW", []tnode{placeholder("x", 1, 4, 4, 1), func() tnode {
			n := conv2D("y", "x", "f", "b", "VALID", 1, false)
			n.attr["data_format"] = attrS("NCHW")
			return n
		}()}, []tweight{{name: "f", shape: []int{2, 2, 1, 1}, f32: ones(4)}, {name: "b", shape: []int{1}, f32: []float32{0}}},
			"data_format"},
		{"float64", []tnode{placeholder("x", 1, 4), {name: "y", op: "Relu", inputs: []string{"x"}, attr: map[string]any{"T": map[string]string{"type": "DT_DOUBLE"}}}}, nil,
			"DT_DOUBLE"},
	} {
		js, bin := buildGraph(t, c.nodes, c.weights)
		_, err := parseModel("test", js, bin)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// Through the public loader too, and with a short weights file.
	js, bin := buildGraph(t, []tnode{placeholder("x", 1, 8, 8, 3), {name: "y", op: "Conv3D", inputs: []string{"x"}}}, nil)
	if _, err := load("test", js, bin); err == nil || !strings.Contains(err.Error(), "spoof: test: unsupported operation: Conv3D") {
		t.Errorf("load: %v", err)
	}
	js, bin = buildGraph(t, []tnode{placeholder("x", 1, 4), {name: "y", op: "Mul", inputs: []string{"x", "s"}}},
		[]tweight{{name: "s", shape: []int{4}, f32: ones(4)}})
	if _, err := parseModel("test", js, bin[:8]); err == nil || !strings.Contains(err.Error(), "weights file has 8") {
		t.Errorf("short weights: %v", err)
	}
}

func TestFloat16(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x7bff, 65504},
		{0x0400, 1.0 / 16384}, {0x0001, 1.0 / (1 << 24)}, {0x8001, -1.0 / (1 << 24)}, {0x0000, 0},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := float16to32(c.h); got != c.want {
			t.Errorf("float16to32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if !math.IsNaN(float64(float16to32(0x7e00))) {
		t.Errorf("float16 NaN did not decode as NaN")
	}
}

func TestPredictRefusesNonFinite(t *testing.T) {
	m, err := LoadLiveness()
	if err != nil {
		t.Fatal(err)
	}
	in := randomTensor(1, 32*32*3)
	in[100] = float32(math.NaN())
	if _, err := m.Predict(in); err == nil {
		t.Errorf("Predict accepted NaN")
	}
}
