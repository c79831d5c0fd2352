package testimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/color"
	"math"
)

// JPEGColor is the colour model a test JPEG is written in.
type JPEGColor int

// The colour models EncodeJPEG writes.
const (
	JPEGGray  JPEGColor = iota // one component, JFIF
	JPEGYCbCr                  // three components, JFIF
	JPEGRGB                    // three components, RGB (Adobe transform 0)
	JPEGCMYK                   // four components, inverted CMYK (Adobe transform 0)
	JPEGYCCK                   // four components, inverted YCbCr and K (Adobe transform 2)
)

// JPEGOptions says how EncodeJPEG writes an image.
type JPEGOptions struct {
	Color   JPEGColor
	Quality int // 1-100, as libjpeg scales the Annex K tables
	// H and V are the sampling factors of the first component (the others
	// have 1, except K of a 4-component image, which has the first's).
	// Zero means 1.
	H, V int
	// Progressive writes a progressive JPEG with libjpeg's default script
	// (spectral selection and successive approximation, DC first).
	Progressive bool
	// Script replaces the default progressive script.
	Script []JPEGScan
	// NonInterleaved writes a sequential JPEG with one scan per component.
	NonInterleaved bool
	// Restart is the restart interval in MCUs (sequential interleaved only).
	Restart int
}

// JPEGScan is one scan of a progressive JPEG: the components (indexes into
// the frame's), the spectral selection Ss..Se and the successive
// approximation bits Ah, Al.
type JPEGScan struct {
	Comps          []int
	Ss, Se, Ah, Al int
}

// DefaultProgression returns libjpeg's jpeg_simple_progression script for n
// components.
func DefaultProgression(n int) []JPEGScan {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if n == 3 {
		return []JPEGScan{
			{all, 0, 0, 0, 1},
			{[]int{0}, 1, 5, 0, 2},
			{[]int{2}, 1, 63, 0, 1},
			{[]int{1}, 1, 63, 0, 1},
			{[]int{0}, 6, 63, 0, 2},
			{[]int{0}, 1, 63, 2, 1},
			{all, 0, 0, 1, 0},
			{[]int{2}, 1, 63, 1, 0},
			{[]int{1}, 1, 63, 1, 0},
			{[]int{0}, 1, 63, 1, 0},
		}
	}
	s := []JPEGScan{{all, 0, 0, 0, 1}}
	for c := range n {
		s = append(s, JPEGScan{[]int{c}, 1, 5, 0, 2}, JPEGScan{[]int{c}, 6, 63, 0, 2})
	}
	for c := range n {
		s = append(s, JPEGScan{[]int{c}, 1, 63, 2, 1})
	}
	s = append(s, JPEGScan{all, 0, 0, 1, 0})
	for c := range n {
		s = append(s, JPEGScan{[]int{c}, 1, 63, 1, 0})
	}
	return s
}

// Pixels gives the colour of pixel (x, y) of a test image.
type Pixels func(x, y int) color.RGBA

// EncodeJPEG writes a w×h image as a JPEG, with the test encoder: a float
// DCT, the Annex K quantization tables, and one fixed Huffman table of all
// 256 symbols (8 or 9 bits each), which any decoder accepts for any scan.
// Unlike image/jpeg's encoder it writes every sampling factor, gray, RGB,
// CMYK and YCCK, restart intervals, non-interleaved and progressive scans.
// Chroma is subsampled by averaging; edge blocks repeat the edge pixels.
func EncodeJPEG(w, h int, px Pixels, o JPEGOptions) ([]byte, error) {
	e, err := newEncoder(w, h, o)
	if err != nil {
		return nil, err
	}
	e.transform(px)
	return e.write(), nil
}

type encComp struct {
	id    byte
	h, v  int
	tq    int
	bw    int     // blocks across (MCU-padded)
	bh    int     // blocks down
	coefs []int16 // quantized, natural order, 64 per block
}

