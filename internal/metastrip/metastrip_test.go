package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

// strip runs in through a Writer in writes of size n (the whole input at
// once if n is 0) and returns the output and the first error.
func strip(in []byte, n int) ([]byte, error) {
	var out bytes.Buffer
	w := NewWriter(&out)
	if n <= 0 {
		n = max(len(in), 1)
	}
	for i := 0; i < len(in); i += n {
		if _, err := w.Write(in[i:min(i+n, len(in))]); err != nil {
			return out.Bytes(), err
		}
	}
	err := w.Close()
	return out.Bytes(), err
}

// wantStripped checks that in strips to want in writes of any size, and
// that want holds none of the secrets.
func wantStripped(t *testing.T, in, want []byte) {
	t.Helper()
	for _, n := range []int{0, 1, 2, 3, 7, 64, 4093, 4096, 65536} {
		got, err := strip(in, n)
		if err != nil {
			t.Fatalf("writes of %d bytes: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("writes of %d bytes: got %d bytes, want %d; first difference at byte %d",
				n, len(got), len(want), firstDiff(got, want))
		}
	}
	for _, s := range secrets {
		if bytes.Contains(want, s) {
			t.Errorf("the output still holds %q", s)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// samePixels checks that in and out decode, with decode, to the same
// image.
func samePixels(t *testing.T, decode func(io.Reader) (image.Image, error), in, out []byte) {
	t.Helper()
	a, err := decode(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("decode the input: %v", err)
	}
	b, err := decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decode the output: %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the output decodes to other pixels than the input (%T %v, %T %v)", a, a.Bounds(), b, b.Bounds())
	}
}

// scans returns b cut before each of its SOS markers after the first.
func scans(b []byte) [][]byte {
	var parts [][]byte
	from := 0
	for i := bytes.Index(b, []byte{0xFF, 0xDA}); i >= 0; {
		if i > 0 {
			parts = append(parts, b[from:i])
			from = i
		}
		j := bytes.Index(b[i+2:], []byte{0xFF, 0xDA})
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return append(parts, b[from:])
}

func TestJPEG(t *testing.T) {
	le := binary.LittleEndian
	pigo, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	pigoHead, pigoRest := splitJPEG(t, pigo)
	// pigo's own header: APP0 JFIF, APP13 Photoshop, APP2 ICC_PROFILE,
	// APP14 Adobe.
	seg := func(b []byte) (s, rest []byte) {
		n := 2 + int(binary.BigEndian.Uint16(b[2:]))
		return b[:n], b[n:]
	}
	pigoAPP0, r := seg(pigoHead[2:])
	pigoAPP13, r := seg(r)
	pigoICC, r := seg(r)
	pigoAPP14, _ := seg(r)

	ycc := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 90, H: 2, V: 2})
	yccHead, yccRest := splitJPEG(t, ycc) // SOI, APP0 JFIF; the rest
	prog := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 80, Progressive: true})
	progHead, progRest := splitJPEG(t, prog)
	progScans := scans(progRest)
	rgb := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGRGB, Quality: 90})
	rgbHead, rgbRest := splitJPEG(t, rgb) // SOI, APP14 Adobe; the rest
	cmyk := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGCMYK, Quality: 90})
	cmykHead, cmykRest := splitJPEG(t, cmyk)
	restart := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGYCbCr, Quality: 70, H: 2, V: 2, Restart: 3})
	restartHead, restartRest := splitJPEG(t, restart)
	gray := encodeJPEG(t, testimage.JPEGOptions{Color: testimage.JPEGGray, Quality: 60})
	grayHead, grayRest := splitJPEG(t, gray)
	goJPEG := testimage.JPEG(64, 64, 5) // image/jpeg's encoder: no APPn at all
	soi := []byte{0xFF, 0xD8}
	exifWith := func(bo order, ifd0 int, es []entry) []byte {
		return segment(0xE1, append([]byte("Exif\x00\x00"), tiff(bo, ifd0, es)...))
	}
	orientLong := func(bo order, v uint32) entry {
		return entry{tag: 0x0112, typ: 4, count: 1, value: bo.AppendUint32(nil, v)}
	}
	orientShort := func(v uint16) entry {
		return entry{tag: 0x0112, typ: 3, count: 1, value: short(binary.BigEndian, v)}
	}

	tests := []struct {
		name  string
		parts []part
	}{
		{"Phone", []part{
			kept(yccHead), {b: phoneExif(6), orient: 6}, dropped(xmpSeg), dropped(extXMPSeg), kept(iccSeg),
			dropped(mpfSeg), dropped(photoshopSeg), dropped(comSeg), dropped(app15Seg), kept(yccRest),
			dropped([]byte("trailing-device-id: a second image would be here")),
		}},
		{"PigoSample", []part{
			kept(soi), kept(pigoAPP0), {b: phoneExif(1), orient: 1}, dropped(pigoAPP13), kept(pigoICC),
			kept(pigoAPP14), kept(pigoRest),
		}},
		{"ProgressiveWithSegmentsBetweenScans", append([]part{
			kept(progHead), {b: phoneExif(3), orient: 3}, kept(progScans[0]), dropped(comSeg),
			// EXIF after the first scan: dropped, its orientation not read
			// (the liveness check reads none there either).
			dropped(phoneExif(8)), kept(progScans[1]), dropped(xmpSeg),
		}, func() (ps []part) {
			for _, s := range progScans[2:] {
				ps = append(ps, kept(s))
			}
			return ps
		}()...)},
		{"AdobeRGBLittleEndianLong", []part{
			kept(rgbHead), {b: exifWith(le, 8, append(phoneEntries(le, 0), orientLong(le, 8))), orient: 8},
			kept(rgbRest),
		}},
		{"AdobeCMYK", []part{kept(cmykHead), dropped(photoshopSeg), kept(cmykRest)}},
		{"RestartMarkers", []part{kept(restartHead), dropped(comSeg), kept(restartRest)}},
		{"NoAPPnAtAll", []part{kept(goJPEG)}},
		{"OnlyOrientation", []part{kept(soi), {b: exifWith(binary.BigEndian, 8, []entry{orientShort(5)}), orient: 5}, kept(goJPEG[2:])}},
		{"NoOrientation", []part{kept(yccHead), dropped(phoneExif(0)), kept(yccRest)}},
		{"OrientationZero", []part{kept(yccHead), dropped(exifWith(binary.BigEndian, 8, []entry{orientShort(0)})), kept(yccRest)}},
		{"OrientationNine", []part{kept(yccHead), dropped(exifWith(binary.BigEndian, 8, []entry{orientShort(9)})), kept(yccRest)}},
		{"OrientationWrongType", []part{kept(yccHead), dropped(exifWith(binary.BigEndian, 8, []entry{
			{tag: 0x0112, typ: 2, count: 2, value: []byte("6\x00")}})), kept(yccRest)}},
		{"IFD0AfterPadding", []part{kept(yccHead), {b: exifWith(le, 40, phoneEntries(le, 7)), orient: 7}, kept(yccRest)}},
		{"IFD0InsideHeader", []part{kept(yccHead), dropped(func() []byte {
			s := exifWith(binary.BigEndian, 8, []entry{orientShort(6)})
			s[4+6+7] = 4 // IFD0 "at" offset 4, inside the TIFF header
			return s
		}()), kept(yccRest)}},
		{"Gray", []part{kept(grayHead), {b: phoneExif(4), orient: 4}, dropped(comSeg), kept(grayRest)}},
		{"ExifAfterXMP", []part{kept(yccHead), dropped(xmpSeg), {b: phoneExif(2), orient: 2}, kept(yccRest)}},
		{"OnlyTheFirstExifIsRead", []part{kept(yccHead), dropped(phoneExif(0)), dropped(phoneExif(6)), kept(yccRest)}},
		{"ExifTooShortForItsIdentifier", []part{kept(yccHead), dropped(segment(0xE1, []byte("Exi"))), kept(yccRest)}},
		{"EmptySegments", []part{kept(yccHead), dropped(segment(0xE1, nil)), dropped(segment(0xE2, nil)), dropped(segment(0xFE, nil)),
			kept(segment(0xE0, nil)), kept(yccRest)}},
		{"APP0ExtensionKept", []part{kept(yccHead), kept(jfxxSeg), kept(yccRest)}},
		{"FillBytes", []part{
			kept(soi), dropped([]byte{0xFF, 0xFF, 0xFF}), dropped(phoneExif(0)[1:]),
			kept([]byte{0xFF, 0xFF}), kept(goJPEG[2:]),
		}},
		{"RestartMarkerBetweenSegments", []part{kept(soi), kept([]byte{0xFF, 0xD3}), dropped(comSeg), kept(goJPEG[2:])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := assemble(JPEG, tt.parts...)
			wantStripped(t, in, want)
			samePixels(t, jpeg.Decode, in, want)
			if got, want := len(want)-len(in), MaxAdded; got > want {
				t.Errorf("the output is %d bytes longer than the input, more than MaxAdded (%d)", got, want)
			}
		})
	}
}

