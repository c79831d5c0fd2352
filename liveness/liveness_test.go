package liveness

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/facevault/facevault"
)

const (
	clear_    = facevault.OutcomeClear
	attention = facevault.OutcomeAttention
)

// verdicts flattens a result's analyses by their JSON names.
func verdicts(r *facevault.LivenessCheck) map[string]string {
	v := map[string]string{"outcome": r.Outcome, "faceDetection": r.Breakdown.IntegrityAnalysis.FaceDetection}
	if q := r.Breakdown.QualityAnalysis; q != nil {
		v["faceSize"], v["faceOrientation"], v["sharpness"], v["exposure"] = q.FaceSize, q.FaceOrientation, q.Sharpness, q.Exposure
	}
	if a := r.Breakdown.AuthenticityAnalysis; a != nil {
		v["spoofedImageAnalysis"], v["livenessCheck"] = a.SpoofedImageAnalysis, a.LivenessCheck
	}
	return v
}

// describe is a one-line summary of a result, logged for the report.
func describe(r *facevault.LivenessCheck) string {
	s := fmt.Sprintf("outcome=%s faces=%d readable=%v", r.Outcome,
		r.Breakdown.IntegrityAnalysis.Breakdown.FaceCount, r.Breakdown.IntegrityAnalysis.Breakdown.ImageReadable)
	if q := r.Breakdown.QualityAnalysis; q != nil {
		b := q.Breakdown
		s += fmt.Sprintf(" | size=%s(%dpx share=%.3f border=%v) orient=%s(pupils=%d roll=%.1f) sharp=%s(%.0f) expo=%s(mean=%.0f clip=%.3f) q=%.0f img=%dx%d exif=%d",
			q.FaceSize, b.FaceWidthPixels, b.FaceShare, b.FaceTouchesBorder, q.FaceOrientation, b.PupilsFound, b.RollDegrees,
			q.Sharpness, b.SharpnessVariance, q.Exposure, b.MeanLuminance, b.ClippedShare, b.DetectionQuality,
			b.ImageWidthPixels, b.ImageHeightPixels, b.ExifOrientation)
	}
	if a := r.Breakdown.AuthenticityAnalysis; a != nil {
		s += fmt.Sprintf(" | antispoof=%s(%d) liveness=%s(%d)", a.SpoofedImageAnalysis, a.Breakdown.AntispoofScore,
			a.LivenessCheck, a.Breakdown.LivenessCheckScore)
	}
	return s
}

