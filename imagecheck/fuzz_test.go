package imagecheck_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"testing"

	"github.com/facevault/facevault/imagecheck"
	"github.com/facevault/facevault/internal/testimage"
)

// expectation is what the reference says of some bytes under some limits:
// the Info of an acceptable image, or the reasons that apply to a refused
// one (a refusal may give any of them: which bound a stream crosses first
// depends on how it is written).
type expectation struct {
	ok      bool
	info    imagecheck.Info
	reasons map[string]bool
}

// reference applies the contract's rule with the standard library alone:
// a JPEG (FF D8 FF) or PNG (its 8-byte signature) by magic, whose header
// image.DecodeConfig reads as that format, with the byte size and
// dimensions within l.
func reference(b []byte, l imagecheck.Limits) expectation {
	e := expectation{reasons: map[string]bool{}}
	if n := int64(len(b)); n < l.MinBytes || n > l.MaxBytes {
		e.reasons[imagecheck.ReasonSize] = true
	}
	var format string
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		format = imagecheck.JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		format = imagecheck.PNG
	}
	if format == "" {
		e.reasons[imagecheck.ReasonFormat] = true
		return e
	}
	cfg, name, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || name != format {
		e.reasons[imagecheck.ReasonFormat] = true
		return e
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > l.MaxWidth || cfg.Height > l.MaxHeight ||
		int64(cfg.Width)*int64(cfg.Height) > l.MaxPixels {
		e.reasons[imagecheck.ReasonPixels] = true
	}
	e.ok = len(e.reasons) == 0
	e.info = imagecheck.Info{Format: format, Width: cfg.Width, Height: cfg.Height, Size: int64(len(b))}
	return e
}

// writeScript writes b to a Checker in chunks whose sizes come from script
// (byte k is a chunk of scale×script[k] bytes, 0 an empty write; it
// repeats), or whole if script is empty, and returns Finish's result.
func writeScript(l imagecheck.Limits, b, script []byte, scale int) (imagecheck.Info, error) {
	c := imagecheck.New(l)
	defer c.Close()
	if !slices.ContainsFunc(script, func(x byte) bool { return x != 0 }) {
		script = nil // only empty writes: write it whole (after one empty write)
		c.Write(nil)
	}
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(script) > 0 {
			n = min(n, scale*int(script[i%len(script)]))
		}
		if _, err := c.Write(b[:n]); err != nil {
			return imagecheck.Info{}, err
		}
		b = b[n:]
	}
	info, err := c.Finish()
	c.Close() // safe after Finish
	return info, err
}

func checkAgainst(t *testing.T, what string, want expectation, info imagecheck.Info, err error) {
	t.Helper()
	if want.ok {
		if err != nil {
			t.Fatalf("%s: refused (%v), the reference accepts %+v", what, err, want.info)
		}
		if info != want.info {
			t.Fatalf("%s: Info = %+v, reference %+v", what, info, want.info)
		}
		return
	}
	var ie *imagecheck.Error
	if !errors.As(err, &ie) {
		t.Fatalf("%s: got %+v, %v; the reference refuses (%v)", what, info, err, want.reasons)
	}
	if !want.reasons[ie.Reason] || ie.Message == "" {
		t.Fatalf("%s: refused for %q (%s), but the reasons that apply are %v", what, ie.Reason, ie.Message, want.reasons)
	}
}

// smallLimits scale the contract's bounds down to what a fuzzer's inputs
// reach; width and height differ so that a swapped bound shows.
var smallLimits = imagecheck.Limits{MinBytes: 64, MaxBytes: 8192, MaxWidth: 300, MaxHeight: 200, MaxPixels: 40000}

