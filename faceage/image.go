package faceage

import (
	"context"
	"errors"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// ImageEstimator estimates the age of the one face in an image, which it
// finds with the liveness check's detector: the facevault.AgeEstimator
// that age estimation checks run.
type ImageEstimator struct {
	Faces *liveness.Analyzer
	Ages  *Estimator
}

var _ facevault.AgeEstimator = ImageEstimator{}

// EstimateAge decodes a JPEG or PNG image as the liveness check does,
// finds its faces and estimates the age of the only one. An image in
// which it finds no face or several, or whose pixels do not decode, is a
// *facevault.FaceCountError.
func (x ImageEstimator) EstimateAge(ctx context.Context, data []byte) (facevault.AgeEstimate, error) {
	work, faces, err := x.Faces.Faces(ctx, data)
	if errors.Is(err, liveness.ErrUnreadable) {
		return facevault.AgeEstimate{}, &facevault.FaceCountError{Faces: 0}
	}
	if err != nil {
		return facevault.AgeEstimate{}, err
	}
	if len(faces) != 1 {
		return facevault.AgeEstimate{}, &facevault.FaceCountError{Faces: len(faces)}
	}
	e, err := x.Ages.EstimateFace(ctx, work, faces[0])
	if err != nil {
		return facevault.AgeEstimate{}, err
	}
	return facevault.AgeEstimate{Age: e.Age, AgeMin: e.AgeMin, AgeMax: e.AgeMax}, nil
}

// Engine names the model.
func (ImageEstimator) Engine() string { return Engine }
