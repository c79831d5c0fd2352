package faceage

import (
	"fmt"

	"github.com/facevault/facevault/internal/onnxbuild"
)

// The age network is face-api.js's AgeGenderNet as @vladmandic/face-api
// 1.7.15 defines it in code (src/ageGenderNet and src/xception) and ships
// its weights: a TensorFlow.js weights file and its manifest. buildNetwork
// reads the weights and writes the network's age output as an ONNX graph,
// which internal/onnx loads like any other model. The graph follows
// face-api.js operation for operation (TinyXception with two middle blocks):
//
//	input 112×112 RGB, (v − mean) / 255
//	entry: conv 3×3/2 "same" + bias, ReLU (32 channels, 56×56)
//	       reduction block to 64 channels (without the leading ReLU), 28×28
//	       reduction block to 128, 14×14
//	middle: 2 main blocks of 128
//	exit:  reduction block to 256, 7×7
//	       separable conv to 512 + bias, ReLU
//	average pool 7×7/2 "valid" (the whole 7×7); 512×1 matrix + bias: the age
//
// where a separable conv is TensorFlow's separableConv2d (a depthwise 3×3
// "same" convolution, then a pointwise 1×1 one) plus a bias; a reduction
// block is sep(relu(sep(relu(x)))), max-pooled 3×3/2 "same", plus a 1×1/2
// convolution (with bias) of x; and a main block is three ReLU-then-sep
// steps plus x. TensorFlow's "same" padding with a stride of 2 on an even
// side pads nothing before and one row or column after, which is how the
// ONNX pads are written.
//
// The network also has a gender head (a 512×2 matrix and a softmax on the
// same features). FaceVault does not infer gender: the graph does not
// compute it, and buildNetwork only checks that its weights are the ones it
// leaves out.

// Names of the network's input and output in the ONNX graph.
const (
	netInput  = "input"
	netOutput = "age"
)

// InputSize is the side, in pixels, of the square face image the network
// reads.
const InputSize = 112

// meanRGB is the per-channel mean face-api.js subtracts before dividing by
// 255.
var meanRGB = [3]float32{122.782, 117.001, 104.298}

// genderHead is the prefix of the weights of the gender output, which the
// graph leaves out.
const genderHead = "fc/gender/"

// graph is the ONNX graph buildNetwork writes, with face-api.js's layers.
type graph struct{ *onnxbuild.Graph }

// buildNetwork returns the ONNX model (the bytes of a .onnx file) of the age
// output of AgeGenderNet with the given TensorFlow.js weights.
func buildNetwork(manifest, bin []byte) ([]byte, error) {
	w, err := onnxbuild.DecodeTFJS(manifest, bin)
	if err != nil {
		return nil, err
	}
	g := graph{onnxbuild.NewGraph(w)}
	x, s, c, err := g.conv(netInput, InputSize, 3, "entry_flow/conv_in", 3, 2)
	if err != nil {
		return nil, err
	}
	x = g.Node("Relu", []string{x})
	for _, b := range []struct {
		prefix   string
		activate bool
	}{
		{"entry_flow/reduction_block_0", false},
		{"entry_flow/reduction_block_1", true},
	} {
		if x, s, c, err = g.reduction(x, s, c, b.prefix, b.activate); err != nil {
			return nil, err
		}
	}
	for _, prefix := range []string{"middle_flow/main_block_0", "middle_flow/main_block_1"} {
		if x, err = g.main(x, c, prefix); err != nil {
			return nil, err
		}
	}
	if x, s, c, err = g.reduction(x, s, c, "exit_flow/reduction_block", true); err != nil {
		return nil, err
	}
	if x, c, err = g.separable(x, c, "exit_flow/separable_conv"); err != nil {
		return nil, err
	}
	x = g.Node("Relu", []string{x})
	// face-api.js's avgPool 7×7/2 "valid" on a 7×7 map is the mean of the
	// whole map.
	if s != 7 {
		return nil, fmt.Errorf("features are %d×%d, want 7×7", s, s)
	}
	x = g.Node("GlobalAveragePool", []string{x})
	x = g.Node("Reshape", []string{x, g.Int64s(1, int64(c))})
	fc, err := g.Weight("fc/age/weights", []int{c, 1})
	if err != nil {
		return nil, err
	}
	bias, err := g.Weight("fc/age/bias", []int{1})
	if err != nil {
		return nil, err
	}
	x = g.Node("MatMul", []string{x, g.Floats([]int{c, 1}, fc.Data)})
	g.NodeTo("Add", []string{x, g.Floats([]int{1}, bias.Data)}, netOutput)
	if _, err := g.Weight(genderHead+"weights", []int{c, 2}); err != nil {
		return nil, err
	}
	if _, err := g.Weight(genderHead+"bias", []int{2}); err != nil {
		return nil, err
	}
	if unused := g.Unused(); len(unused) > 0 {
		return nil, fmt.Errorf("weight %s is not part of the network", unused[0])
	}
	return g.Model("face-api.js AgeGenderNet, age output", "facevault faceage",
		onnxbuild.Value{Name: netInput, Shape: []int{1, 3, InputSize, InputSize}},
		onnxbuild.Value{Name: netOutput, Shape: []int{1, 1}}), nil
}

// samePads returns TensorFlow's "same" padding before and after a side of
// length in for a window k and stride s: the output has ceil(in/s) values,
// and the padding they need is split with the smaller half before.
func samePads(in, k, s int) (before, after, out int) {
	out = (in + s - 1) / s
	total := max(0, (out-1)*s+k-in)
	return total / 2, total - total/2, out
}

