package faceage

import (
	"fmt"
	"image"
	"math"

	"github.com/facevault/facevault/liveness"
)

// The mean face's eye centres and mouth centre, in units of the width of
// its 68-point bounding box and from the box's top-left corner, and the
// box's height in the same unit. Derived from the mean of dlib's 68
// landmarks that OpenFace publishes (cmusatyalab/openface,
// openface/align_dlib.py, TEMPLATE): the right eye (on the image's left) is
// the mean of points 36–41, the left eye of 42–47, the mouth of 48–67; the
// box spans points 0 and 16 (the jaw's ends) across and 24 (the left brow)
// to 8 (the chin) down.
var (
	meanRightEye  = point{0.277370791, 0.164750177}
	meanLeftEye   = point{0.706148447, 0.156591684}
	meanMouth     = point{0.499935931, 0.650390961}
	meanBoxHeight = 0.984852512
)

// boxPadding is the share of its width and height by which face-api.js
// enlarges the landmarks' bounding box (FaceLandmarks.align's default
// minBoxPadding), half of it on each side.
const boxPadding = 0.2

// point is a position in an image, measured from the pixels' edges (the
// centre of pixel i is at i + 0.5), as liveness.Point and face-api.js
// measure.
type point struct{ X, Y float64 }

// similarity maps mean-face coordinates to image coordinates:
// image = [a −b; b a]·p + (tx, ty).
type similarity struct{ a, b, tx, ty float64 }

func (s similarity) apply(p point) point {
	return point{s.a*p.X - s.b*p.Y + s.tx, s.b*p.X + s.a*p.Y + s.ty}
}

// fitSimilarity returns the similarity transform (rotation, uniform scale,
// translation; no reflection) that maps from[i] closest to to[i] in the
// least-squares sense.
func fitSimilarity(from, to []point) similarity {
	var f, t point
	for i := range from {
		f.X += from[i].X
		f.Y += from[i].Y
		t.X += to[i].X
		t.Y += to[i].Y
	}
	n := float64(len(from))
	f.X, f.Y, t.X, t.Y = f.X/n, f.Y/n, t.X/n, t.Y/n
	var num, cross, den float64
	for i := range from {
		px, py := from[i].X-f.X, from[i].Y-f.Y
		qx, qy := to[i].X-t.X, to[i].Y-t.Y
		num += px*qx + py*qy
		cross += px*qy - py*qx
		den += px*px + py*py
	}
	s := similarity{a: num / den, b: cross / den}
	s.tx = t.X - (s.a*f.X - s.b*f.Y)
	s.ty = t.Y - (s.b*f.X + s.a*f.Y)
	return s
}

// faceBox returns the estimate of face-api.js's aligned rectangle of face
// f (see the package documentation) before clipping: its left, top, width
// and height, in the image's coordinates.
func faceBox(f liveness.Face) (x, y, w, h float64, err error) {
	re, le, mo := point(f.RightEye), point(f.LeftEye), point(f.Mouth)
	for _, p := range []point{re, le, mo} {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return 0, 0, 0, 0, fmt.Errorf("%w: %v", ErrLandmarks, f)
		}
	}
	ex, ey := le.X-re.X, le.Y-re.Y
	d2 := ex*ex + ey*ey
	if !(d2 >= 16) || math.IsInf(d2, 0) {
		return 0, 0, 0, 0, fmt.Errorf("%w: eyes %.1f pixels apart", ErrLandmarks, math.Sqrt(d2))
	}
	mx, my := mo.X-re.X, mo.Y-re.Y
	if !((ex*my-ey*mx)/d2 >= 0.2) {
		return 0, 0, 0, 0, fmt.Errorf("%w: the mouth is not below the eyes", ErrLandmarks)
	}
	t := fitSimilarity([]point{meanRightEye, meanLeftEye, meanMouth}, []point{re, le, mo})
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, c := range []point{{0, 0}, {1, 0}, {0, meanBoxHeight}, {1, meanBoxHeight}} {
		p := t.apply(c)
		x0, y0 = min(x0, p.X), min(y0, p.Y)
		x1, y1 = max(x1, p.X), max(y1, p.Y)
	}
	w, h = x1-x0, y1-y0
	x, y = x0-boxPadding*w/2, y0-boxPadding*h/2
	w, h = w+boxPadding*w, h+boxPadding*h
	for _, v := range []float64{x, y, w, h} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, 0, 0, fmt.Errorf("%w: the face's box is not finite", ErrLandmarks)
		}
	}
	return x, y, w, h, nil
}

