package faceage

import (
	"errors"
	"image"
	"testing"

	"github.com/facevault/facevault/liveness"
)

// FuzzCrop: any landmarks either fail with ErrLandmarks or ErrOutside or
// give a non-empty rectangle inside the image, whatever the image's
// bounds, and the network's input of it; never a panic.
func FuzzCrop(f *testing.F) {
	m := faceAt(30, 5, 5)
	f.Add(m.RightEye.X, m.RightEye.Y, m.LeftEye.X, m.LeftEye.Y, m.Mouth.X, m.Mouth.Y, 0, 0)
	f.Add(10.0, 10.0, 60.0, 12.0, 35.0, 60.0, -20, 5)
	f.Add(1e300, -1e300, 0.0, 0.0, 5.0, 5.0, 3, 3)
	f.Fuzz(func(t *testing.T, rx, ry, lx, ly, mx, my float64, ox, oy int) {
		ox, oy = ox%1000, oy%1000
		img := image.NewRGBA(image.Rect(ox, oy, ox+40, oy+30))
		for i := range img.Pix {
			img.Pix[i] = uint8(i)
		}
		face := liveness.Face{
			RightEye: liveness.Point{X: rx, Y: ry}, LeftEye: liveness.Point{X: lx, Y: ly}, Mouth: liveness.Point{X: mx, Y: my},
		}
		r, err := cropRect(img.Rect, face)
		if err != nil {
			if !errors.Is(err, ErrLandmarks) && !errors.Is(err, ErrOutside) {
				t.Fatalf("error %v is neither ErrLandmarks nor ErrOutside", err)
			}
			return
		}
		if r.Empty() || !r.In(img.Rect) {
			t.Fatalf("crop %v is empty or not inside the image %v", r, img.Rect)
		}
		if in := faceInput(img, r); len(in) != 3*InputSize*InputSize {
			t.Fatalf("input has %d values", len(in))
		}
	})
}
