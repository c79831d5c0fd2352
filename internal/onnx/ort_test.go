package onnx

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// Tolerance: every output value must be within absTol of onnxruntime's,
// or, in an output tensor whose values reach magnitudes where absTol is
// only a few float32 steps, within relTol times the largest magnitude in
// that tensor (32 float32 steps of it). The rounding errors of a deep
// network scale with its intermediate values, not with each output: on
// BlazeFace with a real photograph (outputs up to 4300 in magnitude; float32
// steps are 1.2e-4 at 1400), onnxruntime's results with and without its
// own graph optimisations differ by up to 1.7e-3, in 176 of 512 values by
// more than 1e-4 (TestModelsAgainstORT logs these figures for each input),
// so no executor can promise 1e-4 there. Where outputs stay below 25, as in
// the liveness model and in every single-operator test, the tolerance is
// 1e-4.
const (
	absTol = 1e-4
	relTol = 4e-6
)

// tolerance is the largest accepted |Go - onnxruntime| for the values of
// an output tensor whose largest onnxruntime magnitude is maxWant.
func tolerance(maxWant float64) float64 {
	return max(absTol, relTol*maxWant)
}

// ortCase is one model run by testdata/ort/reference.js.
type ortCase struct {
	ID     string      `json:"id"`
	Model  string      `json:"model"`
	Inputs []ortTensor `json:"inputs"`
	Time   *ortTime    `json:"time,omitempty"`
	// Optimization is onnxruntime's graph optimisation level: "all" (the
	// default) or "disabled".
	Optimization string `json:"optimization,omitempty"`

	model []byte             // written to a file unless modelPath is set
	path  string             // an existing model file
	feeds map[string]*Tensor // the inputs
}

type ortTensor struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
}

type ortTime struct {
	Warmup int `json:"warmup"`
	Runs   int `json:"runs"`
}

// ortResult is what onnxruntime computed for a case.
type ortResult struct {
	err      string
	outputs  map[string]*Tensor
	msPerRun float64
}

const ortHint = "run ./scripts/test, which installs it with `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix internal/onnx/testdata/ort`"