// convAttrs returns the attributes of a k×k convolution or pool with
// stride s and "same" padding on a side of length in, and the output side.
func convAttrs(in, k, s int) ([][]byte, int) {
	b, a, out := samePads(in, k, s)
	return [][]byte{
		onnxbuild.AttrInts("kernel_shape", int64(k), int64(k)),
		onnxbuild.AttrInts("strides", int64(s), int64(s)),
		onnxbuild.AttrInts("pads", int64(b), int64(b), int64(a), int64(a)),
	}, out
}

// conv adds face-api.js's conv (a k×k convolution with stride s and "same"
// padding, plus a bias) of prefix on x (side in, cin channels), and returns
// its output, side and channels.
func (g *graph) conv(x string, in, cin int, prefix string, k, s int) (string, int, int, error) {
	fs, ok := g.Shape(prefix + "/filters")
	if !ok || len(fs) != 4 {
		return "", 0, 0, fmt.Errorf("weight %s/filters missing or not 4-D", prefix)
	}
	cout := fs[3]
	f, err := g.Weight(prefix+"/filters", []int{k, k, cin, cout})
	if err != nil {
		return "", 0, 0, err
	}
	bias, err := g.Weight(prefix+"/bias", []int{cout})
	if err != nil {
		return "", 0, 0, err
	}
	// HWIO to OIHW.
	w := make([]float32, cout*cin*k*k)
	for ky := range k {
		for kx := range k {
			for i := range cin {
				for o := range cout {
					w[((o*cin+i)*k+ky)*k+kx] = f.Data[((ky*k+kx)*cin+i)*cout+o]
				}
			}
		}
	}
	attrs, out := convAttrs(in, k, s)
	y := g.Node("Conv", []string{x, g.Floats([]int{cout, cin, k, k}, w), g.Floats([]int{cout}, bias.Data)}, attrs...)
	return y, out, cout, nil
}

// separable adds face-api.js's depthwise separable conv of prefix on x
// (cin channels; stride 1, "same" padding): a depthwise 3×3 convolution, a
// pointwise 1×1 one and a bias. It returns the output and its channels.
func (g *graph) separable(x string, cin int, prefix string) (string, int, error) {
	dw, err := g.Weight(prefix+"/depthwise_filter", []int{3, 3, cin, 1})
	if err != nil {
		return "", 0, err
	}
	ps, ok := g.Shape(prefix + "/pointwise_filter")
	if !ok || len(ps) != 4 {
		return "", 0, fmt.Errorf("weight %s/pointwise_filter missing or not 4-D", prefix)
	}
	cout := ps[3]
	pw, err := g.Weight(prefix+"/pointwise_filter", []int{1, 1, cin, cout})
	if err != nil {
		return "", 0, err
	}
	bias, err := g.Weight(prefix+"/bias", []int{cout})
	if err != nil {
		return "", 0, err
	}
	// [3, 3, C, 1] to [C, 1, 3, 3]; [1, 1, Cin, Cout] to [Cout, Cin, 1, 1].
	dww := make([]float32, cin*9)
	for t := range 9 {
		for ch := range cin {
			dww[ch*9+t] = dw.Data[t*cin+ch]
		}
	}
	pww := make([]float32, cout*cin)
	for i := range cin {
		for o := range cout {
			pww[o*cin+i] = pw.Data[i*cout+o]
		}
	}
	y := g.Node("Conv", []string{x, g.Floats([]int{cin, 1, 3, 3}, dww)},
		onnxbuild.AttrInts("kernel_shape", 3, 3), onnxbuild.AttrInts("pads", 1, 1, 1, 1), onnxbuild.AttrInt("group", int64(cin)))
	y = g.Node("Conv", []string{y, g.Floats([]int{cout, cin, 1, 1}, pww), g.Floats([]int{cout}, bias.Data)},
		onnxbuild.AttrInts("kernel_shape", 1, 1))
	return y, cout, nil
}

// reduction adds a reduction block of prefix on x (side s, c channels),
// with or without the ReLU on its input, and returns its output, side and
// channels.
func (g *graph) reduction(x string, s, c int, prefix string, activate bool) (string, int, int, error) {
	y := x
	if activate {
		y = g.Node("Relu", []string{x})
	}
	y, c1, err := g.separable(y, c, prefix+"/separable_conv0")
	if err != nil {
		return "", 0, 0, err
	}
	y, c2, err := g.separable(g.Node("Relu", []string{y}), c1, prefix+"/separable_conv1")
	if err != nil {
		return "", 0, 0, err
	}
	attrs, so := convAttrs(s, 3, 2)
	y = g.Node("MaxPool", []string{y}, attrs...)
	e, se, ce, err := g.conv(x, s, c, prefix+"/expansion_conv", 1, 2)
	if err != nil {
		return "", 0, 0, err
	}
	if se != so || ce != c2 {
		return "", 0, 0, fmt.Errorf("%s: pooled %d×%d×%d and expansion %d×%d×%d do not match", prefix, c2, so, so, ce, se, se)
	}
	return g.Node("Add", []string{y, e}), so, c2, nil
}

// main adds a main block of prefix on x (c channels).
func (g *graph) main(x string, c int, prefix string) (string, error) {
	y := x
	for i := range 3 {
		var err error
		var cy int
		y, cy, err = g.separable(g.Node("Relu", []string{y}), c, fmt.Sprintf("%s/separable_conv%d", prefix, i))
		if err != nil {
			return "", err
		}
		if cy != c {
			return "", fmt.Errorf("%s: %d channels in, %d out", prefix, c, cy)
		}
	}
	return g.Node("Add", []string{y, x}), nil
}
