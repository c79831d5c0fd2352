// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// This file is a fork of image/jpeg's reader.go and scan.go from Go 1.26.8
// (see NOTICE). The marker parsing, Huffman decoding, progressive and
// restart handling and colour conversions are image/jpeg's; what changed:
//   - the input is a []byte, not an io.Reader, so that scans that are not
//     needed can be skipped by looking for the next marker;
//   - instead of writing a full-size image, blocks go through a scaled
//     inverse DCT (jpeg_scaled.go) into a strip of one MCU row, which is
//     converted to RGB and fed to an area accumulator (accum.go) row by row;
//   - progressive (and non-interleaved sequential) images keep only the
//     coefficients the chosen scale needs, as int16, between scans.

package imgdecode

import (
	"image"
	"image/color"
	"io"
)

// jpegFormatError reports that the input is not a valid JPEG.
type jpegFormatError string

func (e jpegFormatError) Error() string { return "invalid JPEG format: " + string(e) }

// jpegUnsupportedError reports that the input uses a valid but unimplemented
// JPEG feature.
type jpegUnsupportedError string

func (e jpegUnsupportedError) Error() string { return "unsupported JPEG feature: " + string(e) }

var errUnsupportedSubsamplingRatio = jpegUnsupportedError("luma/chroma subsampling ratio")

// Component specification, specified in section B.2.2.
type component struct {
	h  int   // Horizontal sampling factor.
	v  int   // Vertical sampling factor.
	c  uint8 // Component identifier.
	tq uint8 // Quantization table destination selector.
}

const (
	dcTable = 0
	acTable = 1
	maxTc   = 1
	maxTh   = 3
	maxTq   = 3

	maxComponents = 4
)

const (
	sof0Marker = 0xc0 // Start Of Frame (Baseline Sequential).
	sof1Marker = 0xc1 // Start Of Frame (Extended Sequential).
	sof2Marker = 0xc2 // Start Of Frame (Progressive).
	dhtMarker  = 0xc4 // Define Huffman Table.
	rst0Marker = 0xd0 // ReSTart (0).
	rst7Marker = 0xd7 // ReSTart (7).
	soiMarker  = 0xd8 // Start Of Image.
	eoiMarker  = 0xd9 // End Of Image.
	sosMarker  = 0xda // Start Of Scan.
	dqtMarker  = 0xdb // Define Quantization Table.
	driMarker  = 0xdd // Define Restart Interval.
	comMarker  = 0xfe // COMment.
	// "APPlication specific" markers aren't part of the JPEG spec per se,
	// but in practice, their use is described at
	// https://www.sno.phy.queensu.ca/~phil/exiftool/TagNames/JPEG.html
	app0Marker  = 0xe0
	app14Marker = 0xee
	app15Marker = 0xef
)

// See https://www.sno.phy.queensu.ca/~phil/exiftool/TagNames/JPEG.html#Adobe
const (
	adobeTransformUnknown = 0
	adobeTransformYCbCr   = 1
	adobeTransformYCbCrK  = 2
)

// unzig maps from the zig-zag ordering to the natural ordering. For example,
// unzig[3] is the column and row of the fourth element in zig-zag order. The
// value is 16, which means first column (16%8 == 0) and third row (16/8 == 2).
var unzig = [blockSize]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// bits holds the unprocessed bits that have been taken from the byte-stream.
// The n least significant bits of a form the unread bits, to be read in MSB to
// LSB order.
type bits struct {
	a uint32 // accumulator.
	m uint32 // mask. m==1<<(n-1) when n>0, with m==0 when n==0.
	n int32  // the number of unread bits in a.
}

// colour models of the decoded components, decided at the first scan.
const (
	cmGray  = iota // one component
	cmYCbCr        // three, YCbCr
	cmRGB          // three, RGB (Adobe transform 0, or component ids R, G, B)
	cmCMYK         // four, inverted CMYK (Adobe transform 0)
	cmYCCK         // four, inverted YCbCr and K (Adobe transform 1 or 2)
)

