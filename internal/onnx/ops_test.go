package onnx

import (
	"context"
	"testing"
)

// opCase is a small model exercising one operator (or one fusion), run by
// the Go executor and by onnxruntime on random inputs.
type opCase struct {
	name  string
	model *tModel
	lo    float32 // input range, default [-1, 1)
	hi    float32
}

func in4(name string, n, c, h, w int64) tValue { return tValue{name: name, shape: []int64{n, c, h, w}} }
func out(name string) tValue                   { return tValue{name: name} }

// convModel is one Conv of x [1,ci,h,w] with random weights (and bias),
// followed by the nodes in after (which read "y" and must write "z").
func convModel(seed uint64, ci, co, h, w, kh, kw int64, group int64, bias bool, attrs []tAttr, after ...tNode) *tModel {
	wt := fTensor("W", []int64{co, ci / group, kh, kw}, randomData(seed, int(co*ci/group*kh*kw), -0.5, 0.5))
	m := &tModel{
		inputs: []tValue{in4("x", 1, ci, h, w)},
		inits:  []*tTensor{wt},
	}
	ins := []string{"x", "W"}
	if bias {
		m.inits = append(m.inits, fTensor("B", []int64{co}, randomData(seed+1, int(co), -0.5, 0.5)))
		ins = append(ins, "B")
	}
	attrs = append(attrs, aInt("group", group))
	m.nodes = []tNode{{op: "Conv", in: ins, out: []string{"y"}, attrs: attrs}}
	if len(after) == 0 {
		m.outputs = []tValue{out("y")}
	} else {
		m.nodes = append(m.nodes, after...)
		m.outputs = []tValue{out("z")}
	}
	return m
}

func pads(t, l, b, r int64) tAttr { return aInts("pads", t, l, b, r) }
func strides(h, w int64) tAttr    { return aInts("strides", h, w) }
func ksize(h, w int64) tAttr      { return aInts("kernel_shape", h, w) }

