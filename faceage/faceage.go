// Package faceage estimates a person's age from a photo of their face, with
// a model whose error is published.
//
// The network is face-api.js's age and gender network (AgeGenderNet, Vincent
// Mühler, MIT), in the TensorFlow.js files that @vladmandic/face-api 1.7.15
// ships, rebuilt as an ONNX graph and run in pure Go by internal/onnx (see
// network.go and models/PROVENANCE.md). Only its age output is computed:
// FaceVault does not infer gender.
//
// # Published error
//
// The model's publisher gives these figures in the face-api.js README (npm
// package face-api.js@0.22.2, file README.md, section "Age and Gender
// Recognition Model"); they are the publisher's, not measured by FaceVault.
// The model "has been trained and tested on the following databases with an
// 80/20 train/test split each: UTK, FGNET, Chalearn, Wiki, IMDB*, CACD*,
// MegaAge, MegaAge-Asian" (* cleaned up algorithmically). Mean absolute
// error (MAE) in years:
//
//	total                                 4.54
//	by database  UTK 5.25, FGNET 4.23, Chalearn 6.24, Wiki 6.54, IMDB* 3.63,
//	             CACD* 3.20, MegaAge 6.23, MegaAge-Asian 4.21
//	by age band  0–3: 1.52, 4–8: 3.06, 9–18: 4.82, 19–28: 4.99,
//	             29–40: 5.43, 41–60: 4.94, 60–80: 6.17, 80+: 9.91
//
// # The range
//
// An Estimate carries the network's age and a range around it: the age
// plus and minus twice the published MAE of the age band the estimate falls
// in (AgeMin rounded down and never below 0, AgeMax rounded up). This is a
// rule of thumb built on the published figures, not a calibrated interval:
// the MAE is a mean over the publisher's test sets, not a bound, the bands
// are presumably of the true age while the rule applies them to the
// estimated one, and FaceVault's photos and crop are not the publisher's. Were the
// errors Laplace or normally distributed, twice the mean absolute error
// would cover about 86% or 89% of faces; nothing says they are.
//
// # The crop
//
// face-api.js feeds the network the face's "aligned rectangle": the
// bounding box of its 68 landmarks (iBUG 300-W markup, from its own
// landmark network), enlarged by 20% of its width and height (10% on every
// side), clipped to the image and floored to whole pixels, cut out without
// rotation, padded with black to a square (centred) and resized to 112×112
// by TensorFlow's bilinear resize (no corner alignment, no half-pixel
// centres, no antialiasing) — its path for image tensors, as in Node.js; in
// a browser, given a canvas, it resizes with the canvas. FaceVault has the liveness detector's
// (BlazeFace's) box and six landmarks, not 68 points, so it estimates that
// bounding box: it fits the similarity transform (rotation, uniform scale,
// shift) that best maps the eye centres and the mouth centre of a mean
// 68-point face onto the detector's eyes and mouth, and takes the upright
// box around the mean face's 68-point bounding box so transformed. The
// mean face is the mean of dlib's 68 landmarks that OpenFace publishes
// (cmusatyalab/openface, openface/align_dlib.py, TEMPLATE); its eye centres
// are the means of points 36–41 and 42–47, the mouth centre the mean of
// points 48–67, as in package faceid. From there on the crop is
// face-api.js's exactly (TestAgainstTFJS checks the 112×112 input value for
// value). The unavoidable difference is the box: it follows the face's
// proportions on average, not this face's jaw, chin and brows, so it can be
// some pixels larger or smaller or shifted; and for a face turned in the
// image plane it is the box around the turned mean face's box, which is
// larger than the box around the turned landmarks themselves. On the
// repository's two test photographs, face-api.js run alone (SSD MobileNet
// v1 and its 68-point landmark network) cuts a box that overlaps this
// package's by an IoU of 0.85 and 0.76: this package's is 5–13% wider and
// 9–17% taller, mostly at the bottom and on the image's right, and the
// two ages differ by 1.0 and 4.4 years (TestAgainstTFJS logs these
// figures). That difference is of the order of the published error; two
// photographs are too few to correct for it.
package faceage

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/facevault/facevault/faceage/models"
	"github.com/facevault/facevault/internal/onnx"
	"github.com/facevault/facevault/liveness"
)

// Engine names the model in results and reports.
const Engine = "face-api.js AgeGenderNet, age output (@vladmandic/face-api 1.7.15 age_gender_model)"

// Errors returned by EstimateFace (wrapped with details).
var (
	// ErrNoImage reports a nil or empty image.
	ErrNoImage = errors.New("faceage: no image")
	// ErrLandmarks reports landmarks that cannot place the face: not
	// finite, eyes closer than 4 pixels, or a mouth on the eye line or
	// above it.
	ErrLandmarks = errors.New("faceage: landmarks cannot place the face")
	// ErrOutside reports a face whose box has no whole pixel inside the
	// image.
	ErrOutside = errors.New("faceage: the face lies outside the image")
)