func TestPNG(t *testing.T) {
	le := binary.LittleEndian
	rgb, err := testimage.EncodePNG(40, 30, func(x, y int) [4]uint16 {
		c := smile(x*2, y*2)
		return [4]uint16{uint16(c.R), uint16(c.G), uint16(c.B)}
	}, testimage.PNGOptions{ColorType: 2, Depth: 8, IDATSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	pal, err := testimage.EncodePNG(16, 16, func(x, y int) [4]uint16 { return [4]uint16{uint16((x + y) % 3)} },
		testimage.PNGOptions{ColorType: 3, Depth: 2, Palette: []byte{255, 0, 0, 0, 255, 0, 0, 0, 255}, TRNS: []byte{0, 128}, Interlace: true})
	if err != nil {
		t.Fatal(err)
	}
	astronaut, err := os.ReadFile("../../liveness/testdata/astronaut.png")
	if err != nil {
		t.Fatal(err)
	}
	rgbC, palC, astroC := splitPNG(t, rgb), splitPNG(t, pal), splitPNG(t, astronaut)
	for i, typ := range []string{"IHDR", "iCCP", "pHYs", "tIME", "tEXt", "IDAT"} {
		if got := string(astroC[1+i][4:8]); got != typ {
			t.Fatalf("astronaut.png's chunk %d is %s, want %s", 1+i, got, typ)
		}
	}
	keptAll := func(cs [][]byte) (ps []part) {
		for _, c := range cs {
			ps = append(ps, kept(c))
		}
		return ps
	}
	exifChunk := func(o int) []byte { return chunk("eXIf", tiff(binary.BigEndian, 8, phoneEntries(binary.BigEndian, o))) }
	text := chunk("tEXt", []byte("Comment\x00taken at home"))
	ztxt := chunk("zTXt", []byte("Author\x00\x00x\x9c+I\xcc\xceS\x00\x00"))
	itxt := chunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta/>"))
	tIME := chunk("tIME", []byte{0x07, 0xE8, 5, 1, 10, 0, 0})
	gAMA := chunk("gAMA", binary.BigEndian.AppendUint32(nil, 45455))
	cHRM := chunk("cHRM", make([]byte, 32))
	sRGB := chunk("sRGB", []byte{0})
	iCCP := chunk("iCCP", []byte("ICC profile\x00\x00x\x9c\x03\x00\x00\x00\x00\x01"))
	pHYs := chunk("pHYs", []byte{0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1})
	sBIT := chunk("sBIT", []byte{8, 8, 8})
	bKGD := chunk("bKGD", []byte{2})
	cICP := chunk("cICP", []byte{1, 13, 0, 1})
	private := chunk("prVt", []byte("GPS-Author"))
	acTL := chunk("acTL", []byte{0, 0, 0, 1, 0, 0, 0, 0})

	tests := []struct {
		name  string
		parts []part
	}{
		{"Phone", append(append([]part{
			kept(rgbC[0]), kept(rgbC[1]), kept(gAMA), kept(cHRM), kept(iCCP), kept(pHYs), kept(sBIT), kept(cICP),
			dropped(text), dropped(ztxt), {b: exifChunk(6), orient: 6}, dropped(itxt), dropped(tIME), dropped(private),
		}, keptAll(rgbC[2:len(rgbC)-1])...),
			dropped(text), kept(rgbC[len(rgbC)-1]), dropped([]byte("trailing-device-id")))},
		{"PalettedInterlaced", append([]part{
			kept(palC[0]), kept(palC[1]), dropped(acTL), kept(sRGB), dropped(tIME), kept(palC[2]), kept(palC[3]), kept(bKGD),
		}, keptAll(palC[4:])...)},
		{"Astronaut", append([]part{
			// astronaut.png's own chunks: IHDR, iCCP, pHYs, tIME, tEXt, IDAT…
			kept(astroC[0]), kept(astroC[1]), dropped(itxt), {b: chunk("eXIf", tiff(le, 8, phoneEntries(le, 8))), orient: 8},
			kept(astroC[2]), kept(astroC[3]), dropped(astroC[4]), dropped(astroC[5]),
		}, keptAll(astroC[6:])...)},
		{"NoOrientation", append([]part{kept(rgbC[0]), kept(rgbC[1]), dropped(exifChunk(0))}, keptAll(rgbC[2:])...)},
		{"OnlyTheFirstExifIsRead", append([]part{kept(rgbC[0]), kept(rgbC[1]), dropped(exifChunk(0)), dropped(exifChunk(3))},
			keptAll(rgbC[2:])...)},
		{"ExifNotTIFF", append([]part{kept(rgbC[0]), kept(rgbC[1]), dropped(chunk("eXIf", []byte("Exif\x00\x00MM\x00*")))},
			keptAll(rgbC[2:])...)},
		{"EmptyChunks", append([]part{kept(rgbC[0]), kept(rgbC[1]), dropped(chunk("tEXt", nil)), dropped(chunk("eXIf", nil))},
			keptAll(rgbC[2:])...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := assemble(PNG, tt.parts...)
			wantStripped(t, in, want)
			samePixels(t, png.Decode, in, want)
			if got, want := len(want)-len(in), MaxAdded; got > want {
				t.Errorf("the output is %d bytes longer than the input, more than MaxAdded (%d)", got, want)
			}
		})
	}
}

// TestOrientationBlocks checks the synthesized segment and chunk byte by
// byte against the EXIF and PNG specifications.
func TestOrientationBlocks(t *testing.T) {
	for o := 1; o <= 8; o++ {
		tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
		seg := JPEGOrientationSegment(o)
		want := append([]byte{0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0}, tiff...)
		if !bytes.Equal(seg, want) {
			t.Errorf("JPEGOrientationSegment(%d) = % x, want % x", o, seg, want)
		}
		c := PNGOrientationChunk(o)
		want = append([]byte{0, 0, 0, 26, 'e', 'X', 'I', 'f'}, tiff...)
		want = binary.BigEndian.AppendUint32(want, crc32.ChecksumIEEE(want[4:]))
		if !bytes.Equal(c, want) {
			t.Errorf("PNGOrientationChunk(%d) = % x, want % x", o, c, want)
		}
		if len(c) != MaxAdded || len(seg) > MaxAdded {
			t.Errorf("orientation blocks of %d and %d bytes; MaxAdded is %d", len(seg), len(c), MaxAdded)
		}
	}
}

// TestTruncated cuts images at every byte: every cut strips without error
// (after the signature) to a prefix of what the whole image strips to. So
// what was read of a cut EXIF block still gives its orientation, and an
// incomplete header at the end is dropped.
func TestTruncated(t *testing.T) {
	goJPEG := testimage.JPEG(16, 16, 1)
	jpegIn, _ := assemble(JPEG, kept(goJPEG[:2]), part{b: phoneExif(6), orient: 6}, dropped(comSeg),
		kept(iccSeg), kept(goJPEG[2:]))
	pngC := splitPNG(t, testimage.PNG(8, 8, 1))
	pngIn, _ := assemble(PNG, kept(pngC[0]), kept(pngC[1]),
		part{b: chunk("eXIf", tiff(binary.BigEndian, 8, phoneEntries(binary.BigEndian, 6))), orient: 6},
		dropped(chunk("tEXt", []byte("a\x00b"))), kept(pngC[2]), kept(pngC[3]))
	for _, tc := range []struct {
		name   string
		in     []byte
		sigLen int
	}{{"JPEG", jpegIn, 2}, {"PNG", pngIn, 8}} {
		t.Run(tc.name, func(t *testing.T) {
			whole, err := strip(tc.in, 0)
			if err != nil {
				t.Fatal(err)
			}
			for k := range len(tc.in) {
				got, err := strip(tc.in[:k], 0)
				if k < tc.sigLen {
					var e *Error
					if !errors.As(err, &e) || e.Offset != int64(k) {
						t.Errorf("cut at %d, inside the signature: got error %v, want an *Error at byte %d", k, err, k)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut at %d: %v", k, err)
				}
				if !bytes.HasPrefix(whole, got) {
					t.Fatalf("cut at %d: the output (%d bytes) is not a prefix of the whole image's; first difference at %d",
						k, len(got), firstDiff(got, whole))
				}
				one, _ := strip(tc.in[:k], 1)
				if !bytes.Equal(one, got) {
					t.Fatalf("cut at %d: byte by byte, the output differs from the output in one write", k)
				}
			}
		})
	}
	// Cut right after the orientation entry: the segment is synthesized.
	exif := phoneExif(6)
	cut := bytes.Index(exif, []byte{0x01, 0x12, 0x00, 0x03}) + 12
	got, err := strip(append([]byte{0xFF, 0xD8}, exif[:cut]...), 0)
	if want := append([]byte{0xFF, 0xD8}, JPEGOrientationSegment(6)...); err != nil || !bytes.Equal(got, want) {
		t.Errorf("cut after the orientation entry: got % x, %v; want % x", got, err, want)
	}
}

func TestErrors(t *testing.T) {
	goJPEG := testimage.JPEG(16, 16, 1)
	head := append([]byte{0xFF, 0xD8}, segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))...)
	shortLength := append(segment(0xE1, []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08")), goJPEG[2:]...)
	binary.BigEndian.PutUint16(shortLength[2:], 8) // 10 bytes short: the next "segment" begins inside the body
	pngSig := []byte("\x89PNG\r\n\x1a\n")
	tests := []struct {
		name   string
		in     []byte
		format string
		offset int64
		reason string
	}{
		{"ErrEmpty", nil, "", 0, "ends before its signature"},
		{"ErrNotAnImage", []byte("GIF89a...."), "", 0, "neither a JPEG nor a PNG"},
		{"ErrJPEGSignature", []byte{0xFF, 0xD9, 0xFF, 0xE0}, JPEG, 1, "neither a JPEG nor a PNG"},
		{"ErrPNGSignature", []byte("\x89PNG\r\n\x1a\x00...."), PNG, 7, "neither a JPEG nor a PNG"},
		{"ErrJPEGCutInSignature", []byte{0xFF}, JPEG, 1, "ends before its signature"},
		{"ErrPNGCutInSignature", pngSig[:5], PNG, 5, "ends before its signature"},
		{"ErrJunkBetweenSegments", append(append(bytes.Clone(head), 0x00, 0x17), goJPEG[2:]...), JPEG, int64(len(head)), "other than 0xFF"},
		{"ErrJunkAfterSOI", []byte{0xFF, 0xD8, 'x', 0xFF, 0xD9}, JPEG, 2, "other than 0xFF"},
		{"ErrLengthTooShort", append([]byte{0xFF, 0xD8}, shortLength...), JPEG, 12, "other than 0xFF"},
		{"ErrStuffedByteBetweenSegments", append(append(bytes.Clone(head), 0xFF, 0x00), goJPEG[2:]...), JPEG, int64(len(head)), "0xFF 0x00"},
		{"ErrLengthBelowTwo", append(bytes.Clone(head), 0xFF, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9), JPEG, int64(len(head)) + 3, "length 1"},
		{"ErrLengthZero", append(bytes.Clone(head), 0xFF, 0xDB, 0x00, 0x00), JPEG, int64(len(head)) + 2, "segment 0xDB with length 0"},
		{"ErrPNGChunkLength", append(bytes.Clone(pngSig), 0x80, 0, 0, 0, 'I', 'D', 'A', 'T'), PNG, 8, "chunk length 2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 3} {
				_, err := strip(tt.in, n)
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("writes of %d: got error %v, want an *Error", n, err)
				}
				if e.Format != tt.format || e.Offset != tt.offset || !strings.Contains(e.Reason, tt.reason) {
					t.Errorf("writes of %d: got %q (format %q, offset %d), want format %q, offset %d, a reason with %q",
						n, e, e.Format, e.Offset, tt.format, tt.offset, tt.reason)
				}
				if !strings.HasPrefix(e.Error(), "metastrip: ") {
					t.Errorf("error %q does not name its origin", e)
				}
			}
		})
	}
	t.Run("ErrSticky", func(t *testing.T) {
		w := NewWriter(io.Discard)
		_, err1 := w.Write([]byte("GIF"))
		n, err2 := w.Write(goJPEG)
		if err1 == nil || err2 != err1 || n != 0 {
			t.Errorf("after an error: Write = %d, %v; want 0 and the first error %v", n, err2, err1)
		}
		if err := w.Close(); err != err1 {
			t.Errorf("Close = %v, want the first error %v", err, err1)
		}
	})
	t.Run("ErrWriteAfterClose", func(t *testing.T) {
		w := NewWriter(io.Discard)
		w.Write(goJPEG)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(goJPEG); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close: got %v, want ErrClosed", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: got %v, want nil", err)
		}
	})
}

