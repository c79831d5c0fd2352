package imgdecode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

// photo returns a seeded photo-like test image: smooth gradients, a few
// hard-edged shapes and a little noise, so that both low and high
// frequencies are present.
func photo(w, h int, seed uint64) testimage.Pixels {
	r := rand.New(rand.NewPCG(seed, 99))
	type disc struct {
		x, y, r2 int
		c        color.RGBA
	}
	discs := make([]disc, 6)
	for i := range discs {
		rad := 5 + r.IntN(max(w, h)/4+1)
		discs[i] = disc{r.IntN(w), r.IntN(h), rad * rad, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}}
	}
	noise := make([]uint8, 4096)
	for i := range noise {
		noise[i] = uint8(r.IntN(16))
	}
	return func(x, y int) color.RGBA {
		for _, d := range discs {
			if (x-d.x)*(x-d.x)+(y-d.y)*(y-d.y) < d.r2 {
				return d.c
			}
		}
		n := noise[(x*31+y*17)&4095]
		return color.RGBA{
			uint8(40 + 150*x/w + int(n)),
			uint8(30 + 180*y/h + int(n)/2),
			uint8(128 + 100*math.Sin(float64(x+y)/23)/2),
			255,
		}
	}
}

// diffStats compares two images of the same size channel by channel (R, G,
// B): the mean absolute difference over all samples and the largest.
func diffStats(a, b *image.RGBA) (mean float64, worst int) {
	var sum int64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += int64(d)
		worst = max(worst, d)
		n++
	}
	return float64(sum) / float64(n), worst
}

// reference decodes data as FaceVault did before this package: a full
// standard decode, then scaleDown.
func reference(t testing.TB, data []byte, ow, oh int) *image.RGBA {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("standard decoder: %v", err)
	}
	return scaleDown(img, ow, oh)
}

// outputs returns output sizes for a w×h image that make Decode use each
// reduction 1, 2, 4 and 8 (where the image is large enough).
func outputs(w, h int) [][2]int {
	var out [][2]int
	for _, r := range []int{1, 2, 4, 8} {
		// The largest size for which r is chosen, shrunk a little so
		// that the area filter has work to do.
		ow, oh := (w+r-1)/r, (h+r-1)/r
		if r > 1 {
			ow, oh = ow*9/10, oh*9/10
		}
		if ow < 1 || oh < 1 {
			continue
		}
		out = append(out, [2]int{ow, oh})
	}
	return out
}

// jpegBounds bound the difference between Decode and the reference: the
// largest mean absolute difference per channel, and the largest single one,
// at 1/1 and at 1/2-1/8.
type jpegBounds struct {
	mean1, meanR   float64
	worst1, worstR int
}

// photoBounds are the bounds for photo(), whose saturated, hard-edged discs
// are the worst case. At 1/1 the two pipelines differ only in where YCbCr
// becomes RGB (per pixel here, after averaging in the reference) and in
// rounding: observed identical. At 1/2-1/8 the scaled IDCT differs from a
// full IDCT + box average in two ways: the coefficients beyond k×k are
// dropped (their block-group means are small but not zero: aliasing), and
// pixels are clamped to 0-255 once per group rather than once per pixel, so
// the ringing that the full IDCT produces next to a saturated edge, which
// the reference clips before averaging, is averaged away here. Observed on
// this image: mean up to 1.0 at 1/2, 1.5 at 1/4 and 2.5 at 1/8 (grey
// levels, 0-255), single samples up to 45 at a disc's edge. The bounds leave
// some margin above that. On a smooth image (TestJPEGSmooth) both effects
// vanish and the difference is rounding only.
var photoBounds = jpegBounds{mean1: 0.1, worst1: 2, meanR: 3, worstR: 64}

// checkJPEG compares Decode with the reference for output sizes that use
// every reduction.
func checkJPEG(t *testing.T, name string, data []byte, w, h int, bounds jpegBounds) {
	t.Helper()
	hdr, err := ReadHeader(data)
	if err != nil {
		t.Fatalf("%s: header: %v", name, err)
	}
	if hdr.Format != JPEG || hdr.Width != w || hdr.Height != h {
		t.Fatalf("%s: header %v %d×%d, want jpeg %d×%d", name, hdr.Format, hdr.Width, hdr.Height, w, h)
	}
	for _, size := range outputs(w, h) {
		ow, oh := size[0], size[1]
		got, err := Decode(data, ow, oh)
		if err != nil {
			t.Fatalf("%s to %d×%d: %v", name, ow, oh, err)
		}
		want := reference(t, data, ow, oh)
		mean, worst := diffStats(got, want)
		decodeWithinCost(t, name, data, ow, oh)
		r := hdr.Reduction(ow, oh)
		meanMax, worstMax := bounds.meanR, bounds.worstR
		if r == 1 {
			meanMax, worstMax = bounds.mean1, bounds.worst1
		}
		if mean > meanMax || worst > worstMax {
			t.Errorf("%s to %d×%d (1/%d): mean difference %.3f (max %.1f), worst %d (max %d)",
				name, ow, oh, r, mean, meanMax, worst, worstMax)
		}
		t.Logf("%s to %d×%d (1/%d): mean %.3f, worst %d", name, ow, oh, r, mean, worst)
	}
}

