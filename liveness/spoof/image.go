package spoof

import (
	"image"
	"image/color"
	"math"
)

// CropSize is the side of the face crop Human hands to the antispoof and
// liveness models: the input size of its face-mesh model (192), which is
// enabled in Human's default configuration. Each model then resizes the
// crop to its own input size.
const CropSize = 192

// FaceBox turns a face detector's box (corners in image pixel coordinates)
// into the square crop box Human uses: the box is enlarged 1.4 times about
// its centre (Human's blazeface faceBoxScaleFactor), then squared to its
// longer side with the corners rounded as JavaScript's Math.round does.
// The result may extend past the image; Score fills that part with zeros.
func FaceBox(x0, y0, x1, y1 float64) image.Rectangle {
	const factor = 1.4
	cx, cy := x0+(x1-x0)/2, y0+(y1-y0)/2
	hw, hh := factor*math.Abs(x1-x0)/2, factor*math.Abs(y1-y0)/2
	// enlargeBox
	sx0, sy0, sx1, sy1 := cx-hw, cy-hh, cx+hw, cy+hh
	// squarifyBox
	cx, cy = sx0+(sx1-sx0)/2, sy0+(sy1-sy0)/2
	half := max(math.Abs(sx1-sx0), math.Abs(sy1-sy0)) / 2
	return image.Rect(jsRound(cx-half), jsRound(cy-half), jsRound(cx+half), jsRound(cy+half))
}

// jsRound rounds as JavaScript's Math.round: halves go towards +Inf.
func jsRound(x float64) int { return int(math.Floor(x + 0.5)) }

// cropAndResize reproduces tf.image.cropAndResize(image, [box], [0],
// [size, size]) with the bilinear method and extrapolation value 0, as the
// TensorFlow.js cpu backend computes it, followed by Human's division by
// 255. The box is given in pixels relative to the image's top-left corner;
// Human passes it normalized ([y1/h, x1/w, y2/h, x2/w], stored as float32)
// and the kernel maps it onto pixel centres 0..h-1, so a box slightly
// shrinks towards the top-left. dst receives size*size*3 values in HWC
// order, in [0,1].
func cropAndResize(img image.Image, box image.Rectangle, size int, dst []float32) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	x1 := float64(float32(float64(box.Min.X-b.Min.X) / float64(w)))
	y1 := float64(float32(float64(box.Min.Y-b.Min.Y) / float64(h)))
	x2 := float64(float32(float64(box.Max.X-b.Min.X) / float64(w)))
	y2 := float64(float32(float64(box.Max.Y-b.Min.Y) / float64(h)))
	var hs, ws float64
	if size > 1 {
		hs = (y2 - y1) * float64(h-1) / float64(size-1)
		ws = (x2 - x1) * float64(w-1) / float64(size-1)
	}
	// Columns: source indices and weights, the same for every row. Only
	// the source columns some output reads are converted from the image
	// (src lists them in order; left and right index into it).
	type col struct {
		left, right int
		lerp        float64
		ok          bool
	}
	cols := make([]col, size)
	var src []int
	index := func(x int) int {
		if n := len(src); n == 0 || src[n-1] != x {
			src = append(src, x)
		}
		return len(src) - 1
	}
	for x := range cols {
		xi := 0.5 * (x1 + x2) * float64(w-1)
		if size > 1 {
			xi = x1*float64(w-1) + float64(x)*ws
		}
		if xi < 0 || xi > float64(w-1) {
			continue
		}
		l := math.Floor(xi)
		li := index(int(l))
		cols[x] = col{left: li, right: index(int(math.Ceil(xi))), lerp: xi - l, ok: true}
	}
	px := newPixels(img)
	type cached struct {
		y   int
		buf []float32
	}
	var slots [2]cached
	for i := range slots {
		slots[i] = cached{y: -1, buf: make([]float32, 3*len(src))}
	}
	get := func(y, keep int) []float32 {
		for _, s := range slots {
			if s.y == y {
				return s.buf
			}
		}
		i := 0
		if slots[0].y == keep {
			i = 1
		}
		px.cols(y, src, slots[i].buf)
		slots[i].y = y
		return slots[i].buf
	}
	for y := range size {
		row := dst[y*size*3 : (y+1)*size*3]
		yi := 0.5 * (y1 + y2) * float64(h-1)
		if size > 1 {
			yi = y1*float64(h-1) + float64(y)*hs
		}
		if yi < 0 || yi > float64(h-1) || len(src) == 0 {
			clear(row)
			continue
		}
		t := math.Floor(yi)
		ti, bi := int(t), int(math.Ceil(yi))
		ylerp := yi - t
		top := get(ti, bi)
		bot := get(bi, ti)
		for x, c := range cols {
			o := row[x*3 : x*3+3]
			if !c.ok {
				o[0], o[1], o[2] = 0, 0, 0
				continue
			}
			for ch := range 3 {
				l, r := c.left*3+ch, c.right*3+ch
				tl, tr := float64(top[l]), float64(top[r])
				bl, br := float64(bot[l]), float64(bot[r])
				tv := tl + (tr-tl)*c.lerp
				bv := bl + (br-bl)*c.lerp
				// The crop is stored as float32, then divided by 255 in
				// float32.
				o[ch] = float32(tv+(bv-tv)*ylerp) / 255
			}
		}
	}
}

