// Package metastrip removes location and device metadata from a JPEG or PNG
// image as its bytes stream through, keeping the image data, the colour
// information and the EXIF orientation.
//
// A Writer is an io.Writer placed in a stream: it passes on every byte of
// the image except those of the metadata segments (JPEG) or chunks (PNG),
// which it drops whole. It follows the file's structure by the lengths the
// file gives, never holding more than a segment or chunk header (at most 16
// bytes) and a 4 KiB output buffer, whatever the image's size.
//
// JPEG. Kept, byte for byte: every segment that is not an APPn or COM
// segment (SOF, DHT, DQT, DRI, SOS and the rest), the entropy-coded data,
// APP0 (JFIF) and APP14 (Adobe) segments, which decoders read to tell the
// colour space (Go's image/jpeg among them, and each lets the last such
// segment win, so none is dropped), and APP2 ICC_PROFILE segments (the
// colour profile). Dropped: every APP1 segment (EXIF, with its GPS and
// maker notes and thumbnail; XMP; extended XMP), APP2 segments other than
// ICC_PROFILE (MPF, FlashPix), APP3 to APP13 (APP13: Photoshop IRB and
// IPTC) and APP15, COM comments, and every byte after EOI (trailers, the
// further images of an MPF file). In place of the first EXIF segment
// before the first scan, if its IFD0 holds an orientation (tag 0x0112, a
// SHORT or LONG of value 1 to 8), the Writer writes a 36-byte EXIF segment
// holding that orientation alone (see JPEGOrientationSegment).
//
// PNG. Kept, byte for byte: every critical chunk (IHDR, PLTE, IDAT, IEND)
// and the ancillary chunks that say how to show the pixels: tRNS, gAMA,
// cHRM, sRGB, iCCP, sBIT, cICP, mDCV, cLLI, pHYs and bKGD. Dropped: every
// other ancillary chunk (tEXt, zTXt, iTXt, tIME, eXIf, APNG frames, private
// chunks) and every byte after IEND. In place of the first eXIf chunk, if
// it holds an orientation, the Writer writes a 38-byte eXIf chunk holding
// that orientation alone (see PNGOrientationChunk).
//
// So the output is the input with whole segments or chunks removed, and at
// most one small orientation segment or chunk put where the first EXIF
// block was: never more than MaxAdded bytes longer than the input. A stream
// whose structure the Writer cannot follow (a JPEG segment that does not
// begin where the previous one ended, a length below its own size, a PNG
// chunk length over 2^31-1) fails with an *Error: the Writer cannot tell
// its metadata from its image data, so it passes none of it on as if it
// could. A stream cut short is not an error: what arrived is passed on,
// except an incomplete header at its very end, which is dropped.
package metastrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Formats a Writer recognises, by their signatures.
const (
	JPEG = "jpeg"
	PNG  = "png"
)

// MaxAdded is the most bytes by which a Writer's output can exceed its
// input: the PNG orientation chunk (the JPEG segment is 36 bytes).
const MaxAdded = 38

const bufSize = 4 << 10 // output gathered before a write to the destination

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Error is a stream the Writer cannot follow: the bytes at Offset are not
// where the file's structure says a segment or chunk begins, or say a
// length that cannot be.
type Error struct {
	Format string // JPEG, PNG, or "" when the stream is neither
	Offset int64  // offset in the input of the first byte at fault
	Reason string
}

func (e *Error) Error() string {
	f := e.Format
	if f == "" {
		f = "image"
	}
	return fmt.Sprintf("metastrip: %s at byte %d: %s", f, e.Offset, e.Reason)
}

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("metastrip: write after close")

type state uint8

const (
	stSignature  state = iota // gathering the signature
	stJPEGMarker              // between JPEG segments: a 0xFF must come
	stJPEGFill                // after 0xFF: fill bytes, then the marker
	stJPEGHeader              // gathering a segment's length and identifier
	stEntropy                 // JPEG entropy-coded data, after SOS
	stPNGHeader               // gathering a chunk's length and type
	stCopy                    // passing on rem bytes of a kept body
	stSkip                    // dropping rem bytes of a dropped body
	stExif                    // dropping rem bytes of the first EXIF block, reading its orientation
	stTrailer                 // after EOI or IEND: dropping everything
	stClosed
)

