package facevault

import (
	"context"
	"errors"
	"io"
)

// Outcomes of the liveness check and each of its analyses, in ComplyCube's
// vocabulary.
const (
	OutcomeClear     = "clear"
	OutcomeAttention = "attention"
)

// Processing errors (422) of the liveness check on upload.
const (
	ENoFace        = "no_face_detected"
	EMultipleFaces = "multiple_faces_detected"
	EUnreadable    = "image_unreadable"
	// EOverBudget: checking the image would need more memory than the
	// server allows the liveness check in all (impossible for a legal
	// image with the default budget).
	EOverBudget = "image_too_large_to_check"
)

// ErrOverBudget is returned (wrapped) by an Analyzer for an image whose
// check would need more memory than it may use in all, so that it could
// never run. Uploads answer it 422 EOverBudget.
var ErrOverBudget = errors.New("the image needs more memory than the liveness check's budget")

// LivenessCheck is what the liveness check found in a live photo. It is
// stored with the photo and returned with it, shaped as ComplyCube shapes a
// check result: an outcome, a breakdown by analysis, and the figures behind
// each.
type LivenessCheck struct {
	Outcome   string            `json:"outcome"`
	Breakdown LivenessBreakdown `json:"breakdown"`
	// Engine names the detector and models, with versions, that produced
	// the result.
	Engine string `json:"engine"`
}

// LivenessBreakdown holds the three analyses of a liveness check.
type LivenessBreakdown struct {
	IntegrityAnalysis    IntegrityAnalysis     `json:"integrityAnalysis"`
	QualityAnalysis      *QualityAnalysis      `json:"qualityAnalysis,omitempty"`
	AuthenticityAnalysis *AuthenticityAnalysis `json:"authenticityAnalysis,omitempty"`
}

// IntegrityAnalysis says whether the image could be read and exactly one
// face was found in it.
type IntegrityAnalysis struct {
	FaceDetection string             `json:"faceDetection"`
	Breakdown     IntegrityBreakdown `json:"breakdown"`
}

// IntegrityBreakdown holds the figures of the integrity analysis.
type IntegrityBreakdown struct {
	FaceCount int `json:"faceCount"`
	// ImageReadable is false when the image header decoded but its pixels
	// did not (or, should the analyzer be handed one, when the bytes are
	// not a JPEG or PNG within the upload bounds at all).
	ImageReadable bool `json:"imageReadable"`
}

// QualityAnalysis judges the largest face: its size, whether it faces the
// camera, sharpness and exposure. It is absent when no face was found.
type QualityAnalysis struct {
	FaceSize        string           `json:"faceSize"`
	FaceOrientation string           `json:"faceOrientation"`
	Sharpness       string           `json:"sharpness"`
	Exposure        string           `json:"exposure"`
	Breakdown       QualityBreakdown `json:"breakdown"`
}

// QualityBreakdown holds the measurements behind the quality analysis.
type QualityBreakdown struct {
	FaceWidthPixels   int     `json:"faceWidthPixels"`   // side of the detected face box, in pixels of the upright image
	FaceShare         float64 `json:"faceShare"`         // face box side as a share of the image's shorter side, 0-1
	FaceTouchesBorder bool    `json:"faceTouchesBorder"` // the face box reaches the image edge
	PupilsFound       int     `json:"pupilsFound"`       // 0, 1 or 2
	RollDegrees       float64 `json:"rollDegrees"`       // angle of the line between the pupils; 0 is level
	SharpnessVariance float64 `json:"sharpnessVariance"` // variance of the Laplacian over the face, resampled to a fixed size and normalised to mean luminance 128
	MeanLuminance     float64 `json:"meanLuminance"`     // 0-255 over the face
	ClippedShare      float64 `json:"clippedShare"`      // share of face pixels at or near 0 or 255
	DetectionQuality  float64 `json:"detectionQuality"`  // the detector's score for the face
	ImageWidthPixels  int     `json:"imageWidthPixels"`  // of the upright image
	ImageHeightPixels int     `json:"imageHeightPixels"` // of the upright image
	ExifOrientation   int     `json:"exifOrientation"`   // 1-8 as found in the file, 1 when absent or invalid
}

// AuthenticityAnalysis scores whether the photo is of a live person or a
// spoof (a photo of a photo or of a screen).
type AuthenticityAnalysis struct {
	SpoofedImageAnalysis string                `json:"spoofedImageAnalysis"`
	LivenessCheck        string                `json:"livenessCheck"`
	Breakdown            AuthenticityBreakdown `json:"breakdown"`
}

// AuthenticityBreakdown holds the model scores, 0-100, higher meaning more
// likely real and live.
type AuthenticityBreakdown struct {
	AntispoofScore     int `json:"antispoofScore"`
	LivenessCheckScore int `json:"livenessCheckScore"`
}

// Analyzer runs the liveness check on an image (JPEG or PNG bytes). An
// image it can never afford to check is an error wrapping ErrOverBudget.
type Analyzer interface {
	Analyze(ctx context.Context, img io.Reader) (*LivenessCheck, error)
}