// TestJPEGSmooth checks that on a smooth image, with nothing for the
// dropped coefficients or the clamping to change, the scaled decode equals
// the reference up to rounding: here the scaled Y, Cb and Cr samples are
// rounded to 8 bits before the conversion to RGB, which multiplies a chroma
// rounding error by up to 1.77 (Cb into blue), where the reference rounds
// after averaging; at 1/8 an output pixel is little more than one scaled
// pixel, so nothing averages that away (observed: mean 0.59, worst 3).
func TestJPEGSmooth(t *testing.T) {
	const w, h = 203, 151
	px := func(x, y int) color.RGBA {
		return color.RGBA{uint8(40 + 150*x/w), uint8(30 + 180*y/h), uint8(128 + 60*math.Sin(float64(x+2*y)/40)), 255}
	}
	for _, c := range []testimage.JPEGColor{testimage.JPEGGray, testimage.JPEGYCbCr} {
		for _, prog := range []bool{false, true} {
			data, err := testimage.EncodeJPEG(w, h, px, testimage.JPEGOptions{Color: c, Quality: 90, H: 2, V: 2, Progressive: prog})
			if err != nil {
				t.Fatal(err)
			}
			checkJPEG(t, fmt.Sprintf("color%d-prog%v", c, prog), data, w, h, jpegBounds{mean1: 0.1, worst1: 2, meanR: 0.75, worstR: 3})
		}
	}
}

func TestJPEGMatchesStandardDecoder(t *testing.T) {
	const w, h = 203, 151 // odd sizes: partial MCUs at the edges
	px := photo(w, h, 1)
	type variant struct {
		name string
		o    testimage.JPEGOptions
	}
	var vs []variant
	for _, hv := range [][2]int{{1, 1}, {1, 2}, {2, 1}, {2, 2}, {4, 1}, {4, 2}} {
		for _, prog := range []bool{false, true} {
			vs = append(vs, variant{fmt.Sprintf("ycbcr%d%d-prog%v", hv[0], hv[1], prog),
				testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 90, H: hv[0], V: hv[1], Progressive: prog}})
		}
	}
	for _, q := range []int{10, 50, 75, 100} {
		vs = append(vs, variant{fmt.Sprintf("q%d", q), testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: q, H: 2, V: 2}})
		vs = append(vs, variant{fmt.Sprintf("q%d-prog", q), testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: q, H: 2, V: 2, Progressive: true}})
	}
	vs = append(vs,
		variant{"gray", testimage.JPEGOptions{Color: testimage.JPEGGray, Quality: 85}},
		variant{"gray-prog", testimage.JPEGOptions{Color: testimage.JPEGGray, Quality: 85, Progressive: true}},
		variant{"rgb", testimage.JPEGOptions{Color: testimage.JPEGRGB, Quality: 85}},
		variant{"rgb21-prog", testimage.JPEGOptions{Color: testimage.JPEGRGB, Quality: 85, H: 2, V: 1, Progressive: true}},
		variant{"cmyk", testimage.JPEGOptions{Color: testimage.JPEGCMYK, Quality: 85}},
		variant{"cmyk22-prog", testimage.JPEGOptions{Color: testimage.JPEGCMYK, Quality: 85, H: 2, V: 2, Progressive: true}},
		variant{"ycck", testimage.JPEGOptions{Color: testimage.JPEGYCCK, Quality: 85}},
		variant{"ycck22", testimage.JPEGOptions{Color: testimage.JPEGYCCK, Quality: 85, H: 2, V: 2}},
		variant{"restart", testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 80, H: 2, V: 2, Restart: 3}},
		variant{"noninterleaved", testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 80, H: 2, V: 1, NonInterleaved: true}},
		// Spectral selection without successive approximation, and
		// an AC band straddling the kept coefficients.
		variant{"prog-spectral", testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 80, H: 2, V: 2, Script: []testimage.JPEGScan{
			{Comps: []int{0, 1, 2}}, {Comps: []int{0}, Ss: 1, Se: 3}, {Comps: []int{0}, Ss: 4, Se: 30},
			{Comps: []int{0}, Ss: 31, Se: 63}, {Comps: []int{1}, Ss: 1, Se: 63}, {Comps: []int{2}, Ss: 1, Se: 63},
		}}},
		// DC only at first, successive approximation down to the last bit.
		variant{"prog-dc-sa", testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 95, H: 2, V: 2, Script: []testimage.JPEGScan{
			{Comps: []int{0, 1, 2}, Al: 3}, {Comps: []int{0, 1, 2}, Ah: 3, Al: 2}, {Comps: []int{0, 1, 2}, Ah: 2, Al: 1},
			{Comps: []int{0, 1, 2}, Ah: 1, Al: 0},
			{Comps: []int{0}, Ss: 1, Se: 63, Al: 3}, {Comps: []int{1}, Ss: 1, Se: 63, Al: 1}, {Comps: []int{2}, Ss: 1, Se: 63, Al: 1},
			{Comps: []int{0}, Ss: 1, Se: 63, Ah: 3, Al: 2}, {Comps: []int{0}, Ss: 1, Se: 63, Ah: 2, Al: 1},
			{Comps: []int{0}, Ss: 1, Se: 63, Ah: 1, Al: 0}, {Comps: []int{1}, Ss: 1, Se: 63, Ah: 1, Al: 0},
			{Comps: []int{2}, Ss: 1, Se: 63, Ah: 1, Al: 0},
		}}},
	)
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			data, err := testimage.EncodeJPEG(w, h, px, v.o)
			if err != nil {
				t.Fatal(err)
			}
			checkJPEG(t, v.name, data, w, h, photoBounds)
		})
	}
}