// runORT runs the cases with onnxruntime and returns the results by id.
// It fails the test, not skips it, when Node.js or onnxruntime-node is
// missing.
func runORT(t testing.TB, cases []*ortCase) (map[string]*ortResult, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed for the onnxruntime reference tests and was not found (%v); install Node.js and %s", err, ortHint)
	}
	ortDir, err := filepath.Abs(filepath.Join("testdata", "ort"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		t.Fatalf("onnxruntime-node is not installed in testdata/ort/node_modules (%v); %s", err, ortHint)
	}
	dir := t.TempDir()
	for _, c := range cases {
		if c.path != "" {
			c.Model = c.path
		} else {
			c.Model = c.ID + ".onnx"
			if err := os.WriteFile(filepath.Join(dir, c.Model), c.model, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c.Inputs = nil
		names := make([]string, 0, len(c.feeds))
		for name := range c.feeds {
			names = append(names, name)
		}
		slices.Sort(names)
		for i, name := range names {
			x := c.feeds[name]
			file := fmt.Sprintf("%s.in%d.f32", c.ID, i)
			if err := os.WriteFile(filepath.Join(dir, file), f32Bytes(x.Data), 0o644); err != nil {
				t.Fatal(err)
			}
			c.Inputs = append(c.Inputs, ortTensor{Name: name, Shape: x.Shape, File: file})
		}
	}
	req, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	reqPath, respPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "response.json")
	if err := os.WriteFile(reqPath, req, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(ortDir, "reference.js"), reqPath, respPath)
	cmd.Dir = ortDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node reference.js: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ORT     string `json:"ort"`
		Results []struct {
			ID       string      `json:"id"`
			Error    *string     `json:"error"`
			Outputs  []ortTensor `json:"outputs"`
			MsPerRun *float64    `json:"msPerRun"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("parsing reference output: %v", err)
	}
	byID := make(map[string]*ortResult)
	for _, r := range resp.Results {
		res := &ortResult{outputs: make(map[string]*Tensor)}
		if r.Error != nil {
			res.err = *r.Error
		}
		if r.MsPerRun != nil {
			res.msPerRun = *r.MsPerRun
		}
		for _, o := range r.Outputs {
			b, err := os.ReadFile(filepath.Join(dir, o.File))
			if err != nil {
				t.Fatal(err)
			}
			res.outputs[o.Name] = &Tensor{Shape: o.Shape, Data: bytesF32(b)}
		}
		byID[r.ID] = res
	}
	for _, c := range cases {
		if byID[c.ID] == nil {
			t.Fatalf("reference.js returned no result for case %s", c.ID)
		}
	}
	return byID, resp.ORT
}

func f32Bytes(d []float32) []byte {
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	d := make([]float32, len(b)/4)
	for i := range d {
		d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return d
}

// randomData returns n deterministic values uniform in [lo, hi).
func randomData(seed uint64, n int, lo, hi float32) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x6f6e6e78))
	d := make([]float32, n)
	for i := range d {
		d[i] = lo + (hi-lo)*r.Float32()
	}
	return d
}

// diffStats compares got with want, which must have the same shape.
type diffStats struct {
	maxAbs    float64 // largest |got - want|
	maxAbsAt  int
	maxRel    float64 // largest |got - want| / max(1, |want|)
	beyondAbs int     // values differing by more than absTol
	maxWant   float64 // largest |want|
	tol       float64 // the tolerance for this tensor
}

func compare(t testing.TB, what string, got, want *Tensor) diffStats {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, onnxruntime %v", what, got.Shape, want.Shape)
	}
	if len(got.Data) != len(want.Data) {
		t.Fatalf("%s: %d values, onnxruntime %d", what, len(got.Data), len(want.Data))
	}
	var s diffStats
	for _, w := range want.Data {
		s.maxWant = max(s.maxWant, math.Abs(float64(w)))
	}
	s.tol = tolerance(s.maxWant)
	for i := range got.Data {
		g, w := float64(got.Data[i]), float64(want.Data[i])
		d := math.Abs(g - w)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > s.maxAbs || i == 0 {
			s.maxAbs, s.maxAbsAt = d, i
		}
		s.maxRel = max(s.maxRel, d/max(1, math.Abs(w)))
		if d > absTol {
			s.beyondAbs++
		}
	}
	return s
}

// kernelVariants are the kernel choices every model test runs: the
// default (assembly where the CPU has it) and the portable Go kernels.
var kernelVariants = []struct {
	name string
	opt  options
}{
	{"default", options{}},
	{"generic", options{generic: true}},
}

// compareRun runs model data in Go with each kernel variant and compares
// every output with onnxruntime's. It returns the largest absolute and
// relative differences.
func compareRun(t *testing.T, what string, data []byte, feeds map[string]*Tensor, want *ortResult) (maxAbs, maxRel float64) {
	t.Helper()
	if want.err != "" {
		t.Fatalf("%s: onnxruntime refused the model: %s", what, want.err)
	}
	for _, kv := range kernelVariants {
		m, err := load(data, kv.opt)
		if err != nil {
			t.Fatalf("%s: Load: %v", what, err)
		}
		got, err := m.Run(context.Background(), feeds)
		if err != nil {
			t.Fatalf("%s: Run: %v", what, err)
		}
		if len(got) != len(want.outputs) {
			t.Fatalf("%s: %d outputs, onnxruntime %d", what, len(got), len(want.outputs))
		}
		for _, name := range slices.Sorted(maps.Keys(want.outputs)) {
			w := want.outputs[name]
			g, ok := got[name]
			if !ok {
				t.Fatalf("%s: no output %q", what, name)
			}
			s := compare(t, what+" "+name, g, w)
			i := s.maxAbsAt
			if s.maxAbs > s.tol {
				t.Errorf("%s (%s kernels): output %q value %d is %g, onnxruntime %g: off by %g, more than %g",
					what, m.p.k.name, name, i, g.Data[i], w.Data[i], s.maxAbs, s.tol)
			} else if s.beyondAbs > 0 {
				t.Logf("%s (%s kernels): output %q (values up to %.4g): %d of %d values differ by more than %g, all by at most %.3g (tolerance %.3g); largest at value %g",
					what, m.p.k.name, name, s.maxWant, s.beyondAbs, len(g.Data), absTol, s.maxAbs, s.tol, w.Data[i])
			}
			maxAbs, maxRel = max(maxAbs, s.maxAbs), max(maxRel, s.maxRel)
		}
	}
	return maxAbs, maxRel
}