// checkConsistent asserts what the design guarantees of any result: each
// verdict follows from its figures and the default thresholds, the outcome
// is attention exactly when some analysis is, and the sub-analyses are
// present exactly when a face was found.
func checkConsistent(t *testing.T, r *facevault.LivenessCheck, engine string) {
	t.Helper()
	cfg := DefaultConfig()
	integ := r.Breakdown.IntegrityAnalysis
	if r.Engine != engine {
		t.Errorf("engine %q, want %q", r.Engine, engine)
	}
	if got, want := integ.FaceDetection, verdict(integ.Breakdown.ImageReadable && integ.Breakdown.FaceCount == 1); got != want {
		t.Errorf("faceDetection %s with %d faces (readable %v)", got, integ.Breakdown.FaceCount, integ.Breakdown.ImageReadable)
	}
	q, a := r.Breakdown.QualityAnalysis, r.Breakdown.AuthenticityAnalysis
	if (q != nil) != (integ.Breakdown.FaceCount > 0) || (a != nil) != (q != nil) {
		t.Fatalf("quality present %v, authenticity present %v, with %d faces", q != nil, a != nil, integ.Breakdown.FaceCount)
	}
	anyAttention := integ.FaceDetection == attention
	if q != nil {
		b := q.Breakdown
		want := map[string][2]string{
			"faceSize":        {q.FaceSize, verdict(b.FaceShare >= cfg.MinFaceShare && !b.FaceTouchesBorder)},
			"faceOrientation": {q.FaceOrientation, verdict(b.PupilsFound == 2 && math.Abs(b.RollDegrees) <= cfg.MaxRollDegrees)},
			"sharpness":       {q.Sharpness, verdict(b.SharpnessVariance >= cfg.MinSharpness)},
			"exposure": {q.Exposure, verdict(b.MeanLuminance >= cfg.MinLuminance && b.MeanLuminance <= cfg.MaxLuminance &&
				b.ClippedShare <= cfg.MaxClippedShare)},
			"spoofedImageAnalysis": {a.SpoofedImageAnalysis, verdict(a.Breakdown.AntispoofScore >= cfg.MinAntispoofScore)},
			"livenessCheck":        {a.LivenessCheck, verdict(a.Breakdown.LivenessCheckScore >= cfg.MinLivenessScore)},
		}
		for name, gw := range want {
			if gw[0] != gw[1] {
				t.Errorf("%s is %s, but its figures say %s", name, gw[0], gw[1])
			}
			anyAttention = anyAttention || gw[0] == attention
		}
		if s := a.Breakdown.AntispoofScore; s < 0 || s > 100 {
			t.Errorf("antispoof score %d outside 0-100", s)
		}
		if s := a.Breakdown.LivenessCheckScore; s < 0 || s > 100 {
			t.Errorf("liveness score %d outside 0-100", s)
		}
		if b.ExifOrientation < 1 || b.ExifOrientation > 8 {
			t.Errorf("exifOrientation %d outside 1-8", b.ExifOrientation)
		}
		if b.PupilsFound < 0 || b.PupilsFound > 2 {
			t.Errorf("pupilsFound %d", b.PupilsFound)
		}
	}
	if got := r.Outcome; got != verdict(!anyAttention) {
		t.Errorf("outcome %s, but analyses say %s", got, verdict(!anyAttention))
	}
}

