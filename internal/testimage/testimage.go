// Package testimage makes images for tests: real JPEG and PNG encodings of
// noise, sized to order, and headers that lie.
package testimage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
)

// Noise returns a w×h image of seeded random colours: it compresses badly,
// so small dimensions give large files.
func Noise(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		v := r.Uint32()
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(v), uint8(v>>8), uint8(v>>16), 255
	}
	return img
}

// JPEG encodes a noise image of w×h pixels.
func JPEG(w, h int, seed uint64) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Noise(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG encodes a noise image of w×h pixels.
func PNG(w, h int, seed uint64) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, Noise(w, h, seed)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// JPEGSize returns a valid JPEG of exactly n bytes: a small noise image
// followed by padding after its end marker, which decoders ignore. n must be
// at least a few kilobytes.
func JPEGSize(n int, seed uint64) []byte {
	img := JPEG(48, 48, seed)
	if len(img) > n {
		panic("testimage: requested size too small")
	}
	return pad(img, n, seed)
}

// PNGSize returns a valid PNG of exactly n bytes, padded after its IEND
// chunk.
func PNGSize(n int, seed uint64) []byte {
	img := PNG(32, 32, seed)
	if len(img) > n {
		panic("testimage: requested size too small")
	}
	return pad(img, n, seed)
}

func pad(img []byte, n int, seed uint64) []byte {
	out := make([]byte, n)
	copy(out, img)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := len(img); i < n; i++ {
		out[i] = byte(r.Uint32())
	}
	return out
}

// PNGHeader returns a PNG signature and an IHDR chunk claiming w×h pixels,
// padded to n bytes: a decompression bomb's calling card.
func PNGHeader(w, h uint32, n int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return pad(b.Bytes(), max(n, b.Len()), 7)
}

// BoxBlur returns m blurred with a (2r+1)×(2r+1) box, edges clamped: a
// sharp face photo blurred so that a liveness check flags its sharpness.
func BoxBlur(m image.Image, r int) *image.RGBA {
	b := m.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var sr, sg, sb, n uint32
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					px, py := min(max(x+dx, b.Min.X), b.Max.X-1), min(max(y+dy, b.Min.Y), b.Max.Y-1)
					cr, cg, cb, _ := m.At(px, py).RGBA()
					sr, sg, sb, n = sr+cr>>8, sg+cg>>8, sb+cb>>8, n+1
				}
			}
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(sr/n), uint8(sg/n), uint8(sb/n), 255
		}
	}
	return out
}
