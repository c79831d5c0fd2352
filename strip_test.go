package facevault_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/metastrip"
	"github.com/facevault/facevault/internal/testimage"
)

// recordingAnalyzer is a liveness check that keeps the bytes it was given.
type recordingAnalyzer struct{ got []byte }

func (a *recordingAnalyzer) Analyze(_ context.Context, img io.Reader) (*facevault.LivenessCheck, error) {
	b, err := io.ReadAll(img)
	a.got = b
	return &facevault.LivenessCheck{Outcome: "clear"}, err
}

// jpegSegment returns a JPEG segment with its marker and length.
func jpegSegment(marker byte, body []byte) []byte {
	s := []byte{0xFF, marker}
	s = binary.BigEndian.AppendUint16(s, uint16(len(body)+2))
	return append(s, body...)
}

// gpsExif is an APP1 EXIF segment with orientation o and a GPS IFD.
func gpsExif(o uint16) []byte {
	t := []byte("MM\x00*\x00\x00\x00\x08")
	t = append(t, 0, 2)                                           // two entries
	t = append(t, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0) // orientation
	t = append(t, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38)      // GPS IFD at 38
	t = append(t, 0, 0, 0, 0)                                     // no next IFD
	t = append(t, 0, 1)                                           // GPS IFD: one entry
	t = append(t, 0x00, 0x01, 0, 2, 0, 0, 0, 2, 'N', 0, 0, 0)     // GPSLatitudeRef N
	t = append(t, 0, 0, 0, 0)
	return jpegSegment(0xE1, append([]byte("Exif\x00\x00"), append(t, "GPS-secret-51.5N"...)...))
}