// Writer removes metadata from the image written to it and writes the rest
// to its destination. Use NewWriter, write the image, then Close.
type Writer struct {
	dst    io.Writer
	err    error // sticky: the first *Error or error of dst
	in     int64 // input bytes consumed
	buf    []byte
	format string
	st     state

	hold  [16]byte // header bytes gathered
	nhold int
	need  int   // bytes hold must reach before the header is decided
	rem   int64 // bytes left of the current body
	fills int   // JPEG: 0xFF bytes before the marker being read

	marker   byte // JPEG: the marker of the segment being read
	inScan   bool // JPEG: entropy-coded data follows the current segment
	scanned  bool // JPEG: a SOS has been seen; EXIF after it is not read
	lastPNG  bool // PNG: the current chunk is IEND
	exifSeen bool // the first EXIF block has been met
	exifLeft int64
	tiff     tiffReader
}

// NewWriter returns a Writer that writes to dst what it keeps of the image
// written to it.
func NewWriter(dst io.Writer) *Writer {
	return &Writer{dst: dst, buf: make([]byte, 0, bufSize)}
}

// Write passes on what it keeps of p. It returns an *Error as soon as the
// bytes so far cannot be followed, and dst's error unchanged if a write to
// dst fails; either error is returned again by every later call.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.st == stClosed {
		return 0, ErrClosed
	}
	i := 0
	for i < len(p) && w.err == nil {
		switch w.st {
		case stSignature:
			if w.format == "" {
				if w.sniff(p[i]); w.err != nil {
					break
				}
			}
			i += w.gather(p[i:], w.need)
			if w.nhold == w.need {
				w.signature()
			}
		case stJPEGMarker:
			if p[i] != 0xFF {
				w.fail(w.in+int64(i), "a byte other than 0xFF where a segment must begin")
				break
			}
			i++
			w.fills, w.st = 1, stJPEGFill
		case stJPEGFill:
			i += w.jpegMarker(i, p[i])
		case stJPEGHeader:
			i += w.gather(p[i:], w.need)
			if w.nhold == w.need {
				w.jpegHeader(i)
			}
		case stEntropy:
			i += w.entropy(p[i:])
		case stPNGHeader:
			i += w.gather(p[i:], 8)
			if w.nhold == 8 {
				w.pngHeader(i)
			}
		case stCopy, stSkip, stExif:
			k := int(min(w.rem, int64(len(p)-i)))
			switch w.st {
			case stCopy:
				w.emit(p[i : i+k])
			case stExif:
				f := int(min(w.exifLeft, int64(k)))
				w.tiff.write(p[i : i+f])
				w.exifLeft -= int64(f)
			}
			i += k
			w.rem -= int64(k)
			if w.rem == 0 {
				w.endBody()
			}
		case stTrailer:
			i = len(p)
		}
	}
	w.in += int64(i)
	if w.err != nil {
		return i, w.err
	}
	return len(p), nil
}

// Close ends the stream and writes out what the Writer still holds. It
// returns an *Error if the stream ended before its signature was whole,
// and otherwise the first error of the stream or of dst. Closing again
// returns nil.
func (w *Writer) Close() error {
	if w.st == stClosed {
		return nil
	}
	if w.err == nil {
		switch w.st {
		case stSignature:
			w.fail(w.in, "the stream ends before its signature")
		case stExif:
			// Cut short inside the EXIF block: its orientation, if it was
			// read, is kept as it would have been.
			w.synthesize()
		}
		// Any other incomplete header is dropped: it holds no pixels.
	}
	w.flush()
	w.st = stClosed
	return w.err
}

// fail records an *Error at offset at of the input.
func (w *Writer) fail(at int64, reason string) {
	if w.err == nil {
		w.err = &Error{Format: w.format, Offset: at, Reason: reason}
	}
}

// gather copies bytes of p into hold until it holds n, and returns how
// many it took.
func (w *Writer) gather(p []byte, n int) int {
	k := copy(w.hold[w.nhold:n], p)
	w.nhold += k
	return k
}

// sniff tells the format by the first byte.
func (w *Writer) sniff(first byte) {
	switch first {
	case 0xFF:
		w.format, w.need = JPEG, 2
	case pngSignature[0]:
		w.format, w.need = PNG, len(pngSignature)
	default:
		w.fail(0, "neither a JPEG nor a PNG signature")
	}
}

