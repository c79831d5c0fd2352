package faceid

import (
	"fmt"

	"github.com/facevault/facevault/internal/onnxbuild"
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

// graph is the ONNX graph buildNetwork writes, with face-api.js's layers.
type graph struct{ *onnxbuild.Graph }

// buildNetwork returns the ONNX model (the bytes of a .onnx file) of the
// face-recognition network with the given TensorFlow.js weights.
func buildNetwork(manifest, bin []byte) ([]byte, error) {
	w, err := onnxbuild.DecodeTFJS(manifest, bin)
	if err != nil {
		return nil, err
	}
	g := graph{onnxbuild.NewGraph(w)}
	x, s, err := g.layer(netInput, ChipSize, "conv32_down", 7, 2, 0)
	if err != nil {
		return nil, err
	}
	x = g.Node("Relu", []string{x})
	x = g.Node("MaxPool", []string{x}, onnxbuild.AttrInts("kernel_shape", 3, 3), onnxbuild.AttrInts("strides", 2, 2))
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
	x = g.Node("GlobalAveragePool", []string{x})
	x = g.Node("Reshape", []string{x, g.Int64s(1, int64(c))})
	fc, err := g.Weight("fc", []int{c, Dim})
	if err != nil {
		return nil, err
	}
	g.NodeTo("MatMul", []string{x, g.Floats([]int{c, Dim}, fc.Data)}, netOutput)
	if unused := g.Unused(); len(unused) > 0 {
		return nil, fmt.Errorf("weight %s is not part of the network", unused[0])
	}
	return g.Model("dlib_face_recognition_resnet_model_v1", "facevault faceid",
		onnxbuild.Value{Name: netInput, Shape: []int{1, 3, ChipSize, ChipSize}},
		onnxbuild.Value{Name: netOutput, Shape: []int{1, Dim}}), nil
}

// layer adds face-api.js's convolution layer prefix (conv, bias, scale,
// shift, no activation) on x, of side s, with a k×k kernel, the given
// stride and padding on every side, and returns its output and side.
func (g *graph) layer(x string, s int, prefix string, k, stride, pad int) (string, int, error) {
	fs, ok := g.Shape(prefix + "/conv/filters")
	if !ok || len(fs) != 4 {
		return "", 0, fmt.Errorf("weight %s/conv/filters missing or not 4-D", prefix)
	}
	cin, cout := fs[2], fs[3]
	filters, err := g.Weight(prefix+"/conv/filters", []int{k, k, cin, cout})
	if err != nil {
		return "", 0, err
	}
	var vec [3]onnxbuild.Weight
	for i, n := range []string{"/conv/bias", "/scale/weights", "/scale/biases"} {
		if vec[i], err = g.Weight(prefix+n, []int{cout}); err != nil {
			return "", 0, err
		}
	}
	bias, scale, shift := vec[0].Data, vec[1].Data, vec[2].Data
	// HWIO to OIHW, each output channel times its scale.
	w := make([]float32, cout*cin*k*k)
	for ky := range k {
		for kx := range k {
			for i := range cin {
				for o := range cout {
					w[((o*cin+i)*k+ky)*k+kx] = filters.Data[((ky*k+kx)*cin+i)*cout+o] * scale[o]
				}
			}
		}
	}
	b := make([]float32, cout)
	for o := range b {
		b[o] = bias[o]*scale[o] + shift[o]
	}
	out := g.Node("Conv", []string{x, g.Floats([]int{cout, cin, k, k}, w), g.Floats([]int{cout}, b)},
		onnxbuild.AttrInts("kernel_shape", int64(k), int64(k)),
		onnxbuild.AttrInts("strides", int64(stride), int64(stride)),
		onnxbuild.AttrInts("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
	)
	return out, (s+2*pad-k)/stride + 1, nil
}

// residual adds a residual block on x (side s).
func (g *graph) residual(x, prefix string, s int) (string, error) {
	y, _, err := g.layer(x, s, prefix+"/conv1", 3, 1, 1)
	if err != nil {
		return "", err
	}
	y = g.Node("Relu", []string{y})
	y, _, err = g.layer(y, s, prefix+"/conv2", 3, 1, 1)
	if err != nil {
		return "", err
	}
	return g.Node("Relu", []string{g.Node("Add", []string{y, x})}), nil
}

// down adds a down block on x (side s, cin channels) that ends with cout
// channels, and returns its output and side.
func (g *graph) down(x, prefix string, s, cin, cout int) (string, int, error) {
	y, so, err := g.layer(x, s, prefix+"/conv1", 3, 2, 0)
	if err != nil {
		return "", 0, err
	}
	y = g.Node("Relu", []string{y})
	y, _, err = g.layer(y, so, prefix+"/conv2", 3, 1, 1)
	if err != nil {
		return "", 0, err
	}
	quarter := make([]float32, cin*4)
	for i := range quarter {
		quarter[i] = 0.25
	}
	p := g.Node("Conv", []string{x, g.Floats([]int{cin, 1, 2, 2}, quarter)},
		onnxbuild.AttrInts("kernel_shape", 2, 2), onnxbuild.AttrInts("strides", 2, 2), onnxbuild.AttrInt("group", int64(cin)),
	)
	sp := s / 2
	switch {
	case sp == so+1:
		// face-api.js pads the block's output with a row of zeros below,
		// then a column on the right.
		y = g.Node("Concat", []string{y, g.Floats([]int{1, cout, 1, so}, make([]float32, cout*so))}, onnxbuild.AttrInt("axis", 2))
		y = g.Node("Concat", []string{y, g.Floats([]int{1, cout, sp, 1}, make([]float32, cout*sp))}, onnxbuild.AttrInt("axis", 3))
	case sp != so:
		return "", 0, fmt.Errorf("%s: pooled side %d and block side %d cannot be matched", prefix, sp, so)
	}
	if cout != cin {
		if cout < cin {
			return "", 0, fmt.Errorf("%s: %d channels in, %d out", prefix, cin, cout)
		}
		p = g.Node("Concat", []string{p, g.Floats([]int{1, cout - cin, sp, sp}, make([]float32, (cout-cin)*sp*sp))}, onnxbuild.AttrInt("axis", 1))
	}
	return g.Node("Relu", []string{g.Node("Add", []string{p, y})}), sp, nil
}
