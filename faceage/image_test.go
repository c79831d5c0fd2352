package faceage

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// TestImageEstimator: the age of the one face of an image file is
// EstimateFace's for the face the liveness detector finds; an image with
// no face, or that does not decode, is a FaceCountError.
func TestImageEstimator(t *testing.T) {
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	x := ImageEstimator{Faces: a, Ages: mustEstimator(t)}
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join("..", "liveness", "testdata", "pigo-sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := x.EstimateAge(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	img, f := photoFace(t, "pigo-sample.jpg")
	want, err := mustEstimator(t).EstimateFace(ctx, img, f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Age != want.Age || got.AgeMin != want.AgeMin || got.AgeMax != want.AgeMax {
		t.Errorf("EstimateAge = %+v, EstimateFace = %+v", got, want)
	}

	flat := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	flat.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var noFace bytes.Buffer
	if err := png.Encode(&noFace, flat); err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"no face": noFace.Bytes(), "not an image": []byte("not an image at all")} {
		_, err := x.EstimateAge(ctx, img)
		var fc *facevault.FaceCountError
		if !errors.As(err, &fc) || fc.Faces != 0 {
			t.Errorf("%s: %v, want a FaceCountError of 0 faces", name, err)
		}
	}
	// Two people: the photo twice, side by side.
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	two := image.NewRGBA(image.Rect(0, 0, 2*b.Dx(), b.Dy()))
	draw.Draw(two, b.Sub(b.Min), src, b.Min, draw.Src)
	draw.Draw(two, b.Sub(b.Min).Add(image.Pt(b.Dx(), 0)), src, b.Min, draw.Src)
	var pair bytes.Buffer
	if err := png.Encode(&pair, two); err != nil {
		t.Fatal(err)
	}
	var fc *facevault.FaceCountError
	if _, err := x.EstimateAge(ctx, pair.Bytes()); !errors.As(err, &fc) || fc.Faces != 2 {
		t.Errorf("two faces: %v, want a FaceCountError of 2 faces", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.EstimateAge(cancelled, data); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	if x.Engine() != Engine {
		t.Errorf("Engine = %q", x.Engine())
	}
}
