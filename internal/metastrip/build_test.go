package metastrip

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image/color"
	"testing"

	"github.com/facevault/facevault/internal/testimage"
)

// part is a piece of a test image and what the Writer must do with it.
type part struct {
	b    []byte
	keep bool
	// orient, if not 0, is the orientation segment or chunk the Writer
	// must put in the part's place.
	orient int
}

func kept(b []byte) part    { return part{b: b, keep: true} }
func dropped(b []byte) part { return part{b: b} }

// assemble returns the image the parts make and the output the Writer must
// give for it.
func assemble(format string, parts ...part) (in, want []byte) {
	for _, p := range parts {
		in = append(in, p.b...)
		switch {
		case p.keep:
			want = append(want, p.b...)
		case p.orient != 0 && format == JPEG:
			want = append(want, JPEGOrientationSegment(p.orient)...)
		case p.orient != 0:
			want = append(want, PNGOrientationChunk(p.orient)...)
		}
	}
	return in, want
}

// segment returns a JPEG segment: 0xFF, the marker, the length, the body.
func segment(marker byte, body []byte) []byte {
	s := []byte{0xFF, marker}
	s = binary.BigEndian.AppendUint16(s, uint16(len(body)+2))
	return append(s, body...)
}

// chunk returns a PNG chunk with a correct CRC.
func chunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// order is a byte order of a TIFF structure.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// entry is a TIFF IFD entry. A value longer than 4 bytes is laid out
// after the IFD; sub, if set, makes the entry a LONG pointer to that IFD.
type entry struct {
	tag, typ uint16
	count    uint32
	value    []byte
	sub      []entry
}

// ifdSize is the bytes an IFD and everything it points to take.
func ifdSize(es []entry) int {
	n := 2 + 12*len(es) + 4
	for _, e := range es {
		if e.sub != nil {
			n += ifdSize(e.sub)
		} else if len(e.value) > 4 {
			n += len(e.value) + len(e.value)%2
		}
	}
	return n
}

// appendIFD lays out an IFD at offset len(t) of the TIFF structure t, and
// what it points to right after it.
func appendIFD(t []byte, bo order, es []entry) []byte {
	at := len(t)
	data := at + 2 + 12*len(es) + 4 // where the next out-of-line value goes
	var after []entry
	t = bo.AppendUint16(t, uint16(len(es)))
	for _, e := range es {
		t = bo.AppendUint16(t, e.tag)
		switch {
		case e.sub != nil:
			t = bo.AppendUint16(t, 4) // LONG
			t = bo.AppendUint32(t, 1)
			t = bo.AppendUint32(t, uint32(data))
			data += ifdSize(e.sub)
			after = append(after, e)
		case len(e.value) > 4:
			t = bo.AppendUint16(t, e.typ)
			t = bo.AppendUint32(t, e.count)
			t = bo.AppendUint32(t, uint32(data))
			data += len(e.value) + len(e.value)%2
			after = append(after, e)
		default:
			t = bo.AppendUint16(t, e.typ)
			t = bo.AppendUint32(t, e.count)
			var v [4]byte
			copy(v[:], e.value)
			t = append(t, v[:]...)
		}
	}
	t = bo.AppendUint32(t, 0) // no next IFD
	for _, e := range after {
		if e.sub != nil {
			t = appendIFD(t, bo, e.sub)
		} else {
			t = append(t, e.value...)
			if len(e.value)%2 == 1 {
				t = append(t, 0)
			}
		}
	}
	return t
}

// tiff returns a TIFF structure in byte order bo whose IFD0, at offset
// ifd0 (at least 8), holds es.
func tiff(bo order, ifd0 int, es []entry) []byte {
	t := []byte("MM\x00*")
	if bo == binary.LittleEndian {
		t = []byte("II*\x00")
	}
	t = bo.AppendUint32(t, uint32(ifd0))
	t = append(t, make([]byte, ifd0-8)...)
	return appendIFD(t, bo, es)
}

func short(bo order, v uint16) []byte { return bo.AppendUint16(nil, v) }

func rationals(bo order, v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = bo.AppendUint32(b, x)
	}
	return b
}

// Identifying metadata the test images carry: the Writer must leave none
// of it in its output.
var secrets = [][]byte{
	[]byte("FaceCam Model X"), []byte("SERIAL-0042-MAKERNOTE"), []byte("x:xmpmeta"),
	[]byte("Photoshop 3.0"), []byte("taken at home"), []byte("MPF\x00"), []byte("GPS-Author"),
	[]byte("trailing-device-id"), []byte("2024:05:01 10:00:00"),
}