type jpegDecoder struct {
	bits bits
	// bytes is the input: buf holds all of it, buf[i:j] is unread.
	bytes struct {
		buf  []byte
		i, j int
		// nUnreadable is the number of bytes to back up i after
		// overshooting. It can be 0, 1 or 2.
		nUnreadable int
	}
	width, height int

	ri    int // Restart Interval.
	nComp int

	// As per section 4.5, there are four modes of operation (selected by the
	// SOF? markers): sequential DCT, progressive DCT, lossless and
	// hierarchical, although this implementation does not support the latter
	// two non-DCT modes. Sequential DCT is further split into baseline and
	// extended, as per section 4.11.
	baseline    bool
	progressive bool

	jfif                bool
	adobeTransformValid bool
	adobeTransform      uint8
	eobRun              uint16 // End-of-Band run, specified in section G.1.2.2.

	comp  [maxComponents]component
	huff  [maxTc + 1][maxTh + 1]huffman
	quant [maxTq + 1]block // Quantization tables, in zig-zag order.
	tmp   [2 * blockSize]byte

	// Set by readJPEGHeader: stop at the first scan's header.
	headerOnly    bool
	firstScanComp int // components in the first scan; 0 before it
	scans         int // scans so far

	// The scaled decode, set up at the first scan (setup).
	ow, oh      int
	k           int                 // the scaled block side of the first component: 8, 4, 2 or 1
	kh, kv      [maxComponents]int  // each component's scaled block width and height
	sx, sy      [maxComponents]uint // each component's upsampling to the first's scale, as shifts
	nz          [maxComponents]int  // coefficients kept per block in coefficient mode, in zig-zag order
	coefMode    bool                // scans are kept as coefficients, reconstructed at the end
	done        bool                // strip mode: the image is complete
	mxx, myy    int                 // MCUs across and down
	cm          int                 // colour model
	strip       [maxComponents][]byte
	stripStride [maxComponents]int
	coef        [maxComponents][]int16  // nz per block
	mask        [maxComponents][]uint64 // coefficient mode, 1 < nz < 64: bit z set if zig-zag coefficient z ≥ nz is non-zero
	seen        [maxComponents]bool     // coefficient mode: a scan had this component
	history     [maxComponents]uint64   // coefficient mode: zig-zag positions whose history decoded refinement scans read
	acc         *accum
}

// fill is called when the input is exhausted: all of it is in buf.
func (d *jpegDecoder) fill() error {
	return io.ErrUnexpectedEOF
}

// unreadByteStuffedByte undoes the most recent readByteStuffedByte call,
// giving a byte of data back from d.bits to d.bytes. The Huffman look-up table
// requires at least 8 bits for look-up, which means that Huffman decoding can
// sometimes overshoot and read one or two too many bytes. Two-byte overshoot
// can happen when expecting to read a 0xff 0x00 byte-stuffed byte.
func (d *jpegDecoder) unreadByteStuffedByte() {
	d.bytes.i -= d.bytes.nUnreadable
	d.bytes.nUnreadable = 0
	if d.bits.n >= 8 {
		d.bits.a >>= 8
		d.bits.n -= 8
		d.bits.m >>= 8
	}
}

// readByte returns the next byte, whether buffered or not buffered. It does
// not care about byte stuffing.
func (d *jpegDecoder) readByte() (x byte, err error) {
	for d.bytes.i == d.bytes.j {
		if err = d.fill(); err != nil {
			return 0, err
		}
	}
	x = d.bytes.buf[d.bytes.i]
	d.bytes.i++
	d.bytes.nUnreadable = 0
	return x, nil
}

// errMissingFF00 means that readByteStuffedByte encountered an 0xff byte (a
// marker byte) that wasn't the expected byte-stuffed sequence 0xff, 0x00.
var errMissingFF00 = jpegFormatError("missing 0xff00 sequence")

// readByteStuffedByte is like readByte but is for byte-stuffed Huffman data.
func (d *jpegDecoder) readByteStuffedByte() (x byte, err error) {
	// Take the fast path if d.bytes.buf contains at least two bytes.
	if d.bytes.i+2 <= d.bytes.j {
		x = d.bytes.buf[d.bytes.i]
		d.bytes.i++
		d.bytes.nUnreadable = 1
		if x != 0xff {
			return x, err
		}
		if d.bytes.buf[d.bytes.i] != 0x00 {
			return 0, errMissingFF00
		}
		d.bytes.i++
		d.bytes.nUnreadable = 2
		return 0xff, nil
	}

	d.bytes.nUnreadable = 0

	x, err = d.readByte()
	if err != nil {
		return 0, err
	}
	d.bytes.nUnreadable = 1
	if x != 0xff {
		return x, nil
	}

	x, err = d.readByte()
	if err != nil {
		return 0, err
	}
	d.bytes.nUnreadable = 2
	if x != 0x00 {
		return 0, errMissingFF00
	}
	return 0xff, nil
}

