package liveness

import (
	"errors"
	"fmt"
)

// Config holds the settings of the liveness check: the bounds on what is
// decoded, the face detector's parameters and the thresholds that turn each
// measurement into clear or attention. DefaultConfig gives the defaults;
// every field must be set (a zero Config is invalid).
type Config struct {
	// --- Input bounds ---

	// MaxBytes bounds the bytes read from the image. Default 4 MiB: the
	// largest live photo FaceVault accepts (imagecheck.DefaultLimits). A
	// larger input is reported as unreadable, not read on.
	MaxBytes int64
	// MaxSide bounds each dimension in pixels and MaxPixels their product,
	// checked on the header before the pixels are decoded. Defaults 10,000
	// and 50,000,000: FaceVault's upload bounds. The image is never decoded
	// at full size (see MemoryBudget), so these bound decoding time and the
	// few buffers that grow with the image's width, not its memory.
	MaxSide   int
	MaxPixels int64
	// MemoryBudget bounds, in bytes, the memory that concurrent analyses
	// reserve in total. Each analysis reserves, before decoding, what it
	// will allocate as computed from the image header and the working size
	// (package imgdecode's Cost, plus the working image's copies, the
	// models' scratch buffers and the detector's), and holds it until it
	// ends; an analysis that does not fit waits for others to finish.
	// Default 256 MiB: a 12-megapixel phone JPEG reserves about 14 MB and
	// the most demanding legal image (a 50-megapixel progressive JPEG
	// without chroma subsampling, about 7,000 px square) about 57 MB, so 16
	// phone photos run at once, 4 worst cases at once, and the check's share
	// of the process stays well under the 512 MB goal for 16 concurrent
	// uploads. The image bytes (at most MaxBytes each) are read before the
	// reservation and are not part of it. An image that needs more than the
	// whole budget (possible only with a budget below about 57 MB) is
	// refused with ErrOverBudget.
	MemoryBudget int64

	// --- Working image ---

	// WorkingSize is the longest side, in pixels, that the decoded image is
	// scaled down to (with an area filter) before anything else is done to
	// it; smaller images are used at their own size. Default 960: a face
	// filling a fifth of the shorter side of a 4:3 phone photo is still
	// 144 px there, and its crop for the anti-spoofing models about 190 px
	// (Human crops to 192 px), while the working image stays under 3.7 MB
	// (RGBA) and detection takes tens of milliseconds. At least 128.
	WorkingSize int

	// --- Face detector (pigo) ---

	// MinFaceDetect is the smallest face the detector looks for, as a
	// share of the working image's shorter side (never below 20 px, the
	// minimum in pigo's examples). Default 0.05: well below MinFaceShare, so
	// a face that is too small is still found and reported as too small
	// rather than as no face at all.
	MinFaceDetect float64
	// ShiftFactor is how far the detection window moves, as a share of its
	// size. Default 0.1, as in pigo's README; larger is faster but misses
	// faces.
	ShiftFactor float64
	// ScaleFactor is the growth of the detection window from one scale to
	// the next. Default 1.1, as in pigo's README.
	ScaleFactor float64
	// IoUThreshold is the overlap (intersection over union) above which
	// two raw detections are merged into one face. Default 0.2, as in
	// pigo's README: raw hits on one face overlap far more than that, and
	// two faces side by side not at all.
	IoUThreshold float64
	// NestedOverlap drops a face whose box lies at least this share inside
	// the box of a larger face: ClusterDetections merges by IoU, which stays
	// small for a small box inside a large one, and the detector sometimes
	// fires on an eye or the mouth of a large face (seen at 48 px inside a
	// 522 px face on the 12 MP benchmark image). Default 0.5: two real faces
	// never overlap that much in a photo.
	NestedOverlap float64
	// MinDetectionQuality is the detector score (summed over the merged
	// raw detections) a face needs to be counted. Default 10: pigo's
	// face-detection example uses 5, but on the fixtures the clusters that textures and
	// heavy blur produce score up to 8.6 while real faces score 60-460,
	// so 10 keeps a spurious second "face" from flipping faceDetection.
	MinDetectionQuality float64

	// --- Quality thresholds ---

	// MinFaceShare is the smallest face box side, as a share of the upright
	// image's shorter side, for faceSize to be clear. Default 0.20:
	// ComplyCube asks for a live photo in which the face fills the frame,
	// and an arm's-length selfie's face is far larger than that (the
	// passport-style fixture measures 0.77). At a fifth, the face box in a
	// 640×480 webcam frame is 96 px (SharpnessSide) and its crop for the
	// anti-spoofing models about 130 px, just above the antispoof model's
	// 128 px input; smaller faces would be enlarged for both. The
	// half-length NASA portrait fixture (0.21) is about the loosest
	// framing that passes. A face box that reaches the image edge also
	// makes faceSize attention (the face is cut off).
	MinFaceShare float64
	// MaxRollDegrees is the largest tilt of the line between the pupils for
	// faceOrientation to be clear; both pupils must also be found. Default
	// 15: Human, whose crop the anti-spoofing models expect, does not undo
	// head tilt by default, so a tilted face reaches them tilted. The pupil
	// line follows the tilt to about 1°: the sample fixture measures -1.3
	// to -1.9° upright and 6.3-7.0° and 23.4-24.0° turned by 8° and 25°
	// (see the tests; pigo's pupil localiser is randomised, hence the
	// spread). 15° leaves room for the casual tilt of a hand-held selfie;
	// passport-photo rules are stricter.
	MaxRollDegrees float64
	// MinSharpness is the smallest variance of the 3×3 Laplacian over the
	// face, measured on the face box resampled to SharpnessSide px and
	// scaled to a mean luminance of 128, for sharpness to be clear.
	// Default 100: the sharp fixtures measure 720-880; a box blur whose
	// kernel is 3% of the face width brings them to 75-110 and one of 5% to
	// about 30 (see the package tests), by which point eyelids, nostrils
	// and skin texture are gone.
	MinSharpness float64
	// SharpnessSide is the side, in pixels, the face box is resampled to
	// before the Laplacian is taken, so that the measure depends on blur
	// relative to the face rather than on the image's or face's size.
	// Default 96: faces that pass MinFaceShare in a 640×480 selfie are at
	// least that large, so they are only ever shrunk (area filter);
	// smaller faces are enlarged bilinearly, which lowers the measure.
	SharpnessSide int
	// MinLuminance and MaxLuminance bound the mean luminance (0-255) over
	// the face for exposure to be clear. Defaults 60 and 210: the fixtures'
	// well-lit faces measure 138-147 and the sample darkened to 0.3 of its
	// brightness 41; beyond these bounds a face has lost much of its
	// texture in shadow or highlight, which both a human reviewer and the
	// anti-spoofing models need.
	MinLuminance float64
	MaxLuminance float64
	// MaxClippedShare is the largest share of face pixels at or below
	// ClipLow or at or above ClipHigh for exposure to be clear. Default
	// 0.10: a few specular highlights (eyes, forehead) are normal, a tenth
	// of the face burnt out or crushed is not.
	MaxClippedShare float64
	// ClipLow and ClipHigh are the luminance values at or beyond which a
	// pixel counts as clipped. Defaults 5 and 250.
	ClipLow, ClipHigh uint8

	// --- Authenticity thresholds ---

	// MinAntispoofScore and MinLivenessScore (0-100) are the model scores
	// at or above which spoofedImageAnalysis and livenessCheck are clear.
	// Defaults 60: the Human library's face-ID demo, the use these models
	// were published for, accepts a face when real and live reach 0.6.
	// See README.md for how little these scores prove.
	MinAntispoofScore int
	MinLivenessScore  int
}

