package imagecheck_test

import (
	"errors"
	"testing"

	"github.com/facevault/facevault/imagecheck"
	"github.com/facevault/facevault/internal/testimage"
)

// check writes img to a Checker in chunks of the given size and returns the
// result, and how many bytes were accepted before a write failed.
func check(img []byte, chunk int) (imagecheck.Info, int, error) {
	c := imagecheck.New(imagecheck.DefaultLimits())
	defer c.Close()
	n := 0
	for len(img) > 0 {
		k := min(chunk, len(img))
		if _, err := c.Write(img[:k]); err != nil {
			return imagecheck.Info{}, n, err
		}
		n += k
		img = img[k:]
	}
	info, err := c.Finish()
	return info, n, err
}

func TestChecker(t *testing.T) {
	jpegOK := testimage.JPEG(256, 256, 1)
	if len(jpegOK) < 34<<10 {
		t.Fatalf("fixture too small: %d bytes", len(jpegOK))
	}
	pngOK := testimage.PNG(120, 120, 2)
	tests := []struct {
		name   string
		img    []byte
		format string
		reason string
	}{
		{"OK/JPEG", jpegOK, imagecheck.JPEG, ""},
		{"OK/PNG", pngOK, imagecheck.PNG, ""},
		{"OK/JPEGWithTrailingGarbage", testimage.JPEGSize(100<<10, 3), imagecheck.JPEG, ""},
		{"OK/JPEGExactlyMin", testimage.JPEGSize(34<<10, 4), imagecheck.JPEG, ""},
		{"OK/JPEGExactlyMax", testimage.JPEGSize(4<<20, 5), imagecheck.JPEG, ""},
		{"OK/PNGExactlyMax", testimage.PNGSize(4<<20, 5), imagecheck.PNG, ""},
		{"ErrFormat/GIF", append([]byte("GIF89a"), make([]byte, 40<<10)...), "", imagecheck.ReasonFormat},
		{"ErrFormat/PDF", append([]byte("%PDF-1.7\n"), make([]byte, 40<<10)...), "", imagecheck.ReasonFormat},
		{"ErrFormat/Text", []byte("hello, this is not an image at all, just some words\n"), "", imagecheck.ReasonFormat},
		{"ErrFormat/Empty", nil, "", imagecheck.ReasonFormat},
		{"ErrFormat/ShortPNGMagic", []byte{0x89, 'P', 'N'}, "", imagecheck.ReasonFormat},
		{"ErrFormat/JPEGMagicThenGarbage", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 40<<10)...), "", imagecheck.ReasonFormat},
		{"ErrFormat/TruncatedPNGHeader", testimage.PNG(120, 120, 2)[:20], "", imagecheck.ReasonFormat},
		{"ErrSize/JPEG30KB", testimage.JPEGSize(30<<10, 6), "", imagecheck.ReasonSize},
		{"ErrSize/JPEGOneBelowMin", testimage.JPEGSize(34<<10-1, 6), "", imagecheck.ReasonSize},
		{"ErrSize/JPEGOneAboveMax", testimage.JPEGSize(4<<20+1, 7), "", imagecheck.ReasonSize},
		{"ErrSize/JPEG5MB", testimage.JPEGSize(5<<20, 7), "", imagecheck.ReasonSize},
		{"ErrPixels/PNG60000", testimage.PNGHeader(60000, 60000, 40<<10), "", imagecheck.ReasonPixels},
		{"ErrPixels/PNGWide", testimage.PNGHeader(10001, 10, 40<<10), "", imagecheck.ReasonPixels},
		{"ErrPixels/PNGOver50MP", testimage.PNGHeader(8000, 7000, 40<<10), "", imagecheck.ReasonPixels},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 32 << 10} {
			if chunk == 1 && len(tt.img) > 200<<10 {
				continue // byte-at-a-time over megabytes is slow and adds nothing
			}
			info, _, err := check(tt.img, chunk)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("%s (chunk %d): %v", tt.name, chunk, err)
				} else if info.Format != tt.format || info.Size != int64(len(tt.img)) || info.Width <= 0 {
					t.Errorf("%s (chunk %d): got %+v, want format %s size %d", tt.name, chunk, info, tt.format, len(tt.img))
				}
				continue
			}
			var ie *imagecheck.Error
			if !errors.As(err, &ie) {
				t.Errorf("%s (chunk %d): got %v, want an *imagecheck.Error", tt.name, chunk, err)
			} else if ie.Reason != tt.reason {
				t.Errorf("%s (chunk %d): got reason %q (%s), want %q", tt.name, chunk, ie.Reason, ie.Message, tt.reason)
			}
		}
	}
}

// A bound crossed part-way stops the stream there, not at the end.
func TestCheckerStopsEarly(t *testing.T) {
	tests := []struct {
		name  string
		img   []byte
		limit int // the failing write must come at or before this many bytes
	}{
		{"Oversize", testimage.JPEGSize(5<<20, 8), 4<<20 + 32<<10},
		{"NotAnImage", append([]byte("GIF89a"), make([]byte, 1<<20)...), 32 << 10},
		{"PixelBomb", testimage.PNGHeader(60000, 60000, 1<<20), 32 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, accepted, err := check(tt.img, 32<<10)
			if err == nil {
				t.Fatal("accepted")
			}
			if accepted >= tt.limit {
				t.Errorf("accepted %d bytes before refusing, want fewer than %d", accepted, tt.limit)
			}
		})
	}
}

func TestSizeMessage(t *testing.T) {
	_, _, err := check(testimage.JPEGSize(30<<10, 9), 4096)
	var ie *imagecheck.Error
	if !errors.As(err, &ie) {
		t.Fatalf("got %v", err)
	}
	if got, want := ie.Message, "Image file size should be between 34KB and 4MB"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
