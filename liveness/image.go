package liveness

import (
	"errors"
	"fmt"
	"image"

	"github.com/facevault/facevault/internal/imgdecode"
)

// errUnreadable marks an image whose bytes do not decode to pixels within
// the configured bounds. It is reported in the result (imageReadable false),
// never returned by Analyze.
var errUnreadable = errors.New("image unreadable")

// probed is what the decode stage learns before decoding any pixels.
type probed struct {
	hdr         imgdecode.Header
	orientation int  // EXIF orientation, 1-8
	exifFound   bool // an orientation tag was present
}

// probeImage reads the header of the JPEG or PNG in data and checks it
// against the bounds in cfg; nothing is decoded. Any failure wraps
// errUnreadable.
func probeImage(data []byte, cfg *Config) (probed, error) {
	hdr, err := imgdecode.ReadHeader(data)
	if errors.Is(err, imgdecode.ErrUnknownFormat) {
		return probed{}, fmt.Errorf("%w: neither JPEG nor PNG", errUnreadable)
	} else if err != nil {
		return probed{}, fmt.Errorf("%w: header: %v", errUnreadable, err)
	}
	if hdr.Width <= 0 || hdr.Height <= 0 || hdr.Width > cfg.MaxSide || hdr.Height > cfg.MaxSide ||
		int64(hdr.Width)*int64(hdr.Height) > cfg.MaxPixels {
		return probed{}, fmt.Errorf("%w: %d×%d pixels is outside the bounds", errUnreadable, hdr.Width, hdr.Height)
	}
	p := probed{hdr: hdr, orientation: 1}
	if hdr.Format == imgdecode.JPEG {
		p.orientation, p.exifFound = exifOrientation(data)
	}
	return p, nil
}

// decodeWorking decodes data straight to the ww×wh working image
// (see imgdecode: JPEGs at reduced DCT scale, PNGs a row at a time,
// both through an area filter). Failure wraps errUnreadable.
func decodeWorking(data []byte, ww, wh int) (*image.RGBA, error) {
	m, err := imgdecode.Decode(data, ww, wh)
	if err != nil {
		return nil, fmt.Errorf("%w: pixels: %v", errUnreadable, err)
	}
	return m, nil
}

func clampInt(v, lo, hi int) int {
	return min(max(v, lo), hi)
}

// orient returns m turned upright according to an EXIF orientation value
// (m itself for 1 or an unknown value).
func orient(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ow, oh := w, h
	if o >= orientTranspose {
		ow, oh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range oh {
		for x := range ow {
			// (sx, sy) is the stored pixel shown at upright (x, y).
			var sx, sy int
			switch o {
			case orientFlipH:
				sx, sy = w-1-x, y
			case orientRotate180:
				sx, sy = w-1-x, h-1-y
			case orientFlipV:
				sx, sy = x, h-1-y
			case orientTranspose:
				sx, sy = y, x
			case orientRotate90:
				sx, sy = y, h-1-x
			case orientTransverse:
				sx, sy = w-1-y, h-1-x
			case orientRotate270:
				sx, sy = w-1-y, x
			}
			copy(dst.Pix[dst.PixOffset(x, y):][:4], m.Pix[m.PixOffset(m.Rect.Min.X+sx, m.Rect.Min.Y+sy):][:4])
		}
	}
	return dst
}

// grayOf returns the luma (BT.601, as pigo computes it) of an RGBA image as
// a row-major slice of len w*h.
func grayOf(m *image.RGBA) []uint8 {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	g := make([]uint8, w*h)
	for y := range h {
		row := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:4*w]
		for x := range w {
			p := row[4*x : 4*x+3 : 4*x+3]
			// 0.299, 0.587, 0.114 in 16.16 fixed point.
			g[y*w+x] = uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
		}
	}
	return g
}

// Upright decodes the JPEG or PNG in data to at most maxSide pixels a side
// (never enlarged), turned upright by its EXIF orientation as the check
// sees it: the faceBox and landmarks of a result are in the coordinates of
// this image, scaled. It refuses, with ErrUnreadable, an image outside the
// default bounds of DefaultConfig; it allocates at most
// imgdecode's Cost for the size, plus one copy when the image is turned.
func Upright(data []byte, maxSide int) (*image.RGBA, error) {
	cfg := DefaultConfig()
	if int64(len(data)) > cfg.MaxBytes {
		return nil, ErrUnreadable
	}
	p, err := probeImage(data, &cfg)
	if err != nil {
		return nil, ErrUnreadable
	}
	w, h := imgdecode.FitWithin(p.hdr.Width, p.hdr.Height, maxSide)
	m, err := decodeWorking(data, w, h)
	if err != nil {
		return nil, ErrUnreadable
	}
	return orient(m, p.orientation), nil
}
