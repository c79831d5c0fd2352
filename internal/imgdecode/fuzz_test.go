package imgdecode

import (
	"bytes"
	"hash/crc32"
	"image"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// fuzzDecode is the body of both fuzz targets: whatever data holds, Decode
// must not panic, must fail or return an image of the requested size, and
// must allocate no more than ReadHeader's Cost. Like a real caller, it only
// decodes what the header says is affordable (here 4 megapixels, so that an
// iteration stays quick).
func fuzzDecode(t *testing.T, data []byte) {
	hdr, err := ReadHeader(data)
	if err != nil {
		if _, derr := Decode(data, 1, 1); derr == nil {
			t.Fatalf("ReadHeader failed (%v) but Decode did not", err)
		}
		return
	}
	if hdr.Width < 1 || hdr.Height < 1 || int64(hdr.Width)*int64(hdr.Height) > 4_000_000 {
		return
	}
	for _, side := range []int{64, 7} {
		ow, oh := FitWithin(hdr.Width, hdr.Height, side)
		cost := hdr.Cost(ow, oh)
		if cost <= 0 {
			t.Fatalf("%d×%d to %d×%d: Cost %d", hdr.Width, hdr.Height, ow, oh, cost)
		}
		var m *image.RGBA
		got := allocated(func() { m, err = Decode(data, ow, oh) })
		if int64(got) > cost {
			t.Fatalf("%d×%d to %d×%d: allocated %d bytes, Cost %d", hdr.Width, hdr.Height, ow, oh, got, cost)
		}
		if err == nil && (m.Rect.Dx() != ow || m.Rect.Dy() != oh) {
			t.Fatalf("asked for %d×%d, got %v", ow, oh, m.Rect)
		}
	}
}

// FuzzDecodeJPEG fuzzes the JPEG decoder. Its seed corpus is in
// testdata/fuzz/FuzzDecodeJPEG; more seeds are generated here.
func FuzzDecodeJPEG(f *testing.F) {
	for _, s := range jpegSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte{0xff, 0xd8}) {
			data = append([]byte{0xff, 0xd8}, data...)
		}
		fuzzDecode(t, data)
	})
}

// FuzzDecodePNG fuzzes the PNG decoder. Its seed corpus is in
// testdata/fuzz/FuzzDecodePNG; more seeds are generated here.
func FuzzDecodePNG(f *testing.F) {
	for _, s := range pngSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte(pngHeader)) {
			data = append([]byte(pngHeader), data...)
		}
		fuzzDecode(t, fixCRCs(data))
	})
}

// fixCRCs rewrites every chunk CRC of a PNG, so that the fuzzer's mutations
// reach the chunk contents instead of failing the checksum.
func fixCRCs(data []byte) []byte {
	out := append([]byte(nil), data...)
	for p := len(pngHeader); p+12 <= len(out); {
		n := int(uint32(out[p])<<24 | uint32(out[p+1])<<16 | uint32(out[p+2])<<8 | uint32(out[p+3]))
		if n < 0 || p+12+n > len(out) {
			break
		}
		c := crc32IEEE(out[p+4 : p+8+n])
		out[p+8+n], out[p+9+n], out[p+10+n], out[p+11+n] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		p += 12 + n
	}
	return out
}

func jpegSeeds(t testing.TB) [][]byte {
	px := photo(24, 17, 9)
	var seeds [][]byte
	for _, o := range []testimage.JPEGOptions{
		{Color: testimage.JPEGYCbCr, Quality: 50, H: 2, V: 2},
		{Color: testimage.JPEGYCbCr, Quality: 50, H: 2, V: 2, Progressive: true},
		{Color: testimage.JPEGYCbCr, Quality: 50, H: 4, V: 2, Restart: 1},
		{Color: testimage.JPEGGray, Quality: 50, Progressive: true},
		{Color: testimage.JPEGCMYK, Quality: 50, H: 2, V: 2},
		{Color: testimage.JPEGYCCK, Quality: 50, Progressive: true},
		{Color: testimage.JPEGRGB, Quality: 50, NonInterleaved: true},
	} {
		data, err := testimage.EncodeJPEG(24, 17, px, o)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data, data[:len(data)*2/3])
	}
	return seeds
}

func pngSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range pngCases(11, 7) {
		for _, il := range []bool{false, true} {
			o := c.o
			o.Interlace = il
			o.IDATSize = 64
			data, err := testimage.EncodePNG(11, 7, c.px, o)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	return seeds
}
