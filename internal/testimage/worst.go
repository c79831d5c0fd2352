package testimage

import (
	"bytes"
	"image/color"
	"image/jpeg"
)

// The worst cases for a decoder's memory among legal live photos (at most
// 4 MiB, 10,000 px a side, 50 megapixels). Each is generated, not stored:
// they are small files that decode to large images.

// WorstPNG16 returns a 10000×5000 16-bit RGBA PNG (50 MP) of bands of
// colour, a few hundred kilobytes, which image/png decodes to a 400 MB
// image.NRGBA64 (8 bytes a pixel).
func WorstPNG16() []byte {
	const w, h = 10000, 5000
	data, err := EncodePNG(w, h, func(x, y int) [4]uint16 {
		return [4]uint16{uint16(y * 13), uint16(x/500) * 3000, 0x8000, 0xffff}
	}, PNGOptions{ColorType: 6, Depth: 16, IDATSize: 1 << 16})
	if err != nil {
		panic(err)
	}
	return data
}

// WorstProgressiveJPEG returns a 10000×5000 progressive 4:2:0 JPEG (50 MP),
// about 1.5 MB, whose first scan holds only DC coefficients and whose
// coefficients arrive by successive approximation (libjpeg's default
// script). The picture is a coarse mosaic of gradients (flat 16×16 tiles,
// cheap to generate) with a textured 1024×1024 square whose blocks have AC
// coefficients in every band. image/jpeg keeps 256 bytes of coefficients
// per 8×8 block between scans (300 MB here) plus the 75 MB image.
func WorstProgressiveJPEG() []byte {
	const w, h = 10000, 5000
	data, err := EncodeJPEG(w, h, func(x, y int) color.RGBA {
		if x >= 4000 && x < 5024 && y >= 2000 && y < 3024 {
			v := uint8((x*x + y*7) % 251)
			return color.RGBA{v, uint8(x), uint8(y), 255}
		}
		x, y = x&^15, y&^15
		return color.RGBA{uint8(x / 40), uint8(y / 20), uint8((x + y) / 60), 255}
	}, JPEGOptions{Color: JPEGYCbCr, Quality: 75, H: 2, V: 2, Progressive: true})
	if err != nil {
		panic(err)
	}
	return data
}

// NoiseJPEG4MB returns a JPEG of random pixels at quality 100, written by
// image/jpeg (4:2:0), just under 4 MiB: 1600×1200 pixels, the most entropy
// data per pixel, so the most Huffman decoding per byte.
func NoiseJPEG4MB() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Noise(1600, 1200, 4), &jpeg.Options{Quality: 100}); err != nil {
		panic(err)
	}
	return b.Bytes()
}