// failWriter accepts ok bytes, then fails.
type failWriter struct {
	ok  int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.ok {
		n := f.ok
		f.ok = 0
		return n, f.err
	}
	f.ok -= len(p)
	return len(p), nil
}

// TestDestinationError checks that a failing destination's error comes
// back unchanged, from Write or from Close, and stays.
func TestDestinationError(t *testing.T) {
	img := testimage.JPEG(256, 256, 3) // about 60 KB: more than the buffer
	errDisk := errors.New("disk full")
	for _, ok := range []int{0, 100, 10000} {
		w := NewWriter(&failWriter{ok: ok, err: errDisk})
		var err error
		for i := 0; i < len(img) && err == nil; i += 1000 {
			_, err = w.Write(img[i:min(i+1000, len(img))])
		}
		if err == nil {
			err = w.Close()
		}
		if err != errDisk {
			t.Errorf("destination failing after %d bytes: got %v, want %v", ok, err, errDisk)
		}
		if _, err := w.Write(img[:10]); err != errDisk {
			t.Errorf("destination failing after %d bytes: a later Write got %v, want %v", ok, err, errDisk)
		}
	}
	// The error of the last flush comes from Close.
	w := NewWriter(&failWriter{ok: 0, err: errDisk})
	if _, err := w.Write(testimage.JPEG(8, 8, 1)); err != nil {
		t.Fatalf("a small image is buffered whole, yet Write failed: %v", err)
	}
	if err := w.Close(); err != errDisk {
		t.Errorf("Close = %v, want %v", err, errDisk)
	}
}

