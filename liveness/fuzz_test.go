package liveness

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// segments walks the segments of a JPEG header the way the format lays
// them out: after SOI, markers (fill bytes skipped), standalone markers
// without a length, and segments with a 16-bit length, up to the first SOS
// or EOI. keep decides, for each segment with a length, whether it is
// copied to the result; everything from SOS, EOI or the first byte that
// breaks the layout on is copied as it is. rest is the offset where that
// tail starts (len(b) if the header ran out).
func segments(b []byte, keep func(marker byte, body []byte) bool) (out []byte, rest int) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return bytes.Clone(b), 0
	}
	out = []byte{0xFF, 0xD8}
	i := 2
	for i+1 < len(b) {
		if b[i] != 0xFF {
			break
		}
		m := b[i+1]
		if m == 0xFF {
			out = append(out, 0xFF)
			i++
			continue
		}
		if m == 0x01 || m == 0xD8 || 0xD0 <= m && m <= 0xD7 {
			out = append(out, b[i:i+2]...)
			i += 2
			continue
		}
		if m == 0xDA || m == 0xD9 || i+4 > len(b) {
			break
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 {
			break
		}
		end := min(i+2+n, len(b))
		if keep(m, b[i+4:end]) {
			out = append(out, b[i:end]...)
		}
		i = end
	}
	return append(out, b[i:]...), i
}

// FuzzOrientationSegments checks exifOrientation on any bytes through
// transformations whose effect is known: the result is an orientation in
// 1-8 (1 when no tag was found); with every APP1 segment stripped it is 1,
// not found, and so with only the Exif ones stripped; a comment segment
// inserted after SOI changes nothing; nor do the bytes after the first SOS
// or EOI (the scan, where EXIF cannot be).
func FuzzOrientationSegments(f *testing.F) {
	for o := range uint32(10) {
		f.Add(jpegWith(exifApp1(o)))
	}
	xmp := app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	app0 := append([]byte{0xFF, 0xE0, 0x00, 0x10}, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")...)
	f.Add(jpegWith(app0, xmp, exifApp1(6)))
	f.Add(jpegWith(xmp, app1(exifBody(tiffOrientationIFD(false, tiffLong, 8)))))
	f.Add(append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xD0}, exifApp1(3)...))
	f.Add(jpegWith(segWithLength(0xFFFF, exifBody(tiffOrientationIFD(true, tiffShort, 6)))))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01})
	f.Add([]byte{0xFF, 0xD8})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, found := exifOrientation(b)
		if o < 1 || o > 8 || !found && o != 1 {
			t.Fatalf("exifOrientation = %d, %v", o, found)
		}
		noAPP1, _ := segments(b, func(m byte, _ []byte) bool { return m != 0xE1 })
		if o, found := exifOrientation(noAPP1); o != 1 || found {
			t.Fatalf("every APP1 stripped: exifOrientation(%x) = %d, %v; want 1, false", noAPP1, o, found)
		}
		stripped, rest := segments(b, func(m byte, body []byte) bool {
			return m != 0xE1 || !bytes.HasPrefix(body, []byte("Exif\x00\x00"))
		})
		if o, found := exifOrientation(stripped); o != 1 || found {
			t.Fatalf("Exif APP1 stripped: exifOrientation(%x) = %d, %v; want 1, false", stripped, o, found)
		}
		if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
			return
		}
		com := append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!'}, b[2:]...)
		if o2, found2 := exifOrientation(com); o2 != o || found2 != found {
			t.Fatalf("comment inserted: %d, %v; before %d, %v", o2, found2, o, found)
		}
		if rest+2 <= len(b) && b[rest] == 0xFF && (b[rest+1] == 0xDA || b[rest+1] == 0xD9) {
			scan := append(bytes.Clone(b[:rest+2]), exifApp1(6)...)
			if o2, found2 := exifOrientation(scan); o2 != o || found2 != found {
				t.Fatalf("scan replaced by an Exif segment: %d, %v; before %d, %v", o2, found2, o, found)
			}
		}
	})
}

// FuzzOrientationEXIF builds well-formed EXIF segments around an
// orientation entry of the fuzzer's type, count and value, placed among up
// to 15 other IFD0 entries (any bytes, tag 0x0112 excepted), in either
// byte order, behind other segments, and checks the value read against the
// TIFF and EXIF specifications: a SHORT or LONG with a count of at least
// one of 1-8 is that orientation; any other type, count or value is found
// but means 1.
func FuzzOrientationEXIF(f *testing.F) {
	f.Add(true, uint16(tiffShort), uint32(1), uint32(6), []byte{}, uint8(0), uint8(0))
	f.Add(false, uint16(tiffLong), uint32(1), uint32(8), make([]byte, 36), uint8(2), uint8(1))
	f.Add(true, uint16(tiffShort), uint32(0), uint32(3), make([]byte, 12), uint8(1), uint8(2))
	f.Add(false, uint16(2), uint32(1), uint32(5), []byte("0123456789ab"), uint8(0), uint8(3))
	f.Add(true, uint16(tiffLong), uint32(1), uint32(0x10003), []byte{}, uint8(0), uint8(1))
	f.Add(false, uint16(tiffShort), uint32(2), uint32(7), bytes.Repeat([]byte{0x01, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0}, 15), uint8(15), uint8(3))
	f.Fuzz(func(t *testing.T, bigEndian bool, typ uint16, count, value uint32, others []byte, at, before uint8) {
		var bo binary.AppendByteOrder = binary.LittleEndian
		var rd binary.ByteOrder = binary.LittleEndian
		tiff := []byte("II*\x00")
		if bigEndian {
			bo, rd, tiff = binary.BigEndian, binary.BigEndian, []byte("MM\x00*")
		}
		var entries [][]byte
		for k := 0; k+12 <= len(others) && len(entries) < 15; k += 12 {
			e := bytes.Clone(others[k : k+12])
			if rd.Uint16(e) == tagOrientation {
				e[0] ^= 0x80
			}
			entries = append(entries, e)
		}
		orient := bo.AppendUint16(nil, tagOrientation)
		orient = bo.AppendUint16(orient, typ)
		orient = bo.AppendUint32(orient, count)
		if typ == tiffShort {
			orient = append(bo.AppendUint16(orient, uint16(value)), 0, 0)
		} else {
			orient = bo.AppendUint32(orient, value)
		}
		pos := int(at) % (len(entries) + 1)
		entries = append(entries[:pos], append([][]byte{orient}, entries[pos:]...)...)
		tiff = bo.AppendUint32(tiff, 8)
		tiff = bo.AppendUint16(tiff, uint16(len(entries)))
		for _, e := range entries {
			tiff = append(tiff, e...)
		}
		tiff = bo.AppendUint32(tiff, 0)

		var segs [][]byte
		if before&1 != 0 {
			segs = append(segs, []byte{0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0})
		}
		if before&2 != 0 {
			segs = append(segs, app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")))
		}
		segs = append(segs, app1(exifBody(tiff)))
		b := jpegWith(segs...)

		want := 1
		var v uint32
		switch {
		case typ == tiffShort && count >= 1:
			v = value & 0xFFFF
		case typ == tiffLong && count >= 1:
			v = value
		}
		if 1 <= v && v <= 8 {
			want = int(v)
		}
		if o, found := exifOrientation(b); o != want || !found {
			t.Fatalf("type %d count %d value %d among %d entries: exifOrientation = %d, %v; want %d, true", typ, count, value, len(entries), o, found, want)
		}
	})
}