func (w *Writer) signature() {
	h := w.hold[:w.nhold]
	switch {
	case w.format == JPEG && h[1] == 0xD8:
		w.st = stJPEGMarker
	case w.format == PNG && bytes.Equal(h, pngSignature):
		w.st = stPNGHeader
	default:
		k := int64(1) // a JPEG's second byte is wrong
		if w.format == PNG {
			for k = 0; h[k] == pngSignature[k]; k++ {
			}
		}
		w.fail(k, "neither a JPEG nor a PNG signature")
		return
	}
	w.emit(h)
	w.nhold = 0
}

// emit passes b on, through the output buffer.
func (w *Writer) emit(b []byte) {
	if w.err != nil || len(b) == 0 {
		return
	}
	if len(b) > cap(w.buf)-len(w.buf) {
		w.flush()
		if len(b) >= cap(w.buf) {
			if _, err := w.dst.Write(b); err != nil {
				w.err = err
			}
			return
		}
	}
	w.buf = append(w.buf, b...)
}

func (w *Writer) flush() {
	if w.err == nil && len(w.buf) > 0 {
		if _, err := w.dst.Write(w.buf); err != nil {
			w.err = err
		}
	}
	w.buf = w.buf[:0]
}

func (w *Writer) emitByte(b byte) {
	if len(w.buf) == cap(w.buf) {
		w.flush()
	}
	w.buf = append(w.buf, b)
}

// emitFills passes on the 0xFF bytes before a kept marker.
func (w *Writer) emitFills() {
	for range w.fills {
		w.emitByte(0xFF)
	}
}

func isRST(m byte) bool { return m >= 0xD0 && m <= 0xD7 }

// JPEG markers the Writer treats apart.
const (
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mTEM   = 0x01
	mAPP0  = 0xE0
	mAPP1  = 0xE1
	mAPP2  = 0xE2
	mAPP14 = 0xEE
	mAPP15 = 0xEF
	mCOM   = 0xFE
)

// jpegMarker reads the byte b after one or more 0xFF bytes (at offset i of
// the current input) and returns 1, the bytes it consumed.
func (w *Writer) jpegMarker(i int, b byte) int {
	switch {
	case b == 0xFF:
		w.fills++ // a fill byte: the marker comes later
	case w.inScan && (b == 0x00 || isRST(b)):
		// Stuffed 0xFF or a restart marker: still entropy-coded data.
		w.emitFills()
		w.emitByte(b)
		w.st = stEntropy
	case b == 0x00:
		w.fail(w.in+int64(i)-1, "0xFF 0x00 where a segment must begin")
	case b == mTEM || b == mSOI || isRST(b):
		// Markers without a length. Go's image/jpeg and libjpeg ignore a
		// stray RST between segments; it is kept as it came.
		w.emitFills()
		w.emitByte(b)
		w.inScan, w.st = false, stJPEGMarker
	case b == mEOI:
		w.emitFills()
		w.emitByte(b)
		w.st = stTrailer
	default:
		w.marker, w.inScan = b, false
		w.nhold, w.need, w.st = 0, 2, stJPEGHeader
	}
	return 1
}

// jpegHeader decides a segment once its length (and, for the markers that
// need one, its identifier) is in hold; i is the offset in the current
// input just past the header.
func (w *Writer) jpegHeader(i int) {
	n := int(binary.BigEndian.Uint16(w.hold[:2]))
	if n < 2 {
		w.fail(w.in+int64(i-w.nhold), fmt.Sprintf("segment 0x%02X with length %d, below the 2 bytes of the length itself", w.marker, n))
		return
	}
	body := n - 2
	if w.need == 2 {
		// The length is in: gather the identifier the decision needs.
		var ident int
		switch w.marker {
		case mAPP1:
			if !w.exifSeen && !w.scanned {
				ident = len("Exif\x00\x00")
			}
		case mAPP2:
			ident = len("ICC_PROFILE\x00")
		}
		if ident = min(ident, body); ident > 0 {
			w.need += ident
			return
		}
	}
	ident := w.hold[2:w.nhold]
	rem := int64(body - len(ident))
	m := w.marker
	switch {
	case m == mAPP1 && !w.exifSeen && !w.scanned && string(ident) == "Exif\x00\x00":
		w.exifSeen = true
		w.tiff = tiffReader{}
		w.exifLeft = rem
		w.body(stExif, rem)
	case m == mAPP0 || m == mAPP14,
		m == mAPP2 && string(ident) == "ICC_PROFILE\x00",
		!(m >= mAPP0 && m <= mAPP15 || m == mCOM):
		w.emitFills()
		w.emitByte(m)
		w.emit(w.hold[:w.nhold])
		if m == mSOS {
			w.inScan, w.scanned = true, true
		}
		w.body(stCopy, rem)
	default:
		w.body(stSkip, rem)
	}
}

