package liveness

import "encoding/binary"

// EXIF orientation values (TIFF tag 0x0112): how the stored pixels must be
// turned to be seen upright.
const (
	orientNormal     = 1 // as stored
	orientFlipH      = 2 // mirrored left-right
	orientRotate180  = 3
	orientFlipV      = 4 // mirrored top-bottom
	orientTranspose  = 5 // mirrored along the top-left to bottom-right diagonal
	orientRotate90   = 6 // turn 90° clockwise to view
	orientTransverse = 7 // mirrored along the other diagonal
	orientRotate270  = 8 // turn 90° counter-clockwise to view
)

const (
	tagOrientation = 0x0112
	tiffShort      = 3
	tiffLong       = 4
	jpegMarkerSOS  = 0xDA
	jpegMarkerEOI  = 0xD9
	jpegMarkerAPP1 = 0xE1
)

// exifOrientation reads the EXIF orientation of a JPEG file: the value of
// tag 0x0112 in IFD0 of the first APP1 "Exif\0\0" segment before the scan
// data. found reports whether such a tag exists; a tag whose value is not
// 1-8 (or not a SHORT or LONG) counts as found with orientation 1. Without
// a tag, it returns 1, false.
//
// It trusts no length or offset in the file: segment lengths are clipped to
// the bytes present, TIFF offsets outside the APP1 segment are ignored, the
// IFD entry count is clipped to the entries that fit, and no IFD link is
// followed, so it cannot loop. Its work is linear in len(b).
func exifOrientation(b []byte) (orientation int, found bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1, false
	}
	i := 2
	for i+1 < len(b) {
		if b[i] != 0xFF {
			return 1, false // not at a marker: the header is broken
		}
		marker := b[i+1]
		i += 2
		switch {
		case marker == 0xFF:
			i-- // fill byte: the next 0xFF starts the marker
			continue
		case marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7):
			continue // markers without a length
		case marker == jpegMarkerSOS || marker == jpegMarkerEOI:
			return 1, false // EXIF comes before the scan
		}
		if i+2 > len(b) {
			return 1, false
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 {
			return 1, false
		}
		end := min(i+n, len(b))
		seg := b[i+2 : end]
		i = end
		if marker != jpegMarkerAPP1 || len(seg) < 6 || string(seg[:6]) != "Exif\x00\x00" {
			continue
		}
		return tiffOrientation(seg[6:])
	}
	return 1, false
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure (the body
// of an EXIF segment).
func tiffOrientation(t []byte) (orientation int, found bool) {
	if len(t) < 8 {
		return 1, false
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1, false
	}
	off := uint64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > uint64(len(t)) {
		return 1, false
	}
	count := uint64(bo.Uint16(t[off:]))
	entries := t[off+2:]
	count = min(count, uint64(len(entries)/12))
	for k := range count {
		e := entries[12*k : 12*k+12]
		if bo.Uint16(e) != tagOrientation {
			continue
		}
		typ, n := bo.Uint16(e[2:]), bo.Uint32(e[4:])
		var v uint32
		switch {
		case typ == tiffShort && n >= 1:
			v = uint32(bo.Uint16(e[8:]))
		case typ == tiffLong && n >= 1:
			v = bo.Uint32(e[8:])
		}
		if v < 1 || v > 8 {
			return 1, true
		}
		return int(v), true
	}
	return 1, false
}