// resizeBilinear reproduces tf.image.resizeBilinear(src, [oh, ow],
// alignCorners=false) with halfPixelCenters=false, as the TensorFlow.js cpu
// backend computes it: source = dst * (in/out), floor and ceil clamped to
// the image, interpolation in float64, result stored as float32. src and dst
// are HWC with 3 channels.
func resizeBilinear(src []float32, ih, iw int, dst []float32, oh, ow int) {
	const ch = 3
	rr := float64(ih) / float64(oh)
	cr := float64(iw) / float64(ow)
	i := 0
	for r := range oh {
		sr := rr * float64(r)
		r0 := max(0, math.Floor(sr))
		rf := sr - r0
		r1 := min(ih-1, int(math.Ceil(sr)))
		top := src[int(r0)*iw*ch:]
		bot := src[r1*iw*ch:]
		for c := range ow {
			sc := cr * float64(c)
			c0 := max(0, math.Floor(sc))
			cf := sc - c0
			c1 := min(iw-1, int(math.Ceil(sc)))
			l, rgt := int(c0)*ch, c1*ch
			for d := range ch {
				tl := float64(top[l+d])
				bl := float64(bot[l+d])
				tr := float64(top[rgt+d])
				br := float64(bot[rgt+d])
				t := tl + (tr-tl)*cf
				b := bl + (br-bl)*cf
				dst[i] = float32(t + (b-t)*rf)
				i++
			}
		}
	}
}

// pixels reads rows of an image as float32 R, G, B values in 0..255, as
// Human's input tensor holds them (alpha dropped, not premultiplied).
type pixels struct {
	img  image.Image
	rect image.Rectangle
}

func newPixels(img image.Image) pixels { return pixels{img: img, rect: img.Bounds()} }

// cols converts the pixels at columns xs of row y (both 0-based from the
// image's top-left corner) into dst, 3 values per pixel.
func (p pixels) cols(y int, xs []int, dst []float32) {
	yy := p.rect.Min.Y + y
	x0 := p.rect.Min.X
	dst = dst[:3*len(xs)]
	switch m := p.img.(type) {
	case *image.YCbCr:
		for i, x := range xs {
			yi := m.YOffset(x0+x, yy)
			ci := m.COffset(x0+x, yy)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			dst[3*i], dst[3*i+1], dst[3*i+2] = float32(r), float32(g), float32(b)
		}
	case *image.NRGBA:
		s := m.Pix[m.PixOffset(x0, yy):]
		for i, x := range xs {
			dst[3*i], dst[3*i+1], dst[3*i+2] = float32(s[4*x]), float32(s[4*x+1]), float32(s[4*x+2])
		}
	case *image.RGBA:
		s := m.Pix[m.PixOffset(x0, yy):]
		for i, x := range xs {
			r, g, b, a := s[4*x], s[4*x+1], s[4*x+2], s[4*x+3]
			if a != 0xff {
				c := color.NRGBAModel.Convert(color.RGBA{r, g, b, a}).(color.NRGBA)
				r, g, b = c.R, c.G, c.B
			}
			dst[3*i], dst[3*i+1], dst[3*i+2] = float32(r), float32(g), float32(b)
		}
	case *image.Gray:
		s := m.Pix[m.PixOffset(x0, yy):]
		for i, x := range xs {
			v := float32(s[x])
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	default:
		for i, x := range xs {
			c := color.NRGBAModel.Convert(p.img.At(x0+x, yy)).(color.NRGBA)
			dst[3*i], dst[3*i+1], dst[3*i+2] = float32(c.R), float32(c.G), float32(c.B)
		}
	}
}