// body starts the body of a segment or chunk of rem bytes.
func (w *Writer) body(st state, rem int64) {
	w.nhold = 0
	w.st, w.rem = st, rem
	if rem == 0 {
		w.endBody()
	}
}

// endBody moves past a segment or chunk whose body has all gone by.
func (w *Writer) endBody() {
	if w.st == stExif {
		w.synthesize()
	}
	switch {
	case w.format == PNG && w.lastPNG:
		w.st = stTrailer
	case w.format == PNG:
		w.st = stPNGHeader
	case w.inScan:
		w.st = stEntropy
	default:
		w.st = stJPEGMarker
	}
}

// entropy passes on entropy-coded data up to the next marker that ends it
// and returns the bytes it consumed.
func (w *Writer) entropy(p []byte) int {
	j := 0
	for {
		k := bytes.IndexByte(p[j:], 0xFF)
		if k < 0 {
			w.emit(p)
			return len(p)
		}
		j += k
		if j+1 < len(p) && (p[j+1] == 0x00 || isRST(p[j+1])) {
			j += 2 // stuffed 0xFF or restart marker: data goes on
			continue
		}
		// A marker, or a 0xFF whose next byte is in the next write: the
		// run so far is data; the 0xFF is decided by the marker.
		w.emit(p[:j])
		w.fills, w.st = 1, stJPEGFill
		return j + 1
	}
}

// ancillaryKept are the ancillary PNG chunks that say how to show the
// pixels: transparency, colour space, significant bits, pixel aspect and
// background.
var ancillaryKept = map[string]bool{
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true, "sBIT": true,
	"cICP": true, "mDCV": true, "cLLI": true, "pHYs": true, "bKGD": true,
}

// pngHeader decides a chunk once its length and type are in hold; i is
// the offset in the current input just past them.
func (w *Writer) pngHeader(i int) {
	n := binary.BigEndian.Uint32(w.hold[:4])
	if n > 1<<31-1 {
		w.fail(w.in+int64(i-8), fmt.Sprintf("chunk length %d over 2^31-1", n))
		return
	}
	typ := string(w.hold[4:8])
	rem := int64(n) + 4 // the data and the CRC
	switch {
	case typ == "eXIf" && !w.exifSeen:
		w.exifSeen = true
		w.tiff = tiffReader{}
		w.exifLeft = int64(n)
		w.body(stExif, rem)
	case w.hold[4]&0x20 == 0 || ancillaryKept[typ]: // critical, or kept
		w.emit(w.hold[:8])
		w.lastPNG = typ == "IEND"
		w.body(stCopy, rem)
	default:
		w.body(stSkip, rem)
	}
}

// synthesize writes the orientation segment or chunk in place of the EXIF
// block just dropped, if that block held an orientation.
func (w *Writer) synthesize() {
	o := w.tiff.orientation
	if o == 0 {
		return
	}
	if w.format == JPEG {
		w.emit(JPEGOrientationSegment(o))
	} else {
		w.emit(PNGOrientationChunk(o))
	}
}

// orientationTIFF is a big-endian TIFF structure whose IFD0 holds one
// entry, orientation o, and links to no further IFD: 26 bytes.
func orientationTIFF(o int) []byte {
	t := []byte("MM\x00*")
	t = binary.BigEndian.AppendUint32(t, 8)      // IFD0 right after the header
	t = binary.BigEndian.AppendUint16(t, 1)      // one entry
	t = binary.BigEndian.AppendUint16(t, 0x0112) // orientation
	t = binary.BigEndian.AppendUint16(t, 3)      // SHORT
	t = binary.BigEndian.AppendUint32(t, 1)      // one value
	t = binary.BigEndian.AppendUint16(t, uint16(o))
	t = append(t, 0, 0)                        // the rest of the value field
	return binary.BigEndian.AppendUint32(t, 0) // no next IFD
}

