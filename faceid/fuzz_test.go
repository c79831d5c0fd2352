package faceid

import (
	"errors"
	"image"
	"testing"
)

// FuzzAlign: any landmarks either align (a ChipSize×ChipSize opaque chip)
// or fail with ErrLandmarks; never a panic, whatever the image's bounds.
func FuzzAlign(f *testing.F) {
	re, le, mo := template()
	f.Add(re.X, re.Y, le.X, le.Y, mo.X, mo.Y, 0, 0)
	f.Add(10.0, 10.0, 60.0, 12.0, 35.0, 60.0, -20, 5)
	f.Add(1e300, -1e300, 0.0, 0.0, 5.0, 5.0, 3, 3)
	f.Fuzz(func(t *testing.T, rx, ry, lx, ly, mx, my float64, ox, oy int) {
		ox, oy = ox%1000, oy%1000
		img := image.NewRGBA(image.Rect(ox, oy, ox+40, oy+30))
		for i := range img.Pix {
			img.Pix[i] = uint8(i)
		}
		chip, err := Align(img, Landmarks{Point{rx, ry}, Point{lx, ly}, Point{mx, my}})
		if err != nil {
			if !errors.Is(err, ErrLandmarks) {
				t.Fatalf("error %v is not ErrLandmarks", err)
			}
			return
		}
		if chip.Rect != image.Rect(0, 0, ChipSize, ChipSize) {
			t.Fatalf("chip bounds %v", chip.Rect)
		}
		for i := 3; i < len(chip.Pix); i += 4 {
			if chip.Pix[i] != 0xff {
				t.Fatal("chip not opaque")
			}
		}
	})
}