func encodeJPEG(m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 50}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func encodePNG(m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// FuzzChecker compares the streaming Checker with the reference (magic
// bytes and image.DecodeConfig of image/jpeg and image/png on the same
// bytes) under small limits and under the contract's (the bytes padded to
// its 34 KB minimum), written whole and in chunks the fuzzer chooses:
// accept or refuse must agree, an accepted image must have the reference's
// format, dimensions and size, and a refusal must give a reason that
// applies.
func FuzzChecker(f *testing.F) {
	gray := func(w, h int) *image.Gray { return image.NewGray(image.Rect(0, 0, w, h)) }
	sof2 := encodeJPEG(gray(16, 9))
	if i := bytes.Index(sof2, []byte{0xFF, 0xC0}); i >= 0 {
		sof2[i+1] = 0xC2 // progressive: DecodeConfig reads only the header
	}
	pal := image.NewPaletted(image.Rect(0, 0, 5, 3), color.Palette{color.Black, color.White})
	for i, b := range [][]byte{
		encodeJPEG(gray(8, 8)),
		encodeJPEG(testimage.Noise(20, 10, 1)),
		encodeJPEG(gray(300, 1)), encodeJPEG(gray(301, 1)), encodeJPEG(gray(1, 200)), encodeJPEG(gray(1, 201)),
		encodeJPEG(gray(200, 200)), encodeJPEG(gray(201, 200)),
		sof2,
		encodePNG(gray(1, 1)), encodePNG(testimage.Noise(4, 4, 2)), encodePNG(pal),
		encodePNG(image.NewGray16(image.Rect(0, 0, 3, 2))), encodePNG(image.NewNRGBA64(image.Rect(0, 0, 2, 2))),
		encodePNG(gray(300, 1)), encodePNG(gray(1, 201)), encodePNG(gray(200, 200)), encodePNG(gray(201, 200)),
		testimage.PNGHeader(60000, 60000, 100), testimage.PNGHeader(0, 10, 100), testimage.PNGHeader(0x80000000, 1, 100),
		[]byte("GIF89a"), []byte{0xFF, 0xD8, 0xFF}, []byte{0xFF, 0xD8, 0x00, 0xFF, 0xC0}, []byte("\x89PNG\r\n\x1a\n"), {},
	} {
		f.Add(b, []byte{byte(i), 1, 7, 200})
	}
	contract := imagecheck.DefaultLimits()
	f.Fuzz(func(t *testing.T, b, script []byte) {
		want := reference(b, smallLimits)
		scripts := [][]byte{nil, script}
		if len(b) <= 512 {
			scripts = append(scripts, []byte{1}) // byte by byte
		}
		for _, s := range scripts {
			info, err := writeScript(smallLimits, b, s, 1)
			checkAgainst(t, "small limits", want, info, err)
		}
		// The contract's bounds: pad to the minimum size with zeros,
		// which only a header cut short would read.
		if int64(len(b)) < contract.MinBytes {
			b = append(b, make([]byte, contract.MinBytes-int64(len(b)))...)
		}
		want = reference(b, contract)
		for _, s := range [][]byte{nil, script} {
			info, err := writeScript(contract, b, s, 64)
			checkAgainst(t, "contract limits", want, info, err)
		}
	})
}

// jpegHeader returns a JPEG header (SOI, an optional JFIF APP0, SOF0 or
// SOF2 for a w×h image of 1 or 3 components, SOS) with no scan data.
func jpegHeader(w, h uint16, comps int, progressive, jfif bool) []byte {
	b := []byte{0xFF, 0xD8}
	if jfif {
		b = append(b, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	}
	sof := byte(0xC0)
	if progressive {
		sof = 0xC2
	}
	b = append(b, 0xFF, sof)
	b = binary.BigEndian.AppendUint16(b, uint16(8+3*comps))
	b = append(b, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, byte(comps))
	for i := range comps {
		b = append(b, byte(i+1), 0x11, 0)
	}
	return append(b, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0)
}

// FuzzCheckerDims checks the pixel bounds of the contract (docs/contract.md
// section 6: at most 10,000 pixels a side and 50 megapixels), written out
// here rather than taken from DefaultLimits, on JPEG and PNG headers that
// claim the dimensions the fuzzer chooses, padded to 34 KB: within bounds
// is accepted with exactly those dimensions; outside them is refused for
// its pixels (or, for dimensions PNG cannot express, 0 or beyond 2^31-1,
// as not a valid PNG).
func FuzzCheckerDims(f *testing.F) {
	for _, d := range [][2]uint32{
		{1, 1}, {10000, 5000}, {10000, 5001}, {5000, 10000}, {7071, 7071}, {7072, 7071}, {10001, 1}, {1, 10001},
		{0, 1}, {1, 0}, {65535, 65535}, {0x7FFFFFFF, 1}, {0x80000000, 1}, {0xFFFFFFFF, 0xFFFFFFFF},
	} {
		for kind := range uint8(4) {
			f.Add(d[0], d[1], kind)
		}
	}
	l := imagecheck.DefaultLimits()
	f.Fuzz(func(t *testing.T, w, h uint32, kind uint8) {
		var b []byte
		isPNG := kind%4 == 0
		if isPNG {
			b = testimage.PNGHeader(w, h, 0)
		} else {
			w, h = w&0xFFFF, h&0xFFFF
			b = jpegHeader(uint16(w), uint16(h), []int{1, 3}[kind>>2&1], kind%4 >= 2, kind%4 != 3)
		}
		b = append(b, make([]byte, 34<<10-len(b))...)
		inBounds := w >= 1 && h >= 1 && w <= 10_000 && h <= 10_000 && uint64(w)*uint64(h) <= 50_000_000
		for _, script := range [][]byte{nil, {5}} {
			info, err := writeScript(l, b, script, 1)
			if inBounds {
				want := imagecheck.Info{Format: imagecheck.JPEG, Width: int(w), Height: int(h), Size: int64(len(b))}
				if isPNG {
					want.Format = imagecheck.PNG
				}
				if err != nil || info != want {
					t.Fatalf("%dx%d (kind %d): got %+v, %v; want %+v", w, h, kind, info, err, want)
				}
				continue
			}
			var ie *imagecheck.Error
			if !errors.As(err, &ie) {
				t.Fatalf("%dx%d (kind %d): accepted %+v", w, h, kind, info)
			}
			invalidPNG := isPNG && (w == 0 || h == 0 || w > 1<<31-1 || h > 1<<31-1)
			if ie.Reason != imagecheck.ReasonPixels && !(invalidPNG && ie.Reason == imagecheck.ReasonFormat) {
				t.Fatalf("%dx%d (kind %d): refused for %q (%s), want %q", w, h, kind, ie.Reason, ie.Message, imagecheck.ReasonPixels)
			}
		}
	})
}
