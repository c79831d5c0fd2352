package faceid

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"image"

	"github.com/facevault/facevault/liveness"
)

// refTol is the largest accepted difference between a descriptor value
// computed here and TensorFlow.js's. The descriptors' values are of the
// order of 0.1; the two differ only by float32 rounding (summation order,
// the folded scale layers and average pools).
const refTol = 1e-4

const refHint = "run the tests with ./scripts/test, which installs it (npm ci in faceid/testdata/tfjs)"

var (
	embedderOnce sync.Once
	embedder     *Embedder
	embedderErr  error
)

// mustEmbedder returns an Embedder shared by the package's tests.
func mustEmbedder(tb testing.TB) *Embedder {
	tb.Helper()
	embedderOnce.Do(func() { embedder, embedderErr = New() })
	if embedderErr != nil {
		tb.Fatal(embedderErr)
	}
	return embedder
}

// testFace is an aligned face chip for the reference test.
type testFace struct {
	id   string
	chip *image.RGBA
}

// photoFace detects the largest face in one of the liveness package's test
// photographs and returns the image and its landmarks.
func photoFace(tb testing.TB, name string) (*image.RGBA, Landmarks) {
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
	return img, LandmarksOf(faces[0])
}

// TestAgainstTFJS runs face-api.js's own FaceRecognitionNet with
// TensorFlow.js (CPU backend, testdata/tfjs) on faces aligned from the
// repository's two photographs, the first one mirrored and turned, and
// random noise, and checks every descriptor value against this package's.
func TestAgainstTFJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed for the TensorFlow.js reference test and was not found (%v); %s", err, refHint)
	}
	refDir, err := filepath.Abs(filepath.Join("testdata", "tfjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(refDir, "node_modules", "@vladmandic", "face-api", "package.json")); err != nil {
		t.Fatalf("@vladmandic/face-api is not installed in testdata/tfjs/node_modules (%v); %s", err, refHint)
	}
	e := mustEmbedder(t)
	var faces []testFace
	for _, name := range []string{"pigo-sample.jpg", "astronaut.png"} {
		img, lm := photoFace(t, name)
		chip, err := Align(img, lm)
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, testFace{name, chip})
	}
	// The first face again, mirrored and rotated by 10°: another chip.
	img, lm := photoFace(t, "pigo-sample.jpg")
	mirrored := mirror(img)
	w := float64(img.Rect.Dx() - 1)
	lm = Landmarks{
		RightEye: Point{w - lm.LeftEye.X, lm.LeftEye.Y},
		LeftEye:  Point{w - lm.RightEye.X, lm.RightEye.Y},
		Mouth:    Point{w - lm.Mouth.X, lm.Mouth.Y},
	}
	lm.LeftEye.Y += 0.17 * (lm.LeftEye.X - lm.RightEye.X)
	chip, err := Align(mirrored, lm)
	if err != nil {
		t.Fatal(err)
	}
	faces = append(faces, testFace{"pigo-sample mirrored, turned", chip})
	noise := image.NewRGBA(image.Rect(0, 0, ChipSize, ChipSize))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	faces = append(faces, testFace{"noise", noise})

	dir := t.TempDir()
	type reqFace struct {
		ID   string `json:"id"`
		File string `json:"file"`
	}
	var req struct {
		Faces []reqFace `json:"faces"`
	}
	for i, f := range faces {
		buf := make([]byte, 0, 4*3*ChipSize*ChipSize)
		for y := range ChipSize {
			for x := range ChipSize {
				p := f.chip.Pix[f.chip.PixOffset(x, y):]
				for c := range 3 {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(p[c])))
				}
			}
		}
		file := filepath.Join(dir, "face"+string(rune('0'+i))+".f32")
		if err := os.WriteFile(file, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		req.Faces = append(req.Faces, reqFace{f.id, filepath.Base(file)})
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	reqPath, respPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "response.json")
	if err := os.WriteFile(reqPath, reqJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(refDir, "reference.js"), reqPath, respPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node reference.js: %v\n%s", err, out)
	}
	respJSON, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		TFJS    string `json:"tfjs"`
		Backend string `json:"backend"`
		Results []struct {
			ID         string    `json:"id"`
			Descriptor []float64 `json:"descriptor"`
		} `json:"results"`
	}
	if err := json.Unmarshal(respJSON, &resp); err != nil {
		t.Fatalf("parsing reference output: %v", err)
	}
	if len(resp.Results) != len(faces) {
		t.Fatalf("reference.js returned %d results for %d faces", len(resp.Results), len(faces))
	}
	for i, f := range faces {
		want := resp.Results[i].Descriptor
		got, err := e.descriptor(context.Background(), f.chip)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != Dim || len(got) != Dim {
			t.Fatalf("%s: %d values, TensorFlow.js %d; want %d", f.id, len(got), len(want), Dim)
		}
		var worst, norm float64
		for j := range got {
			worst = max(worst, math.Abs(float64(got[j])-want[j]))
			norm += want[j] * want[j]
		}
		t.Logf("%s: largest difference from TensorFlow.js %s (%s backend) %.2g (descriptor norm %.3f)",
			f.id, resp.TFJS, resp.Backend, worst, math.Sqrt(norm))
		if worst > refTol {
			t.Errorf("%s: a descriptor value differs from TensorFlow.js's by %.3g, more than %g", f.id, worst, refTol)
		}
	}
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
