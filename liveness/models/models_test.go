package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/facevault/facevault/internal/onnx"
)

// provenanceRow matches a row of the table in PROVENANCE.md: file, bytes,
// sha256.
var provenanceRow = regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([0-9,]+) \\| `([0-9a-f]{64})` \\|")

// TestProvenance checks every file listed in PROVENANCE.md against its
// size and sha256, that the models and their licences are all listed, and
// that the embedded bytes are the files.
func TestProvenance(t *testing.T) {
	doc, err := os.ReadFile("PROVENANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := provenanceRow.FindAllStringSubmatch(string(doc), -1)
	var listed []string
	for _, r := range rows {
		name, sum := r[1], r[3]
		size, err := strconv.Atoi(strings.ReplaceAll(r[2], ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, name)
		data, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s is listed in PROVENANCE.md: %v", name, err)
			continue
		}
		if len(data) != size {
			t.Errorf("%s has %d bytes, PROVENANCE.md says %d", name, len(data), size)
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s has sha256 %x, PROVENANCE.md says %s", name, got, sum)
		}
	}
	for _, want := range []string{"face_detection_back_256x256_barracuda.onnx", "fr_liveness.onnx", "LICENSE-blazeface.txt", "LICENSE-faceplugin.txt"} {
		if !slices.Contains(listed, want) {
			t.Errorf("PROVENANCE.md does not list %s", want)
		}
	}
	for name, embedded := range map[string][]byte{
		"face_detection_back_256x256_barracuda.onnx": BlazeFaceBack(),
		"fr_liveness.onnx":                           FRLiveness(),
	} {
		file, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(embedded, file) {
			t.Errorf("the embedded %s differs from the file", name)
		}
	}
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
