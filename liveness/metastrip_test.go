package liveness

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/facevault/facevault/internal/metastrip"
)

// Uploads stripped of their metadata (serve --strip-metadata) are checked
// on the stored, stripped bytes: these tests hold the filter to keeping
// everything the check reads.

func stripped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	w := metastrip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		tb.Fatalf("metastrip: %v", err)
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("metastrip: %v", err)
	}
	return out.Bytes()
}

// TestStrippedSameCheck checks that the liveness check gives the same
// result, EXIF orientation included, on a photo and on the photo stripped
// of its metadata, for every orientation and for a PNG.
func TestStrippedSameCheck(t *testing.T) {
	a := analyzer(t)
	sample := fixtureRGBA(t, "pigo-sample.jpg")
	xmp := app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	com := []byte{0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!'}
	for o := orientNormal; o <= orientRotate270; o++ {
		// The camera stored the face turned; the orientation turns it
		// upright. XMP and a comment come before the EXIF block.
		img := encodeJPEG(t, storedFor(sample, o), 90, append(append(xmp, com...), exifApp1(uint32(o))...))
		check(t, a, img, o)
	}
	check(t, a, readFixture(t, "astronaut.png"), 1)
	check(t, a, readFixture(t, "pigo-sample.jpg"), 1)
}

func check(t *testing.T, a *Analyzer, img []byte, orientation int) {
	t.Helper()
	s := stripped(t, img)
	if len(s) >= len(img) && orientation != 1 {
		t.Errorf("orientation %d: stripping removed nothing", orientation)
	}
	want, err := a.Analyze(context.Background(), bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Analyze(context.Background(), bytes.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("orientation %d: the stripped image's check differs:\n got %s\nwant %s", orientation, describe(got), describe(want))
	}
	if n := want.Breakdown.IntegrityAnalysis.Breakdown.FaceCount; n != 1 {
		t.Errorf("orientation %d: %d faces found, want 1: the test image is wrong", orientation, n)
	}
	if o := got.Breakdown.QualityAnalysis.Breakdown.ExifOrientation; o != orientation {
		t.Errorf("exifOrientation %d after stripping, want %d", o, orientation)
	}
}

// FuzzStripKeepsOrientation checks, on any bytes the filter accepts, that
// the liveness check's EXIF reader finds the same orientation in the
// filter's output as in its input.
func FuzzStripKeepsOrientation(f *testing.F) {
	xmp := app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	for o := range uint32(10) {
		f.Add(jpegWith(exifApp1(o)))
	}
	f.Add(jpegWith(xmp, app1(exifBody(tiffOrientationIFD(false, tiffLong, 8)))))
	f.Add(jpegWith(app1(exifBody(tiffOrientationIFD(false, 2, 6)))))
	f.Add(jpegWith(exifApp1(3), exifApp1(6)))
	f.Add(jpegWith(segWithLength(0xFFFF, exifBody(tiffOrientationIFD(true, tiffShort, 6)))))
	f.Add(jpegWith(exifApp1(6))[:30])
	f.Add(append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xD0}, exifApp1(3)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		w := metastrip.NewWriter(&out)
		if _, err := w.Write(b); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
		want, _ := exifOrientation(b)
		if got, _ := exifOrientation(out.Bytes()); got != want {
			t.Fatalf("orientation %d in the input, %d in the stripped output % x", want, got, out.Bytes())
		}
	})
}
