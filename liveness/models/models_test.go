package models

import (
	"context"
	"slices"
	"testing"

	"github.com/facevault/facevault/internal/onnx"
	"github.com/facevault/facevault/internal/provenance"
)

// TestProvenance checks every file listed in PROVENANCE.md against its
// size and sha256, that the models and their licences are all listed, and
// that the embedded bytes are the files.
func TestProvenance(t *testing.T) {
	provenance.Check(t, ".", []string{"face_detection_back_256x256_barracuda.onnx", "fr_liveness.onnx", "LICENSE-blazeface.txt", "LICENSE-faceplugin.txt"}, map[string][]byte{
		"face_detection_back_256x256_barracuda.onnx": BlazeFaceBack(),
		"fr_liveness.onnx":                           FRLiveness(),
	})
}

// TestLoad loads both models and runs each once on a neutral input: the
// names and shapes documented in this package are the models' own.
// (internal/onnx compares their outputs with onnxruntime.)
func TestLoad(t *testing.T) {
	ctx := context.Background()
	bf, err := LoadBlazeFaceBack()
	if err != nil {
		t.Fatal(err)
	}
	checkIO(t, bf.Inputs()[0].Name, bf.Inputs()[0].Shape, BlazeFaceInput, []int{1, BlazeFaceSize, BlazeFaceSize, 3})
	out, err := bf.Run(ctx, map[string]*onnx.Tensor{BlazeFaceInput: zeros(1, BlazeFaceSize, BlazeFaceSize, 3)})
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{
		BlazeFaceScores16: {1, 512, 1}, BlazeFaceScores8: {1, 384, 1},
		BlazeFaceBoxes16: {1, 512, 16}, BlazeFaceBoxes8: {1, 384, 16},
	} {
		if o, ok := out[name]; !ok || !slices.Equal(o.Shape, shape) {
			t.Errorf("BlazeFace output %q: got %v, want shape %v", name, o, shape)
		}
	}

	fl, err := LoadFRLiveness()
	if err != nil {
		t.Fatal(err)
	}
	checkIO(t, fl.Inputs()[0].Name, fl.Inputs()[0].Shape, LivenessInput, []int{1, 3, LivenessSize, LivenessSize})
	out, err = fl.Run(ctx, map[string]*onnx.Tensor{LivenessInput: zeros(1, 3, LivenessSize, LivenessSize)})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := out[LivenessOutput]; !ok || !slices.Equal(o.Shape, []int{1, 3}) {
		t.Errorf("liveness output %q: got %v, want shape [1 3]", LivenessOutput, o)
	}
}

func checkIO(t *testing.T, name string, shape []int, wantName string, wantShape []int) {
	t.Helper()
	if name != wantName || !slices.Equal(shape, wantShape) {
		t.Errorf("input %q %v, want %q %v", name, shape, wantName, wantShape)
	}
}

func zeros(shape ...int) *onnx.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &onnx.Tensor{Shape: shape, Data: make([]float32, n)}
}