func opCases() []opCase {
	slope := func(c int64) *tTensor {
		return fTensor("slope", []int64{c, 1, 1}, randomData(uint64(c), int(c), 0, 0.5))
	}
	cases := []opCase{
		// Dense convolutions: the first layers of both models, odd sizes
		// for every edge of the 4-row tiles and 8/16/24-column panels.
		{name: "Conv/5x5s2/blazeface-first", model: convModel(1, 3, 24, 32, 32, 5, 5, 1, true, []tAttr{strides(2, 2), pads(1, 1, 2, 2), ksize(5, 5)})},
		{name: "Conv/3x3s2/liveness-first", model: convModel(2, 3, 32, 20, 22, 3, 3, 1, true, []tAttr{strides(2, 2), pads(1, 1, 1, 1)})},
		{name: "Conv/3x3s1/odd", model: convModel(3, 5, 7, 9, 11, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)})},
		{name: "Conv/3x3/nopad-nobias", model: convModel(4, 8, 40, 7, 6, 3, 3, 1, false, nil)},
		{name: "Conv/2x3s3x2/asym", model: convModel(5, 6, 16, 13, 10, 2, 3, 1, true, []tAttr{strides(3, 2), pads(0, 2, 1, 0)})},
		{name: "Conv/1x1/24", model: convModel(6, 24, 24, 16, 16, 1, 1, 1, true, nil)},
		{name: "Conv/1x1/103to64", model: convModel(7, 103, 64, 5, 7, 1, 1, 1, true, []tAttr{pads(0, 0, 0, 0)})},
		{name: "Conv/1x1/64to13", model: convModel(8, 64, 13, 6, 5, 1, 1, 1, true, nil)},
		{name: "Conv/1x1/48to96", model: convModel(9, 48, 96, 4, 4, 1, 1, 1, true, nil)},
		{name: "Conv/1x1/96to2", model: convModel(10, 96, 2, 3, 3, 1, 1, 1, true, nil)},
		{name: "Conv/1x1/231to128", model: convModel(11, 231, 128, 3, 5, 1, 1, 1, true, nil)},
		{name: "Conv/1x1/one-pixel", model: convModel(12, 64, 16, 1, 1, 1, 1, 1, true, nil)},
		{name: "Conv/1x1s2", model: convModel(13, 16, 8, 7, 7, 1, 1, 1, true, []tAttr{strides(2, 2)})},
		// Depthwise convolutions.
		{name: "Conv/depthwise/3x3s1/24", model: convModel(20, 24, 24, 10, 9, 3, 3, 24, false, []tAttr{pads(1, 1, 1, 1)})},
		{name: "Conv/depthwise/3x3s2/tf-pads", model: convModel(21, 24, 24, 16, 16, 3, 3, 24, false, []tAttr{strides(2, 2), pads(0, 0, 1, 1)})},
		{name: "Conv/depthwise/3x3s2/13", model: convModel(22, 13, 13, 9, 12, 3, 3, 13, true, []tAttr{strides(2, 2), pads(1, 1, 1, 1)})},
		{name: "Conv/depthwise/3x3s1/103", model: convModel(23, 103, 103, 6, 5, 3, 3, 103, true, []tAttr{pads(1, 1, 1, 1)})},
		{name: "Conv/depthwise/8x8/gdc", model: convModel(24, 40, 40, 8, 8, 8, 8, 40, true, nil)},
		{name: "Conv/depthwise/3", model: convModel(25, 3, 3, 7, 7, 3, 3, 3, true, []tAttr{pads(1, 1, 1, 1)})},
		// Grouped (neither dense nor depthwise).
		{name: "Conv/group2", model: convModel(30, 4, 6, 6, 7, 3, 3, 2, true, []tAttr{pads(1, 0, 1, 2)})},
		// Fusions.
		{name: "Conv+Relu", model: convModel(40, 8, 24, 6, 6, 1, 1, 1, true, nil, tNode{op: "Relu", in: []string{"y"}, out: []string{"z"}})},
		{name: "Conv+Add+Relu", model: func() *tModel {
			m := convModel(41, 24, 24, 6, 5, 1, 1, 1, true, nil,
				tNode{op: "Add", in: []string{"x", "y"}, out: []string{"s"}},
				tNode{op: "Relu", in: []string{"s"}, out: []string{"z"}})
			return m
		}()},
		// A residual block of the face-recognition network: 3×3 "same"
		// convolutions whose output width (7, 3, 1) leaves 3 or 1 rows
		// after the last 4-row tile, with the residual fused; on 1 and 3
		// pixel rows the rows after the last cannot be read, so the
		// kernel works on a zero-padded copy.
		{name: "Conv+Add+Relu/3x3/odd-width", model: convModel(44, 24, 24, 5, 7, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)},
			tNode{op: "Add", in: []string{"y", "x"}, out: []string{"s"}},
			tNode{op: "Relu", in: []string{"s"}, out: []string{"z"}})},
		{name: "Conv+Add+Relu/3x3/3x3-pixels", model: convModel(45, 64, 64, 3, 3, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)},
			tNode{op: "Add", in: []string{"y", "x"}, out: []string{"s"}},
			tNode{op: "Relu", in: []string{"s"}, out: []string{"z"}})},
		{name: "Conv+Add+Relu/3x3/one-pixel", model: convModel(46, 40, 40, 1, 1, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)},
			tNode{op: "Add", in: []string{"y", "x"}, out: []string{"s"}},
			tNode{op: "Relu", in: []string{"s"}, out: []string{"z"}})},
		{name: "Conv/3x3s2/valid-to-3x3", model: convModel(47, 32, 48, 8, 8, 3, 3, 1, true, []tAttr{strides(2, 2)})},
		{name: "Conv+PRelu", model: func() *tModel {
			m := convModel(42, 13, 13, 7, 6, 3, 3, 13, true, []tAttr{pads(1, 1, 1, 1)},
				tNode{op: "PRelu", in: []string{"y", "slope"}, out: []string{"z"}})
			m.inits = append(m.inits, slope(13))
			return m
		}()},
		{name: "Conv+BatchNormalization", model: func() *tModel {
			m := convModel(43, 8, 12, 5, 5, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)},
				tNode{op: "BatchNormalization", in: []string{"y", "s", "b", "mean", "var"}, out: []string{"z"}, attrs: []tAttr{aFloat("epsilon", 1e-3)}})
			m.inits = append(m.inits,
				fTensor("s", []int64{12}, randomData(44, 12, 0.5, 1.5)),
				fTensor("b", []int64{12}, randomData(45, 12, -1, 1)),
				fTensor("mean", []int64{12}, randomData(46, 12, -1, 1)),
				fTensor("var", []int64{12}, randomData(47, 12, 0.1, 2)))
			return m
		}()},
		// Pooling.
		{name: "MaxPool/2x2s2", model: &tModel{inputs: []tValue{in4("x", 1, 24, 10, 8)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(2, 2), strides(2, 2), pads(0, 0, 0, 0)}}}}},
		{name: "MaxPool/3x3s2/pads", model: &tModel{inputs: []tValue{in4("x", 1, 13, 9, 10)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(3, 3), strides(2, 2), pads(1, 1, 1, 1)}}}}},
		{name: "GlobalAveragePool", model: &tModel{inputs: []tValue{in4("x", 1, 26, 7, 9)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "GlobalAveragePool", in: []string{"x"}, out: []string{"y"}}}}},
		// Elementwise operations, alone.
		{name: "Relu", lo: -2, hi: 2, model: &tModel{inputs: []tValue{in4("x", 1, 5, 3, 4)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "Relu", in: []string{"x"}, out: []string{"y"}}}}},
		{name: "Sigmoid", lo: -8, hi: 8, model: &tModel{inputs: []tValue{in4("x", 1, 5, 3, 4)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "Sigmoid", in: []string{"x"}, out: []string{"y"}}}}},
		{name: "PRelu/channel", model: &tModel{inputs: []tValue{in4("x", 1, 6, 3, 4)}, outputs: []tValue{out("y")},
			inits: []*tTensor{slope(6)},
			nodes: []tNode{{op: "PRelu", in: []string{"x", "slope"}, out: []string{"y"}}}}},
		{name: "PRelu/scalar", model: &tModel{inputs: []tValue{{name: "x", shape: []int64{2, 7}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("slope", []int64{1}, []float32{0.25})},
			nodes: []tNode{{op: "PRelu", in: []string{"x", "slope"}, out: []string{"y"}}}}},
		{name: "Add/same", model: &tModel{inputs: []tValue{in4("a", 1, 5, 3, 4), in4("b", 1, 5, 3, 4)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "Add", in: []string{"a", "b"}, out: []string{"y"}}}}},
		{name: "Mul/const-channel", model: &tModel{inputs: []tValue{in4("a", 1, 5, 3, 4)}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("k", []int64{1, 5, 1, 1}, randomData(50, 5, -2, 2))},
			nodes: []tNode{{op: "Mul", in: []string{"k", "a"}, out: []string{"y"}}}}},
		{name: "Add/const-scalar", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{3, 4}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("k", nil, []float32{0.5})},
			nodes: []tNode{{op: "Add", in: []string{"a", "k"}, out: []string{"y"}}}}},
		{name: "Add/const-last-axis", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{2, 3, 4}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("k", []int64{4}, randomData(51, 4, -2, 2))},
			nodes: []tNode{{op: "Add", in: []string{"a", "k"}, out: []string{"y"}}}}},
		{name: "Add/const-same", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{2, 3}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("k", []int64{2, 3}, randomData(52, 6, -2, 2))},
			nodes: []tNode{{op: "Add", in: []string{"a", "k"}, out: []string{"y"}}}}},
		// A squeeze-and-excitation block, as in the liveness model: a
		// per-channel activation broadcast over the pixels.
		{name: "SE-block", model: func() *tModel {
			m := convModel(60, 13, 13, 5, 6, 1, 1, 1, true, nil,
				tNode{op: "GlobalAveragePool", in: []string{"y"}, out: []string{"g"}},
				tNode{op: "Conv", in: []string{"g", "W2", "B2"}, out: []string{"g2"}},
				tNode{op: "Relu", in: []string{"g2"}, out: []string{"g3"}},
				tNode{op: "Conv", in: []string{"g3", "W3", "B3"}, out: []string{"g4"}},
				tNode{op: "Sigmoid", in: []string{"g4"}, out: []string{"g5"}},
				tNode{op: "Mul", in: []string{"y", "g5"}, out: []string{"m"}},
				tNode{op: "Add", in: []string{"x", "m"}, out: []string{"z"}})
			m.inits = append(m.inits,
				fTensor("W2", []int64{4, 13, 1, 1}, randomData(61, 52, -0.5, 0.5)), fTensor("B2", []int64{4}, randomData(62, 4, -0.5, 0.5)),
				fTensor("W3", []int64{13, 4, 1, 1}, randomData(63, 52, -0.5, 0.5)), fTensor("B3", []int64{13}, randomData(64, 13, -0.5, 0.5)))
			return m
		}()},
		// Layout: BlazeFace's NHWC input and outputs.
		{name: "Transpose/nhwc-conv-nhwc", model: func() *tModel {
			m := &tModel{opset: 12, inputs: []tValue{{name: "x", shape: []int64{1, 9, 10, 3}}}, outputs: []tValue{out("z")},
				inits: []*tTensor{fTensor("W", []int64{6, 3, 3, 3}, randomData(70, 162, -0.5, 0.5))}}
			m.nodes = []tNode{
				{op: "Transpose", in: []string{"x"}, out: []string{"t"}, attrs: []tAttr{aInts("perm", 0, 3, 1, 2)}},
				{op: "Conv", in: []string{"t", "W"}, out: []string{"y"}, attrs: []tAttr{pads(1, 1, 1, 1)}},
				{op: "Transpose", in: []string{"y"}, out: []string{"y2"}, attrs: []tAttr{aInts("perm", 0, 2, 3, 1)}},
				{op: "Reshape", in: []string{"y2", "shape"}, out: []string{"z"}},
			}
			m.inits = append(m.inits, iTensor("shape", 1, -1, 3))
			return m
		}()},
		{name: "Transpose/3d", model: &tModel{inputs: []tValue{{name: "x", shape: []int64{2, 3, 4}}}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "Transpose", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{aInts("perm", 2, 0, 1)}}}}},
		{name: "Transpose/default-perm", model: &tModel{inputs: []tValue{{name: "x", shape: []int64{2, 3, 4}}}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "Transpose", in: []string{"x"}, out: []string{"y"}}}}},
		// BlazeFace's channel padding: Concat with ConstantOfShape zeros.
		{name: "Concat/channels-zeros", model: func() *tModel {
			m := &tModel{opset: 12, inputs: []tValue{in4("x", 1, 6, 4, 5)}, outputs: []tValue{out("z")}}
			m.inits = []*tTensor{iTensor("zshape", 1, 6, 4, 5)}
			m.nodes = []tNode{
				{op: "MaxPool", in: []string{"x"}, out: []string{"p"}, attrs: []tAttr{ksize(1, 1)}},
				{op: "ConstantOfShape", in: []string{"zshape"}, out: []string{"zero"}},
				{op: "Concat", in: []string{"p", "zero"}, out: []string{"z"}, attrs: []tAttr{aInt("axis", 1)}},
			}
			return m
		}()},
		{name: "Concat/plain-axis", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{2, 3, 4}}, {name: "b", shape: []int64{2, 2, 4}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("k", []int64{2, 1, 4}, randomData(80, 8, -1, 1))},
			nodes: []tNode{{op: "Concat", in: []string{"a", "k", "b"}, out: []string{"y"}, attrs: []tAttr{aInt("axis", -2)}}}}},
		// The liveness model's tail: a shape computed at load time, a
		// matrix product and a batch normalisation.
		{name: "Shape-Gather-Reshape-MatMul-BN", model: func() *tModel {
			m := &tModel{opset: 9, ir: 6, inputs: []tValue{in4("x", 1, 40, 1, 1)}, outputs: []tValue{out("z")}}
			m.inits = []*tTensor{
				iTensor("minus1", -1),
				fTensor("M1", []int64{40, 19}, randomData(90, 760, -0.3, 0.3)),
				fTensor("M2", []int64{19, 3}, randomData(91, 57, -0.3, 0.3)),
				fTensor("s", []int64{19}, randomData(92, 19, 0.5, 1.5)),
				fTensor("b", []int64{19}, randomData(93, 19, -1, 1)),
				fTensor("mean", []int64{19}, randomData(94, 19, -1, 1)),
				fTensor("var", []int64{19}, randomData(95, 19, 0.1, 2)),
			}
			m.nodes = []tNode{
				{op: "Shape", in: []string{"x"}, out: []string{"sh"}},
				{op: "Constant", out: []string{"zero"}, attrs: []tAttr{aTensor("value", &tTensor{dtype: dtInt64, i64: []int64{0}, raw: true})}},
				{op: "Gather", in: []string{"sh", "zero"}, out: []string{"n"}, attrs: []tAttr{aInt("axis", 0)}},
				{op: "Unsqueeze", in: []string{"n"}, out: []string{"n1"}, attrs: []tAttr{aInts("axes", 0)}},
				{op: "Concat", in: []string{"n1", "minus1"}, out: []string{"shape"}, attrs: []tAttr{aInt("axis", 0)}},
				{op: "Reshape", in: []string{"x", "shape"}, out: []string{"r"}},
				{op: "MatMul", in: []string{"r", "M1"}, out: []string{"m1"}},
				{op: "BatchNormalization", in: []string{"m1", "s", "b", "mean", "var"}, out: []string{"bn"}, attrs: []tAttr{aFloat("epsilon", 1e-5), aFloat("momentum", 0.9)}},
				{op: "MatMul", in: []string{"bn", "M2"}, out: []string{"z"}},
			}
			return m
		}()},
		{name: "MatMul/3d", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{2, 3, 37}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("B", []int64{37, 29}, randomData(100, 37*29, -0.5, 0.5))},
			nodes: []tNode{{op: "MatMul", in: []string{"a", "B"}, out: []string{"y"}}}}},
		{name: "MatMul/1d", model: &tModel{inputs: []tValue{{name: "a", shape: []int64{10}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("B", []int64{10, 5}, randomData(101, 50, -0.5, 0.5))},
			nodes: []tNode{{op: "MatMul", in: []string{"a", "B"}, out: []string{"y"}}}}},
		{name: "BatchNormalization/4d", model: &tModel{inputs: []tValue{in4("x", 1, 5, 3, 2)}, outputs: []tValue{out("y")},
			inits: []*tTensor{
				fTensor("s", []int64{5}, randomData(110, 5, 0.5, 1.5)), fTensor("b", []int64{5}, randomData(111, 5, -1, 1)),
				fTensor("mean", []int64{5}, randomData(112, 5, -1, 1)), fTensor("var", []int64{5}, randomData(113, 5, 0.1, 2))},
			nodes: []tNode{{op: "BatchNormalization", in: []string{"x", "s", "b", "mean", "var"}, out: []string{"y"}}}}},
		{name: "Unsqueeze-Squeeze/opset13", model: &tModel{inputs: []tValue{{name: "x", shape: []int64{3, 4}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{iTensor("ax1", 0, -1), iTensor("ax2", 0)},
			nodes: []tNode{
				{op: "Unsqueeze", in: []string{"x", "ax1"}, out: []string{"u"}},
				{op: "Squeeze", in: []string{"u", "ax2"}, out: []string{"s"}},
				{op: "Identity", in: []string{"s"}, out: []string{"y"}},
			}}},
		{name: "Add/channel-strides", model: func() *tModel {
			// The input keeps 3 channels per pixel, the convolution's
			// output 8: the Add must bring them to one layout.
			m := &tModel{opset: 12, inputs: []tValue{{name: "x", shape: []int64{1, 5, 6, 3}}}, outputs: []tValue{out("z")},
				inits: []*tTensor{fTensor("W", []int64{3, 3, 1, 1}, randomData(120, 9, -0.5, 0.5))}}
			m.nodes = []tNode{
				{op: "Transpose", in: []string{"x"}, out: []string{"t"}, attrs: []tAttr{aInts("perm", 0, 3, 1, 2)}},
				{op: "Conv", in: []string{"t", "W"}, out: []string{"y"}},
				{op: "Add", in: []string{"y", "t"}, out: []string{"z"}},
			}
			return m
		}()},
		{name: "Conv+Mul/scalar", model: func() *tModel {
			m := convModel(121, 5, 11, 4, 5, 1, 1, 1, true, nil, tNode{op: "Mul", in: []string{"y", "k"}, out: []string{"z"}})
			m.inits = append(m.inits, fTensor("k", []int64{1}, []float32{-1.5}))
			return m
		}()},
		{name: "Conv+PRelu/scalar", model: func() *tModel {
			m := convModel(122, 5, 11, 4, 5, 1, 1, 1, true, nil, tNode{op: "PRelu", in: []string{"y", "k"}, out: []string{"z"}})
			m.inits = append(m.inits, fTensor("k", []int64{1}, []float32{0.2}))
			return m
		}()},
		{name: "Conv+Sigmoid", lo: -3, hi: 3, model: convModel(123, 5, 11, 4, 5, 1, 1, 1, true, nil, tNode{op: "Sigmoid", in: []string{"y"}, out: []string{"z"}})},
		{name: "PRelu/scalar-4d", model: &tModel{inputs: []tValue{in4("x", 1, 3, 4, 5)}, outputs: []tValue{out("y")},
			inits: []*tTensor{fTensor("slope", []int64{1}, []float32{0.3})},
			nodes: []tNode{{op: "PRelu", in: []string{"x", "slope"}, out: []string{"y"}}}}},
		{name: "BatchNormalization/2d", model: &tModel{inputs: []tValue{{name: "x", shape: []int64{3, 5}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{
				fTensor("s", []int64{5}, randomData(130, 5, 0.5, 1.5)), fTensor("b", []int64{5}, randomData(131, 5, -1, 1)),
				fTensor("mean", []int64{5}, randomData(132, 5, -1, 1)), fTensor("var", []int64{5}, randomData(133, 5, 0.1, 2))},
			nodes: []tNode{{op: "BatchNormalization", in: []string{"x", "s", "b", "mean", "var"}, out: []string{"y"}}}}},
		{name: "MaxPool/2x2s2/pads-odd", model: &tModel{inputs: []tValue{in4("x", 1, 13, 9, 7)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(2, 2), strides(2, 2), pads(1, 0, 1, 1)}}}}},
		{name: "MaxPool/3x3s2/tf-same", model: &tModel{inputs: []tValue{in4("x", 1, 20, 14, 14)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(3, 3), strides(2, 2), pads(0, 0, 1, 1)}}}}},
		{name: "Conv/3x3s2/tf-same", model: convModel(134, 3, 8, 16, 16, 3, 3, 1, true, []tAttr{strides(2, 2), pads(0, 0, 1, 1)})},
		{name: "MaxPool/2x2s2/blazeface", model: &tModel{inputs: []tValue{in4("x", 1, 24, 16, 16)}, outputs: []tValue{out("y")},
			nodes: []tNode{{op: "MaxPool", in: []string{"x"}, out: []string{"y"}, attrs: []tAttr{ksize(2, 2), strides(2, 2)}}}}},
		{name: "Reshape/zero-copies", model: &tModel{opset: 14, inputs: []tValue{{name: "x", shape: []int64{2, 3, 4}}}, outputs: []tValue{out("y")},
			inits: []*tTensor{iTensor("shape", 0, -1)},
			nodes: []tNode{{op: "Reshape", in: []string{"x", "shape"}, out: []string{"y"}}}}},
	}
	return cases
}