// upload sends img through the vault as the API does.
func upload(t *testing.T, f *sweepFixture, img []byte) (*facevault.LivePhoto, error) {
	t.Helper()
	u, err := f.vault.BeginUpload(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort()
	for i := 0; i < len(img); i += 1000 {
		if _, err := u.Write(img[i:min(i+1000, len(img))]); err != nil {
			return nil, err
		}
	}
	return f.vault.FinishUpload(t.Context(), f.scope, u, f.client, true)
}

func stored(t *testing.T, f *sweepFixture, id string) []byte {
	t.Helper()
	_, r, err := f.vault.OpenImage(t.Context(), f.scope, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStripMetadata(t *testing.T) {
	photo := testimage.JPEG(256, 256, 9) // image/jpeg writes no APPn: SOI, then the frame
	exif, com := gpsExif(6), jpegSegment(0xFE, []byte("taken at home"))
	in := append(append(append([]byte{0xFF, 0xD8}, exif...), com...), photo[2:]...)
	in = append(in, "trailer"...)
	want := append(append([]byte{0xFF, 0xD8}, metastrip.JPEGOrientationSegment(6)...), photo[2:]...)

	for _, tc := range []struct {
		name  string
		strip bool
		want  []byte
	}{{"OK/On", true, want}, {"OK/Off", false, in}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSweepFixture(t)
			a := &recordingAnalyzer{}
			f.vault.Analyzer = a
			f.vault.StripMetadata = tc.strip
			p, err := upload(t, f, in)
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			sum := sha256.Sum256(tc.want)
			if p.Size != int64(len(tc.want)) || p.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("record: size %d, sha256 %s; want %d, %x", p.Size, p.SHA256, len(tc.want), sum)
			}
			if got := stored(t, f, p.ID); !bytes.Equal(got, tc.want) {
				t.Errorf("stored %d bytes, want %d (first difference at %d)", len(got), len(tc.want), diffAt(got, tc.want))
			}
			if !bytes.Equal(a.got, tc.want) {
				t.Errorf("the liveness check read %d bytes, want the %d stored", len(a.got), len(tc.want))
			}
			if p.Width != 256 || p.Height != 256 || p.ContentType != facevault.ContentTypeJPEG {
				t.Errorf("record: %dx%d %s, want 256x256 %s", p.Width, p.Height, p.ContentType, facevault.ContentTypeJPEG)
			}
		})
	}

	// The limits are of the image as sent: 34 KB sent is accepted though
	// less is stored, and over 4 MB sent is refused though less would be.
	t.Run("OK/SizeBoundsOfTheUpload", func(t *testing.T) {
		f := newSweepFixture(t)
		f.vault.StripMetadata = true
		small := testimage.JPEG(32, 32, 1)
		big := append(append([]byte{0xFF, 0xD8}, jpegSegment(0xFE, make([]byte, 34<<10))...), small[2:]...)
		p, err := upload(t, f, big)
		if err != nil {
			t.Fatalf("upload of %d bytes, %d of them a comment: %v", len(big), 34<<10, err)
		}
		if p.Size != int64(len(small)) {
			t.Errorf("size %d, want %d: the image without its comment", p.Size, len(small))
		}
	})
	t.Run("ErrOver4MBAsSent", func(t *testing.T) {
		f := newSweepFixture(t)
		f.vault.StripMetadata = true
		_, err := upload(t, f, testimage.JPEGSize(4<<20+1, 2)) // a small image, then padding after EOI
		wantInvalid(t, err, "Image file size should be between 34KB and 4MB")
		wantNoBlobs(t, f)
	})

	head := append([]byte{0xFF, 0xD8}, jpegSegment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))...)
	pngPhoto := testimage.PNGSize(40<<10, 3)
	jpeg40 := testimage.JPEGSize(40<<10, 5)
	dht := bytes.Index(jpeg40, []byte{0xFF, 0xC4}) // image/jpeg writes SOI, DQT, SOF0, DHT
	for _, tc := range []struct {
		name, msg string
		img       []byte
	}{
		{"ErrJunkBetweenSegments",
			"The image is not a valid JPG file: a byte other than 0xFF where a segment must begin at byte 20, so its metadata cannot be removed",
			append(append(bytes.Clone(head), 0x00), testimage.JPEGSize(40<<10, 4)[2:]...)},
		{"ErrSegmentLengthBelowTwo",
			fmt.Sprintf("The image is not a valid JPG file: segment 0xFE with length 1, below the 2 bytes of the length itself at byte %d, "+
				"so its metadata cannot be removed", len(head)+dht-2+2),
			// After the frame header, where the header check (image/jpeg's
			// DecodeConfig stops at SOF in a JFIF file) does not look.
			append(append(append(bytes.Clone(head), jpeg40[2:dht]...), 0xFF, 0xFE, 0x00, 0x01), jpeg40[dht:]...)},
		{"ErrPNGChunkLength",
			"The image is not a valid PNG file: chunk length 4294967295 over 2^31-1 at byte 33, so its metadata cannot be removed",
			append(append(bytes.Clone(pngPhoto[:33]), 0xFF, 0xFF, 0xFF, 0xFF, 't', 'E', 'X', 't'), pngPhoto[33:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSweepFixture(t)
			f.vault.StripMetadata = true
			_, err := upload(t, f, tc.img)
			wantInvalid(t, err, tc.msg)
			wantNoBlobs(t, f)
			// Without the filter the same bytes are an image like any other.
			f.vault.StripMetadata = false
			if _, err := upload(t, f, tc.img); err != nil {
				t.Errorf("without StripMetadata: %v", err)
			}
		})
	}

	t.Run("ErrImageStoreUnchanged", func(t *testing.T) {
		f := newSweepFixture(t)
		f.vault.StripMetadata = true
		errDisk := errors.New("disk full")
		f.vault.Blobs = failingBlobs{BlobStore: f.vault.Blobs, after: 5000, err: errDisk}
		_, err := upload(t, f, in)
		if !errors.Is(err, errDisk) || facevault.ErrorCode(err) != facevault.EInternal {
			t.Errorf("got %v (code %s), want the image store's error, internal", err, facevault.ErrorCode(err))
		}
	})
}

func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var e *facevault.Error
	if !errors.As(err, &e) || e.Code != facevault.EInvalid || e.Param != "data" || e.Message != msg {
		t.Fatalf("got %v, want %s, param data, %q", err, facevault.EInvalid, msg)
	}
}

func wantNoBlobs(t *testing.T, f *sweepFixture) {
	t.Helper()
	if keys := f.keys(t); len(keys) != 0 {
		t.Errorf("a refused upload left images %v", keys)
	}
}

func diffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// failingBlobs is an image store whose writes fail after some bytes.
type failingBlobs struct {
	facevault.BlobStore
	after int
	err   error
}

func (b failingBlobs) Create(ctx context.Context, key string) (facevault.BlobWriter, error) {
	w, err := b.BlobStore.Create(ctx, key)
	return &failingWriter{BlobWriter: w, left: b.after, err: b.err}, err
}

type failingWriter struct {
	facevault.BlobWriter
	left int
	err  error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, w.err
	}
	w.left -= len(p)
	return w.BlobWriter.Write(p)
}