type encoder struct {
	w, h     int
	o        JPEGOptions
	comps    []encComp
	hmax     int
	vmax     int
	mxx, myy int
	quant    [2][64]int // natural order
	out      bytes.Buffer
	// bit writer
	acc   uint32
	nacc  uint
	eob   int    // pending EOB run
	be    []byte // pending correction bits of the EOB run
	codes [256]uint16
	lens  [256]uint8
}

var zigzag = [64]int{ // natural index of zig-zag position
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

var stdLuma = [64]int{ // natural order, Annex K.1
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

var stdChroma = [64]int{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

func newEncoder(w, h int, o JPEGOptions) (*encoder, error) {
	if w < 1 || h < 1 || w > 65535 || h > 65535 {
		return nil, fmt.Errorf("testimage: bad size %d×%d", w, h)
	}
	if o.Quality < 1 || o.Quality > 100 {
		return nil, fmt.Errorf("testimage: bad quality %d", o.Quality)
	}
	e := &encoder{w: w, h: h, o: o}
	h0, v0 := max(o.H, 1), max(o.V, 1)
	switch o.Color {
	case JPEGGray:
		e.comps = []encComp{{id: 1, h: 1, v: 1}}
		h0, v0 = 1, 1
	case JPEGYCbCr:
		e.comps = []encComp{{id: 1, h: h0, v: v0}, {id: 2, h: 1, v: 1, tq: 1}, {id: 3, h: 1, v: 1, tq: 1}}
	case JPEGRGB:
		e.comps = []encComp{{id: 'R', h: h0, v: v0}, {id: 'G', h: 1, v: 1, tq: 1}, {id: 'B', h: 1, v: 1, tq: 1}}
	case JPEGCMYK, JPEGYCCK:
		e.comps = []encComp{{id: 1, h: h0, v: v0}, {id: 2, h: 1, v: 1, tq: 1}, {id: 3, h: 1, v: 1, tq: 1}, {id: 4, h: h0, v: v0}}
	}
	e.hmax, e.vmax = h0, v0
	e.mxx = (w + 8*h0 - 1) / (8 * h0)
	e.myy = (h + 8*v0 - 1) / (8 * v0)
	for i := range e.comps {
		c := &e.comps[i]
		c.bw, c.bh = e.mxx*c.h, e.myy*c.v
		c.coefs = make([]int16, 64*c.bw*c.bh)
	}
	scale := 5000 / o.Quality
	if o.Quality >= 50 {
		scale = 200 - 2*o.Quality
	}
	for i := range 64 {
		e.quant[0][i] = min(max((stdLuma[i]*scale+50)/100, 1), 255)
		e.quant[1][i] = min(max((stdChroma[i]*scale+50)/100, 1), 255)
	}
	// The flat Huffman table: symbols 0-253 get the 8-bit codes 0-253,
	// symbols 254 and 255 the 9-bit codes 508 and 509.
	for s := range 256 {
		if s < 254 {
			e.codes[s], e.lens[s] = uint16(s), 8
		} else {
			e.codes[s], e.lens[s] = uint16(508+s-254), 9
		}
	}
	return e, nil
}

// samples returns the component values of a pixel.
func (e *encoder) samples(c color.RGBA) [4]float64 {
	switch e.o.Color {
	case JPEGGray:
		y, _, _ := color.RGBToYCbCr(c.R, c.G, c.B)
		return [4]float64{float64(y)}
	case JPEGYCbCr:
		y, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
		return [4]float64{float64(y), float64(cb), float64(cr)}
	case JPEGRGB:
		return [4]float64{float64(c.R), float64(c.G), float64(c.B)}
	case JPEGCMYK:
		cc, m, y, k := color.RGBToCMYK(c.R, c.G, c.B)
		return [4]float64{float64(255 - cc), float64(255 - m), float64(255 - y), float64(255 - k)}
	default: // YCCK
		cc, m, y, k := color.RGBToCMYK(c.R, c.G, c.B)
		yy, cb, cr := color.RGBToYCbCr(cc, m, y)
		return [4]float64{float64(yy), float64(cb), float64(cr), float64(255 - k)}
	}
}

var cosTable = func() (t [8][8]float64) {
	for x := range 8 {
		for u := range 8 {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			t[x][u] = 0.5 * c * math.Cos(float64((2*x+1)*u)*math.Pi/16)
		}
	}
	return t
}()

// transform computes the quantized coefficients of every block, one MCU row
// of pixels at a time.
func (e *encoder) transform(px Pixels) {
	n := len(e.comps)
	mw, mh := 8*e.hmax*e.mxx, 8*e.vmax
	// One MCU row of full-resolution samples per component.
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, mw*mh)
	}
	var blk [64]float64
	for my := range e.myy {
		for y := range mh {
			sy := min(my*mh+y, e.h-1)
			for x := range mw {
				s := e.samples(px(min(x, e.w-1), sy))
				for i := range n {
					rows[i][y*mw+x] = s[i]
				}
			}
		}
		for ci := range e.comps {
			c := &e.comps[ci]
			fx, fy := e.hmax/c.h, e.vmax/c.v // subsampling factors
			q := &e.quant[min(c.tq, 1)]
			for by := range c.v {
				for bx := range c.bw {
					for y := range 8 {
						for x := range 8 {
							s := 0.0
							for dy := range fy {
								for dx := range fx {
									s += rows[ci][((by*8+y)*fy+dy)*mw+(bx*8+x)*fx+dx]
								}
							}
							blk[y*8+x] = s/float64(fx*fy) - 128
						}
					}
					out := c.coefs[64*((my*c.v+by)*c.bw+bx):][:64]
					fdct(&blk, out, q)
				}
			}
		}
	}
}

// fdct writes the quantized DCT of b to out.
func fdct(b *[64]float64, out []int16, q *[64]int) {
	flat := true
	for _, v := range b {
		if v != b[0] {
			flat = false
			break
		}
	}
	if flat { // DC only: 8 times the mean
		clear(out)
		out[0] = int16(math.Round(8 * b[0] / float64(q[0])))
		return
	}
	var tmp [64]float64 // tmp[y*8+u]
	for y := range 8 {
		for u := range 8 {
			s := 0.0
			for x := range 8 {
				s += cosTable[x][u] * b[y*8+x]
			}
			tmp[y*8+u] = s
		}
	}
	for v := range 8 {
		for u := range 8 {
			s := 0.0
			for y := range 8 {
				s += cosTable[y][v] * tmp[y*8+u]
			}
			out[v*8+u] = int16(math.Round(s / float64(q[v*8+u])))
		}
	}
}

func (e *encoder) marker(m byte, payload []byte) {
	e.out.Write([]byte{0xFF, m})
	binary.Write(&e.out, binary.BigEndian, uint16(len(payload)+2))
	e.out.Write(payload)
}

func (e *encoder) write() []byte {
	e.out.Write([]byte{0xFF, 0xD8})
	switch e.o.Color {
	case JPEGGray, JPEGYCbCr:
		e.marker(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	case JPEGRGB, JPEGCMYK:
		e.marker(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00"))
	case JPEGYCCK:
		e.marker(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x02"))
	}
	for t := range 2 {
		p := []byte{byte(t)}
		for z := range 64 {
			p = append(p, byte(e.quant[t][zigzag[z]]))
		}
		e.marker(0xDB, p)
	}
	sof := byte(0xC0)
	if e.o.Progressive || e.o.Script != nil {
		sof = 0xC2
	}
	p := []byte{8, byte(e.h >> 8), byte(e.h), byte(e.w >> 8), byte(e.w), byte(len(e.comps))}
	for _, c := range e.comps {
		p = append(p, c.id, byte(c.h<<4|c.v), byte(c.tq))
	}
	e.marker(sof, p)
	// One table for everything: DC 0 and AC 0.
	var counts [16]byte
	counts[7], counts[8] = 254, 2
	for _, class := range []byte{0x00, 0x10} {
		p := append([]byte{class}, counts[:]...)
		for s := range 256 {
			p = append(p, byte(s))
		}
		e.marker(0xC4, p)
	}
	all := make([]int, len(e.comps))
	for i := range all {
		all[i] = i
	}
	switch {
	case sof == 0xC2:
		script := e.o.Script
		if script == nil {
			script = DefaultProgression(len(e.comps))
		}
		for _, s := range script {
			e.scan(s)
		}
	case e.o.NonInterleaved:
		for c := range e.comps {
			e.scan(JPEGScan{[]int{c}, 0, 63, 0, 0})
		}
	default:
		if e.o.Restart > 0 {
			e.marker(0xDD, []byte{byte(e.o.Restart >> 8), byte(e.o.Restart)})
		}
		e.scan(JPEGScan{all, 0, 63, 0, 0})
	}
	e.out.Write([]byte{0xFF, 0xD9})
	return e.out.Bytes()
}

func (e *encoder) bitsOut(v uint32, n uint) {
	for n > 0 {
		k := min(n, 24-e.nacc)
		e.acc = e.acc<<k | (v>>(n-k))&(1<<k-1)
		e.nacc += k
		n -= k
		for e.nacc >= 8 {
			b := byte(e.acc >> (e.nacc - 8))
			e.out.WriteByte(b)
			if b == 0xFF {
				e.out.WriteByte(0)
			}
			e.nacc -= 8
			e.acc &= 1<<e.nacc - 1
		}
	}
}

func (e *encoder) flushBits() {
	if e.nacc > 0 {
		e.bitsOut(1<<(8-e.nacc)-1, 8-e.nacc) // pad with ones
	}
}

func (e *encoder) symbol(s int) { e.bitsOut(uint32(e.codes[s]), uint(e.lens[s])) }

// value writes the size category symbol base|size and the value's bits.
func (e *encoder) value(base, v int) {
	a := v
	if a < 0 {
		a = -a
	}
	n := 0
	for a>>n != 0 {
		n++
	}
	e.symbol(base | n)
	if v < 0 {
		v += 1<<n - 1
	}
	if n > 0 {
		e.bitsOut(uint32(v), uint(n))
	}
}

// flushEOB writes the pending EOB run and its correction bits.
func (e *encoder) flushEOB() {
	if e.eob == 0 {
		return
	}
	n := 0
	for e.eob>>(n+1) != 0 {
		n++
	}
	e.symbol(n << 4)
	if n > 0 {
		e.bitsOut(uint32(e.eob)&(1<<n-1), uint(n))
	}
	for _, b := range e.be {
		e.bitsOut(uint32(b), 1)
	}
	e.eob, e.be = 0, e.be[:0]
}

func (e *encoder) scan(s JPEGScan) {
	p := []byte{byte(len(s.Comps))}
	for _, c := range s.Comps {
		p = append(p, e.comps[c].id, 0x00)
	}
	p = append(p, byte(s.Ss), byte(s.Se), byte(s.Ah<<4|s.Al))
	e.marker(0xDA, p)
	e.acc, e.nacc = 0, 0
	var pred [4]int
	progressive := e.o.Progressive || e.o.Script != nil
	block := func(ci int, bi int) {
		c := e.comps[ci].coefs[64*bi:][:64]
		if s.Ss == 0 {
			if s.Ah == 0 {
				dc := int(c[0]) >> s.Al
				e.value(0, dc-pred[ci])
				pred[ci] = dc
			} else {
				e.bitsOut(uint32(int(c[0])>>s.Al)&1, 1)
			}
			if progressive {
				return
			}
		}
		ss := max(s.Ss, 1)
		if s.Ah == 0 {
			e.acFirst(c, ss, s.Se, s.Al, !progressive)
		} else {
			e.acRefine(c, ss, s.Se, s.Al)
		}
	}
	if len(s.Comps) == 1 {
		// Non-interleaved: the component's blocks in raster order, those
		// inside the image only (as image/jpeg counts them).
		ci := s.Comps[0]
		c := &e.comps[ci]
		for by := range c.bh {
			for bx := range c.bw {
				if bx*8 >= e.w || by*8 >= e.h {
					continue
				}
				block(ci, by*c.bw+bx)
			}
		}
	} else {
		mcu := 0
		rst := 0
		for my := range e.myy {
			for mx := range e.mxx {
				for _, ci := range s.Comps {
					c := &e.comps[ci]
					for j := range c.h * c.v {
						bx, by := c.h*mx+j%c.h, c.v*my+j/c.h
						block(ci, by*c.bw+bx)
					}
				}
				mcu++
				if e.o.Restart > 0 && !progressive && mcu%e.o.Restart == 0 && mcu < e.mxx*e.myy {
					e.flushEOB()
					e.flushBits()
					e.out.Write([]byte{0xFF, byte(0xD0 + rst)})
					rst = (rst + 1) % 8
					pred = [4]int{}
				}
			}
		}
	}
	e.flushEOB()
	e.flushBits()
}

// acFirst writes the first (or only) scan of coefficients ss..se.
func (e *encoder) acFirst(c []int16, ss, se, al int, sequential bool) {
	if zeroAC(c) {
		e.eob++
		if sequential || e.eob == 0x7FFF {
			e.flushEOB()
		}
		return
	}
	r := 0
	for k := ss; k <= se; k++ {
		v := int(c[zigzag[k]])
		t := v
		if t < 0 {
			t = -t
		}
		t >>= al
		if t == 0 {
			r++
			continue
		}
		e.flushEOB()
		for r > 15 {
			e.symbol(0xF0)
			r -= 16
		}
		if v < 0 {
			t = -t
		}
		e.value(r<<4, t)
		r = 0
	}
	if r > 0 {
		e.eob++
		if sequential || e.eob == 0x7FFF {
			e.flushEOB()
		}
	}
}

// acRefine writes a refinement scan of coefficients ss..se (G.1.2.3, as
// libjpeg's encode_mcu_AC_refine).
func (e *encoder) acRefine(c []int16, ss, se, al int) {
	if zeroAC(c) {
		e.eob++
		if e.eob == 0x7FFF {
			e.flushEOB()
		}
		return
	}
	var abs [64]int
	eob := 0
	for k := ss; k <= se; k++ {
		t := int(c[zigzag[k]])
		if t < 0 {
			t = -t
		}
		abs[k] = t >> al
		if abs[k] == 1 {
			eob = k
		}
	}
	r := 0
	var br []byte
	for k := ss; k <= se; k++ {
		t := abs[k]
		if t == 0 {
			r++
			continue
		}
		for r > 15 && k <= eob {
			e.flushEOB()
			e.symbol(0xF0)
			r -= 16
			for _, b := range br {
				e.bitsOut(uint32(b), 1)
			}
			br = br[:0]
		}
		if t > 1 {
			br = append(br, byte(t&1))
			continue
		}
		e.flushEOB()
		e.symbol(r<<4 | 1)
		if c[zigzag[k]] < 0 {
			e.bitsOut(0, 1)
		} else {
			e.bitsOut(1, 1)
		}
		for _, b := range br {
			e.bitsOut(uint32(b), 1)
		}
		br = br[:0]
		r = 0
	}
	if r > 0 || len(br) > 0 {
		e.eob++
		e.be = append(e.be, br...)
		if e.eob == 0x7FFF || len(e.be) > 900 {
			e.flushEOB()
		}
	}
}

// zeroAC reports whether a block's AC coefficients are all zero.
func zeroAC(c []int16) bool {
	for _, v := range c[1:] {
		if v != 0 {
			return false
		}
	}
	return true
}
