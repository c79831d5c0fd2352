package liveness

import (
	"image"
	"math"

	"github.com/facevault/facevault/internal/imgdecode"
)

// gray is a row-major 8-bit grayscale image.
type gray struct {
	pix  []uint8
	w, h int
}

// intRect returns the detection's box in whole pixels (rounded outwards);
// it may reach outside the image.
func (d detection) intRect() image.Rectangle {
	x0, y0, x1, y1 := d.rect()
	return image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1)))
}

// faceCrop returns the part of the face box inside the image, in
// working-image pixels; it is empty only if the box lies wholly outside.
func faceCrop(f image.Rectangle, w, h int) (x0, y0, x1, y1 int) {
	return max(f.Min.X, 0), max(f.Min.Y, 0), min(f.Max.X, w), min(f.Max.Y, h)
}

// touchesBorder reports whether the face box reaches the image edge.
func touchesBorder(f image.Rectangle, w, h int) bool {
	return f.Min.X <= 0 || f.Min.Y <= 0 || f.Max.X >= w || f.Max.Y >= h
}

// exposure returns the mean luminance over the face and the share of its
// pixels at or below lo or at or above hi.
func exposure(g gray, f image.Rectangle, lo, hi uint8) (mean, clipped float64) {
	x0, y0, x1, y1 := faceCrop(f, g.w, g.h)
	if x1 <= x0 || y1 <= y0 {
		return 0, 0
	}
	var sum, nclip uint64
	for y := y0; y < y1; y++ {
		for _, v := range g.pix[y*g.w+x0 : y*g.w+x1] {
			sum += uint64(v)
			if v <= lo || v >= hi {
				nclip++
			}
		}
	}
	n := float64((x1 - x0) * (y1 - y0))
	return float64(sum) / n, float64(nclip) / n
}

// sharpness returns the variance of the 3×3 Laplacian (4-neighbour kernel
// 0 1 0 / 1 -4 1 / 0 1 0) over the face, after resampling the face box to
// side×side pixels (area filter when shrinking, bilinear when enlarging) so
// that the figure does not depend on how large the face is in the image,
// and scaled as if the face's mean luminance were 128, so that under- or
// over-exposure (a gain on every pixel, judged by the exposure analysis)
// does not also read as blur.
func sharpness(g gray, f image.Rectangle, side int) float64 {
	x0, y0, x1, y1 := faceCrop(f, g.w, g.h)
	cw, ch := x1-x0, y1-y0
	if cw < 3 || ch < 3 {
		return 0
	}
	// Keep the crop's aspect ratio when it was cut by the image edge.
	ow, oh := side, side
	if cw > ch {
		oh = max(3, side*ch/cw)
	} else if ch > cw {
		ow = max(3, side*cw/ch)
	}
	crop := g.pix[y0*g.w+x0:]
	face := make([]uint8, ow*oh)
	if cw >= ow && ch >= oh {
		imgdecode.BoxPlane(crop, g.w, 1, cw, ch, face, 1, ow, oh)
	} else {
		bilinear(crop, g.w, cw, ch, face, ow, oh)
	}
	var sum uint64
	for _, v := range face {
		sum += uint64(v)
	}
	mean := float64(sum) / float64(len(face))
	if mean < 1 {
		return 0
	}
	gain := 128 / mean
	return laplacianVariance(face, ow, oh) * gain * gain
}

// bilinear resamples a w×h plane (row stride stride) to ow×oh, sampling at
// pixel centres.
func bilinear(src []uint8, stride, w, h int, dst []uint8, ow, oh int) {
	for oy := range oh {
		fy := (float64(oy)+0.5)*float64(h)/float64(oh) - 0.5
		fy = min(max(fy, 0), float64(h-1))
		y0 := int(fy)
		y1 := min(y0+1, h-1)
		wy := fy - float64(y0)
		for ox := range ow {
			fx := (float64(ox)+0.5)*float64(w)/float64(ow) - 0.5
			fx = min(max(fx, 0), float64(w-1))
			x0 := int(fx)
			x1 := min(x0+1, w-1)
			wx := fx - float64(x0)
			top := float64(src[y0*stride+x0])*(1-wx) + float64(src[y0*stride+x1])*wx
			bot := float64(src[y1*stride+x0])*(1-wx) + float64(src[y1*stride+x1])*wx
			dst[oy*ow+ox] = uint8(top*(1-wy) + bot*wy + 0.5)
		}
	}
}

// laplacianVariance is the variance of the 4-neighbour Laplacian over the
// interior of a w×h plane.
func laplacianVariance(p []uint8, w, h int) float64 {
	var sum, sum2 float64
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			l := float64(int(p[i-w]) + int(p[i+w]) + int(p[i-1]) + int(p[i+1]) - 4*int(p[i]))
			sum += l
			sum2 += l * l
			n++
		}
	}
	if n == 0 {
		return 0
	}
	mean := sum / float64(n)
	return sum2/float64(n) - mean*mean
}