// JPEGOrientationSegment returns the 36-byte APP1 EXIF segment, marker
// included, that a Writer puts in place of a JPEG's EXIF segment that held
// orientation o (1 to 8): "Exif\0\0" and a big-endian TIFF structure with
// that one tag.
func JPEGOrientationSegment(o int) []byte {
	t := orientationTIFF(o)
	s := []byte{0xFF, mAPP1}
	s = binary.BigEndian.AppendUint16(s, uint16(2+6+len(t)))
	s = append(s, "Exif\x00\x00"...)
	return append(s, t...)
}

// PNGOrientationChunk returns the 38-byte eXIf chunk that a Writer puts in
// place of a PNG's eXIf chunk that held orientation o (1 to 8).
func PNGOrientationChunk(o int) []byte {
	t := orientationTIFF(o)
	c := binary.BigEndian.AppendUint32(nil, uint32(len(t)))
	c = append(c, "eXIf"...)
	c = append(c, t...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// tiffReader reads the orientation from the TIFF structure of an EXIF
// block as its bytes go by, in order, holding at most one IFD entry: the
// value of tag 0x0112 in IFD0, if it is a SHORT or LONG of 1 to 8. Like
// the liveness check's reader it follows no IFD link, and an IFD0 offset
// into the 8-byte header counts as no IFD.
type tiffReader struct {
	pos         uint64 // bytes of the structure seen
	phase       uint8
	hold        [12]byte
	n           int
	bo          binary.ByteOrder
	ifd         uint64 // offset of IFD0
	count       int    // entries of IFD0 not read yet
	orientation int    // 1-8 once found; 0 if not (yet)
}

const (
	tiffHeader = iota
	tiffSeek
	tiffCount
	tiffEntries
	tiffDone
)

func (t *tiffReader) write(p []byte) {
	for len(p) > 0 && t.phase != tiffDone {
		var k int
		switch t.phase {
		case tiffHeader, tiffCount, tiffEntries:
			want := 12
			switch t.phase {
			case tiffHeader:
				want = 8
			case tiffCount:
				want = 2
			}
			k = copy(t.hold[t.n:want], p)
			t.n += k
			if t.n == want {
				t.n = 0
				t.field()
			}
		case tiffSeek:
			k = int(min(t.ifd-t.pos, uint64(len(p))))
			if t.pos+uint64(k) == t.ifd {
				t.phase = tiffCount
			}
		}
		p = p[k:]
		t.pos += uint64(k)
	}
}

// field takes a whole header, entry count or entry from hold.
func (t *tiffReader) field() {
	h := t.hold[:]
	switch t.phase {
	case tiffHeader:
		switch string(h[:4]) {
		case "II*\x00":
			t.bo = binary.LittleEndian
		case "MM\x00*":
			t.bo = binary.BigEndian
		default:
			t.phase = tiffDone
			return
		}
		if t.ifd = uint64(t.bo.Uint32(h[4:])); t.ifd < 8 {
			t.phase = tiffDone
		} else if t.ifd == 8 {
			t.phase = tiffCount
		} else {
			t.phase = tiffSeek
		}
	case tiffCount:
		if t.count = int(t.bo.Uint16(h)); t.count == 0 {
			t.phase = tiffDone
		} else {
			t.phase = tiffEntries
		}
	case tiffEntries:
		if t.bo.Uint16(h) == 0x0112 {
			var v uint32
			switch typ, n := t.bo.Uint16(h[2:]), t.bo.Uint32(h[4:]); {
			case typ == 3 && n >= 1:
				v = uint32(t.bo.Uint16(h[8:]))
			case typ == 4 && n >= 1:
				v = t.bo.Uint32(h[8:])
			}
			if v >= 1 && v <= 8 {
				t.orientation = int(v)
			}
			t.phase = tiffDone
			return
		}
		if t.count--; t.count == 0 {
			t.phase = tiffDone
		}
	}
}