// readFull reads exactly len(p) bytes into p. It does not care about byte
// stuffing.
func (d *jpegDecoder) readFull(p []byte) error {
	// Unread the overshot bytes, if any.
	if d.bytes.nUnreadable != 0 {
		if d.bits.n >= 8 {
			d.unreadByteStuffedByte()
		}
		d.bytes.nUnreadable = 0
	}

	n := copy(p, d.bytes.buf[d.bytes.i:d.bytes.j])
	d.bytes.i += n
	if n < len(p) {
		return d.fill()
	}
	return nil
}

// ignore ignores the next n bytes.
func (d *jpegDecoder) ignore(n int) error {
	// Unread the overshot bytes, if any.
	if d.bytes.nUnreadable != 0 {
		if d.bits.n >= 8 {
			d.unreadByteStuffedByte()
		}
		d.bytes.nUnreadable = 0
	}

	if m := d.bytes.j - d.bytes.i; m < n {
		d.bytes.i = d.bytes.j
		return d.fill()
	}
	d.bytes.i += n
	return nil
}

// skipScan moves past the entropy-coded data of a scan that is not needed,
// without decoding it: up to the next marker that is not a restart marker
// (entropy-coded data never holds an 0xff byte followed by anything but
// 0x00 or a restart marker).
func (d *jpegDecoder) skipScan() error {
	if d.bytes.nUnreadable != 0 {
		if d.bits.n >= 8 {
			d.unreadByteStuffedByte()
		}
		d.bytes.nUnreadable = 0
	}
	d.bits = bits{}
	buf := d.bytes.buf[:d.bytes.j]
	for i := d.bytes.i; i+1 < len(buf); i++ {
		if buf[i] != 0xff {
			continue
		}
		if m := buf[i+1]; m != 0x00 && (m < rst0Marker || m > rst7Marker) {
			d.bytes.i = i
			return nil
		}
	}
	d.bytes.i = d.bytes.j
	return d.fill()
}