// cropRect returns the pixels of an image with bounds b that face-api.js
// would cut out for face f: clipBox of faceBox(f).
func cropRect(b image.Rectangle, f liveness.Face) (image.Rectangle, error) {
	x, y, w, h, err := faceBox(f)
	if err != nil {
		return image.Rectangle{}, err
	}
	return clipBox(b, x, y, w, h)
}

// clipBox returns the pixels of an image with bounds b that face-api.js
// cuts out for the box x, y, w×h: the box clipped to the image, then its
// left, top, width and height each rounded down (Box.clipAtImageBorders).
// It fails with ErrOutside when no pixel is left.
func clipBox(b image.Rectangle, x, y, w, h float64) (image.Rectangle, error) {
	// face-api.js's image starts at 0, 0.
	x -= float64(b.Min.X)
	y -= float64(b.Min.Y)
	cx, cy := max(x, 0), max(y, 0)
	cw := min(x+w-cx, float64(b.Dx())-cx)
	ch := min(y+h-cy, float64(b.Dy())-cy)
	cx, cy, cw, ch = math.Floor(cx), math.Floor(cy), math.Floor(cw), math.Floor(ch)
	if !(cw > 0 && ch > 0) {
		return image.Rectangle{}, fmt.Errorf("%w: box %.0f,%.0f %.0f×%.0f, image %d×%d", ErrOutside, x, y, w, h, b.Dx(), b.Dy())
	}
	r := image.Rect(int(cx), int(cy), int(cx+cw), int(cy+ch)).Add(b.Min)
	return r, nil
}

// faceInput returns the network's input image for the pixels r of img, as
// face-api.js makes it from a face tensor (NetInput.toBatchTensor with
// centred inputs): padded with zeros to a square, the padding split
// evenly (the odd pixel after), and resized to InputSize×InputSize by
// TensorFlow.js's bilinear resize without corner alignment or half-pixel
// centres. The result is InputSize×InputSize RGB float32 values in 0–255,
// row by row, computed as TensorFlow.js's CPU backend computes them.
func faceInput(img *image.RGBA, r image.Rectangle) []float32 {
	w, h := r.Dx(), r.Dy()
	side := max(w, h)
	// Offsets of the face in the square: padToSquare appends
	// round(diff / 2) and prepends the rest.
	offX, offY := 0, 0
	if h > w {
		offX = (h - w) / 2
	} else {
		offY = (w - h) / 2
	}
	// col and row return where the square's column sx and row sy are in
	// img.Pix (an offset for a column, a row's start for a row), or −1 in
	// the padding.
	col := func(sx int) int {
		if x := sx - offX; x >= 0 && x < w {
			return 4 * (r.Min.X + x - img.Rect.Min.X)
		}
		return -1
	}
	row := func(sy int) int {
		if y := sy - offY; y >= 0 && y < h {
			return (r.Min.Y + y - img.Rect.Min.Y) * img.Stride
		}
		return -1
	}
	// pix returns the RGB bytes at row offset ro and column offset co,
	// black in the padding.
	var black [3]uint8
	pix := func(ro, co int) []uint8 {
		if ro < 0 || co < 0 {
			return black[:]
		}
		return img.Pix[ro+co : ro+co+3]
	}
	out := make([]float32, 0, 3*InputSize*InputSize)
	if side == InputSize {
		for y := range side {
			ro := row(y)
			for x := range side {
				p := pix(ro, col(x))
				out = append(out, float32(p[0]), float32(p[1]), float32(p[2]))
			}
		}
		return out
	}
	// The source positions of each output column and row, as TensorFlow.js
	// computes them: floor and ceiling of ratio·i, and the fraction.
	type tap struct {
		i0, i1 int // offsets, as col or row returns them
		f      float64
	}
	ratio := float64(side) / InputSize
	var xs, ys [InputSize]tap
	for i := range InputSize {
		s := ratio * float64(i)
		lo := max(0, math.Floor(s))
		hi := min(float64(side-1), math.Ceil(s))
		xs[i] = tap{col(int(lo)), col(int(hi)), s - lo}
		ys[i] = tap{row(int(lo)), row(int(hi)), s - lo}
	}
	for _, ty := range ys {
		for _, tx := range xs {
			tl, tr := pix(ty.i0, tx.i0), pix(ty.i0, tx.i1)
			bl, br := pix(ty.i1, tx.i0), pix(ty.i1, tx.i1)
			for c := range 3 {
				a, b, cc, d := float64(tl[c]), float64(tr[c]), float64(bl[c]), float64(br[c])
				top := a + (b-a)*tx.f
				bottom := cc + (d-cc)*tx.f
				out = append(out, float32(top+(bottom-top)*ty.f))
			}
		}
	}
	return out
}
