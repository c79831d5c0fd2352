// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// A fork of image/png's reader.go from Go 1.26.8 (see NOTICE). The chunk
// parsing, checks and unfiltering are image/png's; what changed:
//   - the input is a []byte: chunk data is checked and skipped in place, and
//     an IDAT chunk's CRC is checked when the chunk starts rather than when
//     it has been inflated (the bytes are all there);
//   - rows are not stored in an image: each unfiltered row is converted to
//     8-bit RGB (as image/png's image type for the colour type, followed by
//     color.NRGBAModel, gives it) and added to an area accumulator; the two
//     row buffers are allocated once, not once per Adam7 pass.

package imgdecode

import (
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"io"
)

// Color type, as per the PNG spec.
const (
	ctGrayscale      = 0
	ctTrueColor      = 2
	ctPaletted       = 3
	ctGrayscaleAlpha = 4
	ctTrueColorAlpha = 6
)

// A cb is a combination of color type and bit depth.
const (
	cbInvalid = iota
	cbG1
	cbG2
	cbG4
	cbG8
	cbGA8
	cbTC8
	cbP1
	cbP2
	cbP4
	cbP8
	cbTCA8
	cbG16
	cbGA16
	cbTC16
	cbTCA16
)

func cbPaletted(cb int) bool {
	return cbP1 <= cb && cb <= cbP8
}

func cbTrueColor(cb int) bool {
	return cb == cbTC8 || cb == cbTC16
}

// Filter type, as per the PNG spec.
const (
	ftNone    = 0
	ftSub     = 1
	ftUp      = 2
	ftAverage = 3
	ftPaeth   = 4
)

// Interlace type.
const (
	itNone  = 0
	itAdam7 = 1
)

// interlaceScan defines the placement and size of a pass for Adam7 interlacing.
type interlaceScan struct {
	xFactor, yFactor, xOffset, yOffset int
}

// interlacing defines Adam7 interlacing, with 7 passes of reduced images.
// See https://www.w3.org/TR/PNG/#8Interlace
var interlacing = []interlaceScan{
	{8, 8, 0, 0},
	{8, 8, 4, 0},
	{4, 8, 0, 4},
	{4, 4, 2, 0},
	{2, 4, 0, 2},
	{2, 2, 1, 0},
	{1, 2, 0, 1},
}

// Decoding stage.
// The PNG specification says that the IHDR, PLTE (if present), tRNS (if
// present), IDAT and IEND chunks must appear in that order. There may be
// multiple IDAT chunks, and IDAT chunks must be sequential (i.e. they may not
// have any other chunks between them).
// https://www.w3.org/TR/PNG/#5ChunkOrdering
const (
	dsStart = iota
	dsSeenIHDR
	dsSeenPLTE
	dsSeentRNS
	dsSeenIDAT
	dsSeenIEND
)

const pngHeader = "\x89PNG\r\n\x1a\n"

// pngFormatError reports that the input is not a valid PNG.
type pngFormatError string

func (e pngFormatError) Error() string { return "png: invalid format: " + string(e) }

var chunkOrderError = pngFormatError("chunk out of order")

// pngUnsupportedError reports that the input uses a valid but unimplemented
// PNG feature.
type pngUnsupportedError string

func (e pngUnsupportedError) Error() string { return "png: unsupported feature: " + string(e) }

type pngDecoder struct {
	data []byte
	pos  int

	width, height int
	depth         int
	cb            int
	stage         int
	interlace     int

	palette  [256][3]byte // colours; entries past the PLTE are black, as in image/png
	idatLeft int          // bytes of the current IDAT chunk not yet inflated

	// useTransparent and transparent are used for grayscale and truecolor
	// transparency, as opposed to palette transparency.
	useTransparent bool
	transparent    [6]byte

	ow, oh int
	acc    *accum
	tmp    [1]byte
}