// Specified in section B.2.2.
func (d *jpegDecoder) processSOF(n int) error {
	if d.nComp != 0 {
		return jpegFormatError("multiple SOF markers")
	}
	switch n {
	case 6 + 3*1: // Grayscale image.
		d.nComp = 1
	case 6 + 3*3: // YCbCr or RGB image.
		d.nComp = 3
	case 6 + 3*4: // YCbCrK or CMYK image.
		d.nComp = 4
	default:
		return jpegUnsupportedError("number of components")
	}
	if err := d.readFull(d.tmp[:n]); err != nil {
		return err
	}
	// We only support 8-bit precision.
	if d.tmp[0] != 8 {
		return jpegUnsupportedError("precision")
	}
	d.height = int(d.tmp[1])<<8 + int(d.tmp[2])
	d.width = int(d.tmp[3])<<8 + int(d.tmp[4])
	if int(d.tmp[5]) != d.nComp {
		return jpegFormatError("SOF has wrong length")
	}

	for i := 0; i < d.nComp; i++ {
		d.comp[i].c = d.tmp[6+3*i]
		// Section B.2.2 states that "the value of C_i shall be different from
		// the values of C_1 through C_(i-1)".
		for j := 0; j < i; j++ {
			if d.comp[i].c == d.comp[j].c {
				return jpegFormatError("repeated component identifier")
			}
		}

		d.comp[i].tq = d.tmp[8+3*i]
		if d.comp[i].tq > maxTq {
			return jpegFormatError("bad Tq value")
		}

		hv := d.tmp[7+3*i]
		h, v := int(hv>>4), int(hv&0x0f)
		if h < 1 || 4 < h || v < 1 || 4 < v {
			return jpegFormatError("luma/chroma subsampling ratio")
		}
		if h == 3 || v == 3 {
			return errUnsupportedSubsamplingRatio
		}
		switch d.nComp {
		case 1:
			// If a JPEG image has only one component, section A.2 says "this data
			// is non-interleaved by definition" and section A.2.2 says "[in this
			// case...] the order of data units within a scan shall be left-to-right
			// and top-to-bottom... regardless of the values of H_1 and V_1". Section
			// 4.8.2 also says "[for non-interleaved data], the MCU is defined to be
			// one data unit". Similarly, section A.1.1 explains that it is the ratio
			// of H_i to max_j(H_j) that matters, and similarly for V. For grayscale
			// images, H_1 is the maximum H_j for all components j, so that ratio is
			// always 1. The component's (h, v) is effectively always (1, 1): even if
			// the nominal (h, v) is (2, 1), a 20x5 image is encoded in three 8x8
			// MCUs, not two 16x8 MCUs.
			h, v = 1, 1

		case 3:
			// For YCbCr images, we only support 4:4:4, 4:4:0, 4:2:2, 4:2:0,
			// 4:1:1 or 4:1:0 chroma subsampling ratios. This implies that the
			// (h, v) values for the Y component are either (1, 1), (1, 2),
			// (2, 1), (2, 2), (4, 1) or (4, 2), and the Y component's values
			// must be a multiple of the Cb and Cr component's values. We also
			// assume that the two chroma components have the same subsampling
			// ratio.
			switch i {
			case 0: // Y.
				// We have already verified, above, that h and v are both
				// either 1, 2 or 4, so invalid (h, v) combinations are those
				// with v == 4.
				if v == 4 {
					return errUnsupportedSubsamplingRatio
				}
			case 1: // Cb.
				if d.comp[0].h%h != 0 || d.comp[0].v%v != 0 {
					return errUnsupportedSubsamplingRatio
				}
			case 2: // Cr.
				if d.comp[1].h != h || d.comp[1].v != v {
					return errUnsupportedSubsamplingRatio
				}
			}

		case 4:
			// For 4-component images (either CMYK or YCbCrK), we only support two
			// hv vectors: [0x11 0x11 0x11 0x11] and [0x22 0x11 0x11 0x22].
			// Theoretically, 4-component JPEG images could mix and match hv values
			// but in practice, those two combinations are the only ones in use,
			// and it simplifies the applyBlack code below if we can assume that:
			//	- for CMYK, the C and K channels have full samples, and if the M
			//	  and Y channels subsample, they subsample both horizontally and
			//	  vertically.
			//	- for YCbCrK, the Y and K channels have full samples.
			switch i {
			case 0:
				if hv != 0x11 && hv != 0x22 {
					return errUnsupportedSubsamplingRatio
				}
			case 1, 2:
				if hv != 0x11 {
					return errUnsupportedSubsamplingRatio
				}
			case 3:
				if d.comp[0].h != h || d.comp[0].v != v {
					return errUnsupportedSubsamplingRatio
				}
			}
		}

		d.comp[i].h = h
		d.comp[i].v = v
	}
	return nil
}

// Specified in section B.2.4.1.
func (d *jpegDecoder) processDQT(n int) error {
loop:
	for n > 0 {
		n--
		x, err := d.readByte()
		if err != nil {
			return err
		}
		tq := x & 0x0f
		if tq > maxTq {
			return jpegFormatError("bad Tq value")
		}
		switch x >> 4 {
		default:
			return jpegFormatError("bad Pq value")
		case 0:
			if n < blockSize {
				break loop
			}
			n -= blockSize
			if err := d.readFull(d.tmp[:blockSize]); err != nil {
				return err
			}
			for i := range d.quant[tq] {
				d.quant[tq][i] = int32(d.tmp[i])
			}
		case 1:
			if n < 2*blockSize {
				break loop
			}
			n -= 2 * blockSize
			if err := d.readFull(d.tmp[:2*blockSize]); err != nil {
				return err
			}
			for i := range d.quant[tq] {
				d.quant[tq][i] = int32(d.tmp[2*i])<<8 | int32(d.tmp[2*i+1])
			}
		}
	}
	if n != 0 {
		return jpegFormatError("DQT has wrong length")
	}
	return nil
}

// Specified in section B.2.4.4.
func (d *jpegDecoder) processDRI(n int) error {
	if n != 2 {
		return jpegFormatError("DRI has wrong length")
	}
	if err := d.readFull(d.tmp[:2]); err != nil {
		return err
	}
	d.ri = int(d.tmp[0])<<8 + int(d.tmp[1])
	return nil
}