// TestAnalyze runs the check on the fixtures and on images derived from
// them, with the real detector and models, and asserts what is detected and
// which analyses are clear or attention. Model scores are not asserted (they
// are logged; see the report): only that their verdicts follow from them.
func TestAnalyze(t *testing.T) {
	a := analyzer(t)
	sample := fixtureRGBA(t, "pigo-sample.jpg")    // 320×400, one face
	astronaut := fixtureRGBA(t, "astronaut.png")   // 512×512, one face
	sideways6 := storedFor(sample, orientRotate90) // 400×320, face on its side
	sideways8 := storedFor(sample, orientRotate270)
	upsideDown := storedFor(sample, orientRotate180)
	baseline := encodeJPEG(t, sample, 90, nil)

	// A valid EXIF APP1 whose length field claims 40 bytes more than it has:
	// the decoder then skips the start of the quantisation tables and,
	// being lenient (as libjpeg is), decodes the rest into garbage pixels.
	lyingLonger := encodeJPEG(t, sample, 90, exifApp1(1))
	binary.BigEndian.PutUint16(lyingLonger[4:], binary.BigEndian.Uint16(lyingLonger[4:])+40)
	// One that claims 10 bytes fewer: the EXIF reader sees the orientation
	// entry cut off (so no tag), and the decoder skips the leftover bytes
	// as junk before the next marker.
	lyingShorter := encodeJPEG(t, sideways6, 90, exifApp1(6))
	binary.BigEndian.PutUint16(lyingShorter[4:], binary.BigEndian.Uint16(lyingShorter[4:])-10)
	// ... and one that claims more than the whole file.
	lyingPastEnd := encodeJPEG(t, sample, 90, exifApp1(6))
	binary.BigEndian.PutUint16(lyingPastEnd[4:], 0xFFFF)
	lyingPastEnd = lyingPastEnd[:min(len(lyingPastEnd), 0xFFFF-100)]
	// An EXIF block whose TIFF offsets lie, with a correct APP1 length: the
	// image decodes and the orientation is ignored.
	badTIFF := tiffOrientationIFD(true, tiffShort, 6)
	binary.BigEndian.PutUint32(badTIFF[4:], 0x7FFFFFFF)
	lyingOffsets := encodeJPEG(t, sideways6, 90, app1(append([]byte("Exif\x00\x00"), badTIFF...)))
	// Scan data garbled after a valid header (bytes replaced, not cut).
	garbled := bytes.Clone(baseline)
	if s := sosScan(garbled); s > 0 {
		for i := s + 10; i < len(garbled)-2; i += 7 {
			garbled[i] = 0xFF // 0xFF followed by data: invalid markers inside the scan
		}
	}

	type want struct {
		readable   bool
		faces      int    // -1: don't check
		attention  string // space-separated analyses that must be attention
		clear      string // space-separated analyses that must be clear
		exif       int    // 0: don't check
		imgW, imgH int    // 0: don't check
		check      func(*testing.T, *facevault.LivenessCheck)
	}
	faceQuality := "faceDetection faceSize faceOrientation sharpness exposure"
	tests := []struct {
		name string
		data []byte
		want want
	}{
		{"Fixture/SampleJPEG", readFixture(t, "pigo-sample.jpg"),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400}},
		{"Fixture/AstronautPNG", readFixture(t, "astronaut.png"),
			want{readable: true, faces: 1, clear: "faceDetection faceOrientation sharpness exposure", exif: 1, imgW: 512, imgH: 512,
				check: func(t *testing.T, r *facevault.LivenessCheck) {
					// A half-length portrait: the face is about a fifth of the
					// frame, right at MinFaceShare; its verdict is checked
					// against the figure by checkConsistent.
					if s := r.Breakdown.QualityAnalysis.Breakdown.FaceShare; s < 0.17 || s > 0.26 {
						t.Errorf("faceShare %.3f, want about 0.2", s)
					}
				}}},
		{"Derived/SamplePNG", encodePNG(t, sample),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1}},
		{"Derived/NoFace/Background", encodeJPEG(t, crop(astronaut, image.Rect(330, 0, 512, 512)), 90, nil),
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/NoFace/Flat", encodePNG(t, flat(640, 480, color.RGBA{128, 128, 128, 255})),
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/NoFace/Noise", encodePNG(t, noise(640, 480, 1)),
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/TwoFaces", encodeJPEG(t, sideBySide(sample), 90, nil),
			want{readable: true, faces: 2, attention: "faceDetection outcome", clear: "faceOrientation sharpness exposure"}},
		{"Derived/SmallFace", encodeJPEG(t, padInto(sample, 8), 90, nil),
			want{readable: true, faces: 1, attention: "faceSize outcome", clear: "faceDetection faceOrientation exposure",
				imgW: 2560, imgH: 3200,
				check: func(t *testing.T, r *facevault.LivenessCheck) {
					if s := r.Breakdown.QualityAnalysis.Breakdown.FaceShare; s > 0.13 {
						t.Errorf("faceShare %.3f, want under 0.13", s)
					}
				}}},
		{"Derived/Blurred", encodeJPEG(t, boxBlur(sample, 6), 90, nil),
			want{readable: true, faces: 1, attention: "sharpness outcome", clear: "faceDetection faceSize exposure"}},
		{"Derived/BlurredAstronaut", encodePNG(t, boxBlur(astronaut, 2)),
			want{readable: true, faces: 1, attention: "sharpness outcome", clear: "faceDetection exposure"}},
		{"Derived/Tilted8", encodePNG(t, rotate(sample, 8)),
			want{readable: true, faces: 1, clear: faceQuality}},
		{"Derived/Tilted25", encodePNG(t, rotate(sample, 25)),
			want{readable: true, faces: 1, attention: "faceOrientation outcome", clear: "faceDetection faceSize sharpness exposure",
				check: func(t *testing.T, r *facevault.LivenessCheck) {
					b := r.Breakdown.QualityAnalysis.Breakdown
					if b.PupilsFound != 2 || b.RollDegrees < 18 || b.RollDegrees > 32 {
						t.Errorf("pupils %d roll %.1f°, want 2 pupils and about 25°", b.PupilsFound, b.RollDegrees)
					}
				}}},
		{"Derived/Dark", encodeJPEG(t, scaleLuminance(sample, 0.3), 90, nil),
			want{readable: true, faces: 1, attention: "exposure outcome", clear: "faceDetection faceSize faceOrientation sharpness",
				check: func(t *testing.T, r *facevault.LivenessCheck) {
					if m := r.Breakdown.QualityAnalysis.Breakdown.MeanLuminance; m > 50 {
						t.Errorf("mean luminance %.1f, want under 50", m)
					}
				}}},
		{"Derived/Exif6", encodeJPEG(t, sideways6, 90, exifApp1(6)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 6, imgW: 320, imgH: 400}},
		{"Derived/Exif8", encodeJPEG(t, sideways8, 90, exifApp1(8)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 8, imgW: 320, imgH: 400}},
		{"Derived/Exif3", encodeJPEG(t, upsideDown, 90, exifApp1(3)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 3, imgW: 320, imgH: 400}},
		// The same sideways pixels without the tag: the detector looks for
		// upright faces only, so the tag is what makes the face found.
		{"Derived/SidewaysWithoutExif", encodeJPEG(t, sideways6, 90, nil),
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/ExifOrientation0", encodeJPEG(t, sample, 90, exifApp1(0)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400}},
		{"Derived/ExifOrientation9", encodeJPEG(t, sample, 90, exifApp1(9)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400}},
		{"Derived/ExifLyingOffsets", lyingOffsets,
			want{readable: true, faces: 0, exif: 0, attention: "faceDetection"}},
		{"Derived/ExifLengthTooLong", lyingLonger,
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/ExifLengthTooShort", lyingShorter,
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/ExifLengthPastEnd", lyingPastEnd,
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/CorruptScan/Truncated", truncatedScan(t, baseline),
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/CorruptScan/TruncatedProgressive", truncatedScan(t, readFixture(t, "pigo-sample.jpg")),
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/CorruptScan/Garbled", garbled,
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/NotAnImage", []byte("GIF89a this is not a JPEG or PNG"),
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/Empty", nil,
			want{readable: false, faces: 0, attention: "faceDetection outcome"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := a.Analyze(context.Background(), bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			t.Log(describe(r))
			checkConsistent(t, r, a.Engine())
			integ := r.Breakdown.IntegrityAnalysis.Breakdown
			if integ.ImageReadable != tc.want.readable {
				t.Errorf("imageReadable %v, want %v", integ.ImageReadable, tc.want.readable)
			}
			if !tc.want.readable && (r.Breakdown.QualityAnalysis != nil || r.Breakdown.AuthenticityAnalysis != nil) {
				t.Errorf("unreadable image has quality or authenticity analyses")
			}
			if tc.want.faces >= 0 && integ.FaceCount != tc.want.faces {
				t.Errorf("faceCount %d, want %d", integ.FaceCount, tc.want.faces)
			}
			v := verdicts(r)
			for _, name := range strings.Fields(tc.want.attention) {
				if v[name] != attention {
					t.Errorf("%s is %q, want attention", name, v[name])
				}
			}
			for _, name := range strings.Fields(tc.want.clear) {
				if v[name] != clear_ {
					t.Errorf("%s is %q, want clear", name, v[name])
				}
			}
			if q := r.Breakdown.QualityAnalysis; q != nil {
				b := q.Breakdown
				if tc.want.exif != 0 && b.ExifOrientation != tc.want.exif {
					t.Errorf("exifOrientation %d, want %d", b.ExifOrientation, tc.want.exif)
				}
				if tc.want.imgW != 0 && (b.ImageWidthPixels != tc.want.imgW || b.ImageHeightPixels != tc.want.imgH) {
					t.Errorf("image %dx%d, want %dx%d", b.ImageWidthPixels, b.ImageHeightPixels, tc.want.imgW, tc.want.imgH)
				}
				if b.FaceWidthPixels <= 0 || b.FaceWidthPixels > max(b.ImageWidthPixels, b.ImageHeightPixels) {
					t.Errorf("faceWidthPixels %d in a %dx%d image", b.FaceWidthPixels, b.ImageWidthPixels, b.ImageHeightPixels)
				}
			}
			if tc.want.check != nil {
				tc.want.check(t, r)
			}
		})
	}
}

