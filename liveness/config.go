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
	// Default 256 MiB: a 12-megapixel phone JPEG reserves about 13 MB and
	// the most demanding legal image (a 25-megapixel progressive 4:2:2 JPEG,
	// 5,000 px square) about 35 MB, so 16 phone photos fit at once, 7 worst
	// cases at once, and the check's share of the process stays well under
	// the 512 MB goal for 16 concurrent uploads. The image bytes (at most
	// MaxBytes each) are read before the reservation and are not part of
	// it. An image that needs more than the whole budget (possible only with
	// a budget below about 35 MB) is refused with ErrOverBudget.
	MemoryBudget int64

	// --- Working image ---

	// WorkingSize is the longest side, in pixels, that the image is decoded
	// to (with DCT scaling and an area filter) before anything else is done
	// to it; smaller images are used at their own size. Default 640: the
	// detector sees 256 px of it, and the presentation-attack model's crop
	// (2.7 times the face box, resampled to 128 px) has at least its 128 px
	// for any face that passes MinFaceShare (0.20 of the shorter side is 96
	// px of a 640×480 frame, a 259-px crop); larger working images only
	// cost decoding time. At least 128.
	WorkingSize int

	// --- Face detector (BlazeFace) ---

	// MinDetectionScore is the detector's confidence (0-1) at or above
	// which a candidate box counts as a face. Default 0.65, as measured on
	// the development set: every genuine face found and no false face on
	// the photos without one.
	MinDetectionScore float64
	// NMSOverlap is the overlap (intersection over union) at or above which
	// candidate boxes are taken for one face and merged (MediaPipe's
	// weighted non-maximum suppression). Default 0.3, MediaPipe's setting
	// for this detector.
	NMSOverlap float64

	// --- Quality thresholds ---

	// MinFaceShare is the smallest face box side, as a share of the upright
	// image's shorter side, for faceSize to be clear. Default 0.20:
	// ComplyCube asks for a live photo in which the face fills the frame,
	// and an arm's-length selfie's face is far larger than that (the
	// passport-style fixture measures about 0.7). At a fifth, the face box
	// in a 640×480 webcam frame is 96 px (SharpnessSide) and the
	// presentation-attack model's crop about 260 px, which it sees at 128;
	// smaller faces are still found (down to about a tenth of the shorter
	// side) but lose detail in both. A face box that reaches the image edge
	// also makes faceSize attention (the face is cut off).
	MinFaceShare float64
	// MaxRollDegrees is the largest tilt of the line between the eyes (the
	// detector's eye landmarks) for faceOrientation to be clear; both eyes
	// must also lie inside the image. Default 15: the presentation-attack
	// model sees the crop as it is, not levelled, and was trained on
	// upright faces; 15° leaves room for the casual tilt of a hand-held
	// selfie (passport-photo rules are stricter). The tests turn the
	// sample fixture by known angles and check the measure follows.
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

	// --- Authenticity threshold ---

	// MinLivenessScore (0-100) is the presentation-attack model's score
	// (its probability that the face is live, in percent) at or above which
	// spoofedImageAnalysis and livenessCheck are clear. Default 50: the
	// model's own even odds. On the development set every genuine photo
	// scores 95 or more and every attack 13 or less, so any threshold in
	// between separates them there; 50 keeps the widest margin on both
	// sides for photos unlike those. See README.md for the figures and what
	// they do not prove; operators calibrate it on their own photos with
	// 'facevault eval'.
	MinLivenessScore int
}

// DefaultConfig returns the default settings; each is explained on its
// Config field.
func DefaultConfig() Config {
	return Config{
		MaxBytes:          4 << 20,
		MaxSide:           10_000,
		MaxPixels:         50_000_000,
		MemoryBudget:      256 << 20,
		WorkingSize:       640,
		MinDetectionScore: 0.65,
		NMSOverlap:        0.3,
		MinFaceShare:      0.20,
		MaxRollDegrees:    15,
		MinSharpness:      100,
		SharpnessSide:     96,
		MinLuminance:      60,
		MaxLuminance:      210,
		MaxClippedShare:   0.10,
		ClipLow:           5,
		ClipHigh:          250,
		MinLivenessScore:  50,
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
	check(c.MinDetectionScore > 0 && c.MinDetectionScore < 1, "MinDetectionScore %g must be in (0, 1)", c.MinDetectionScore)
	check(c.NMSOverlap > 0 && c.NMSOverlap < 1, "NMSOverlap %g must be in (0, 1)", c.NMSOverlap)
	check(c.MinFaceShare >= 0 && c.MinFaceShare <= 1, "MinFaceShare %g must be in [0, 1]", c.MinFaceShare)
	check(c.MaxRollDegrees >= 0 && c.MaxRollDegrees <= 90, "MaxRollDegrees %g must be in [0, 90]", c.MaxRollDegrees)
	check(c.MinSharpness >= 0, "MinSharpness %g must not be negative", c.MinSharpness)
	check(c.SharpnessSide >= 16 && c.SharpnessSide <= 1024, "SharpnessSide %d must be in [16, 1024]", c.SharpnessSide)
	check(c.MinLuminance >= 0 && c.MinLuminance <= c.MaxLuminance && c.MaxLuminance <= 255,
		"luminance bounds [%g, %g] must be ordered within [0, 255]", c.MinLuminance, c.MaxLuminance)
	check(c.MaxClippedShare >= 0 && c.MaxClippedShare <= 1, "MaxClippedShare %g must be in [0, 1]", c.MaxClippedShare)
	check(c.ClipLow < c.ClipHigh, "ClipLow %d must be below ClipHigh %d", c.ClipLow, c.ClipHigh)
	check(c.MinLivenessScore >= 0 && c.MinLivenessScore <= 100, "MinLivenessScore %d must be in [0, 100]", c.MinLivenessScore)
	return errors.Join(errs...)
}