func (d *jpegDecoder) processApp0Marker(n int) error {
	if n < 5 {
		return d.ignore(n)
	}
	if err := d.readFull(d.tmp[:5]); err != nil {
		return err
	}
	n -= 5

	d.jfif = d.tmp[0] == 'J' && d.tmp[1] == 'F' && d.tmp[2] == 'I' && d.tmp[3] == 'F' && d.tmp[4] == '\x00'

	if n > 0 {
		return d.ignore(n)
	}
	return nil
}

func (d *jpegDecoder) processApp14Marker(n int) error {
	if n < 12 {
		return d.ignore(n)
	}
	if err := d.readFull(d.tmp[:12]); err != nil {
		return err
	}
	n -= 12

	if d.tmp[0] == 'A' && d.tmp[1] == 'd' && d.tmp[2] == 'o' && d.tmp[3] == 'b' && d.tmp[4] == 'e' {
		d.adobeTransformValid = true
		d.adobeTransform = d.tmp[11]
	}

	if n > 0 {
		return d.ignore(n)
	}
	return nil
}

// maxScans bounds the scans of an image: libjpeg's progressive scripts use
// about ten, and a thousand scans of a 50-megapixel image are already
// seconds of work for a few kilobytes of input.
const maxScans = 1000

// errHeaderDone stops a header-only read at the first scan.
var errHeaderDone = jpegFormatError("header read")

// decode reads the JPEG in data. With headerOnly set it stops after the
// first scan's header.
func (d *jpegDecoder) decode(data []byte) error {
	d.bytes.buf, d.bytes.i, d.bytes.j = data, 0, len(data)

	// Check for the Start Of Image marker.
	if err := d.readFull(d.tmp[:2]); err != nil {
		return err
	}
	if d.tmp[0] != 0xff || d.tmp[1] != soiMarker {
		return jpegFormatError("missing SOI marker")
	}

	// Process the remaining segments until the End Of Image marker.
	for {
		err := d.readFull(d.tmp[:2])
		if err != nil {
			return err
		}
		for d.tmp[0] != 0xff {
			// Strictly speaking, this is a format error. However, libjpeg is
			// liberal in what it accepts. As of version 9, next_marker in
			// jdmarker.c treats this as a warning (JWRN_EXTRANEOUS_DATA) and
			// continues to decode the stream. Even before next_marker sees
			// extraneous data, jpeg_fill_bit_buffer in jdhuff.c reads as many
			// bytes as it can, possibly past the end of a scan's data. It
			// effectively puts back any markers that it overscanned (e.g. an
			// "\xff\xd9" EOI marker), but it does not put back non-marker data,
			// and thus it can silently ignore a small number of extraneous
			// non-marker bytes before next_marker has a chance to see them (and
			// print a warning).
			//
			// We are therefore also liberal in what we accept. Extraneous data
			// is silently ignored.
			//
			// This is similar to, but not exactly the same as, the restart
			// mechanism within a scan (the RST[0-7] markers).
			//
			// Note that extraneous 0xff bytes in e.g. SOS data are escaped as
			// "\xff\x00", and so are detected a little further down below.
			d.tmp[0] = d.tmp[1]
			d.tmp[1], err = d.readByte()
			if err != nil {
				return err
			}
		}
		marker := d.tmp[1]
		if marker == 0 {
			// Treat "\xff\x00" as extraneous data.
			continue
		}
		for marker == 0xff {
			// Section B.1.1.2 says, "Any marker may optionally be preceded by any
			// number of fill bytes, which are bytes assigned code X'FF'".
			marker, err = d.readByte()
			if err != nil {
				return err
			}
		}
		if marker == eoiMarker { // End Of Image.
			break
		}
		if rst0Marker <= marker && marker <= rst7Marker {
			// Figures B.2 and B.16 of the specification suggest that restart markers should
			// only occur between Entropy Coded Segments and not after the final ECS.
			// However, some encoders may generate incorrect JPEGs with a final restart
			// marker. That restart marker will be seen here instead of inside the processSOS
			// method, and is ignored as a harmless error. Restart markers have no extra data,
			// so we check for this before we read the 16-bit length of the segment.
			continue
		}

		// Read the 16-bit length of the segment. The value includes the 2 bytes for the
		// length itself, so we subtract 2 to get the number of remaining bytes.
		if err = d.readFull(d.tmp[:2]); err != nil {
			return err
		}
		n := int(d.tmp[0])<<8 + int(d.tmp[1]) - 2
		if n < 0 {
			return jpegFormatError("short segment length")
		}

		switch marker {
		case sof0Marker, sof1Marker, sof2Marker:
			d.baseline = marker == sof0Marker
			d.progressive = marker == sof2Marker
			err = d.processSOF(n)
		case dhtMarker:
			err = d.processDHT(n)
		case dqtMarker:
			err = d.processDQT(n)
		case sosMarker:
			err = d.processSOS(n)
		case driMarker:
			err = d.processDRI(n)
		case app0Marker:
			err = d.processApp0Marker(n)
		case app14Marker:
			err = d.processApp14Marker(n)
		default:
			if app0Marker <= marker && marker <= app15Marker || marker == comMarker {
				err = d.ignore(n)
			} else if marker < 0xc0 { // See Table B.1 "Marker code assignments".
				err = jpegFormatError("unknown marker")
			} else {
				err = jpegUnsupportedError("unknown marker")
			}
		}
		if err != nil {
			return err
		}
	}

	if d.acc == nil {
		return jpegFormatError("missing SOS marker")
	}
	if d.coefMode {
		d.reconstruct()
	}
	return nil
}