// TestJPEGGoEncoder checks images written by image/jpeg's own encoder (4:2:0
// and gray, from quality 1 to 100).
func TestJPEGGoEncoder(t *testing.T) {
	const w, h = 317, 239
	px := photo(w, h, 2)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	gray := image.NewGray(img.Rect)
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, px(x, y))
			gray.Set(x, y, px(x, y))
		}
	}
	for _, q := range []int{1, 30, 75, 100} {
		for name, m := range map[string]image.Image{"rgba": img, "gray": gray} {
			var b bytes.Buffer
			if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			checkJPEG(t, fmt.Sprintf("%s-q%d", name, q), b.Bytes(), w, h, photoBounds)
		}
	}
}

// pngCase is one PNG colour type and bit depth with its samples.
type pngCase struct {
	name string
	o    testimage.PNGOptions
	px   testimage.Samples
}

func pngCases(w, h int) []pngCase {
	ph := photo(w, h, 3)
	scale := func(v uint8, depth int) uint16 {
		if depth == 16 {
			return uint16(v)<<8 | uint16(v)*3
		}
		return uint16(v) >> (8 - depth)
	}
	lum := func(c color.RGBA) uint8 { y, _, _ := color.RGBToYCbCr(c.R, c.G, c.B); return y }
	alpha := func(x, y int) uint8 { return uint8((x*7 + y*3) % 256) }
	var cs []pngCase
	for _, d := range []int{1, 2, 4, 8, 16} {
		cs = append(cs, pngCase{fmt.Sprintf("gray%d", d), testimage.PNGOptions{ColorType: 0, Depth: d},
			func(x, y int) [4]uint16 { return [4]uint16{scale(lum(ph(x, y)), d)} }})
		// tRNS on a grey level that occurs.
		tr := scale(128, d)
		cs = append(cs, pngCase{fmt.Sprintf("gray%d-trns", d), testimage.PNGOptions{ColorType: 0, Depth: d, TRNS: []byte{byte(tr >> 8), byte(tr)}},
			func(x, y int) [4]uint16 {
				if (x/9+y/7)%3 == 0 {
					return [4]uint16{tr}
				}
				return [4]uint16{scale(lum(ph(x, y)), d)}
			}})
	}
	for _, d := range []int{8, 16} {
		cs = append(cs,
			pngCase{fmt.Sprintf("graya%d", d), testimage.PNGOptions{ColorType: 4, Depth: d},
				func(x, y int) [4]uint16 { return [4]uint16{scale(lum(ph(x, y)), d), scale(alpha(x, y), d)} }},
			pngCase{fmt.Sprintf("rgb%d", d), testimage.PNGOptions{ColorType: 2, Depth: d},
				func(x, y int) [4]uint16 {
					c := ph(x, y)
					return [4]uint16{scale(c.R, d), scale(c.G, d), scale(c.B, d)}
				}},
			pngCase{fmt.Sprintf("rgba%d", d), testimage.PNGOptions{ColorType: 6, Depth: d},
				func(x, y int) [4]uint16 {
					c := ph(x, y)
					return [4]uint16{scale(c.R, d), scale(c.G, d), scale(c.B, d), scale(alpha(x, y), d)}
				}},
		)
		c0 := ph(0, 0)
		tr := []uint16{scale(c0.R, d), scale(c0.G, d), scale(c0.B, d)}
		cs = append(cs, pngCase{fmt.Sprintf("rgb%d-trns", d),
			testimage.PNGOptions{ColorType: 2, Depth: d, TRNS: []byte{byte(tr[0] >> 8), byte(tr[0]), byte(tr[1] >> 8), byte(tr[1]), byte(tr[2] >> 8), byte(tr[2])}},
			func(x, y int) [4]uint16 {
				c := ph(x, y)
				if (x/5+y/11)%4 == 0 {
					c = c0
				}
				return [4]uint16{scale(c.R, d), scale(c.G, d), scale(c.B, d)}
			}})
	}
	for _, d := range []int{1, 2, 4, 8} {
		n := 1 << d
		pal := make([]byte, 0, 3*n)
		r := rand.New(rand.NewPCG(uint64(d), 5))
		for range n - 1 { // one index past the palette: black in image/png
			pal = append(pal, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)))
		}
		if n == 2 {
			pal = append(pal, 200, 100, 50) // a 1-bit palette needs both entries
		}
		trns := make([]byte, len(pal)/3)
		for i := range trns {
			trns[i] = byte(i * 37)
		}
		cs = append(cs, pngCase{fmt.Sprintf("pal%d-trns", d), testimage.PNGOptions{ColorType: 3, Depth: d, Palette: pal, TRNS: trns},
			func(x, y int) [4]uint16 { return [4]uint16{uint16(lum(ph(x, y))) >> (8 - d)} }})
	}
	return cs
}

