package faceage

import (
	"context"
	"errors"
	"image"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/facevault/facevault/liveness"
)

// TestBands: the bands are the publisher's, contiguous from 0, with the
// published MAE.
func TestBands(t *testing.T) {
	want := []struct {
		lo, hi int
		mae    float64
	}{
		{0, 3, 1.52}, {4, 8, 3.06}, {9, 18, 4.82}, {19, 28, 4.99},
		{29, 40, 5.43}, {41, 60, 4.94}, {61, 80, 6.17}, {81, math.MaxInt, 9.91},
	}
	if len(bands) != len(want) {
		t.Fatalf("%d bands, want %d", len(bands), len(want))
	}
	for i, b := range bands {
		if b.lo != want[i].lo || b.hi != want[i].hi || b.mae != want[i].mae {
			t.Errorf("band %d is %+v, want %+v", i, b, want[i])
		}
		if i > 0 && b.lo != bands[i-1].hi+1 {
			t.Errorf("band %d starts at %d, the one before ends at %d", i, b.lo, bands[i-1].hi)
		}
	}
}

// TestAgeRange: age ∓ 2 × the band's MAE, rounded outwards, by band, at
// the bands' edges, and clamped at 0.
func TestAgeRange(t *testing.T) {
	for _, tc := range []struct {
		age    float64
		lo, hi int
	}{
		{0, 0, 4},      // 0–3: ±3.04
		{3.99, 0, 8},   // still 0–3 (3 whole years)
		{4, 0, 11},     // 4–8: ±6.12
		{12.5, 2, 23},  // 9–18: ±9.64
		{18.99, 9, 29}, // still 9–18
		{19, 9, 29},    // 19–28: ±9.98
		{30.5, 19, 42}, // 29–40: ±10.86
		{60.7, 50, 71}, // 41–60 (60 is listed in 41–60 first): ±9.88
		{61, 48, 74},   // 60–80: ±12.34
		{80.5, 68, 93}, // still 60–80 (80 is listed there first)
		{81, 61, 101},  // 80+: ±19.82
		{-2, 0, 2},     // below 0 counts as 0–3; the minimum clamps at 0
		{-10, 0, 0},    // the maximum is never below the minimum
		{1e30, 1 << 20, 1 << 20},
	} {
		lo, hi := ageRange(tc.age)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("ageRange(%g) = %d–%d, want %d–%d", tc.age, lo, hi, tc.lo, tc.hi)
		}
	}
}

// faceAt returns a face whose eyes and mouth sit where the mean face has
// them, scaled by s and shifted by dx, dy.
func faceAt(s, dx, dy float64) liveness.Face {
	p := func(q point) liveness.Point { return liveness.Point{X: q.X*s + dx, Y: q.Y*s + dy} }
	return liveness.Face{RightEye: p(meanRightEye), LeftEye: p(meanLeftEye), Mouth: p(meanMouth)}
}

// TestFaceBox: landmarks on the mean face give its 68-point box, enlarged
// by 10% on each side.
func TestFaceBox(t *testing.T) {
	x, y, w, h, err := faceBox(faceAt(200, 50, 70))
	if err != nil {
		t.Fatal(err)
	}
	bh := 200 * meanBoxHeight
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"x", x, 50 - 20}, {"y", y, 70 - bh/10}, {"width", w, 240}, {"height", h, 1.2 * bh},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s %g, want %g", c.name, c.got, c.want)
		}
	}
}

// TestClipBox: face-api.js's clipping: clip to the image, then floor the
// left, top, width and height separately; images not at the origin.
func TestClipBox(t *testing.T) {
	for _, tc := range []struct {
		b          image.Rectangle
		x, y, w, h float64
		want       image.Rectangle
	}{
		{image.Rect(0, 0, 40, 40), -5.5, 10.7, 50.2, 20.9, image.Rect(0, 10, 40, 30)},
		{image.Rect(0, 0, 40, 40), 2.9, 3.9, 10.05, 10.05, image.Rect(2, 3, 12, 13)},
		{image.Rect(100, 200, 140, 240), 102.9, 203.9, 10.05, 10.05, image.Rect(102, 203, 112, 213)},
		{image.Rect(0, 0, 40, 40), 30.5, 30.5, 100, 100, image.Rect(30, 30, 39, 39)},
	} {
		got, err := clipBox(tc.b, tc.x, tc.y, tc.w, tc.h)
		if err != nil || got != tc.want {
			t.Errorf("clipBox(%v, %g,%g %g×%g) = %v, %v; want %v", tc.b, tc.x, tc.y, tc.w, tc.h, got, err, tc.want)
		}
	}
	for _, box := range [][4]float64{{40, 0, 10, 10}, {-20, 0, 20, 10}, {0, 39.5, 10, 0.4}, {1e300, 1e300, 1, 1}} {
		if _, err := clipBox(image.Rect(0, 0, 40, 40), box[0], box[1], box[2], box[3]); !errors.Is(err, ErrOutside) {
			t.Errorf("clipBox of %v: got %v, want ErrOutside", box, err)
		}
	}
}