// isRGB reports whether the three components are RGB rather than YCbCr, as
// image/jpeg decides it.
func (d *jpegDecoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobeTransformValid && d.adobeTransform == adobeTransformUnknown {
		// https://www.sno.phy.queensu.ca/~phil/exiftool/TagNames/JPEG.html#Adobe
		// says that 0 means Unknown (and in practice RGB) and 1 means YCbCr.
		return true
	}
	return d.comp[0].c == 'R' && d.comp[1].c == 'G' && d.comp[2].c == 'B'
}

// jpegInfo is what the header says that the cost depends on.
type jpegInfo struct {
	width, height int
	nComp         int
	h, v          [maxComponents]int
	coefMode      bool // progressive, or a first scan without every component
}

// readJPEGHeader reads a JPEG up to the header of its first scan.
func readJPEGHeader(data []byte) (jpegInfo, error) {
	d := jpegDecoder{headerOnly: true}
	err := d.decode(data)
	if err != errHeaderDone {
		if err == nil {
			err = jpegFormatError("missing SOS marker")
		}
		return jpegInfo{}, err
	}
	info := jpegInfo{width: d.width, height: d.height, nComp: d.nComp,
		coefMode: d.progressive || d.firstScanComp != d.nComp}
	for i := range d.nComp {
		info.h[i], info.v[i] = d.comp[i].h, d.comp[i].v
	}
	return info, nil
}

// reduction returns the largest of 8, 4, 2 and 1 by which a w×h image can be
// divided (rounding up) and still be at least ow×oh.
func reduction(w, h, ow, oh int) int {
	for r := 8; r > 1; r /= 2 {
		if (w+r-1)/r >= ow && (h+r-1)/r >= oh {
			return r
		}
	}
	return 1
}

// zigOf maps from the natural ordering to the zig-zag ordering.
var zigOf = func() (z [blockSize]int) {
	for i, n := range unzig {
		z[n] = i
	}
	return z
}()

// keptCoefficients returns the number of coefficients, in zig-zag order,
// that a kh×kv scaled IDCT needs: the zig-zag prefix holding the top-left
// kh×kv coefficients.
func keptCoefficients(kh, kv int) int {
	n := 0
	for v := range kv {
		for u := range kh {
			n = max(n, zigOf[8*v+u]+1)
		}
	}
	return n
}

// componentScale returns the scaled block size of a component with sampling
// factors hc, vc when the first component (factors h0, v0) is scaled to
// k×k: as fine as the first component's scale allows, so that chroma is not
// coarser than luma after scaling (libjpeg scales components the same way),
// and at most 8.
func componentScale(k, h0, v0, hc, vc int) (kh, kv int) {
	return min(8, k*h0/hc), min(8, k*v0/vc)
}

