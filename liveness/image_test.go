package liveness

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestBoxPlane checks the area filter on a plane small enough to work out
// by hand, shrinking and growing.
func TestBoxPlane(t *testing.T) {
	src := []byte{
		0, 2, 10, 20,
		4, 6, 30, 40,
		100, 100, 7, 7,
		100, 100, 7, 9,
	}
	got := make([]byte, 4)
	boxPlane(src, 4, 1, 4, 4, got, 1, 2, 2)
	if want := []byte{3, 25, 100, 8}; string(got) != string(want) {
		t.Errorf("4x4 to 2x2: %v, want %v", got, want)
	}
	// Growing (not used by scaleDown) repeats samples.
	up := make([]byte, 16)
	boxPlane([]byte{1, 2, 3, 4}, 2, 1, 2, 2, up, 1, 4, 4)
	if want := []byte{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}; string(up) != string(want) {
		t.Errorf("2x2 to 4x4: %v, want %v", up, want)
	}
	// Uneven ratio: every output is a mean of at least one input and the
	// constant plane stays constant.
	flat := make([]byte, 7*5)
	for i := range flat {
		flat[i] = 77
	}
	out := make([]byte, 3*2)
	boxPlane(flat, 7, 1, 7, 5, out, 1, 3, 2)
	for i, v := range out {
		if v != 77 {
			t.Fatalf("constant plane: out[%d] = %d", i, v)
		}
	}
}

// TestScaleDownPaths checks that the fast paths for the decoders' image
// types agree with the generic path through color.Color.
func TestScaleDownPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const w, h = 203, 151 // odd sizes: partial chroma samples at the edges
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// Smooth gradients plus noise, like a photo.
			rgba.SetRGBA(x, y, color.RGBA{uint8(x + r.IntN(20)), uint8(y + r.IntN(20)), uint8((x + y) / 2), 255})
		}
	}
	gray := image.NewGray(rgba.Rect)
	nrgba := image.NewNRGBA(rgba.Rect)
	ycc := map[image.YCbCrSubsampleRatio]*image.YCbCr{}
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		ycc[ratio] = image.NewYCbCr(rgba.Rect, ratio)
	}
	for y := range h {
		for x := range w {
			c := rgba.RGBAAt(x, y)
			gray.Set(x, y, c)
			nrgba.Set(x, y, c)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			for _, m := range ycc {
				m.Y[m.YOffset(x, y)] = yy
				ci := m.COffset(x, y)
				m.Cb[ci], m.Cr[ci] = cb, cr // last writer wins: a subsample of the chroma
			}
		}
	}
	type opaque struct{ image.Image } // hides the concrete type: generic path
	imgs := map[string]image.Image{"RGBA": rgba, "Gray": gray, "NRGBA": nrgba}
	for ratio, m := range ycc {
		imgs["YCbCr"+ratio.String()] = m
	}
	for _, size := range [][2]int{{w, h}, {96, 71}, {40, 30}} {
		for name, img := range imgs {
			fast := scaleDown(img, size[0], size[1])
			slow := scaleDown(opaque{img}, size[0], size[1])
			worst := 0
			for i := range fast.Pix {
				d := int(fast.Pix[i]) - int(slow.Pix[i])
				worst = max(worst, d, -d)
			}
			// YCbCr averages before converting, the generic path after:
			// they differ by rounding only.
			if worst > 3 {
				t.Errorf("%s to %v: fast and generic paths differ by up to %d", name, size, worst)
			}
		}
	}
}

func TestWorkingSize(t *testing.T) {
	for _, tc := range []struct{ w, h, max, ww, wh int }{
		{640, 480, 960, 640, 480},
		{4000, 3000, 960, 960, 720},
		{3000, 4000, 960, 720, 960},
		{10000, 5, 960, 960, 1},
		{960, 960, 960, 960, 960},
	} {
		if ww, wh := workingSize(tc.w, tc.h, tc.max); ww != tc.ww || wh != tc.wh {
			t.Errorf("workingSize(%d, %d, %d) = %d, %d; want %d, %d", tc.w, tc.h, tc.max, ww, wh, tc.ww, tc.wh)
		}
	}
}
