package liveness

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Helpers that load the committed fixtures (testdata/SOURCES.md) and derive
// the other test images from them at run time.

// readFixture returns the bytes of testdata/name.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

// fixtureRGBA decodes testdata/name (JPEG or PNG) to RGBA.
func fixtureRGBA(tb testing.TB, name string) *image.RGBA {
	tb.Helper()
	b := readFixture(tb, name)
	var (
		img image.Image
		err error
	)
	if filepath.Ext(name) == ".png" {
		img, err = png.Decode(bytes.NewReader(b))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(b))
	}
	if err != nil {
		tb.Fatalf("decode fixture %s: %v", name, err)
	}
	return toRGBA(img)
}

func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}

// encodeJPEG encodes m at the given quality and, when app1 is not nil,
// inserts it as a segment right after SOI (where cameras put EXIF).
func encodeJPEG(tb testing.TB, m image.Image, quality int, app1 []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatalf("encode JPEG: %v", err)
	}
	b := buf.Bytes()
	if app1 == nil {
		return b
	}
	out := make([]byte, 0, len(b)+len(app1))
	out = append(out, b[:2]...)
	out = append(out, app1...)
	return append(out, b[2:]...)
}

func encodePNG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatalf("encode PNG: %v", err)
	}
	return buf.Bytes()
}

// tiffOrientationIFD returns a TIFF structure whose IFD0 holds one entry:
// tag 0x0112 of the given type (3 SHORT, 4 LONG) and value.
func tiffOrientationIFD(bigEndian bool, typ uint16, value uint32) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	t := []byte("II*\x00")
	if bigEndian {
		bo, t = binary.BigEndian, []byte("MM\x00*")
	}
	t = bo.AppendUint32(t, 8)      // IFD0 offset
	t = bo.AppendUint16(t, 1)      // one entry
	t = bo.AppendUint16(t, 0x0112) // orientation
	t = bo.AppendUint16(t, typ)
	t = bo.AppendUint32(t, 1) // count
	if typ == tiffShort {
		t = bo.AppendUint16(t, uint16(value))
		t = append(t, 0, 0)
	} else {
		t = bo.AppendUint32(t, value)
	}
	return bo.AppendUint32(t, 0) // no next IFD
}

// app1 wraps a segment body (after the marker and length) as a JPEG APP1
// segment with a correct length.
func app1(body []byte) []byte {
	s := []byte{0xFF, 0xE1}
	s = binary.BigEndian.AppendUint16(s, uint16(len(body)+2))
	return append(s, body...)
}

// exifApp1 is an APP1 "Exif\0\0" segment holding orientation o as a SHORT
// in big-endian ("MM") byte order, as most phones write it.
func exifApp1(o uint32) []byte {
	return app1(append([]byte("Exif\x00\x00"), tiffOrientationIFD(true, tiffShort, o)...))
}

// storedFor returns the pixels a camera would store for the upright image
// up under orientation o: the inverse of orient(·, o).
func storedFor(up *image.RGBA, o int) *image.RGBA {
	switch o {
	case orientRotate90:
		return orient(up, orientRotate270)
	case orientRotate270:
		return orient(up, orientRotate90)
	}
	return orient(up, o) // the others are their own inverse
}

// boxBlur returns m blurred with a (2r+1)×(2r+1) box, edges clamped.
func boxBlur(m *image.RGBA, r int) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	tmp := image.NewRGBA(m.Rect)
	dst := image.NewRGBA(m.Rect)
	pass := func(src, dst *image.RGBA, dx, dy int) {
		for y := range h {
			for x := range w {
				var s [3]int
				for k := -r; k <= r; k++ {
					xx, yy := clampInt(x+k*dx, 0, w-1), clampInt(y+k*dy, 0, h-1)
					p := src.Pix[src.PixOffset(xx, yy):]
					s[0], s[1], s[2] = s[0]+int(p[0]), s[1]+int(p[1]), s[2]+int(p[2])
				}
				n := 2*r + 1
				p := dst.Pix[dst.PixOffset(x, y):]
				p[0], p[1], p[2], p[3] = uint8(s[0]/n), uint8(s[1]/n), uint8(s[2]/n), 0xFF
			}
		}
	}
	pass(m, tmp, 1, 0)
	pass(tmp, dst, 0, 1)
	return dst
}

// scaleLuminance returns m with every channel multiplied by f.
func scaleLuminance(m *image.RGBA, f float64) *image.RGBA {
	d := image.NewRGBA(m.Rect)
	for i := range m.Pix {
		if i%4 == 3 {
			d.Pix[i] = 0xFF
			continue
		}
		d.Pix[i] = uint8(clampInt(int(float64(m.Pix[i])*f+0.5), 0, 255))
	}
	return d
}