// cost is the bytes decodeJPEG allocates for an ow×oh output, besides the
// output image and fixedCost.
func (ji *jpegInfo) cost(ow, oh int) int64 {
	r := reduction(ji.width, ji.height, ow, oh)
	k := 8 / r
	c := accumCost(ji.width, r, ow, oh, false)
	h0, v0 := ji.h[0], ji.v[0]
	mxx := int64((ji.width + 8*h0 - 1) / (8 * h0))
	myy := int64((ji.height + 8*v0 - 1) / (8 * v0))
	for i := range ji.nComp {
		kh, kv := componentScale(k, h0, v0, ji.h[i], ji.v[i])
		c += mxx * int64(ji.h[i]*kh) * int64(ji.v[i]*kv) // strip
		if ji.coefMode {
			nz := int64(keptCoefficients(kh, kv))
			blocks := mxx * int64(ji.h[i]) * myy * int64(ji.v[i])
			c += blocks * 2 * nz
			if nz > 1 && nz < blockSize {
				c += blocks * 8
			}
		}
	}
	return c
}

// decodeJPEG decodes data to ow×oh.
func decodeJPEG(data []byte, info *jpegInfo, ow, oh int) (*image.RGBA, error) {
	d := &jpegDecoder{ow: ow, oh: oh}
	if err := d.decode(data); err != nil {
		return nil, err
	}
	if d.width != info.width || d.height != info.height {
		return nil, jpegFormatError("header changed between reads")
	}
	return d.acc.finish(), nil
}

// setup prepares the scaled decode at the first scan, whose header says
// whether it holds every component (nComp of them).
func (d *jpegDecoder) setup(nComp int) error {
	switch d.nComp {
	case 1:
		d.cm = cmGray
	case 3:
		d.cm = cmYCbCr
		if d.isRGB() {
			d.cm = cmRGB
		}
	case 4:
		if !d.adobeTransformValid {
			return jpegUnsupportedError("unknown color model: 4-component JPEG doesn't have Adobe APP14 metadata")
		}
		d.cm = cmCMYK
		if d.adobeTransform != adobeTransformUnknown {
			d.cm = cmYCCK
		}
	}
	if d.width < d.ow || d.height < d.oh || d.ow < 1 || d.oh < 1 {
		return jpegFormatError("header changed between reads")
	}
	r := reduction(d.width, d.height, d.ow, d.oh)
	d.k = 8 / r
	d.coefMode = d.progressive || nComp != d.nComp
	h0, v0 := d.comp[0].h, d.comp[0].v
	d.mxx = (d.width + 8*h0 - 1) / (8 * h0)
	d.myy = (d.height + 8*v0 - 1) / (8 * v0)
	reduce := false
	for i := range d.nComp {
		c := &d.comp[i]
		kh, kv := componentScale(d.k, h0, v0, c.h, c.v)
		d.kh[i], d.kv[i] = kh, kv
		d.sx[i], d.sy[i] = shiftOf(d.k*h0/(kh*c.h)), shiftOf(d.k*v0/(kv*c.v))
		d.nz[i] = keptCoefficients(kh, kv)
		reduce = reduce || d.nz[i] < blockSize
		d.stripStride[i] = d.mxx * c.h * kh
		d.strip[i] = make([]byte, d.stripStride[i]*c.v*kv)
		if d.coefMode {
			blocks := d.mxx * c.h * d.myy * c.v
			d.coef[i] = make([]int16, blocks*d.nz[i])
			if d.nz[i] > 1 && d.nz[i] < blockSize {
				d.mask[i] = make([]uint64, blocks)
			}
		}
	}
	d.acc = newAccum(d.width, d.height, r, d.ow, d.oh, false)
	if d.coefMode && reduce {
		d.planSkips()
	}
	return nil
}

