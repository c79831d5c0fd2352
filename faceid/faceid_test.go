package faceid

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAlignTemplate: an image whose landmarks already sit on the template
// comes out of Align unchanged.
func TestAlignTemplate(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, ChipSize, ChipSize))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	re, le, mo := template()
	chip, err := Align(img, Landmarks{re, le, mo})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(chip.Pix, img.Pix) {
		t.Error("the chip of an image already aligned differs from it")
	}
}

// TestAlignTransform: the fitted transform maps the template onto
// landmarks that are a rotated, scaled and shifted template, exactly.
func TestAlignTransform(t *testing.T) {
	re, le, mo := template()
	from := []Point{re, le, mo}
	angle, scale := 0.3, 2.5
	var to []Point
	for _, p := range from {
		to = append(to, Point{
			scale*(math.Cos(angle)*p.X-math.Sin(angle)*p.Y) + 40,
			scale*(math.Sin(angle)*p.X+math.Cos(angle)*p.Y) - 7,
		})
	}
	s := fitSimilarity(from, to)
	for i, p := range from {
		x, y := s.apply(p.X, p.Y)
		if math.Abs(x-to[i].X) > 1e-9 || math.Abs(y-to[i].Y) > 1e-9 {
			t.Errorf("point %d maps to %.6f,%.6f, want %.6f,%.6f", i, x, y, to[i].X, to[i].Y)
		}
	}
}

func TestAlignErrors(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for name, lm := range map[string]Landmarks{
		"NaN":          {Point{math.NaN(), 10}, Point{60, 10}, Point{50, 60}},
		"Inf":          {Point{10, 10}, Point{60, math.Inf(1)}, Point{50, 60}},
		"eyes close":   {Point{50, 50}, Point{52, 51}, Point{51, 80}},
		"mouth on eye": {Point{20, 50}, Point{80, 50}, Point{50, 52}},
		"mouth above":  {Point{20, 50}, Point{80, 50}, Point{50, 10}},
		"upside down":  {Point{80, 50}, Point{20, 50}, Point{50, 90}},
	} {
		if _, err := Align(img, lm); !errors.Is(err, ErrLandmarks) {
			t.Errorf("%s: got %v, want ErrLandmarks", name, err)
		}
	}
	// Landmarks far outside the image give a black chip, not a panic.
	chip, err := Align(img, Landmarks{Point{1e12, 1e12}, Point{1e12 + 100, 1e12}, Point{1e12 + 50, 1e12 + 100}})
	if err != nil {
		t.Fatal(err)
	}
	if chip.Pix[0] != 0 || chip.Pix[3] != 0xff {
		t.Errorf("chip of a face outside the image starts %v, want black", chip.Pix[:4])
	}
}

// TestEmbed: unit length, deterministic, the same face scores 100 with
// itself and far more with its mirror image than with another person.
func TestEmbed(t *testing.T) {
	e := mustEmbedder(t)
	ctx := context.Background()
	img, lm := photoFace(t, "pigo-sample.jpg")
	a, err := e.Embed(ctx, img, lm)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != Dim {
		t.Fatalf("embedding has %d values, want %d", len(a), Dim)
	}
	var n float64
	for _, v := range a {
		n += float64(v) * float64(v)
	}
	if math.Abs(n-1) > 1e-5 {
		t.Errorf("squared norm %g, want 1", n)
	}
	again, err := e.Embed(ctx, img, lm)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, again) {
		t.Error("two embeddings of the same face differ")
	}
	if s := Similarity(a, again); math.Abs(s-100) > 1e-4 {
		t.Errorf("similarity with itself %g, want 100", s)
	}
	w := float64(img.Rect.Dx() - 1)
	m, err := e.Embed(ctx, mirror(img), Landmarks{
		RightEye: Point{w - lm.LeftEye.X, lm.LeftEye.Y},
		LeftEye:  Point{w - lm.RightEye.X, lm.RightEye.Y},
		Mouth:    Point{w - lm.Mouth.X, lm.Mouth.Y},
	})
	if err != nil {
		t.Fatal(err)
	}
	other, lmo := photoFace(t, "astronaut.png")
	b, err := e.Embed(ctx, other, lmo)
	if err != nil {
		t.Fatal(err)
	}
	same, diff := Similarity(a, m), Similarity(a, b)
	t.Logf("similarity: mirror image %.1f, another person %.1f", same, diff)
	if same < 97 || diff > 92 {
		t.Errorf("similarity with the mirror image %.1f (want ≥ 97), with another person %.1f (want ≤ 92)", same, diff)
	}
	if _, err := e.Embed(ctx, img, Landmarks{}); !errors.Is(err, ErrLandmarks) {
		t.Errorf("Embed with zero landmarks: got %v, want ErrLandmarks", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Embed(cancelled, img, lm); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a cancelled context: got %v, want context.Canceled", err)
	}
}

func TestSimilarity(t *testing.T) {
	a := []float32{1, 0, 0}
	for _, tc := range []struct {
		b    []float32
		want float64
	}{
		{[]float32{1, 0, 0}, 100},
		{[]float32{2, 0, 0}, 100},
		{[]float32{0, 1, 0}, 0},
		{[]float32{-1, 0, 0}, 0},
		{[]float32{1, 1, 0}, 100 / math.Sqrt2},
		{[]float32{0, 0, 0}, 0},
		{[]float32{1, 0}, 0},
	} {
		if got := Similarity(a, tc.b); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Similarity(%v, %v) = %g, want %g", a, tc.b, got, tc.want)
		}
	}
}

// BenchmarkEmbed times one embedding (alignment and network) of a face
// already found; run it on one core with -cpu 1.
func BenchmarkEmbed(b *testing.B) {
	e := mustEmbedder(b)
	img, lm := photoFace(b, "pigo-sample.jpg")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Embed(ctx, img, lm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAlign times the alignment alone.
func BenchmarkAlign(b *testing.B) {
	img, lm := photoFace(b, "pigo-sample.jpg")
	b.ResetTimer()
	for b.Loop() {
		if _, err := Align(img, lm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetwork times the network alone, on an aligned face.
func BenchmarkNetwork(b *testing.B) {
	e := mustEmbedder(b)
	img, lm := photoFace(b, "pigo-sample.jpg")
	chip, err := Align(img, lm)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.descriptor(ctx, chip); err != nil {
			b.Fatal(err)
		}
	}
}
