package faceid

import (
	"fmt"
	"image"
	"math"
)

// dlib's network was trained on face chips that dlib's
// get_face_chip_details(shape, 150, 0.25) cuts: a similarity transform that
// puts the face's landmarks where they are in dlib's mean face, with a
// quarter of the face's size as padding on every side. meanFace holds that
// mean face's points 36 to 67 of the 68-point (iBUG 300-W) markup, in units
// of the face's size (dlib's mean_face_shape_x and _y, from
// dlib/image_transforms/interpolation.h): the right eye (36–41, on the
// image's left), the left eye (42–47) and the mouth (48–67).
var meanFace = [32][2]float64{
	{0.121737, 0.216423}, {0.187122, 0.178758}, {0.265825, 0.179852}, {0.334606, 0.231733},
	{0.260918, 0.245099}, {0.182743, 0.244077},
	{0.645647, 0.231733}, {0.714428, 0.179852}, {0.793132, 0.178758}, {0.858516, 0.216423},
	{0.79751, 0.244077}, {0.719335, 0.245099},
	{0.254149, 0.780233}, {0.340985, 0.745405}, {0.428858, 0.727388}, {0.490127, 0.742578},
	{0.551395, 0.727388}, {0.639268, 0.745405}, {0.726104, 0.780233}, {0.642159, 0.864805},
	{0.556721, 0.902192}, {0.490127, 0.909281}, {0.423532, 0.902192}, {0.338094, 0.864805},
	{0.290379, 0.784792}, {0.428096, 0.778746}, {0.490127, 0.785343}, {0.552157, 0.778746},
	{0.689874, 0.784792}, {0.553364, 0.824182}, {0.490127, 0.831803}, {0.42689, 0.824182},
}

// chipPadding is get_face_chip_details's padding for the recognition
// network (dlib's dnn_face_recognition_ex.cpp).
const chipPadding = 0.25

// template returns where the eye centres and the mouth centre (the means of
// the mean face's eye and mouth points) fall in the ChipSize×ChipSize chip.
func template() (rightEye, leftEye, mouth Point) {
	mean := func(pts [][2]float64) Point {
		var x, y float64
		for _, p := range pts {
			x += p[0]
			y += p[1]
		}
		n := float64(len(pts))
		return Point{
			(chipPadding + x/n) / (2*chipPadding + 1) * ChipSize,
			(chipPadding + y/n) / (2*chipPadding + 1) * ChipSize,
		}
	}
	return mean(meanFace[0:6]), mean(meanFace[6:12]), mean(meanFace[12:32])
}

// similarity maps chip coordinates to image coordinates:
// image = [a −b; b a]·chip + (tx, ty).
type similarity struct{ a, b, tx, ty float64 }

func (s similarity) apply(x, y float64) (float64, float64) {
	return s.a*x - s.b*y + s.tx, s.b*x + s.a*y + s.ty
}

// fitSimilarity returns the similarity transform (rotation, uniform scale,
// translation; no reflection) that maps from[i] closest to to[i] in the
// least-squares sense.
func fitSimilarity(from, to []Point) similarity {
	var fx, fy, tx, ty float64
	for i := range from {
		fx += from[i].X
		fy += from[i].Y
		tx += to[i].X
		ty += to[i].Y
	}
	n := float64(len(from))
	fx, fy, tx, ty = fx/n, fy/n, tx/n, ty/n
	var num, cross, den float64
	for i := range from {
		px, py := from[i].X-fx, from[i].Y-fy
		qx, qy := to[i].X-tx, to[i].Y-ty
		num += px*qx + py*qy
		cross += px*qy - py*qx
		den += px*px + py*py
	}
	s := similarity{a: num / den, b: cross / den}
	s.tx = tx - (s.a*fx - s.b*fy)
	s.ty = ty - (s.b*fx + s.a*fy)
	return s
}

// Align returns the ChipSize×ChipSize face chip the network reads: img
// resampled by the similarity transform that best puts face's eyes and mouth
// on dlib's mean face. Each chip pixel is the mean of n×n bilinear samples
// spread over its area, n being the image pixels per chip pixel rounded up
// (at most 8), so that large faces are shrunk without aliasing. Parts
// outside img are black. It fails with ErrLandmarks when the landmarks are
// not finite, the eyes are less than 4 pixels apart, or the mouth is closer
// to the eye line than a fifth of the distance between the eyes (on it or
// above it: a face upside down relative to its eyes' order).
func Align(img *image.RGBA, face Landmarks) (*image.RGBA, error) {
	pts := []Point{face.RightEye, face.LeftEye, face.Mouth}
	for _, p := range pts {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("%w: %v", ErrLandmarks, face)
		}
	}
	ex, ey := face.LeftEye.X-face.RightEye.X, face.LeftEye.Y-face.RightEye.Y
	d2 := ex*ex + ey*ey
	if d2 < 16 {
		return nil, fmt.Errorf("%w: eyes %.1f pixels apart", ErrLandmarks, math.Sqrt(d2))
	}
	mx, my := face.Mouth.X-face.RightEye.X, face.Mouth.Y-face.RightEye.Y
	if (ex*my-ey*mx)/d2 < 0.2 {
		return nil, fmt.Errorf("%w: the mouth is not below the eyes", ErrLandmarks)
	}
	re, le, mo := template()
	t := fitSimilarity([]Point{re, le, mo}, pts)

	scale := math.Hypot(t.a, t.b)
	n := min(8, max(1, int(math.Ceil(scale-1e-9))))
	chip := image.NewRGBA(image.Rect(0, 0, ChipSize, ChipSize))
	b := img.Rect
	var acc [3]float64
	for cy := range ChipSize {
		for cx := range ChipSize {
			acc = [3]float64{}
			for sy := range n {
				for sx := range n {
					x, y := t.apply(float64(cx)-0.5+(float64(sx)+0.5)/float64(n), float64(cy)-0.5+(float64(sy)+0.5)/float64(n))
					bilinear(img, b, x, y, &acc)
				}
			}
			o := chip.PixOffset(cx, cy)
			nn := float64(n * n)
			for c := range 3 {
				chip.Pix[o+c] = uint8(math.Round(acc[c] / nn))
			}
			chip.Pix[o+3] = 0xff
		}
	}
	return chip, nil
}

// bilinear adds to acc the bilinear interpolation of img's RGB at (x, y),
// pixels outside b (img's bounds) counting as black.
func bilinear(img *image.RGBA, b image.Rectangle, x, y float64, acc *[3]float64) {
	if !(x > float64(b.Min.X-1) && x < float64(b.Max.X) && y > float64(b.Min.Y-1) && y < float64(b.Max.Y)) {
		return
	}
	x0f, y0f := math.Floor(x), math.Floor(y)
	fx, fy := x-x0f, y-y0f
	x0, y0 := int(x0f), int(y0f)
	for j := range 2 {
		yy := y0 + j
		wy := fy
		if j == 0 {
			wy = 1 - fy
		}
		if yy < b.Min.Y || yy >= b.Max.Y || wy == 0 {
			continue
		}
		for i := range 2 {
			xx := x0 + i
			wx := fx
			if i == 0 {
				wx = 1 - fx
			}
			if xx < b.Min.X || xx >= b.Max.X || wx == 0 {
				continue
			}
			w := wx * wy
			p := img.Pix[img.PixOffset(xx, yy):]
			acc[0] += w * float64(p[0])
			acc[1] += w * float64(p[1])
			acc[2] += w * float64(p[2])
		}
	}
}