// TestOpsAgainstORT runs every operator case in Go (with and without the
// assembly kernels) and in onnxruntime and compares each output value.
func TestOpsAgainstORT(t *testing.T) {
	cases := opCases()
	var oc []*ortCase
	for i, c := range cases {
		lo, hi := c.lo, c.hi
		if lo == 0 && hi == 0 {
			lo, hi = -1, 1
		}
		feeds := make(map[string]*Tensor)
		for j, in := range c.model.inputs {
			shape := make([]int, len(in.shape))
			for k, d := range in.shape {
				shape[k] = int(d)
			}
			feeds[in.name] = &Tensor{Shape: shape, Data: randomData(uint64(1000*i+j), numElements(shape), lo, hi)}
		}
		oc = append(oc, &ortCase{ID: "op" + itoa(i), model: c.model.encode(), feeds: feeds})
	}
	ref, version := runORT(t, oc)
	t.Logf("onnxruntime %s", version)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, _ := compareRun(t, c.name, oc[i].model, oc[i].feeds, ref[oc[i].ID])
			t.Logf("max |Go - onnxruntime| = %.3g", d)
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestLoadKeepsOneCopyOfWeights: a loaded model keeps the packed form of a
// convolution's weights and lets go of the initializer it packed them
// from, while a constant a step reads by id (a Concat operand) is kept.
func TestLoadKeepsOneCopyOfWeights(t *testing.T) {
	m, err := Load(convModel(7, 8, 16, 9, 9, 3, 3, 1, true, []tAttr{pads(1, 1, 1, 1)}).encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.p.values {
		if v.isConst && len(v.shape) == 4 && v.f32 != nil {
			t.Errorf("constant %q %v still holds %d float32s after packing", v.name, v.shape, len(v.f32))
		}
	}
	out, err := m.Run(context.Background(), map[string]*Tensor{"x": {Shape: []int{1, 8, 9, 9}, Data: make([]float32, 8*81)}})
	if err != nil || len(out["y"].Data) != 16*81 {
		t.Fatalf("Run after dropping weights: %v", err)
	}
}
