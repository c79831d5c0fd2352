package http_test

import (
	"bytes"
	"image/gif"
	"strings"
	"sync"

	"github.com/facevault/facevault/internal/testimage"
)

// Images shared by the tests, made once.
var images = sync.OnceValue(func() *imageSet {
	s := &imageSet{
		jpeg:       testimage.JPEGSize(40<<10+1, 1), // 40 KiB + 1: base64 with one '=' of padding
		png:        testimage.PNGSize(50<<10, 2),
		jpegMin:    testimage.JPEGSize(34<<10, 3),
		jpegMinM1:  testimage.JPEGSize(34<<10-1, 4),
		jpegMax:    testimage.JPEGSize(4<<20, 5),
		jpegMaxP1:  testimage.JPEGSize(4<<20+1, 6),
		jpeg30K:    testimage.JPEGSize(30<<10, 7),
		jpeg5M:     testimage.JPEGSize(5<<20, 8),
		png33K:     testimage.PNGSize(33<<10, 9),
		pngBomb:    testimage.PNGHeader(60000, 60000, 40<<10),
		pngWide:    testimage.PNGHeader(10001, 100, 40<<10),
		pngPixels:  testimage.PNGHeader(8000, 8000, 40<<10), // 64 MP: each side fine, the product not
		pngEdge:    testimage.PNGHeader(10000, 5000, 40<<10),
		jpegBadHdr: pad(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("not really a JPEG header at all")...), 40<<10),
		pdf:        pad([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"), 40<<10),
		text:       []byte(strings.Repeat("This is a text file, not an image.\n", 1200)),
	}
	var g bytes.Buffer
	if err := gif.Encode(&g, testimage.Noise(160, 160, 10), nil); err != nil {
		panic(err)
	}
	s.gif = pad(g.Bytes(), 40<<10)
	return s
})

type imageSet struct {
	jpeg, png                   []byte
	jpegMin, jpegMinM1          []byte
	jpegMax, jpegMaxP1          []byte
	jpeg30K, jpeg5M, png33K     []byte
	pngBomb, pngWide, pngPixels []byte
	pngEdge                     []byte
	jpegBadHdr, gif, pdf, text  []byte
}

// pad extends b with zero bytes to n bytes (if it is shorter).
func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}
