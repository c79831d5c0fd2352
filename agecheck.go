package facevault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
)

// CheckAgeEstimation is ComplyCube's age estimation check: the age of the
// face in a live photo, against a minimum age.
const CheckAgeEstimation = "age_estimation_check"

// DefaultMinimumAge is the minimum age an age estimation check validates
// against unless the Vault says otherwise.
const DefaultMinimumAge = 18

// AgeEstimate is an estimate of a person's age, in years, with the range
// the estimator gives it.
type AgeEstimate struct {
	Age            float64
	AgeMin, AgeMax int
}

// FaceCountError reports an image in which the face detector did not find
// exactly one face.
type FaceCountError struct{ Faces int }

func (e *FaceCountError) Error() string {
	return fmt.Sprintf("%d faces found where one is needed", e.Faces)
}

// AgeEstimator estimates the age of the face in an image.
type AgeEstimator interface {
	// EstimateAge returns the estimate for the one face of a JPEG or PNG
	// image; a *FaceCountError when it finds none or several.
	EstimateAge(ctx context.Context, image []byte) (AgeEstimate, error)
	// Engine names the model, for results and logs.
	Engine() string
}

// AgeEstimationAnalysis is the analysis of an age estimation check, in
// ComplyCube's shape: ageValidation is clear when the estimated age is at
// least the minimum age.
type AgeEstimationAnalysis struct {
	AgeValidation string       `json:"ageValidation"`
	Breakdown     AgeBreakdown `json:"breakdown"`
}

// AgeBreakdown is an age estimate in whole years: age rounded, the range
// as the estimator gives it, and the minimum age validated against.
type AgeBreakdown struct {
	Age        int `json:"age"`
	AgeMin     int `json:"ageMin"`
	AgeMax     int `json:"ageMax"`
	MinimumAge int `json:"minimumAge"`
}

// maxAgeImage bounds what an age check reads of a stored image: every
// stored image is within the upload limit, which is smaller.
const maxAgeImage = 64 << 20

// ageEstimation runs an age estimation check: it reads the photo's image,
// estimates the age of its face and validates it against the vault's
// minimum age, and reports whether the face is enrolled under another
// client (previouslyEnrolledFace). Nil (the check fails) if the photo is
// gone or redacted, or if its image holds no single face.
func (v *Vault) ageEstimation(ctx context.Context, c *Check) (*CheckResult, error) {
	if v.Ages == nil {
		return nil, errors.New("age estimation: this server has no age model")
	}
	p, rc, err := v.OpenImage(ctx, c.Scope, c.LivePhotoID)
	if ErrorCode(err) == ENotFound { // deleted or redacted meanwhile
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("age estimation: open image: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxAgeImage))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("age estimation: read image of %s: %w", p.ID, err)
	}
	est, err := v.Ages.EstimateAge(ctx, data)
	clear(data)
	var fc *FaceCountError
	if errors.As(err, &fc) {
		v.Logger.InfoContext(ctx, "age estimation: no single face", "checkId", c.ID, "faces", fc.Faces)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("age estimation of %s: %w", p.ID, err)
	}
	minAge := v.MinimumAge
	if minAge == 0 {
		minAge = DefaultMinimumAge
	}
	a := &AgeEstimationAnalysis{AgeValidation: OutcomeAttention, Breakdown: AgeBreakdown{
		Age: int(math.Round(est.Age)), AgeMin: est.AgeMin, AgeMax: est.AgeMax, MinimumAge: minAge}}
	if a.Breakdown.Age >= minAge {
		a.AgeValidation = OutcomeClear
	}
	// Like every check that consumes a face: is it enrolled under another
	// client? It does not change the outcome.
	prev, err := v.previouslyEnrolled(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("age estimation: previously enrolled faces: %w", err)
	}
	if prev == nil {
		return nil, nil // its face data went meanwhile
	}
	return &CheckResult{Outcome: a.AgeValidation, Breakdown: CheckBreakdown{AgeEstimation: a, PreviouslyEnrolledFace: prev}}, nil
}