// next returns the next n bytes of input.
func (d *pngDecoder) next(n int) ([]byte, error) {
	if n < 0 || len(d.data)-d.pos < n {
		d.pos = len(d.data)
		return nil, io.ErrUnexpectedEOF
	}
	b := d.data[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// chunk reads a chunk's length and type and checks the CRC of its type and
// data (which stay unread), as image/png does after reading them.
func (d *pngDecoder) chunk() (length int, typ string, err error) {
	hdr, err := d.next(8)
	if err != nil {
		return 0, "", err
	}
	l := binary.BigEndian.Uint32(hdr[:4])
	if l > 0x7fffffff {
		return 0, "", pngFormatError(fmt.Sprintf("Bad chunk length: %d", l))
	}
	length = int(l)
	if len(d.data)-d.pos < length+4 {
		d.pos = len(d.data)
		return 0, "", io.ErrUnexpectedEOF
	}
	crc := crc32.Update(crc32.Update(0, crc32.IEEETable, hdr[4:8]), crc32.IEEETable, d.data[d.pos:d.pos+length])
	if binary.BigEndian.Uint32(d.data[d.pos+length:]) != crc {
		return 0, "", pngFormatError("invalid checksum")
	}
	return length, string(hdr[4:8]), nil
}

func (d *pngDecoder) parseIHDR(length int) error {
	if length != 13 {
		return pngFormatError("bad IHDR length")
	}
	p, err := d.next(13 + 4)
	if err != nil {
		return err
	}
	if p[10] != 0 {
		return pngUnsupportedError("compression method")
	}
	if p[11] != 0 {
		return pngUnsupportedError("filter method")
	}
	if p[12] != itNone && p[12] != itAdam7 {
		return pngFormatError("invalid interlace method")
	}
	d.interlace = int(p[12])

	w := int32(binary.BigEndian.Uint32(p[0:4]))
	h := int32(binary.BigEndian.Uint32(p[4:8]))
	if w <= 0 || h <= 0 {
		return pngFormatError("non-positive dimension")
	}
	nPixels64 := int64(w) * int64(h)
	nPixels := int(nPixels64)
	if nPixels64 != int64(nPixels) {
		return pngUnsupportedError("dimension overflow")
	}
	// There can be up to 8 bytes per pixel, for 16 bits per channel RGBA.
	if nPixels != (nPixels*8)/8 {
		return pngUnsupportedError("dimension overflow")
	}

	d.cb = cbInvalid
	d.depth = int(p[8])
	switch d.depth {
	case 1:
		switch p[9] {
		case ctGrayscale:
			d.cb = cbG1
		case ctPaletted:
			d.cb = cbP1
		}
	case 2:
		switch p[9] {
		case ctGrayscale:
			d.cb = cbG2
		case ctPaletted:
			d.cb = cbP2
		}
	case 4:
		switch p[9] {
		case ctGrayscale:
			d.cb = cbG4
		case ctPaletted:
			d.cb = cbP4
		}
	case 8:
		switch p[9] {
		case ctGrayscale:
			d.cb = cbG8
		case ctTrueColor:
			d.cb = cbTC8
		case ctPaletted:
			d.cb = cbP8
		case ctGrayscaleAlpha:
			d.cb = cbGA8
		case ctTrueColorAlpha:
			d.cb = cbTCA8
		}
	case 16:
		switch p[9] {
		case ctGrayscale:
			d.cb = cbG16
		case ctTrueColor:
			d.cb = cbTC16
		case ctGrayscaleAlpha:
			d.cb = cbGA16
		case ctTrueColorAlpha:
			d.cb = cbTCA16
		}
	}
	if d.cb == cbInvalid {
		return pngUnsupportedError(fmt.Sprintf("bit depth %d, color type %d", p[8], p[9]))
	}
	d.width, d.height = int(w), int(h)
	return nil
}

func (d *pngDecoder) parsePLTE(length int) error {
	np := length / 3 // The number of palette entries.
	if length%3 != 0 || np <= 0 || np > 256 || np > 1<<uint(d.depth) {
		return pngFormatError("bad PLTE length")
	}
	p, err := d.next(length + 4)
	if err != nil {
		return err
	}
	switch d.cb {
	case cbP1, cbP2, cbP4, cbP8:
		for i := range np {
			d.palette[i] = [3]byte{p[3*i+0], p[3*i+1], p[3*i+2]}
		}
	case cbTC8, cbTCA8, cbTC16, cbTCA16:
		// As per the PNG spec, a PLTE chunk is optional (and for practical purposes,
		// ignorable) for the ctTrueColor and ctTrueColorAlpha color types (section 4.1.2).
	default:
		return pngFormatError("PLTE, color type mismatch")
	}
	return nil
}

func (d *pngDecoder) parsetRNS(length int) error {
	switch d.cb {
	case cbG1, cbG2, cbG4, cbG8, cbG16:
		if length != 2 {
			return pngFormatError("bad tRNS length")
		}
		p, err := d.next(length + 4)
		if err != nil {
			return err
		}
		copy(d.transparent[:], p[:length])
		switch d.cb {
		case cbG1:
			d.transparent[1] *= 0xff
		case cbG2:
			d.transparent[1] *= 0x55
		case cbG4:
			d.transparent[1] *= 0x11
		}
		d.useTransparent = true

	case cbTC8, cbTC16:
		if length != 6 {
			return pngFormatError("bad tRNS length")
		}
		p, err := d.next(length + 4)
		if err != nil {
			return err
		}
		copy(d.transparent[:], p[:length])
		d.useTransparent = true

	case cbP1, cbP2, cbP4, cbP8:
		if length > 256 {
			return pngFormatError("bad tRNS length")
		}
		// Palette alpha does not change the colours that are averaged.
		if _, err := d.next(length + 4); err != nil {
			return err
		}

	default:
		return pngFormatError("tRNS, color type mismatch")
	}
	return nil
}

// Read presents the data of consecutive IDAT chunks as one stream to the
// zlib reader.
func (d *pngDecoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for d.idatLeft == 0 {
		if err := d.nextIDAT(); err != nil {
			return 0, err
		}
	}
	n := copy(p[:min(len(p), d.idatLeft)], d.data[d.pos:])
	d.pos += n
	d.idatLeft -= n
	return n, nil
}

// ReadByte is Read for one byte; with it the inflater reads no further
// than it needs and needs no buffer of its own.
func (d *pngDecoder) ReadByte() (byte, error) {
	for d.idatLeft == 0 {
		if err := d.nextIDAT(); err != nil {
			return 0, err
		}
	}
	b := d.data[d.pos]
	d.pos++
	d.idatLeft--
	return b, nil
}

// nextIDAT moves past the CRC of the IDAT chunk just read, into the next
// chunk, which must be an IDAT.
func (d *pngDecoder) nextIDAT() error {
	if _, err := d.next(4); err != nil { // the CRC, checked already
		return err
	}
	length, typ, err := d.chunk()
	if err != nil {
		return err
	}
	if typ != "IDAT" {
		return pngFormatError("not enough pixel data")
	}
	d.idatLeft = length
	return nil
}

// bitsPerPixel returns the bits a pixel takes in a row of colour type cb.
func bitsPerPixel(cb, depth int) int {
	switch cb {
	case cbG1, cbG2, cbG4, cbG8, cbP1, cbP2, cbP4, cbP8:
		return depth
	case cbGA8, cbG16:
		return 16
	case cbTC8:
		return 24
	case cbTCA8, cbGA16:
		return 32
	case cbTC16:
		return 48
	case cbTCA16:
		return 64
	}
	return 0
}

// pngInfo is what the header says that the cost depends on.
type pngInfo struct {
	width, height int
	cb, depth     int
	interlace     int
}

// readPNGHeader reads a PNG's signature and IHDR chunk.
func readPNGHeader(data []byte) (pngInfo, error) {
	d := pngDecoder{data: data}
	if err := d.checkHeader(); err != nil {
		return pngInfo{}, err
	}
	length, typ, err := d.chunk()
	if err != nil {
		return pngInfo{}, err
	}
	if typ != "IHDR" {
		return pngInfo{}, chunkOrderError
	}
	if err := d.parseIHDR(length); err != nil {
		return pngInfo{}, err
	}
	return pngInfo{width: d.width, height: d.height, cb: d.cb, depth: d.depth, interlace: d.interlace}, nil
}

// rowSize returns the bytes of a filtered row of w pixels, filter byte
// included.
func (pi *pngInfo) rowSize(w int) int64 {
	return 1 + (int64(bitsPerPixel(pi.cb, pi.depth))*int64(w)+7)/8
}

// cost is the bytes decodePNG allocates for an ow×oh output, besides the
// output image and fixedCost (which covers the inflater).
func (pi *pngInfo) cost(ow, oh int) int64 {
	return 2*pi.rowSize(pi.width) + accumCost(pi.width, 1, ow, oh, pi.interlace == itAdam7)
}

func (d *pngDecoder) checkHeader() error {
	p, err := d.next(len(pngHeader))
	if err != nil {
		return err
	}
	if string(p) != pngHeader {
		return pngFormatError("not a PNG file")
	}
	return nil
}

// decodePNG decodes data to ow×oh.
func decodePNG(data []byte, info *pngInfo, ow, oh int) (*image.RGBA, error) {
	d := &pngDecoder{data: data, ow: ow, oh: oh}
	if err := d.checkHeader(); err != nil {
		return nil, err
	}
	for d.stage != dsSeenIEND {
		if err := d.parseChunk(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if d.width != info.width || d.height != info.height || d.cb != info.cb || d.interlace != info.interlace {
		return nil, pngFormatError("header changed between reads")
	}
	return d.acc.finish(), nil
}

func (d *pngDecoder) parseChunk() error {
	length, typ, err := d.chunk()
	if err != nil {
		return err
	}
	switch typ {
	case "IHDR":
		if d.stage != dsStart {
			return chunkOrderError
		}
		d.stage = dsSeenIHDR
		return d.parseIHDR(length)
	case "PLTE":
		if d.stage != dsSeenIHDR {
			return chunkOrderError
		}
		d.stage = dsSeenPLTE
		return d.parsePLTE(length)
	case "tRNS":
		if cbPaletted(d.cb) {
			if d.stage != dsSeenPLTE {
				return chunkOrderError
			}
		} else if cbTrueColor(d.cb) {
			if d.stage != dsSeenIHDR && d.stage != dsSeenPLTE {
				return chunkOrderError
			}
		} else if d.stage != dsSeenIHDR {
			return chunkOrderError
		}
		d.stage = dsSeentRNS
		return d.parsetRNS(length)
	case "IDAT":
		if d.stage < dsSeenIHDR || d.stage > dsSeenIDAT || (d.stage == dsSeenIHDR && cbPaletted(d.cb)) {
			return chunkOrderError
		} else if d.stage == dsSeenIDAT {
			// Ignore trailing zero-length or garbage IDAT chunks.
			//
			// This does not affect valid PNG images that contain multiple IDAT
			// chunks, since the first call to parseIDAT below will consume all
			// consecutive IDAT chunks required for decoding the image.
			break
		}
		d.stage = dsSeenIDAT
		d.idatLeft = length
		if err := d.decode(); err != nil {
			return err
		}
		_, err := d.next(4) // the last IDAT's CRC, checked already
		return err
	case "IEND":
		if d.stage != dsSeenIDAT {
			return chunkOrderError
		}
		d.stage = dsSeenIEND
		if length != 0 {
			return pngFormatError("bad IEND length")
		}
		_, err := d.next(4)
		return err
	}
	// Ignore this chunk (of a known length).
	_, err = d.next(length + 4)
	return err
}

// decode inflates and unfilters the image data, adding each row to the
// accumulator.
func (d *pngDecoder) decode() error {
	if d.width < d.ow || d.height < d.oh || d.ow < 1 || d.oh < 1 {
		return pngFormatError("header changed between reads")
	}
	r, err := zlib.NewReader(d)
	if err != nil {
		return err
	}
	defer r.Close()
	info := pngInfo{width: d.width, height: d.height, cb: d.cb, depth: d.depth, interlace: d.interlace}
	rowSize := info.rowSize(d.width)
	if rowSize != int64(int(rowSize)) {
		return pngUnsupportedError("dimension overflow")
	}
	d.acc = newAccum(d.width, d.height, 1, d.ow, d.oh, d.interlace == itAdam7)
	cr := make([]uint8, rowSize)
	pr := make([]uint8, rowSize)
	if d.interlace == itNone {
		if err := d.readImagePass(r, cr, pr, interlaceScan{1, 1, 0, 0}); err != nil {
			return err
		}
	} else {
		for _, p := range interlacing {
			if err := d.readImagePass(r, cr, pr, p); err != nil {
				return err
			}
		}
	}

	// Check for EOF, to verify the zlib checksum.
	n := 0
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return io.ErrNoProgress
		}
		n, err = r.Read(d.tmp[:1])
	}
	if err != nil && err != io.EOF {
		return pngFormatError(err.Error())
	}
	if n != 0 || d.idatLeft != 0 {
		return pngFormatError("too much pixel data")
	}
	return nil
}

// readImagePass reads one pass of the image (the whole image when not
// interlaced) and adds its pixels to the accumulator.
func (d *pngDecoder) readImagePass(r io.Reader, cr, pr []byte, p interlaceScan) error {
	width := (d.width - p.xOffset + p.xFactor - 1) / p.xFactor
	height := (d.height - p.yOffset + p.yFactor - 1) / p.yFactor
	if width == 0 || height == 0 {
		return nil
	}
	bitsPerPixel := bitsPerPixel(d.cb, d.depth)
	bytesPerPixel := (bitsPerPixel + 7) / 8
	rowSize := 1 + (bitsPerPixel*width+7)/8
	cr, pr = cr[:rowSize], pr[:rowSize]
	clear(pr)

	for y := 0; y < height; y++ {
		// Read the decompressed bytes.
		_, err := io.ReadFull(r, cr)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return pngFormatError("not enough pixel data")
			}
			return err
		}

		// Apply the filter.
		cdat := cr[1:]
		pdat := pr[1:]
		switch cr[0] {
		case ftNone:
			// No-op.
		case ftSub:
			for i := bytesPerPixel; i < len(cdat); i++ {
				cdat[i] += cdat[i-bytesPerPixel]
			}
		case ftUp:
			for i, p := range pdat {
				cdat[i] += p
			}
		case ftAverage:
			// The first column has no column to the left of it, so it is a
			// special case. We know that the first column exists because we
			// check above that width != 0, and so len(cdat) != 0.
			for i := 0; i < bytesPerPixel; i++ {
				cdat[i] += pdat[i] / 2
			}
			for i := bytesPerPixel; i < len(cdat); i++ {
				cdat[i] += uint8((int(cdat[i-bytesPerPixel]) + int(pdat[i])) / 2)
			}
		case ftPaeth:
			filterPaeth(cdat, pdat, bytesPerPixel)
		default:
			return pngFormatError("bad filter type")
		}

		d.convertRow(cdat, width)
		if p.xFactor == 1 {
			d.acc.addRow(y*p.yFactor + p.yOffset)
		} else {
			d.acc.addStrided(y*p.yFactor+p.yOffset, p.xOffset, p.xFactor, width)
		}

		// The current row for y is the previous row for y+1.
		pr, cr = cr, pr
	}
	return nil
}

