package faceage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/facevault/facevault/liveness"
)

// ageTol is the largest accepted difference, in years, between an age
// computed here and TensorFlow.js's. The two differ only by float32
// rounding (summation order in the convolutions and the mean).
const ageTol = 1e-4

const refHint = "run the tests with ./scripts/test, which installs it (npm ci in faceid/testdata/tfjs)"

var (
	estimatorOnce sync.Once
	estimator     *Estimator
	estimatorErr  error
)

// mustEstimator returns an Estimator shared by the package's tests.
func mustEstimator(tb testing.TB) *Estimator {
	tb.Helper()
	estimatorOnce.Do(func() { estimator, estimatorErr = New() })
	if estimatorErr != nil {
		tb.Fatal(estimatorErr)
	}
	return estimator
}

// photoFace detects the largest face in one of the liveness package's test
// photographs and returns the working image and the face.
func photoFace(tb testing.TB, name string) (*image.RGBA, liveness.Face) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "liveness", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	img, faces, err := a.Faces(context.Background(), data)
	if err != nil {
		tb.Fatal(err)
	}
	if len(faces) == 0 {
		tb.Fatalf("%s: no face found", name)
	}
	return img, faces[0]
}

// mirror returns img flipped left to right.
func mirror(img *image.RGBA) *image.RGBA {
	b := img.Rect
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			copy(out.Pix[out.PixOffset(b.Dx()-1-x, y):][:4], img.Pix[img.PixOffset(b.Min.X+x, b.Min.Y+y):][:4])
		}
	}
	return out
}

// mirrorFace returns face f of an image w pixels wide, in the mirrored
// image: left and right swap.
func mirrorFace(f liveness.Face, w float64) liveness.Face {
	m := func(p liveness.Point) liveness.Point { return liveness.Point{X: w - p.X, Y: p.Y} }
	f.RightEye, f.LeftEye = m(f.LeftEye), m(f.RightEye)
	f.RightEar, f.LeftEar = m(f.LeftEar), m(f.RightEar)
	f.Nose, f.Mouth = m(f.Nose), m(f.Mouth)
	f.CenterX = w - f.CenterX
	return f
}

// moveFace returns face f scaled by s about point c, then shifted by dx, dy.
func moveFace(f liveness.Face, c liveness.Point, s, dx, dy float64) liveness.Face {
	m := func(p liveness.Point) liveness.Point {
		return liveness.Point{X: c.X + s*(p.X-c.X) + dx, Y: c.Y + s*(p.Y-c.Y) + dy}
	}
	f.RightEye, f.LeftEye, f.RightEar, f.LeftEar = m(f.RightEye), m(f.LeftEye), m(f.RightEar), m(f.LeftEar)
	f.Nose, f.Mouth = m(f.Nose), m(f.Mouth)
	return f
}

// noise returns a w×h image of random pixels.
func noise(w, h int, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	return img
}

// refBox is a box in face-api.js's terms.
type refBox struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// iou returns the intersection over union of two boxes.
func iou(a, b refBox) float64 {
	w := min(a.X+a.Width, b.X+b.Width) - max(a.X, b.X)
	h := min(a.Y+a.Height, b.Y+b.Height) - max(a.Y, b.Y)
	if w <= 0 || h <= 0 {
		return 0
	}
	i := w * h
	return i / (a.Width*a.Height + b.Width*b.Height - i)
}