// Estimate is an age estimate.
type Estimate struct {
	// Age is the network's regression output, in years, as it is: not
	// rounded, and not clamped (nothing in the network keeps it above 0).
	Age float64
	// AgeMin and AgeMax are Age minus and plus twice the publisher's mean
	// absolute error for the age band Age falls in (see the package
	// documentation), rounded outwards to whole years, AgeMin at least 0
	// and AgeMax at least AgeMin. A rule of thumb, not a calibrated
	// interval.
	AgeMin, AgeMax int
}

// Estimator estimates ages. It is safe for concurrent use; load one and
// share it.
type Estimator struct {
	m *onnx.Model
}

// New builds the embedded age network and loads it into the executor
// (about 0.4 MB of weights, planned once).
func New() (*Estimator, error) {
	data, err := buildNetwork(models.AgeGenderManifest(), models.AgeGenderWeights())
	if err != nil {
		return nil, fmt.Errorf("faceage: age_gender_model: %w", err)
	}
	m, err := onnx.Load(data)
	if err != nil {
		return nil, fmt.Errorf("faceage: age_gender_model: %w", err)
	}
	return &Estimator{m: m}, nil
}

// EstimateFace estimates the age of face f, as the liveness check's
// detector found it in work (the working image liveness.Analyzer.Faces
// returned with it). It crops the face as the package documentation
// describes and runs the network. It fails with ErrNoImage, ErrLandmarks
// or ErrOutside, or with ctx's error when ctx is done; any other error is
// the executor's. The same image and face always give the same estimate.
func (e *Estimator) EstimateFace(ctx context.Context, work *image.RGBA, f liveness.Face) (Estimate, error) {
	if err := ctx.Err(); err != nil {
		return Estimate{}, err
	}
	if work == nil || work.Rect.Empty() {
		return Estimate{}, ErrNoImage
	}
	r, err := cropRect(work.Rect, f)
	if err != nil {
		return Estimate{}, err
	}
	age, err := e.age(ctx, faceInput(work, r))
	if err != nil {
		return Estimate{}, err
	}
	lo, hi := ageRange(age)
	return Estimate{Age: age, AgeMin: lo, AgeMax: hi}, nil
}

// age runs the network on a face image (InputSize×InputSize×3 RGB values
// in 0–255, row by row, as faceInput returns) and returns its age output.
func (e *Estimator) age(ctx context.Context, rgb []float32) (float64, error) {
	out, err := e.m.Run(ctx, map[string]*onnx.Tensor{netInput: {Shape: []int{1, 3, InputSize, InputSize}, Data: netInputOf(rgb)}})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("faceage: %w", err)
	}
	a := float64(out[netOutput].Data[0])
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return 0, fmt.Errorf("faceage: the network's age is %g", a)
	}
	return a, nil
}

// netInputOf returns the network's input for a face image: NCHW planes of
// (v − mean) / 255 in float32, as face-api.js computes it.
func netInputOf(rgb []float32) []float32 {
	const plane = InputSize * InputSize
	in := make([]float32, 3*plane)
	for i := range plane {
		for c := range 3 {
			in[c*plane+i] = (rgb[3*i+c] - meanRGB[c]) / 255
		}
	}
	return in
}

// band is an age band of the published error: whole years from lo to hi.
type band struct {
	lo, hi int
	mae    float64
}

// bands are the publisher's age bands and their MAE (face-api.js@0.22.2
// README, "Test results for different age category groups"). The published
// bands 41–60 and 60–80 share 60, and 60–80 and 80+ share 80: each such age
// goes to the first band that lists it.
var bands = []band{
	{0, 3, 1.52}, {4, 8, 3.06}, {9, 18, 4.82}, {19, 28, 4.99},
	{29, 40, 5.43}, {41, 60, 4.94}, {61, 80, 6.17}, {81, math.MaxInt, 9.91},
}

// bandMAE returns the published MAE of the band an estimated age falls in,
// by its whole years (an estimate below 0 counts as 0).
func bandMAE(age float64) float64 {
	y := math.Floor(age)
	for _, b := range bands {
		if y <= float64(b.hi) {
			return b.mae
		}
	}
	return bands[len(bands)-1].mae
}

// ageRange returns the range of an estimated age: age ∓ 2 × its band's
// MAE, rounded outwards, the minimum at least 0 and the maximum at least
// the minimum.
func ageRange(age float64) (lo, hi int) {
	d := 2 * bandMAE(age)
	// maxYears only keeps the conversion to int defined for absurd outputs.
	const maxYears = 1 << 20
	lo = int(min(maxYears, max(0, math.Floor(age-d))))
	hi = int(min(maxYears, max(float64(lo), math.Ceil(age+d))))
	return lo, hi
}