// TestUprightFullSize checks that measurements are converted to pixels of
// the upright full-size image: the same face stored sideways in a large
// phone-sized JPEG (scaled down to the working size for detection) is
// reported in full-size upright pixels.
func TestUprightFullSize(t *testing.T) {
	a := analyzer(t)
	sample := fixtureRGBA(t, "pigo-sample.jpg")
	ref, err := a.Analyze(context.Background(), bytes.NewReader(readFixture(t, "pigo-sample.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	const k = 6 // 1920×2400 upright, stored 2400×1920 with orientation 6
	big := resizeBilinear(sample, k*320, k*400)
	data := encodeJPEG(t, storedFor(big, orientRotate90), 85, exifApp1(6))
	r, err := a.Analyze(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(describe(r))
	checkConsistent(t, r, a.Engine())
	if r.Breakdown.QualityAnalysis == nil {
		t.Fatalf("no face found: %s", describe(r))
	}
	b, rb := r.Breakdown.QualityAnalysis.Breakdown, ref.Breakdown.QualityAnalysis.Breakdown
	if b.ImageWidthPixels != k*320 || b.ImageHeightPixels != k*400 || b.ExifOrientation != 6 {
		t.Errorf("image %dx%d orientation %d, want %dx%d orientation 6", b.ImageWidthPixels, b.ImageHeightPixels,
			b.ExifOrientation, k*320, k*400)
	}
	// The detector's box size varies a little with the scale it sees; the
	// full-size width must be about k times the fixture's.
	if got, want := float64(b.FaceWidthPixels), float64(k*rb.FaceWidthPixels); math.Abs(got-want) > 0.1*want {
		t.Errorf("faceWidthPixels %d, want about %.0f", b.FaceWidthPixels, want)
	}
	if math.Abs(b.FaceShare-rb.FaceShare) > 0.08 {
		t.Errorf("faceShare %.3f, want about %.3f", b.FaceShare, rb.FaceShare)
	}
}

// TestSpoofBoxMatchesHuman checks the mapping from pigo's face box to the
// crop the spoof models expect against the crops Human 3.3.6 cut from the
// fixtures (testdata/humanref), and logs the model scores for both boxes
// beside Human's own (which are not asserted: see the package README).
func TestSpoofBoxMatchesHuman(t *testing.T) {
	a := analyzer(t)
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name       string
		human      image.Rectangle
		real, live float64 // Human's scores, for the log
	}{
		{"pigo-sample.jpg", image.Rect(3, 67, 3+327, 67+327), 0.86, 0.90},
		{"astronaut.png", image.Rect(153, 55, 153+145, 55+145), 0.45, 0.86},
	} {
		m := fixtureRGBA(t, tc.name)
		g := gray{pix: grayOf(m), w: m.Rect.Dx(), h: m.Rect.Dy()}
		faces := a.det.faces(g, &cfg)
		if len(faces) != 1 {
			t.Fatalf("%s: %d faces", tc.name, len(faces))
		}
		box := spoofBox(faces[0])
		inter := box.Intersect(tc.human)
		iou := float64(inter.Dx()*inter.Dy()) / float64(box.Dx()*box.Dy()+tc.human.Dx()*tc.human.Dy()-inter.Dx()*inter.Dy())
		if iou < 0.9 {
			t.Errorf("%s: crop %v, Human's %v: IoU %.3f, want at least 0.9", tc.name, box, tc.human, iou)
		}
		score := func(b image.Rectangle) (float32, float32) {
			as, err := a.antispoof.Score(m, b)
			if err != nil {
				t.Fatal(err)
			}
			lv, err := a.live.Score(m, b)
			if err != nil {
				t.Fatal(err)
			}
			return as, lv
		}
		as, lv := score(box)
		has, hlv := score(tc.human)
		t.Logf("%s: crop %v vs Human %v (IoU %.3f); antispoof %.3f (Human's box %.3f, Human %.2f); liveness %.3f (Human's box %.3f, Human %.2f)",
			tc.name, box, tc.human, iou, as, has, tc.real, lv, hlv, tc.live)
	}
}

// TestConcurrent runs Analyze from several goroutines on one Analyzer (run
// with -race to check for data races) and expects the same detections.
func TestConcurrent(t *testing.T) {
	a := analyzer(t)
	inputs := [][]byte{readFixture(t, "pigo-sample.jpg"), readFixture(t, "astronaut.png"),
		encodeJPEG(t, sideBySide(fixtureRGBA(t, "pigo-sample.jpg")), 90, nil)}
	wantFaces := []int{1, 1, 2}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for g := range 12 {
		wg.Go(func() {
			i := g % len(inputs)
			r, err := a.Analyze(context.Background(), bytes.NewReader(inputs[i]))
			if err != nil {
				errs <- err
				return
			}
			if n := r.Breakdown.IntegrityAnalysis.Breakdown.FaceCount; n != wantFaces[i] {
				errs <- fmt.Errorf("input %d: %d faces, want %d", i, n, wantFaces[i])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestContextCanceled(t *testing.T) {
	a := analyzer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := a.Analyze(ctx, bytes.NewReader(readFixture(t, "pigo-sample.jpg")))
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("Analyze on a canceled context = %v, %v; want context.Canceled", r, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadError(t *testing.T) {
	_, err := analyzer(t).Analyze(context.Background(), failingReader{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Analyze on a failing reader: %v, want the read error", err)
	}
}

// TestBounds checks that inputs beyond the configured bounds are reported
// unreadable without being decoded.
func TestBounds(t *testing.T) {
	data := readFixture(t, "pigo-sample.jpg")
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"MaxBytes", func(c *Config) { c.MaxBytes = int64(len(data)) - 1 }},
		{"MaxSide", func(c *Config) { c.MaxSide = 399 }},
		{"MaxPixels", func(c *Config) { c.MaxPixels = 320*400 - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := a.Analyze(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if r.Breakdown.IntegrityAnalysis.Breakdown.ImageReadable || r.Outcome != attention {
				t.Errorf("got %s, want unreadable", describe(r))
			}
		})
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New(Config{}) succeeded")
	}
	cfg := DefaultConfig()
	cfg.MinLuminance, cfg.MaxLuminance = 200, 100
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "luminance") {
		t.Fatalf("New with inverted luminance bounds: %v", err)
	}
}

// TestEngine checks that the engine names pigo's version as go.mod has it
// and both models.
func TestEngine(t *testing.T) {
	a := analyzer(t)
	for _, part := range []string{"pigo " + pigoVersion, a.antispoof.Name(), a.live.Name()} {
		if !strings.Contains(a.Engine(), part) {
			t.Errorf("engine %q lacks %q", a.Engine(), part)
		}
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/esimov/pigo (v\S+)`).FindSubmatch(mod)
	if m == nil || string(m[1]) != pigoVersion {
		t.Errorf("go.mod requires pigo %q, pigoVersion is %q: update both and cascade/", m, pigoVersion)
	}
}
