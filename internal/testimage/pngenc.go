package testimage

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// PNGOptions says how EncodePNG writes an image.
type PNGOptions struct {
	ColorType int // 0 gray, 2 truecolour, 3 paletted, 4 gray+alpha, 6 truecolour+alpha
	Depth     int // 1, 2, 4, 8 or 16, as the colour type allows
	Interlace bool
	// Palette holds RGB triples (colour type 3).
	Palette []byte
	// TRNS is the tRNS chunk's payload, written when not nil.
	TRNS []byte
	// IDATSize splits the compressed data into IDAT chunks of this many
	// bytes (0: one chunk).
	IDATSize int
	// Level is the zlib compression level (0: zlib.DefaultCompression).
	Level int
}

// Samples gives the channel values of pixel (x, y), each within the bit
// depth: the palette index, gray, gray and alpha, RGB or RGBA.
type Samples func(x, y int) [4]uint16

var adam7 = [7][4]int{ // xFactor, yFactor, xOffset, yOffset
	{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1},
}

// EncodePNG writes a w×h PNG of any colour type, bit depth and interlacing,
// streaming its rows (so a 50-megapixel 16-bit image costs a row of memory,
// not the image). Rows cycle through the five filter types.
func EncodePNG(w, h int, px Samples, o PNGOptions) ([]byte, error) {
	channels := map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[o.ColorType]
	if channels == 0 {
		return nil, fmt.Errorf("testimage: colour type %d", o.ColorType)
	}
	bpp := channels * o.Depth // bits per pixel
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(o.Depth), byte(o.ColorType)
	if o.Interlace {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	if o.Palette != nil {
		chunk("PLTE", o.Palette)
	}
	if o.TRNS != nil {
		chunk("tRNS", o.TRNS)
	}
	var z bytes.Buffer
	level := o.Level
	if level == 0 {
		level = zlib.DefaultCompression
	}
	zw, err := zlib.NewWriterLevel(&z, level)
	if err != nil {
		return nil, err
	}
	passes := [][4]int{{1, 1, 0, 0}}
	if o.Interlace {
		passes = adam7[:]
	}
	bypp := max(1, bpp/8)
	for _, p := range passes {
		pw := (w - p[2] + p[0] - 1) / p[0]
		ph := (h - p[3] + p[1] - 1) / p[1]
		if pw <= 0 || ph <= 0 {
			continue
		}
		rowLen := (bpp*pw + 7) / 8
		prev := make([]byte, rowLen)
		cur := make([]byte, rowLen)
		line := make([]byte, 1+rowLen)
		for y := range ph {
			clear(cur)
			for x := range pw {
				s := px(p[2]+x*p[0], p[3]+y*p[1])
				for c := range channels {
					v := s[c]
					switch o.Depth {
					case 16:
						i := (x*channels + c) * 2
						cur[i], cur[i+1] = byte(v>>8), byte(v)
					case 8:
						cur[x*channels+c] = byte(v)
					default:
						bit := (x*channels + c) * o.Depth
						cur[bit/8] |= byte(v) << (8 - o.Depth - bit%8)
					}
				}
			}
			ft := byte(y % 5)
			line[0] = ft
			for i := range cur {
				var a, b, c byte
				if i >= bypp {
					a = cur[i-bypp]
					c = prev[i-bypp]
				}
				b = prev[i]
				var pred byte
				switch ft {
				case 1:
					pred = a
				case 2:
					pred = b
				case 3:
					pred = byte((int(a) + int(b)) / 2)
				case 4:
					pred = paeth(a, b, c)
				}
				line[1+i] = cur[i] - pred
			}
			if _, err := zw.Write(line); err != nil {
				return nil, err
			}
			prev, cur = cur, prev
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	data := z.Bytes()
	size := o.IDATSize
	if size <= 0 {
		size = len(data)
	}
	for len(data) > size {
		chunk("IDAT", data[:size])
		data = data[size:]
	}
	chunk("IDAT", data)
	chunk("IEND", nil)
	return out.Bytes(), nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
