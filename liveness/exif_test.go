package liveness

import (
	"bytes"
	"encoding/binary"
	"image"
	"testing"
)

// jpegWith returns SOI, the given segments, then a minimal SOS and EOI:
// enough for exifOrientation, which stops at SOS.
func jpegWith(segs ...[]byte) []byte {
	b := []byte{0xFF, 0xD8}
	for _, s := range segs {
		b = append(b, s...)
	}
	return append(b, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0xD9)
}

func exifBody(tiff []byte) []byte { return append([]byte("Exif\x00\x00"), tiff...) }

// segWithLength is an APP1 segment whose length field says n, whatever its
// body's real length.
func segWithLength(n uint16, body []byte) []byte {
	s := []byte{0xFF, 0xE1}
	s = binary.BigEndian.AppendUint16(s, n)
	return append(s, body...)
}

func TestExifOrientation(t *testing.T) {
	good := func(o uint32) []byte { return jpegWith(exifApp1(o)) }
	ii := func(typ uint16, v uint32) []byte {
		return jpegWith(app1(exifBody(tiffOrientationIFD(false, typ, v))))
	}
	body := exifBody(tiffOrientationIFD(true, tiffShort, 6))
	// A TIFF whose IFD0 claims 5000 entries but holds one.
	manyEntries := tiffOrientationIFD(true, tiffShort, 3)
	binary.BigEndian.PutUint16(manyEntries[8:], 5000)
	// A TIFF whose IFD0 offset points at itself, then past the end.
	selfIFD := tiffOrientationIFD(true, tiffShort, 3)
	binary.BigEndian.PutUint32(selfIFD[4:], 0)
	farIFD := tiffOrientationIFD(true, tiffShort, 3)
	binary.BigEndian.PutUint32(farIFD[4:], 0xFFFFFFF0)
	// The next-IFD link pointing back at IFD0 (a loop, never followed).
	loopIFD := tiffOrientationIFD(true, tiffShort, 8)
	binary.BigEndian.PutUint32(loopIFD[len(loopIFD)-4:], 8)
	xmp := app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	app0 := append([]byte{0xFF, 0xE0, 0x00, 0x10}, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")...)

	tests := []struct {
		name  string
		data  []byte
		want  int
		found bool
	}{
		{"Empty", nil, 1, false},
		{"NotJPEG", []byte("\x89PNG\r\n\x1a\n...."), 1, false},
		{"NoExif", jpegWith(app0), 1, false},
		{"Orientation1", good(1), 1, true},
		{"Orientation3", good(3), 3, true},
		{"Orientation6", good(6), 6, true},
		{"Orientation8", good(8), 8, true},
		{"AllValues/2", good(2), 2, true},
		{"AllValues/4", good(4), 4, true},
		{"AllValues/5", good(5), 5, true},
		{"AllValues/7", good(7), 7, true},
		{"LittleEndian", ii(tiffShort, 6), 6, true},
		{"LongType", ii(tiffLong, 8), 8, true},
		{"WrongType", ii(2, 6), 1, true}, // ASCII: invalid value
		{"Zero", good(0), 1, true},
		{"Nine", good(9), 1, true},
		{"Huge", good(0xFFFF), 1, true},
		{"LongHuge", ii(tiffLong, 0x10006), 1, true},
		{"AfterJFIFAndXMP", jpegWith(app0, xmp, exifApp1(6)), 6, true},
		{"FillBytes", append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, good(6)[2:]...), 6, true},
		{"AfterSOS", append(jpegWith(app0)[:len(jpegWith(app0))-2], exifApp1(6)...), 1, false},
		{"LengthTooLong", jpegWith(segWithLength(0xFFFF, body)), 6, true},              // clipped to the file: still read
		{"LengthTooShort", jpegWith(segWithLength(12, body)), 1, false},                // TIFF cut before IFD0
		{"LengthBelowTwo", jpegWith(segWithLength(1, body)), 1, false},                 // impossible length
		{"LengthZeroThenExif", jpegWith(segWithLength(0, nil), exifApp1(6)), 1, false}, // stops at the broken segment
		{"TruncatedInLength", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00}, 1, false},
		{"TruncatedInTIFF", jpegWith(exifApp1(6))[:20], 1, false},
		{"EntryCountLies", jpegWith(app1(exifBody(manyEntries))), 3, true},
		{"IFDOffsetZero", jpegWith(app1(exifBody(selfIFD))), 1, false},
		{"IFDOffsetOutside", jpegWith(app1(exifBody(farIFD))), 1, false},
		{"NextIFDLoop", jpegWith(app1(exifBody(loopIFD))), 8, true},
		{"BadByteOrder", jpegWith(app1(exifBody(append([]byte("XX\x00*"), make([]byte, 20)...)))), 1, false},
		{"ExifTooShort", jpegWith(app1([]byte("Exif\x00\x00II*"))), 1, false},
		{"NoMarker", []byte{0xFF, 0xD8, 0x00, 0x01, 0x02}, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := exifOrientation(tc.data)
			if got != tc.want || found != tc.found {
				t.Errorf("exifOrientation = %d, %v; want %d, %v", got, found, tc.want, tc.found)
			}
		})
	}
}

