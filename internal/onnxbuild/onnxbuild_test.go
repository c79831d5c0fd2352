package onnxbuild

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/facevault/facevault/internal/onnx"
)

// TestDecodeTFJS decodes a float32 and a uint8-quantised weight the way
// TensorFlow.js does, and refuses malformed files.
func TestDecodeTFJS(t *testing.T) {
	manifest := `[{"paths":["x.bin"],"weights":[
		{"name":"a","shape":[2],"dtype":"float32"},
		{"name":"b","shape":[1,3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}}]}]`
	bin := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.5))
	bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(-2))
	bin = append(bin, 0, 2, 255)
	w, err := DecodeTFJS([]byte(manifest), bin)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w["a"].Data, []float32{1.5, -2}) || !slices.Equal(w["a"].Shape, []int{2}) {
		t.Errorf("a = %+v", w["a"])
	}
	if !slices.Equal(w["b"].Data, []float32{-1, 0, 126.5}) || !slices.Equal(w["b"].Shape, []int{1, 3}) {
		t.Errorf("b = %+v", w["b"])
	}
	for name, tc := range map[string]struct{ manifest, bin string }{
		"not JSON":    {`{`, ""},
		"two groups":  {`[{"weights":[]},{"weights":[]}]`, ""},
		"int32":       {`[{"weights":[{"name":"a","shape":[1],"dtype":"int32"}]}]`, "xxxx"},
		"bad shape":   {`[{"weights":[{"name":"a","shape":[0],"dtype":"float32"}]}]`, ""},
		"short":       {`[{"weights":[{"name":"a","shape":[2],"dtype":"float32"}]}]`, "xxxx"},
		"long":        {`[{"weights":[{"name":"a","shape":[1],"dtype":"float32"}]}]`, "xxxxx"},
		"twice":       {`[{"weights":[{"name":"a","shape":[1],"dtype":"float32"},{"name":"a","shape":[1],"dtype":"float32"}]}]`, "xxxxxxxx"},
		"uint16":      {`[{"weights":[{"name":"a","shape":[1],"dtype":"float32","quantization":{"dtype":"uint16"}}]}]`, "xx"},
		"huge tensor": {`[{"weights":[{"name":"a","shape":[1048576,1048576],"dtype":"float32"}]}]`, ""},
	} {
		if _, err := DecodeTFJS([]byte(tc.manifest), []byte(tc.bin)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestGraph builds a small graph (a 1×1 convolution with bias, a ReLU and
// a matrix product through a reshape) and runs it with internal/onnx.
func TestGraph(t *testing.T) {
	g := NewGraph(map[string]Weight{
		"conv": {Shape: []int{2, 1}, Data: []float32{2, -1}},
		"fc":   {Shape: []int{2, 1}, Data: []float32{1, 10}},
		"left": {Shape: []int{1}, Data: []float32{0}},
	})
	if _, err := g.Weight("conv", []int{1, 2}); err == nil {
		t.Error("Weight with the wrong shape: no error")
	}
	if _, err := g.Weight("missing", []int{1}); err == nil {
		t.Error("Weight of a missing name: no error")
	}
	conv, err := g.Weight("conv", []int{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := g.Shape("fc"); !ok || !slices.Equal(s, []int{2, 1}) {
		t.Errorf("Shape(fc) = %v, %v", s, ok)
	}
	fc, err := g.Weight("fc", []int{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Unused(); !slices.Equal(u, []string{"left"}) {
		t.Errorf("Unused() = %v, want [left]", u)
	}
	x := g.Node("Conv", []string{"in", g.Floats([]int{2, 1, 1, 1}, conv.Data), g.Floats([]int{2}, []float32{0.5, 0})},
		AttrInts("kernel_shape", 1, 1), AttrInt("group", 1))
	x = g.Node("Relu", []string{x})
	x = g.Node("Reshape", []string{x, g.Int64s(1, 2)})
	g.NodeTo("MatMul", []string{x, g.Floats([]int{2, 1}, fc.Data)}, "out")
	m, err := onnx.Load(g.Model("test", "onnxbuild test", Value{"in", []int{1, 1, 1, 1}}, Value{"out", []int{1, 1}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want float32 }{{1, 2.5}, {-1, 10}, {3, 6.5}} {
		out, err := m.Run(context.Background(), map[string]*onnx.Tensor{"in": {Shape: []int{1, 1, 1, 1}, Data: []float32{tc.in}}})
		if err != nil {
			t.Fatal(err)
		}
		// relu(2x + 0.5)·1 + relu(−x)·10
		if got := out["out"].Data; len(got) != 1 || got[0] != tc.want {
			t.Errorf("in %g: out %v, want %g", tc.in, got, tc.want)
		}
	}
}
