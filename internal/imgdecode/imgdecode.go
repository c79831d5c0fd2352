// Package imgdecode decodes a JPEG or PNG held in memory straight to a
// downscaled *image.RGBA of a size the caller chooses, with memory bounded by
// that output size rather than by the image's dimensions.
//
// The standard decoders (image/jpeg, image/png) allocate the whole decoded
// image: 16 bytes a pixel for a 16-bit RGBA PNG, 1.5 bytes a pixel plus 256
// bytes per 8×8 block of coefficients for a progressive JPEG. A 50-megapixel
// upload therefore costs hundreds of megabytes, however small its file. This
// package never holds more than a few rows of the full-size image:
//
//   - JPEG (a fork of image/jpeg, see jpeg.go): the first component is
//     decoded at 1/1, 1/2, 1/4 or 1/8 scale with a scaled inverse DCT (the
//     largest reduction whose result still covers the output size), each
//     subsampled component at the scale that makes it no coarser than the
//     first (4:2:0 chroma at 1/8 is decoded at 2×2 per block, as libjpeg
//     does), and the result is area-averaged to the exact output size,
//     each scaled pixel weighted by the full-size pixels it stands for. A
//     sequential JPEG whose first scan holds every component is decoded
//     one MCU row at a time into a strip buffer. A progressive JPEG (or a
//     sequential one with one scan per component) keeps between scans only
//     the coefficients each component's scale needs, as int16 (1, 5, 25 or
//     64 per block in zig-zag order), plus 64 bits a block of refinement
//     history when a kept prefix is shorter than the block; AC scans that
//     carry none of the kept coefficients, and whose history no decoded
//     refinement scan reads, are skipped without Huffman decoding (at 1/8
//     that is every AC scan of a component decoded DC only).
//   - PNG (a fork of image/png, see png.go): rows are inflated and unfiltered
//     one at a time into two row buffers, and each pixel is added to an area
//     accumulator of the output size (one output row of it for a
//     non-interlaced image; all of it for an Adam7-interlaced one, whose
//     passes each cover the whole image).
//
// ReadHeader reads the header only, and Header.Cost tells, from the header
// fields and the output size alone, how many bytes Decode will allocate at
// most, so that a caller can reserve that much memory before decoding. Cost
// is linear in the output size, in the image width (row buffers) and, for
// progressive JPEGs, in the number of 8×8 blocks divided by the square of
// the reduction (the reduction grows with the image, so for a given output
// size this stays bounded: at most about 46 MB for any image of at most
// 50 megapixels decoded to 960 px). It never depends on the file's length or
// on anything after the header, and the tests check that no decode
// allocates more. Decoding time is not bounded by the output size: it is
// linear in the file's entropy-coded data and in the number of 8×8 blocks
// times the number of scans (at most 1000).
//
// Colours match the standard decoders followed by an area filter that
// averages non-premultiplied 8-bit colour and ignores alpha (the semantics of
// FaceVault's former scaleDown): opaque images are unaffected; for images
// with transparency, the colour of 8-bit and paletted pixels is kept whatever
// their alpha, and 16-bit pixels with alpha go through
// color.NRGBAModel as image/png's NRGBA64 would (fully transparent ones
// become black). 16-bit samples are reduced to their high byte.
package imgdecode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
)

// Format is an image file format.
type Format uint8

// The formats this package decodes.
const (
	JPEG Format = iota + 1
	PNG
)

func (f Format) String() string {
	switch f {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ErrUnknownFormat is returned for data that is neither JPEG nor PNG.
var ErrUnknownFormat = errors.New("imgdecode: neither JPEG nor PNG")

// ErrOutputSize is returned when the requested output size is not within
// 1×1 and the image's own size (this package only shrinks), or so small
// that one output pixel would average more than 2^24 pixels.
var ErrOutputSize = errors.New("imgdecode: output size out of range")

// Header describes an image from its header alone.
type Header struct {
	Format        Format
	Width, Height int

	jpeg jpegInfo // Format == JPEG
	png  pngInfo  // Format == PNG
}

// fixedCost bounds the allocations of a decode that do not depend on the
// sizes: the decoder state (Huffman tables, zlib inflater and its window,
// palette), plus the rounding of each large allocation up to whole pages.
const fixedCost = 256 << 10

// ReadHeader reads the header of the JPEG or PNG in data: everything up to
// the start of the pixel data. It does not decode pixels, and allocates a few
// kilobytes whatever the header says.
func ReadHeader(data []byte) (Header, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		info, err := readJPEGHeader(data)
		if err != nil {
			return Header{}, err
		}
		return Header{Format: JPEG, Width: info.width, Height: info.height, jpeg: info}, nil
	case bytes.HasPrefix(data, []byte(pngHeader)):
		info, err := readPNGHeader(data)
		if err != nil {
			return Header{}, err
		}
		return Header{Format: PNG, Width: info.width, Height: info.height, png: info}, nil
	}
	return Header{}, ErrUnknownFormat
}

// checkSize reports whether ow×oh is a size Decode produces for h.
func (h Header) checkSize(ow, oh int) error {
	if ow < 1 || oh < 1 || ow > h.Width || oh > h.Height {
		return fmt.Errorf("%w: %d×%d for a %d×%d image", ErrOutputSize, ow, oh, h.Width, h.Height)
	}
	// The accumulator sums up to 255 per pixel of an output pixel's area
	// in a uint32.
	if int64((h.Width+ow-1)/ow)*int64((h.Height+oh-1)/oh) > 1<<24 {
		return fmt.Errorf("%w: %d×%d is too small for a %d×%d image", ErrOutputSize, ow, oh, h.Width, h.Height)
	}
	return nil
}

// Reduction returns the factor (1, 2, 4 or 8) by which Decode scales the
// image down in the DCT domain before the area filter, for an output of
// ow×oh: the largest whose result still covers ow×oh. It is 1 for PNG.
func (h Header) Reduction(ow, oh int) int {
	if h.Format != JPEG {
		return 1
	}
	return reduction(h.Width, h.Height, ow, oh)
}

// Cost returns the number of bytes that Decode allocates at most (counted as
// the Go runtime's TotalAlloc counts them) to decode the image to ow×oh,
// computed from the header alone. It is 0 when ow×oh is out of range.
func (h Header) Cost(ow, oh int) int64 {
	if h.checkSize(ow, oh) != nil {
		return 0
	}
	// The output image and the accumulator's column map and scratch row.
	var c int64 = fixedCost + 4*int64(ow)*int64(oh)
	switch h.Format {
	case JPEG:
		c += h.jpeg.cost(ow, oh)
	case PNG:
		c += h.png.cost(ow, oh)
	}
	return c
}

// Decode decodes the JPEG or PNG in data to an opaque ow×oh RGBA image,
// which must not be larger than the image in either direction. Each output
// pixel is the mean of the pixels of the (DCT-scaled, for JPEG) image in its
// area. It allocates at most ReadHeader(data).Cost(ow, oh) bytes.
func Decode(data []byte, ow, oh int) (*image.RGBA, error) {
	h, err := ReadHeader(data)
	if err != nil {
		return nil, err
	}
	if err := h.checkSize(ow, oh); err != nil {
		return nil, err
	}
	switch h.Format {
	case JPEG:
		return decodeJPEG(data, &h.jpeg, ow, oh)
	default:
		return decodePNG(data, &h.png, ow, oh)
	}
}