// TestFaceInput: a face already 112×112 is the input as it is; a narrower
// one is centred between black columns, the odd one on the right.
func TestFaceInput(t *testing.T) {
	img := noise(120, 120, 3)
	r := image.Rect(4, 5, 4+InputSize, 5+InputSize)
	in := faceInput(img, r)
	for _, q := range [][2]int{{0, 0}, {111, 0}, {0, 111}, {57, 33}} {
		p := img.Pix[img.PixOffset(r.Min.X+q[0], r.Min.Y+q[1]):]
		i := 3 * (q[1]*InputSize + q[0])
		if in[i] != float32(p[0]) || in[i+1] != float32(p[1]) || in[i+2] != float32(p[2]) {
			t.Errorf("input at %v is %v, want the pixel %v", q, in[i:i+3], p[:3])
		}
	}
	// The same pixels in an image that does not start at the origin, resized.
	r = image.Rect(10, 20, 100, 115)
	sub := img.SubImage(image.Rect(5, 8, 120, 120)).(*image.RGBA)
	if a, b := faceInput(img, r), faceInput(sub, r); !slices.Equal(a, b) {
		t.Error("the input of the same pixels differs in a sub-image")
	}
	// 111 wide, 112 high: no resize, one black column on the right.
	r = image.Rect(0, 0, InputSize-1, InputSize)
	in = faceInput(img, r)
	if p := img.Pix[img.PixOffset(0, 0):]; in[0] != float32(p[0]) {
		t.Errorf("first input value %g, want the first pixel's %d", in[0], p[0])
	}
	for y := range InputSize {
		i := 3 * (y*InputSize + InputSize - 1)
		if in[i] != 0 || in[i+1] != 0 || in[i+2] != 0 {
			t.Fatalf("row %d: the last column is %v, want black", y, in[i:i+3])
		}
	}
}

// TestEstimateFace: deterministic, the same from concurrent calls, the
// range around the age; and the errors.
func TestEstimateFace(t *testing.T) {
	e := mustEstimator(t)
	ctx := context.Background()
	img, f := photoFace(t, "pigo-sample.jpg")
	est, err := e.EstimateFace(ctx, img, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pigo-sample.jpg: %+v", est)
	if !(est.Age > 0 && est.Age < 100) {
		t.Errorf("age %g is not a plausible adult's", est.Age)
	}
	if lo, hi := ageRange(est.Age); est.AgeMin != lo || est.AgeMax != hi || float64(lo) > est.Age || float64(hi) < est.Age {
		t.Errorf("estimate %+v: range is not ageRange's %d–%d around the age", est, lo, hi)
	}
	var wg sync.WaitGroup
	results := make([]Estimate, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = e.EstimateFace(ctx, img, f)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r != est {
			t.Errorf("call %d: %+v, the first gave %+v", i, r, est)
		}
	}

	bad := func(mod func(*liveness.Face)) liveness.Face {
		g := f
		mod(&g)
		return g
	}
	for name, tc := range map[string]struct {
		img  *image.RGBA
		face liveness.Face
		want error
	}{
		"no face":      {img, liveness.Face{}, ErrLandmarks},
		"NaN":          {img, bad(func(g *liveness.Face) { g.Mouth.X = math.NaN() }), ErrLandmarks},
		"Inf":          {img, bad(func(g *liveness.Face) { g.LeftEye.Y = math.Inf(-1) }), ErrLandmarks},
		"eyes close":   {img, bad(func(g *liveness.Face) { g.LeftEye = liveness.Point{X: g.RightEye.X + 2, Y: g.RightEye.Y + 1} }), ErrLandmarks},
		"mouth on eye": {img, bad(func(g *liveness.Face) { g.Mouth = g.RightEye }), ErrLandmarks},
		"upside down":  {img, bad(func(g *liveness.Face) { g.RightEye, g.LeftEye = g.LeftEye, g.RightEye }), ErrLandmarks},
		"outside":      {img, moveFace(f, f.Nose, 1, 5000, 0), ErrOutside},
		"nil image":    {nil, f, ErrNoImage},
		"empty image":  {&image.RGBA{}, f, ErrNoImage},
	} {
		if _, err := e.EstimateFace(ctx, tc.img, tc.face); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.EstimateFace(cancelled, img, f); !errors.Is(err, context.Canceled) {
		t.Errorf("EstimateFace with a cancelled context: got %v, want context.Canceled", err)
	}
}

// BenchmarkEstimate times one estimate (crop and network) of a face
// already found; run it on one core with -cpu 1.
func BenchmarkEstimate(b *testing.B) {
	e := mustEstimator(b)
	img, f := photoFace(b, "pigo-sample.jpg")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.EstimateFace(ctx, img, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCrop times the crop alone.
func BenchmarkCrop(b *testing.B) {
	img, f := photoFace(b, "pigo-sample.jpg")
	b.ResetTimer()
	for b.Loop() {
		r, err := cropRect(img.Rect, f)
		if err != nil {
			b.Fatal(err)
		}
		faceInput(img, r)
	}
}
