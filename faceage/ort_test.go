package faceage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/facevault/facevault/faceage/models"
	"github.com/facevault/facevault/internal/onnx"
)

// TestGraphAgainstORT runs the ONNX graph buildNetwork writes in
// onnxruntime (internal/onnx's reference runner, testdata/ort there) and
// checks the executor's output against it on the photographs' faces: where
// TestAgainstTFJS checks the whole conversion, this separates the
// executor from the graph, and times onnxruntime on the same graph.
func TestGraphAgainstORT(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed for the onnxruntime reference test and was not found (%v)", err)
	}
	ortDir, err := filepath.Abs(filepath.Join("..", "internal", "onnx", "testdata", "ort"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		t.Fatalf("onnxruntime-node is not installed in internal/onnx/testdata/ort/node_modules (%v); run the tests with ./scripts/test, which installs it", err)
	}
	data, err := buildNetwork(models.AgeGenderManifest(), models.AgeGenderWeights())
	if err != nil {
		t.Fatal(err)
	}
	e := mustEstimator(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "net.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	type tensor struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		File  string `json:"file"`
	}
	type ortCase struct {
		ID     string         `json:"id"`
		Model  string         `json:"model"`
		Inputs []tensor       `json:"inputs"`
		Time   map[string]int `json:"time,omitempty"`
	}
	var cases []ortCase
	inputs := map[string][]float32{}
	for _, name := range []string{"pigo-sample.jpg", "astronaut.png"} {
		img, f := photoFace(t, name)
		r, err := cropRect(img.Rect, f)
		if err != nil {
			t.Fatal(err)
		}
		in := netInputOf(faceInput(img, r))
		var buf []byte
		for _, v := range in {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		file := name + ".f32"
		if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		c := ortCase{ID: name, Model: "net.onnx", Inputs: []tensor{{netInput, []int{1, 3, InputSize, InputSize}, file}}}
		if len(cases) == 0 {
			c.Time = map[string]int{"warmup": 5, "runs": 20}
		}
		cases = append(cases, c)
		inputs[name] = in
	}
	req, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	reqPath, respPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "response.json")
	if err := os.WriteFile(reqPath, req, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, filepath.Join(ortDir, "reference.js"), reqPath, respPath).CombinedOutput(); err != nil {
		t.Fatalf("node reference.js: %v\n%s", err, out)
	}
	respJSON, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ORT     string `json:"ort"`
		Results []struct {
			ID       string   `json:"id"`
			Error    *string  `json:"error"`
			Outputs  []tensor `json:"outputs"`
			MsPerRun *float64 `json:"msPerRun"`
		} `json:"results"`
	}
	if err := json.Unmarshal(respJSON, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(resp.Results), len(cases))
	}
	for _, r := range resp.Results {
		if r.Error != nil {
			t.Fatalf("%s: onnxruntime refused the graph: %s", r.ID, *r.Error)
		}
		if len(r.Outputs) != 1 || !slices.Equal(r.Outputs[0].Shape, []int{1, 1}) {
			t.Fatalf("%s: onnxruntime outputs %+v, want one [1 1]", r.ID, r.Outputs)
		}
		raw, err := os.ReadFile(filepath.Join(dir, r.Outputs[0].File))
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.m.Run(context.Background(), map[string]*onnx.Tensor{netInput: {Shape: []int{1, 3, InputSize, InputSize}, Data: inputs[r.ID]}})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i, v := range got[netOutput].Data {
			want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			worst = max(worst, math.Abs(float64(v)-float64(want)))
		}
		if r.MsPerRun != nil {
			t.Logf("onnxruntime %s: %.1f ms per run on one thread", resp.ORT, *r.MsPerRun)
		}
		t.Logf("%s: largest difference from onnxruntime %.2g", r.ID, worst)
		if worst > ageTol {
			t.Errorf("%s: the age differs from onnxruntime's by %.3g, more than %g", r.ID, worst, ageTol)
		}
	}
}
