package imgdecode

// The reference: FaceVault's former decode pipeline (liveness/image.go before
// this package), a full decode by image/jpeg or image/png followed by an
// area filter (BoxPlane, which the liveness check still uses for its own
// resampling). It is kept here, unchanged, to compare against.

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// scaleDown returns img scaled to ow×oh RGBA (opaque) with an area (box)
// filter: each output pixel is the mean of the source pixels whose index
// maps to it. Only the output is allocated, plus a row of accumulators: the
// common decoder outputs (YCbCr, Gray, RGBA, NRGBA) are read from their
// planes directly, with no full-size intermediate copy. Averaging YCbCr
// planes before the conversion to RGB equals averaging RGB (the conversion
// is affine) except for rounding and clamping.
func scaleDown(img image.Image, ow, oh int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	switch src := img.(type) {
	case *image.YCbCr:
		sx, sy, ok := chromaShift(src.SubsampleRatio)
		if !ok || b.Min != (image.Point{}) {
			boxGeneric(img, dst)
			return dst
		}
		// Scale Y, Cb and Cr into the R, G and B bytes of dst, then convert
		// each pixel in place.
		BoxPlane(src.Y, src.YStride, 1, w, h, dst.Pix[0:], 4, ow, oh)
		chromaPlane(src.Cb, src.CStride, w, h, sx, sy, dst.Pix[1:], 4, ow, oh)
		chromaPlane(src.Cr, src.CStride, w, h, sx, sy, dst.Pix[2:], 4, ow, oh)
		for i := 0; i < len(dst.Pix); i += 4 {
			p := dst.Pix[i : i+4 : i+4]
			p[0], p[1], p[2] = color.YCbCrToRGB(p[0], p[1], p[2])
			p[3] = 0xFF
		}
		return dst
	case *image.Gray:
		BoxPlane(src.Pix[src.PixOffset(b.Min.X, b.Min.Y):], src.Stride, 1, w, h, dst.Pix, 4, ow, oh)
		for i := 0; i < len(dst.Pix); i += 4 {
			dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = dst.Pix[i], dst.Pix[i], 0xFF
		}
		return dst
	case *image.RGBA:
		// Premultiplied: over black, which is what the pixels say.
		pix := src.Pix[src.PixOffset(b.Min.X, b.Min.Y):]
		for c := range 3 {
			BoxPlane(pix[c:], src.Stride, 4, w, h, dst.Pix[c:], 4, ow, oh)
		}
	case *image.NRGBA:
		// Colour without alpha: a transparent selfie is not expected, and
		// the colour is what the camera saw.
		pix := src.Pix[src.PixOffset(b.Min.X, b.Min.Y):]
		for c := range 3 {
			BoxPlane(pix[c:], src.Stride, 4, w, h, dst.Pix[c:], 4, ow, oh)
		}
	default:
		boxGeneric(img, dst)
		return dst
	}
	for i := 3; i < len(dst.Pix); i += 4 {
		dst.Pix[i] = 0xFF
	}
	return dst
}

// chromaShift returns log2 of the horizontal and vertical chroma
// subsampling of a YCbCr ratio.
func chromaShift(r image.YCbCrSubsampleRatio) (sx, sy int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// chromaPlane is boxPlane for a chroma plane of a w×h YCbCr image (origin
// at 0, 0) whose luma pixel (x, y) takes chroma sample (x>>sx, y>>sy), as
// image.YCbCr.At does. Each output sample is the mean over the same luma
// footprint as boxPlane's for the Y plane, each chroma sample weighted by
// the number of luma pixels of the footprint it covers, so that the result
// equals averaging the colours pixel by pixel.
func chromaPlane(src []byte, stride, w, h, sx, sy int, dst []byte, dstep, ow, oh int) {
	cover := func(a, b, c, s int) uint32 { // luma pixels in [a, b) with index>>s == c
		return uint32(min(b, (c+1)<<s) - max(a, c<<s))
	}
	// Per output column: the first and last chroma samples, their weights,
	// and the luma width; samples in between have weight 1<<sx.
	type colSpan struct {
		first, last int
		wFirst      uint32
		wLast       uint32
		n           uint32
	}
	x0, x1 := spans(w, ow)
	cols := make([]colSpan, ow)
	for ox := range cols {
		a, b := int(x0[ox]), int(x1[ox])
		c := colSpan{first: a >> sx, last: (b - 1) >> sx, n: uint32(b - a)}
		c.wFirst, c.wLast = cover(a, b, c.first, sx), cover(a, b, c.last, sx)
		cols[ox] = c
	}
	acc := make([]uint32, ow)
	for oy := range oh {
		y0 := oy * h / oh
		y1 := max(y0+1, (oy+1)*h/oh)
		clear(acc)
		for cy := y0 >> sy; cy <= (y1-1)>>sy; cy++ {
			wy := cover(y0, y1, cy, sy)
			row := src[cy*stride:]
			for ox, c := range cols {
				s := uint32(row[c.first]) * c.wFirst
				if c.last > c.first {
					mid := uint32(0)
					for _, v := range row[c.first+1 : c.last] {
						mid += uint32(v)
					}
					s += mid<<sx + uint32(row[c.last])*c.wLast
				}
				acc[ox] += s * wy
			}
		}
		out := dst[oy*ow*dstep:]
		rows := uint32(y1 - y0)
		for ox, a := range acc {
			n := cols[ox].n * rows
			out[ox*dstep] = byte((a + n/2) / n)
		}
	}
}

// boxGeneric is scaleDown for decoder outputs without a fast path (CMYK
// JPEGs, 16-bit or paletted PNGs). It goes through color.Color, so it is
// slower, but bounded by the pixel limits.
func boxGeneric(img image.Image, dst *image.RGBA) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	x0, x1 := spans(w, ow)
	acc := make([][3]uint64, ow)
	for oy := range oh {
		y0 := oy * h / oh
		y1 := max(y0+1, (oy+1)*h/oh)
		clear(acc)
		for y := y0; y < y1; y++ {
			for ox := range acc {
				for x := x0[ox]; x < x1[ox]; x++ {
					// Non-premultiplied colour, as in the NRGBA path.
					c := color.NRGBAModel.Convert(img.At(b.Min.X+int(x), b.Min.Y+y)).(color.NRGBA)
					acc[ox][0] += uint64(c.R)
					acc[ox][1] += uint64(c.G)
					acc[ox][2] += uint64(c.B)
				}
			}
		}
		rows := uint64(y1 - y0)
		for ox, a := range acc {
			n := uint64(x1[ox]-x0[ox]) * rows
			p := dst.Pix[dst.PixOffset(ox, oy):]
			p[0] = byte((a[0] + n/2) / n)
			p[1] = byte((a[1] + n/2) / n)
			p[2] = byte((a[2] + n/2) / n)
			p[3] = 0xFF
		}
	}
}

// TestScaleDownPaths (moved from package liveness with scaleDown) checks
// that the reference's fast paths for the decoders'
// image types agree with the generic path through color.Color.
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