// FuzzOrientation checks that exifOrientation never panics and always
// returns an orientation in 1-8 (1 when nothing was found), whatever the
// bytes, and that it agrees with itself on a copy (no hidden state).
func FuzzOrientation(f *testing.F) {
	for o := range uint32(10) {
		f.Add(jpegWith(exifApp1(o)))
	}
	f.Add(jpegWith(app1(exifBody(tiffOrientationIFD(false, tiffLong, 6)))))
	f.Add(jpegWith(segWithLength(0xFFFF, exifBody(tiffOrientationIFD(true, tiffShort, 6)))))
	f.Add(jpegWith(segWithLength(9, exifBody(tiffOrientationIFD(true, tiffShort, 6)))))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Add([]byte{0xFF, 0xD8})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, found := exifOrientation(b)
		if o < 1 || o > 8 {
			t.Fatalf("orientation %d out of 1-8", o)
		}
		if !found && o != 1 {
			t.Fatalf("orientation %d without a tag", o)
		}
		o2, found2 := exifOrientation(bytes.Clone(b))
		if o2 != o || found2 != found {
			t.Fatalf("not deterministic: %d,%v then %d,%v", o, found, o2, found2)
		}
	})
}

// TestOrient checks each EXIF orientation on a 3×2 image whose pixels are
// numbered 1-6 row by row, against the upright layout the EXIF
// specification gives (read as rows, top to bottom).
func TestOrient(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		src.Pix[4*i] = uint8(i + 1)
	}
	tests := []struct {
		o    int
		w, h int
		want []uint8
	}{
		{1, 3, 2, []uint8{1, 2, 3, 4, 5, 6}},
		{2, 3, 2, []uint8{3, 2, 1, 6, 5, 4}},
		{3, 3, 2, []uint8{6, 5, 4, 3, 2, 1}},
		{4, 3, 2, []uint8{4, 5, 6, 1, 2, 3}},
		{5, 2, 3, []uint8{1, 4, 2, 5, 3, 6}},
		{6, 2, 3, []uint8{4, 1, 5, 2, 6, 3}},
		{7, 2, 3, []uint8{6, 3, 5, 2, 4, 1}},
		{8, 2, 3, []uint8{3, 6, 2, 5, 1, 4}},
		{0, 3, 2, []uint8{1, 2, 3, 4, 5, 6}}, // invalid: unchanged
		{9, 3, 2, []uint8{1, 2, 3, 4, 5, 6}},
	}
	for _, tc := range tests {
		m := orient(src, tc.o)
		if m.Rect.Dx() != tc.w || m.Rect.Dy() != tc.h {
			t.Errorf("orientation %d: size %v, want %dx%d", tc.o, m.Rect.Size(), tc.w, tc.h)
			continue
		}
		var got []uint8
		for i := 0; i < len(m.Pix); i += 4 {
			got = append(got, m.Pix[i])
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("orientation %d: %v, want %v", tc.o, got, tc.want)
		}
		if back := storedFor(m, tc.o); tc.o >= 1 && tc.o <= 8 && !bytes.Equal(back.Pix, src.Pix) {
			t.Errorf("orientation %d: storedFor does not invert orient", tc.o)
		}
	}
}