// emitRows converts the scaled pixels of MCU row my, held in the strips, to
// RGB and adds them to the accumulator.
func (d *jpegDecoder) emitRows(my int) {
	rows := d.comp[0].v * d.k
	y0 := my * rows
	sw := d.acc.sw
	sx, sy := &d.sx, &d.sy
	rgb := d.acc.rgb[:3*sw]
	for yl := range rows {
		y := y0 + yl
		if y >= d.acc.sh {
			break
		}
		var row [maxComponents][]byte
		for i := range d.nComp {
			row[i] = d.strip[i][(yl>>sy[i])*d.stripStride[i]:]
		}
		switch d.cm {
		case cmGray:
			for x, v := range row[0][:sw] {
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = v, v, v
			}
		case cmYCbCr:
			s1 := sx[1]
			for x := range sw {
				p := rgb[3*x : 3*x+3 : 3*x+3]
				p[0], p[1], p[2] = color.YCbCrToRGB(row[0][x], row[1][x>>s1], row[2][x>>s1])
			}
		case cmRGB:
			s1 := sx[1]
			for x := range sw {
				p := rgb[3*x : 3*x+3 : 3*x+3]
				p[0], p[1], p[2] = row[0][x], row[1][x>>s1], row[2][x>>s1]
			}
		case cmCMYK:
			// image/jpeg's applyBlack: Adobe CMYK is stored inverted.
			for x := range sw {
				p := rgb[3*x : 3*x+3 : 3*x+3]
				p[0], p[1], p[2] = color.CMYKToRGB(255-row[0][x], 255-row[1][x>>sx[1]], 255-row[2][x>>sx[2]], 255-row[3][x>>sx[3]])
			}
		case cmYCCK:
			// image/jpeg's applyBlack: the YCbCr components give the
			// inverted C, M and Y; K is stored inverted.
			for x := range sw {
				p := rgb[3*x : 3*x+3 : 3*x+3]
				c, m, yy := color.YCbCrToRGB(row[0][x], row[1][x>>sx[1]], row[2][x>>sx[2]])
				p[0], p[1], p[2] = color.CMYKToRGB(c, m, yy, 255-row[3][x>>sx[3]])
			}
		}
		d.acc.addRow(y)
	}
}

// shiftOf returns log2 of a sampling ratio (1, 2 or 4).
func shiftOf(ratio int) uint {
	switch ratio {
	case 2:
		return 1
	case 4:
		return 2
	}
	return 0
}

// reconstructBlock dequantizes b (natural order), transforms it to the
// component's scaled block size and writes the pixels to block (bx, byLocal)
// of the strip of compIndex, whose rows hold one MCU row.
func (d *jpegDecoder) reconstructBlock(b *block, bx, byLocal, compIndex int) {
	qt := &d.quant[d.comp[compIndex].tq]
	stride := d.stripStride[compIndex]
	kh, kv := d.kh[compIndex], d.kv[compIndex]
	dst := d.strip[compIndex][kv*byLocal*stride+kh*bx:]
	if kh == 8 && kv == 8 {
		for zig := 0; zig < blockSize; zig++ {
			b[unzig[zig]] *= qt[zig]
		}
		idct(b)
		for y := 0; y < 8; y++ {
			y8 := y * 8
			yStride := y * stride
			for x := 0; x < 8; x++ {
				c := b[y8+x]
				if c < -128 {
					c = 0
				} else if c > 127 {
					c = 255
				} else {
					c += 128
				}
				dst[yStride+x] = uint8(c)
			}
		}
		return
	}
	for v := range kv {
		for u := range kh {
			b[8*v+u] *= qt[zigOf[8*v+u]]
		}
	}
	scaledTransform(b, kh, kv, dst, stride)
}

// loadBlock reads block i of component c from the coefficient store.
func (d *jpegDecoder) loadBlock(b *block, c, i int) {
	*b = block{}
	nz := d.nz[c]
	for z, v := range d.coef[c][i*nz : i*nz+nz] {
		b[unzig[z]] = int32(v)
	}
	if d.mask[c] != nil {
		for m := d.mask[c][i]; m != 0; m &= m - 1 {
			b[unzig[trailingZeros64(m)]] = 1
		}
	}
}

// storeBlock writes block i of component c to the coefficient store.
func (d *jpegDecoder) storeBlock(b *block, c, i int) {
	nz := d.nz[c]
	dst := d.coef[c][i*nz : i*nz+nz]
	for z := range dst {
		dst[z] = int16(b[unzig[z]])
	}
	if d.mask[c] != nil {
		var m uint64
		for z := nz; z < blockSize; z++ {
			if b[unzig[z]] != 0 {
				m |= 1 << z
			}
		}
		d.mask[c][i] = m
	}
}

// reconstruct turns the coefficient store into pixels, an MCU row at a time.
func (d *jpegDecoder) reconstruct() {
	var b block
	for my := range d.myy {
		for c := range d.nComp {
			hc, vc := d.comp[c].h, d.comp[c].v
			if !d.seen[c] {
				// No scan had this component: image/jpeg leaves its
				// samples at 0.
				clear(d.strip[c])
				continue
			}
			stride := d.mxx * hc
			for v := range vc {
				by := my*vc + v
				for bx := range stride {
					d.loadBlock(&b, c, by*stride+bx)
					d.reconstructBlock(&b, bx, v, c)
				}
			}
		}
		d.emitRows(my)
	}
}