// convertRow writes the 8-bit RGB colour of the width pixels of an
// unfiltered row to d.acc.rgb: the colour that image/png's image for this
// colour type gives through color.NRGBAModel.
func (d *pngDecoder) convertRow(cdat []byte, width int) {
	rgb := d.acc.rgb[: 3*width : 3*width]
	gray := func(x int, v byte) { rgb[3*x], rgb[3*x+1], rgb[3*x+2] = v, v, v }
	switch d.cb {
	case cbG1, cbG2, cbG4:
		// Gray, or NRGBA with tRNS: the grey level either way.
		bits := uint(d.depth)
		mul := byte(0xff)
		switch d.depth {
		case 2:
			mul = 0x55
		case 4:
			mul = 0x11
		}
		perByte := 8 / int(bits)
		for x := 0; x < width; x += perByte {
			b := cdat[x/perByte]
			for x2 := 0; x2 < perByte && x+x2 < width; x2++ {
				gray(x+x2, (b>>(8-bits))*mul)
				b <<= bits
			}
		}
	case cbG8:
		for x, v := range cdat[:width] {
			gray(x, v)
		}
	case cbGA8:
		for x := range width {
			gray(x, cdat[2*x])
		}
	case cbTC8:
		copy(rgb, cdat[:3*width])
	case cbTCA8:
		for x := range width {
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = cdat[4*x], cdat[4*x+1], cdat[4*x+2]
		}
	case cbP1, cbP2, cbP4, cbP8:
		bits := uint(d.depth)
		perByte := 8 / int(bits)
		for x := 0; x < width; x += perByte {
			b := cdat[x/perByte]
			for x2 := 0; x2 < perByte && x+x2 < width; x2++ {
				c := &d.palette[b>>(8-bits)]
				i := 3 * (x + x2)
				rgb[i], rgb[i+1], rgb[i+2] = c[0], c[1], c[2]
				b <<= bits
			}
		}
	case cbG16:
		if d.useTransparent {
			ty := uint16(d.transparent[0])<<8 | uint16(d.transparent[1])
			for x := range width {
				y := uint16(cdat[2*x])<<8 | uint16(cdat[2*x+1])
				if y == ty {
					gray(x, 0) // NRGBA64 with alpha 0: black
				} else {
					gray(x, cdat[2*x])
				}
			}
		} else {
			for x := range width {
				gray(x, cdat[2*x])
			}
		}
	case cbGA16:
		for x := range width {
			y := uint16(cdat[4*x])<<8 | uint16(cdat[4*x+1])
			a := uint16(cdat[4*x+2])<<8 | uint16(cdat[4*x+3])
			gray(x, nrgba64To8(y, a))
		}
	case cbTC16:
		tr := uint16(d.transparent[0])<<8 | uint16(d.transparent[1])
		tg := uint16(d.transparent[2])<<8 | uint16(d.transparent[3])
		tb := uint16(d.transparent[4])<<8 | uint16(d.transparent[5])
		for x := range width {
			p := cdat[6*x : 6*x+6 : 6*x+6]
			if d.useTransparent && uint16(p[0])<<8|uint16(p[1]) == tr &&
				uint16(p[2])<<8|uint16(p[3]) == tg && uint16(p[4])<<8|uint16(p[5]) == tb {
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = 0, 0, 0
				continue
			}
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = p[0], p[2], p[4]
		}
	case cbTCA16:
		for x := range width {
			p := cdat[8*x : 8*x+8 : 8*x+8]
			a := uint16(p[6])<<8 | uint16(p[7])
			rgb[3*x] = nrgba64To8(uint16(p[0])<<8|uint16(p[1]), a)
			rgb[3*x+1] = nrgba64To8(uint16(p[2])<<8|uint16(p[3]), a)
			rgb[3*x+2] = nrgba64To8(uint16(p[4])<<8|uint16(p[5]), a)
		}
	}
}

// nrgba64To8 returns the 8-bit value of a 16-bit non-premultiplied sample c
// with alpha a as color.NRGBAModel converts a color.NRGBA64: premultiplied
// (truncating) by its RGBA method, then divided by alpha again; 0 when fully
// transparent.
func nrgba64To8(c, a uint16) byte {
	switch a {
	case 0xffff:
		return byte(c >> 8)
	case 0:
		return 0
	}
	p := uint32(c) * uint32(a) / 0xffff
	return byte((p * 0xffff / uint32(a)) >> 8)
}