// padInto centres m on a k-times larger canvas of a light, even gray.
func padInto(m *image.RGBA, k int) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	c := image.NewRGBA(image.Rect(0, 0, k*w, k*h))
	draw.Draw(c, c.Rect, image.NewUniform(color.RGBA{235, 235, 235, 255}), image.Point{}, draw.Src)
	off := image.Pt((k-1)*w/2, (k-1)*h/2)
	draw.Draw(c, m.Rect.Add(off), m, m.Rect.Min, draw.Src)
	return c
}

// sideBySide puts two copies of m next to each other.
func sideBySide(m *image.RGBA) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	c := image.NewRGBA(image.Rect(0, 0, 2*w, h))
	draw.Draw(c, m.Rect, m, m.Rect.Min, draw.Src)
	draw.Draw(c, m.Rect.Add(image.Pt(w, 0)), m, m.Rect.Min, draw.Src)
	return c
}

// crop returns a copy of r of m.
func crop(m *image.RGBA, r image.Rectangle) *image.RGBA {
	c := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(c, c.Rect, m, r.Min, draw.Src)
	return c
}

// flat is a w×h image of one colour.
func flat(w, h int, c color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Rect, image.NewUniform(c), image.Point{}, draw.Src)
	return m
}

// noise is a w×h image of uniform random colour, from a fixed seed.
func noise(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.UintN(256))
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 0xFF
	}
	return m
}

// resizeBilinear scales m to w×h (used to make large benchmark images).
func resizeBilinear(m *image.RGBA, w, h int) *image.RGBA {
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	d := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		fy := min(max((float64(y)+0.5)*float64(sh)/float64(h)-0.5, 0), float64(sh-1))
		y0 := int(fy)
		y1, wy := min(y0+1, sh-1), fy-float64(y0)
		for x := range w {
			fx := min(max((float64(x)+0.5)*float64(sw)/float64(w)-0.5, 0), float64(sw-1))
			x0 := int(fx)
			x1, wx := min(x0+1, sw-1), fx-float64(x0)
			p00, p01 := m.Pix[m.PixOffset(x0, y0):], m.Pix[m.PixOffset(x1, y0):]
			p10, p11 := m.Pix[m.PixOffset(x0, y1):], m.Pix[m.PixOffset(x1, y1):]
			q := d.Pix[d.PixOffset(x, y):]
			for c := range 3 {
				top := float64(p00[c])*(1-wx) + float64(p01[c])*wx
				bot := float64(p10[c])*(1-wx) + float64(p11[c])*wx
				q[c] = uint8(top*(1-wy) + bot*wy + 0.5)
			}
			q[3] = 0xFF
		}
	}
	return d
}

// sosScan returns the offset of the first byte of entropy-coded data after
// the first SOS segment of a JPEG, or -1.
func sosScan(b []byte) int {
	for i := 2; i+3 < len(b); {
		if b[i] != 0xFF {
			return -1
		}
		marker := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if marker == jpegMarkerSOS {
			return i + 2 + n
		}
		i += 2 + n
	}
	return -1
}

// truncatedScan cuts a JPEG in the middle of its (first) scan data: the
// header decodes, the pixels do not.
func truncatedScan(tb testing.TB, b []byte) []byte {
	tb.Helper()
	s := sosScan(b)
	if s < 0 {
		tb.Fatal("no SOS in JPEG")
	}
	return bytes.Clone(b[:s+(len(b)-s)/2])
}

// Shared analyzer: New unpacks the cascades and loads both models, so the
// tests build one and share it (which also exercises concurrent use).
var (
	sharedOnce sync.Once
	sharedA    *Analyzer
	sharedErr  error
)

func analyzer(tb testing.TB) *Analyzer {
	tb.Helper()
	sharedOnce.Do(func() { sharedA, sharedErr = New(DefaultConfig()) })
	if sharedErr != nil {
		tb.Fatalf("New: %v", sharedErr)
	}
	return sharedA
}

// rotate turns m by deg degrees about its centre (positive: clockwise as
// seen), nearest neighbour, filling the uncovered corners with light gray.
func rotate(m *image.RGBA, deg float64) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	s, c := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w)/2, float64(h)/2
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := int(math.Floor(c*dx+s*dy+cx)), int(math.Floor(-s*dx+c*dy+cy))
			p := out.Pix[out.PixOffset(x, y):][:4]
			if sx < 0 || sy < 0 || sx >= w || sy >= h {
				p[0], p[1], p[2], p[3] = 235, 235, 235, 0xFF
				continue
			}
			copy(p, m.Pix[m.PixOffset(m.Rect.Min.X+sx, m.Rect.Min.Y+sy):][:4])
		}
	}
	return out
}