// TestAgainstTFJS runs face-api.js's own AgeGenderNet with TensorFlow.js
// (CPU backend, faceid/testdata/tfjs) and checks, for each test face, that
// face-api.js cuts out the same pixels for the box, makes the same 112×112
// input of them, and gives the same age as this package. The faces are the
// repository's two photographs as the liveness detector finds them, the
// first one mirrored and turned, moved half out of the image, and made
// small (the crop enlarged rather than shrunk), and two noise images cut
// exactly at 112×112 and at an odd width. On the two photographs face-api.js
// also runs alone (its own detector and 68 landmarks), and the test reports
// how its aligned rectangle and age compare with this package's.
func TestAgainstTFJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed for the TensorFlow.js reference test and was not found (%v); %s", err, refHint)
	}
	refDir, err := filepath.Abs(filepath.Join("..", "faceid", "testdata", "tfjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(refDir, "node_modules", "@vladmandic", "face-api", "package.json")); err != nil {
		t.Fatalf("@vladmandic/face-api is not installed in faceid/testdata/tfjs/node_modules (%v); %s", err, refHint)
	}
	e := mustEstimator(t)
	ctx := context.Background()

	type testCase struct {
		id       string
		img      *image.RGBA
		face     *liveness.Face // nil: box is given
		box      refBox
		pipeline bool
	}
	var cases []testCase
	addFace := func(id string, img *image.RGBA, f liveness.Face, pipeline bool) {
		x, y, w, h, err := faceBox(f)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		cases = append(cases, testCase{id, img, &f, refBox{x, y, w, h}, pipeline})
	}
	pigo, pf := photoFace(t, "pigo-sample.jpg")
	astro, af := photoFace(t, "astronaut.png")
	addFace("pigo-sample.jpg", pigo, pf, true)
	addFace("astronaut.png", astro, af, true)
	mf := mirrorFace(pf, float64(pigo.Rect.Dx()))
	mf.LeftEye.Y += 0.17 * (mf.LeftEye.X - mf.RightEye.X)
	addFace("pigo-sample mirrored, turned", mirror(pigo), mf, false)
	addFace("pigo-sample half outside", pigo, moveFace(pf, pf.Nose, 1, -150, 60), false)
	addFace("astronaut small", astro, moveFace(af, af.Nose, 0.3, 0, 0), false)
	cases = append(cases,
		testCase{"noise 112×112", noise(112, 112, 1), nil, refBox{0, 0, 112, 112}, false},
		testCase{"noise 91×150", noise(91, 150, 2), nil, refBox{0, 0, 91, 150}, false})

	dir := t.TempDir()
	type reqImage struct {
		ID       string `json:"id"`
		File     string `json:"file"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		Box      refBox `json:"box"`
		Pipeline bool   `json:"pipeline"`
	}
	var req struct {
		Images []reqImage `json:"images"`
	}
	for i, c := range cases {
		b := c.img.Rect
		buf := make([]byte, 0, 4*3*b.Dx()*b.Dy())
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				p := c.img.Pix[c.img.PixOffset(x, y):]
				for ch := range 3 {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(p[ch])))
				}
			}
		}
		file := fmt.Sprintf("image%d.f32", i)
		if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		req.Images = append(req.Images, reqImage{c.id, file, b.Dx(), b.Dy(), c.box, c.pipeline})
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	reqPath, respPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "response.json")
	if err := os.WriteFile(reqPath, reqJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(refDir, "age-reference.js"), reqPath, respPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node age-reference.js: %v\n%s", err, out)
	}
	respJSON, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		TFJS    string `json:"tfjs"`
		Backend string `json:"backend"`
		Results []struct {
			ID       string  `json:"id"`
			Crop     refBox  `json:"crop"`
			Input    string  `json:"input"`
			Age      float64 `json:"age"`
			Pipeline *struct {
				Box refBox  `json:"box"`
				Age float64 `json:"age"`
			} `json:"pipeline"`
		} `json:"results"`
	}
	if err := json.Unmarshal(respJSON, &resp); err != nil {
		t.Fatalf("parsing reference output: %v", err)
	}
	if len(resp.Results) != len(cases) {
		t.Fatalf("age-reference.js returned %d results for %d images", len(resp.Results), len(cases))
	}
	var worstAge float64
	for i, c := range cases {
		want := resp.Results[i]
		r, err := clipBox(c.img.Rect, c.box.X, c.box.Y, c.box.Width, c.box.Height)
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		if got := (refBox{float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy())}); got != want.Crop {
			t.Errorf("%s: crop %+v, face-api.js %+v", c.id, got, want.Crop)
			continue
		}
		rgb := faceInput(c.img, r)
		raw, err := os.ReadFile(filepath.Join(dir, want.Input))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 4*len(rgb) {
			t.Fatalf("%s: face-api.js's input has %d values, this package's %d", c.id, len(raw)/4, len(rgb))
		}
		var worstIn float64
		for j, v := range rgb {
			worstIn = max(worstIn, math.Abs(float64(v)-float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])))))
		}
		got, err := e.age(ctx, rgb)
		if err != nil {
			t.Fatal(err)
		}
		if c.face != nil {
			est, err := e.EstimateFace(ctx, c.img, *c.face)
			if err != nil {
				t.Fatal(err)
			}
			if est.Age != got {
				t.Errorf("%s: EstimateFace's age %g differs from the network's on the same crop, %g", c.id, est.Age, got)
			}
		}
		d := math.Abs(got - want.Age)
		worstAge = max(worstAge, d)
		t.Logf("%s: crop %v (%d×%d), age %.4f; TensorFlow.js %s (%s backend): largest input difference %.2g, age difference %.2g",
			c.id, r.Min, r.Dx(), r.Dy(), got, resp.TFJS, resp.Backend, worstIn, d)
		if worstIn != 0 {
			t.Errorf("%s: the 112×112 input differs from face-api.js's by up to %.3g", c.id, worstIn)
		}
		if d > ageTol {
			t.Errorf("%s: age %.6f, TensorFlow.js %.6f: difference %.3g, more than %g", c.id, got, want.Age, d, ageTol)
		}
		if c.pipeline {
			p := want.Pipeline
			if p == nil {
				t.Errorf("%s: face-api.js found no face on its own", c.id)
				continue
			}
			o := iou(c.box, p.Box)
			t.Logf("%s: face-api.js alone (SSD MobileNet v1, 68 landmarks): aligned rectangle %.0f,%.0f %.0f×%.0f, this package's estimate %.0f,%.0f %.0f×%.0f (IoU %.2f); age %.2f, this package's %.2f",
				c.id, p.Box.X, p.Box.Y, p.Box.Width, p.Box.Height, c.box.X, c.box.Y, c.box.Width, c.box.Height, o, p.Age, got)
			if o < 0.7 {
				t.Errorf("%s: the estimated box overlaps face-api.js's aligned rectangle by IoU %.2f, less than 0.7", c.id, o)
			}
		}
	}
	t.Logf("largest age difference from TensorFlow.js over %d faces: %.2g years", len(cases), worstAge)
}