// TestBoundedMemory checks that a Writer allocates the same few objects
// however large the image: it never holds the image.
func TestBoundedMemory(t *testing.T) {
	small := testimage.JPEG(32, 32, 1)
	large := testimage.NoiseJPEG4MB()
	allocs := func(img []byte) float64 {
		return testing.AllocsPerRun(3, func() {
			w := NewWriter(io.Discard)
			for i := 0; i < len(img); i += 64 << 10 {
				w.Write(img[i:min(i+64<<10, len(img))])
			}
			w.Close()
		})
	}
	a, b := allocs(small), allocs(large)
	if b > a || b > 4 {
		t.Errorf("allocations: %v for a %d-byte image, %v for a %d-byte one; want at most 4, whatever the size", a, len(small), b, len(large))
	}
}

// BenchmarkWriter measures the filter, in the 64 KiB writes the upload
// parser makes, on a 4 MB noise JPEG (entropy-coded data almost whole, as
// in a photo), the astronaut PNG (8 KiB IDAT chunks), and the worst case:
// 4 MB of the smallest segments, each kept (DRI) or dropped (COM).
func BenchmarkWriter(b *testing.B) {
	astronaut, err := os.ReadFile("../../liveness/testdata/astronaut.png")
	if err != nil {
		b.Fatal(err)
	}
	tiny := func(seg []byte) []byte {
		img := []byte{0xFF, 0xD8}
		for len(img) < 4<<20 {
			img = append(img, seg...)
		}
		return append(img, 0xFF, 0xD9)
	}
	for _, bc := range []struct {
		name string
		img  []byte
	}{
		{"JPEG-4MB", testimage.NoiseJPEG4MB()},
		{"PNG-astronaut", astronaut},
		{"JPEG-tiny-kept", tiny([]byte{0xFF, 0xDD, 0x00, 0x04, 0x00, 0x00})},
		{"JPEG-tiny-dropped", tiny([]byte{0xFF, 0xFE, 0x00, 0x02})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.img)))
			b.ReportAllocs()
			for b.Loop() {
				w := NewWriter(io.Discard)
				for i := 0; i < len(bc.img); i += 64 << 10 {
					if _, err := w.Write(bc.img[i:min(i+64<<10, len(bc.img))]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
