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
	// Embedding is the face embedding of the one face found, when the
	// analyzer computes embeddings and exactly one face was found. It is
	// never encoded: the vault keeps it sealed, apart from the check.
	Embedding []float32 `json:"-"`
}

// LivenessBreakdown holds the three analyses of a liveness check. A check
// made by this version has all three, whatever the photo: quality and
// authenticity then say attention, without figures or score, when no face
// was found. (They are pointers, with omitempty, so that results stored by
// earlier versions, which left them out, read back as they were.)
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
// camera, sharpness and exposure. When no face was found, every verdict is
// attention and only the image's own figures are set.
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
	PupilsFound       int     `json:"pupilsFound"`       // eyes located, 0, 1 or 2: the detector's eye landmarks that lie inside the image
	RollDegrees       float64 `json:"rollDegrees"`       // angle of the line between the eyes; 0 is level, positive when the subject's left eye is lower
	SharpnessVariance float64 `json:"sharpnessVariance"` // variance of the Laplacian over the face, resampled to a fixed size and normalised to mean luminance 128
	MeanLuminance     float64 `json:"meanLuminance"`     // 0-255 over the face
	ClippedShare      float64 `json:"clippedShare"`      // share of face pixels at or near 0 or 255
	DetectionQuality  float64 `json:"detectionQuality"`  // the detector's confidence that this is a face, 0-1
	ImageWidthPixels  int     `json:"imageWidthPixels"`  // of the upright image
	ImageHeightPixels int     `json:"imageHeightPixels"` // of the upright image
	ExifOrientation   int     `json:"exifOrientation"`   // 1-8 as found in the file, 1 when absent or invalid
	// FaceBox and Landmarks locate the measured face in the upright image,
	// in its pixels (origin top left), for drawing it or cropping it.
	// Absent when no face was found.
	FaceBox   *FaceBox       `json:"faceBox,omitempty"`
	Landmarks *FaceLandmarks `json:"landmarks,omitempty"`
}

// FaceBox is a face's bounding box, in pixels of the upright image; it may
// reach past the image's edges when the face is cut off.
type FaceBox struct {
	X      int `json:"x"`
	Y      int `json:"y"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Point is a position in pixels of the upright image.
type Point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// FaceLandmarks are the detector's six key points of a face. Right and
// left are the subject's: their right eye is on the left of the image.
type FaceLandmarks struct {
	RightEye Point `json:"rightEye"`
	LeftEye  Point `json:"leftEye"`
	Nose     Point `json:"nose"`  // tip of the nose
	Mouth    Point `json:"mouth"` // centre of the mouth
	RightEar Point `json:"rightEar"`
	LeftEar  Point `json:"leftEar"`
}

// AuthenticityAnalysis scores whether the photo is of a live person or a
// presentation attack (a printed photo, a screen, a mask). Both verdicts
// come from the one presentation-attack model's score: FaceVault has no
// second, independent signal that separates genuine from spoof.
type AuthenticityAnalysis struct {
	SpoofedImageAnalysis string                `json:"spoofedImageAnalysis"`
	LivenessCheck        string                `json:"livenessCheck"`
	Breakdown            AuthenticityBreakdown `json:"breakdown"`
}

// AuthenticityBreakdown holds the presentation-attack model's score.
type AuthenticityBreakdown struct {
	// LivenessCheckScore is the model's probability that the face is live
	// (a bona fide presentation), 0-100. Absent when no face was found.
	// (Results stored by earlier versions may also hold antispoofScore,
	// a signal that turned out no better than chance and is no longer
	// reported.)
	LivenessCheckScore *int `json:"livenessCheckScore,omitempty"`
}

// Analyzer runs the liveness check on an image (JPEG or PNG bytes). An
// image it can never afford to check is an error wrapping ErrOverBudget.
type Analyzer interface {
	Analyze(ctx context.Context, img io.Reader) (*LivenessCheck, error)
}