// DefaultConfig returns the default settings; each is explained on its
// Config field.
func DefaultConfig() Config {
	return Config{
		MaxBytes:            4 << 20,
		MaxSide:             10_000,
		MaxPixels:           50_000_000,
		MemoryBudget:        256 << 20,
		WorkingSize:         960,
		MinFaceDetect:       0.05,
		ShiftFactor:         0.1,
		ScaleFactor:         1.1,
		IoUThreshold:        0.2,
		NestedOverlap:       0.5,
		MinDetectionQuality: 10,
		MinFaceShare:        0.20,
		MaxRollDegrees:      15,
		MinSharpness:        100,
		SharpnessSide:       96,
		MinLuminance:        60,
		MaxLuminance:        210,
		MaxClippedShare:     0.10,
		ClipLow:             5,
		ClipHigh:            250,
		MinAntispoofScore:   60,
		MinLivenessScore:    60,
	}
}

// validate reports every setting that is out of range.
func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.MaxBytes > 0, "MaxBytes %d must be positive", c.MaxBytes)
	check(c.MaxSide > 0, "MaxSide %d must be positive", c.MaxSide)
	check(c.MaxPixels > 0, "MaxPixels %d must be positive", c.MaxPixels)
	check(c.MemoryBudget > 0, "MemoryBudget %d must be positive", c.MemoryBudget)
	check(c.WorkingSize >= 128 && c.WorkingSize <= 4096, "WorkingSize %d must be in [128, 4096]", c.WorkingSize)
	check(c.MinFaceDetect > 0 && c.MinFaceDetect <= 1, "MinFaceDetect %g must be in (0, 1]", c.MinFaceDetect)
	check(c.ShiftFactor > 0 && c.ShiftFactor <= 1, "ShiftFactor %g must be in (0, 1]", c.ShiftFactor)
	check(c.ScaleFactor > 1 && c.ScaleFactor <= 2, "ScaleFactor %g must be in (1, 2]", c.ScaleFactor)
	check(c.IoUThreshold >= 0 && c.IoUThreshold < 1, "IoUThreshold %g must be in [0, 1)", c.IoUThreshold)
	check(c.NestedOverlap > 0 && c.NestedOverlap <= 1, "NestedOverlap %g must be in (0, 1]", c.NestedOverlap)
	check(c.MinDetectionQuality >= 0, "MinDetectionQuality %g must not be negative", c.MinDetectionQuality)
	check(c.MinFaceShare >= 0 && c.MinFaceShare <= 1, "MinFaceShare %g must be in [0, 1]", c.MinFaceShare)
	check(c.MaxRollDegrees >= 0 && c.MaxRollDegrees <= 90, "MaxRollDegrees %g must be in [0, 90]", c.MaxRollDegrees)
	check(c.MinSharpness >= 0, "MinSharpness %g must not be negative", c.MinSharpness)
	check(c.SharpnessSide >= 16 && c.SharpnessSide <= 1024, "SharpnessSide %d must be in [16, 1024]", c.SharpnessSide)
	check(c.MinLuminance >= 0 && c.MinLuminance <= c.MaxLuminance && c.MaxLuminance <= 255,
		"luminance bounds [%g, %g] must be ordered within [0, 255]", c.MinLuminance, c.MaxLuminance)
	check(c.MaxClippedShare >= 0 && c.MaxClippedShare <= 1, "MaxClippedShare %g must be in [0, 1]", c.MaxClippedShare)
	check(c.ClipLow < c.ClipHigh, "ClipLow %d must be below ClipHigh %d", c.ClipLow, c.ClipHigh)
	check(c.MinAntispoofScore >= 0 && c.MinAntispoofScore <= 100, "MinAntispoofScore %d must be in [0, 100]", c.MinAntispoofScore)
	check(c.MinLivenessScore >= 0 && c.MinLivenessScore <= 100, "MinLivenessScore %d must be in [0, 100]", c.MinLivenessScore)
	return errors.Join(errs...)
}
