package onnx

import (
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The two face models FaceVault ships, read from the repository (their
// provenance is in liveness/models/PROVENANCE.md).
var (
	blazeFacePath  = filepath.Join("..", "..", "liveness", "models", "face_detection_back_256x256_barracuda.onnx")
	frLivenessPath = filepath.Join("..", "..", "liveness", "models", "fr_liveness.onnx")
)

// modelInput is one real or random input of a model test.
type modelInput struct {
	name  string
	feeds map[string]*Tensor
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixture(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "liveness", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// sample returns img's colour at real coordinates (x, y) by bilinear
// interpolation, clamping at the edges, as 0-255 values.
func sample(img image.Image, x, y float64) (r, g, b float64) {
	bd := img.Bounds()
	x = min(max(x, 0), float64(bd.Dx()-1))
	y = min(max(y, 0), float64(bd.Dy()-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, bd.Dx()-1), min(y0+1, bd.Dy()-1)
	fx, fy := x-float64(x0), y-float64(y0)
	px := func(x, y int) (float64, float64, float64) {
		r, g, b, _ := img.At(bd.Min.X+x, bd.Min.Y+y).RGBA()
		return float64(r) / 257, float64(g) / 257, float64(b) / 257
	}
	r00, g00, b00 := px(x0, y0)
	r10, g10, b10 := px(x1, y0)
	r01, g01, b01 := px(x0, y1)
	r11, g11, b11 := px(x1, y1)
	lerp := func(a, b, c, d float64) float64 {
		return (a*(1-fx)+b*fx)*(1-fy) + (c*(1-fx)+d*fx)*fy
	}
	return lerp(r00, r10, r01, r11), lerp(g00, g10, g01, g11), lerp(b00, b10, b01, b11)
}

// letterbox256 is BlazeFace's input for img: the image scaled to fit
// 256x256, centred on black, NHWC, values v/127.5 - 1.
func letterbox256(img image.Image) *Tensor {
	const s = 256
	bd := img.Bounds()
	scale := float64(s) / float64(max(bd.Dx(), bd.Dy()))
	w, h := float64(bd.Dx())*scale, float64(bd.Dy())*scale
	ox, oy := (s-w)/2, (s-h)/2
	t := &Tensor{Shape: []int{1, s, s, 3}, Data: make([]float32, s*s*3)}
	for y := range s {
		for x := range s {
			i := (y*s + x) * 3
			sx, sy := (float64(x)+0.5-ox)/scale-0.5, (float64(y)+0.5-oy)/scale-0.5
			var r, g, b float64
			if float64(x) >= ox && float64(x) < ox+w && float64(y) >= oy && float64(y) < oy+h {
				r, g, b = sample(img, sx, sy)
			}
			t.Data[i] = float32(r/127.5 - 1)
			t.Data[i+1] = float32(g/127.5 - 1)
			t.Data[i+2] = float32(b/127.5 - 1)
		}
	}
	return t
}

// faceCrop128 is the liveness model's input for a square face crop of img
// (top-left x0, y0, side): resized to 128x128, RGB 0-255, CHW.
func faceCrop128(img image.Image, x0, y0, side float64) *Tensor {
	const s = 128
	t := &Tensor{Shape: []int{1, 3, s, s}, Data: make([]float32, 3*s*s)}
	for y := range s {
		for x := range s {
			r, g, b := sample(img, x0+(float64(x)+0.5)*side/s-0.5, y0+(float64(y)+0.5)*side/s-0.5)
			t.Data[y*s+x] = float32(r)
			t.Data[s*s+y*s+x] = float32(g)
			t.Data[2*s*s+y*s+x] = float32(b)
		}
	}
	return t
}

// modelInputs returns the test inputs of the two models: the two
// repository photographs, preprocessed as each model expects, and one
// random input.
func modelInputs(t testing.TB) (blazeFace, frLiveness []modelInput) {
	pigo := fixture(t, "pigo-sample.jpg") // 320x400, face centre about (154, 202)
	astro := fixture(t, "astronaut.png")  // 512x512, face centre about (225, 128)
	bf := func(x *Tensor) map[string]*Tensor { return map[string]*Tensor{"input:0": x} }
	fl := func(x *Tensor) map[string]*Tensor { return map[string]*Tensor{"input": x} }
	blazeFace = []modelInput{
		{"pigo-sample", bf(letterbox256(pigo))},
		{"astronaut", bf(letterbox256(astro))},
		{"random", bf(&Tensor{Shape: []int{1, 256, 256, 3}, Data: randomData(7, 256*256*3, -1, 1)})},
	}
	// Face boxes enlarged about 2.7 times, as the liveness model's
	// preprocessing does, and kept inside the image.
	frLiveness = []modelInput{
		{"pigo-sample", fl(faceCrop128(pigo, 0, 42, 320))},
		{"astronaut", fl(faceCrop128(astro, 90, 0, 270))},
		{"random", fl(&Tensor{Shape: []int{1, 3, 128, 128}, Data: randomData(8, 3*128*128, 0, 255)})},
	}
	return blazeFace, frLiveness
}

// TestModelsAgainstORT runs both face models on real and random inputs in
// Go (with and without the assembly kernels) and in onnxruntime, and
// compares every output value.
func TestModelsAgainstORT(t *testing.T) {
	bfIn, flIn := modelInputs(t)
	models := []struct {
		name, path string
		inputs     []modelInput
	}{
		{"blazeface-back", blazeFacePath, bfIn},
		{"fr-liveness", frLivenessPath, flIn},
	}
	var cases []*ortCase
	for _, m := range models {
		path, err := filepath.Abs(m.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range m.inputs {
			cases = append(cases, &ortCase{ID: m.name + "-" + in.name, path: path, feeds: in.feeds},
				&ortCase{ID: m.name + "-" + in.name + "-noopt", path: path, feeds: in.feeds, Optimization: "disabled"})
		}
	}
	ref, version := runORT(t, cases)
	t.Logf("onnxruntime %s", version)
	for _, m := range models {
		data := readFile(t, m.path)
		for _, in := range m.inputs {
			id := m.name + "-" + in.name
			t.Run(id, func(t *testing.T) {
				for _, name := range slices.Sorted(maps.Keys(ref[id].outputs)) {
					w := ref[id].outputs[name]
					s := compare(t, id, ref[id+"-noopt"].outputs[name], w)
					t.Logf("%s: onnxruntime with graph optimisations disabled differs from its default by up to %.3g in %q (%d values by more than %g)", id, s.maxAbs, name, s.beyondAbs, absTol)
				}
				d, r := compareRun(t, id, data, in.feeds, ref[id])
				t.Logf("%s: max |Go - onnxruntime| = %.3g, relative to max(1, |onnxruntime|) %.3g", id, d, r)
				if m.name == "blazeface-back" {
					checkScores(t, data, in.feeds, ref[id])
				}
			})
		}
	}
}

// checkScores compares the face scores BlazeFace's logits stand for,
// sigmoid(logit), which the detector thresholds: they must agree with
// onnxruntime's to 1e-5.
func checkScores(t *testing.T, data []byte, feeds map[string]*Tensor, want *ortResult) {
	t.Helper()
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	sigmoid := func(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }
	worst := 0.0
	for _, name := range []string{"Identity:0", "Identity_1:0"} {
		g, w := got[name].Data, want.outputs[name].Data
		for i := range g {
			worst = max(worst, math.Abs(sigmoid(g[i])-sigmoid(w[i])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("face scores differ from onnxruntime's by up to %g, more than 1e-5", worst)
	}
	t.Logf("face scores (sigmoid of the logits): max |Go - onnxruntime| = %.3g", worst)
}