// TestPNGMatchesStandardDecoder checks every colour type and bit depth,
// interlaced or not, against image/png + scaleDown. The accumulator takes
// the same areas and the same 8-bit colours as scaleDown, so the results are
// identical.
func TestPNGMatchesStandardDecoder(t *testing.T) {
	const w, h = 131, 97
	for _, c := range pngCases(w, h) {
		for _, il := range []bool{false, true} {
			o := c.o
			o.Interlace = il
			o.IDATSize = 200
			name := fmt.Sprintf("%s-interlace%v", c.name, il)
			data, err := testimage.EncodePNG(w, h, c.px, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range [][2]int{{w, h}, {64, 47}, {13, 9}, {1, 1}} {
				got, err := Decode(data, size[0], size[1])
				if err != nil {
					t.Fatalf("%s to %v: %v", name, size, err)
				}
				want := reference(t, data, size[0], size[1])
				if mean, worst := diffStats(got, want); worst != 0 {
					t.Errorf("%s to %v: differs from image/png + scaleDown: mean %.3f, worst %d", name, size, mean, worst)
				}
				decodeWithinCost(t, name, data, size[0], size[1])
			}
		}
	}
}

// TestGoPNGEncoder covers what image/png's encoder writes, including a
// paletted image with transparency and 16-bit NRGBA.
func TestGoPNGEncoder(t *testing.T) {
	const w, h = 77, 53
	ph := photo(w, h, 4)
	imgs := map[string]image.Image{}
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	nrgba64 := image.NewNRGBA64(nrgba.Rect)
	pal := image.NewPaletted(nrgba.Rect, color.Palette{color.NRGBA{255, 0, 0, 0}, color.NRGBA{0, 255, 0, 128}, color.RGBA{0, 0, 255, 255}})
	for y := range h {
		for x := range w {
			c := ph(x, y)
			a := uint8(x * 255 / w)
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, a})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 250, uint16(c.B) * 257, uint16(a) * 257})
			pal.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	imgs["nrgba"], imgs["nrgba64"], imgs["paletted"] = nrgba, nrgba64, pal
	for name, m := range imgs {
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b.Bytes(), 30, 20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mean, worst := diffStats(got, reference(t, b.Bytes(), 30, 20)); worst != 0 {
			t.Errorf("%s: differs from image/png + scaleDown: mean %.3f, worst %d", name, mean, worst)
		}
	}
}