// phoneEntries are the IFD0 entries of a phone photo's EXIF: make and
// model, orientation o (none if 0), the date, an EXIF IFD with a maker
// note, and a GPS IFD with a latitude and longitude.
func phoneEntries(bo order, o int) []entry {
	ascii := func(tag uint16, s string) entry {
		return entry{tag: tag, typ: 2, count: uint32(len(s) + 1), value: append([]byte(s), 0)}
	}
	es := []entry{ascii(0x010F, "FaceCam"), ascii(0x0110, "FaceCam Model X")}
	if o != 0 {
		es = append(es, entry{tag: 0x0112, typ: 3, count: 1, value: short(bo, uint16(o))})
	}
	return append(es,
		ascii(0x0132, "2024:05:01 10:00:00"),
		entry{tag: 0x8769, sub: []entry{
			{tag: 0x927C, typ: 7, count: 21, value: []byte("SERIAL-0042-MAKERNOTE")},
		}},
		entry{tag: 0x8825, sub: []entry{
			{tag: 0x0001, typ: 2, count: 2, value: []byte("N\x00")},
			{tag: 0x0002, typ: 5, count: 3, value: rationals(bo, 51, 1, 30, 1, 2628, 100)},
			{tag: 0x0003, typ: 2, count: 2, value: []byte("W\x00")},
			{tag: 0x0004, typ: 5, count: 3, value: rationals(bo, 0, 1, 7, 1, 4000, 100)},
			ascii(0x001B, "GPS-Author"),
		}},
	)
}

// phoneExif is the APP1 EXIF segment of a phone photo with orientation o.
func phoneExif(o int) []byte {
	return segment(0xE1, append([]byte("Exif\x00\x00"), tiff(binary.BigEndian, 8, phoneEntries(binary.BigEndian, o))...))
}

var (
	xmpSeg       = segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><exif:GPSLatitude>51,30.4N</exif:GPSLatitude></x:xmpmeta>"))
	extXMPSeg    = segment(0xE1, []byte("http://ns.adobe.com/xmp/extension/\x00<x:xmpmeta/>"))
	iccSeg       = segment(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), bytes.Repeat([]byte("icc-profile-bytes "), 20)...))
	mpfSeg       = segment(0xE2, []byte("MPF\x00II*\x00\x08\x00\x00\x00"))
	photoshopSeg = segment(0xED, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10\x1c\x02\x78\x00\x0ctaken at home"))
	comSeg       = segment(0xFE, []byte("taken at home"))
	app15Seg     = segment(0xEF, []byte("GPS-Author"))
	jfxxSeg      = segment(0xE0, []byte("JFXX\x00\x13")) // an extension APP0, kept like every APP0
)

// smile is a test picture with edges and gradients, so that a decoder that
// went wrong would show it.
func smile(x, y int) color.RGBA {
	dx, dy := x-40, y-30
	switch {
	case dx*dx+dy*dy < 400 && dy > 5:
		return color.RGBA{200, 30, 40, 255}
	case (dx+10)*(dx+10)+(dy+8)*(dy+8) < 16, (dx-10)*(dx-10)+(dy+8)*(dy+8) < 16:
		return color.RGBA{10, 10, 10, 255}
	}
	return color.RGBA{uint8(3 * x), uint8(4 * y), uint8(x + y), 255}
}

// encodeJPEG writes the smile picture with the test encoder.
func encodeJPEG(tb testing.TB, o testimage.JPEGOptions) []byte {
	tb.Helper()
	b, err := testimage.EncodeJPEG(80, 60, smile, o)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// splitJPEG cuts a JPEG after the segments that come before its frame
// (SOI and any APPn): head, then the rest.
func splitJPEG(tb testing.TB, b []byte) (head, rest []byte) {
	tb.Helper()
	i := 2
	for i+4 <= len(b) && b[i] == 0xFF && b[i+1] >= 0xE0 && b[i+1] <= 0xEF {
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return b[:i], b[i:]
}

// splitPNG cuts a PNG into its signature and chunks.
func splitPNG(tb testing.TB, b []byte) (chunks [][]byte) {
	tb.Helper()
	chunks = append(chunks, b[:8])
	for i := 8; i < len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		chunks = append(chunks, b[i:i+12+n])
		i += 12 + n
	}
	return chunks
}
