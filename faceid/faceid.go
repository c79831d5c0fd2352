// Package faceid computes face embeddings: 128 numbers per face, close
// together (by cosine) for two photos of the same person and apart for two
// people, so that faces can be compared without keeping or comparing photos.
//
// The network is dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1,
// Davis King, public-domain weights; 99.38% on the LFW benchmark as dlib
// publishes it), in the TensorFlow.js conversion face-api.js ships, run in
// pure Go by internal/onnx (see network.go and models/PROVENANCE.md). An
// Embedder aligns the face with the detector's landmarks (eyes and mouth)
// to dlib's 150×150 face chip, runs the network and L2-normalises the
// result. The same image and landmarks always give the same embedding.
package faceid

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/faceid/models"
	"github.com/facevault/facevault/internal/onnx"
	"github.com/facevault/facevault/liveness"
)

// Engine names the model in results and reports.
const Engine = "dlib ResNet face descriptor v1 (@vladmandic/face-api 1.7.15 face_recognition_model)"

// Point is a position in an image's coordinates (x right, y down; the
// centre of pixel (i, j) is at i, j, as in image.Image.At).
type Point struct{ X, Y float64 }

// Landmarks are the points of one face that alignment uses, in the
// coordinates of the image given to Embed, as the liveness detector (BlazeFace) reports
// them. Right and left are the subject's: their right eye is on the left of
// an unmirrored photo.
type Landmarks struct {
	RightEye, LeftEye, Mouth Point
}

// Errors returned by Embed (wrapped with details).
var (
	// ErrLandmarks reports landmarks that cannot be aligned: not finite,
	// eyes closer than 4 pixels, or a mouth on the eye line.
	ErrLandmarks = errors.New("faceid: landmarks cannot be aligned")
)

// Embedder computes embeddings. It is safe for concurrent use; load one
// and share it.
type Embedder struct {
	m *onnx.Model
}

// New builds the embedded face-recognition network and loads it into the
// executor (about 30 MB of float32 weights, planned once).
func New() (*Embedder, error) {
	data, err := buildNetwork(models.FaceRecognitionManifest(), models.FaceRecognitionWeights())
	if err != nil {
		return nil, fmt.Errorf("faceid: face_recognition_model: %w", err)
	}
	m, err := onnx.Load(data)
	if err != nil {
		return nil, fmt.Errorf("faceid: face_recognition_model: %w", err)
	}
	return &Embedder{m: m}, nil
}

// Embed returns the L2-normalised embedding (Dim values) of the face in img
// whose landmarks are face. It fails with ErrLandmarks when the landmarks
// cannot be aligned, or with ctx's error when ctx is done; any other error
// is the executor's. Parts of the aligned face outside img are black.
func (e *Embedder) Embed(ctx context.Context, img *image.RGBA, face Landmarks) ([]float32, error) {
	d, err := e.Descriptor(ctx, img, face)
	if err != nil {
		return nil, err
	}
	return Normalize(d)
}

// Normalize returns a descriptor scaled to unit length, in place: the
// embedding Embed returns. It fails for a descriptor of zero or
// non-finite length.
func Normalize(d []float32) ([]float32, error) {
	var sum float64
	for _, v := range d {
		sum += float64(v) * float64(v)
	}
	if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
		return nil, fmt.Errorf("faceid: descriptor has norm %g", math.Sqrt(sum))
	}
	inv := 1 / math.Sqrt(sum)
	for i, v := range d {
		d[i] = float32(float64(v) * inv)
	}
	return d, nil
}

// Descriptor returns dlib's descriptor of the face in img whose landmarks
// are face, as the network gives it: not normalised, so that dlib's own
// rule (two faces are one person when their descriptors are less than
// DlibThreshold apart) applies to it. Errors as Embed's.
func (e *Embedder) Descriptor(ctx context.Context, img *image.RGBA, face Landmarks) ([]float32, error) {
	chip, err := Align(img, face)
	if err != nil {
		return nil, err
	}
	return e.descriptor(ctx, chip)
}

// DlibThreshold is the Euclidean distance between two descriptors under
// which dlib calls them one person: the operating point of its published
// 99.38% accuracy on LFW.
const DlibThreshold = 0.6

// descriptor runs the network on an aligned ChipSize×ChipSize face and
// returns its raw output (dlib's descriptor, not normalised).
func (e *Embedder) descriptor(ctx context.Context, chip *image.RGBA) ([]float32, error) {
	out, err := e.m.Run(ctx, map[string]*onnx.Tensor{netInput: {Shape: []int{1, 3, ChipSize, ChipSize}, Data: chipInput(chip)}})
	if err != nil {
		return nil, fmt.Errorf("faceid: %w", err)
	}
	return out[netOutput].Data, nil
}

// chipInput returns the network's input for a chip: NCHW planes of
// (v − mean) / 255, as face-api.js feeds it.
func chipInput(chip *image.RGBA) []float32 {
	in := make([]float32, 3*ChipSize*ChipSize)
	plane := ChipSize * ChipSize
	for y := range ChipSize {
		row := chip.Pix[y*chip.Stride:]
		for x := range ChipSize {
			for c := range 3 {
				in[c*plane+y*ChipSize+x] = (float32(row[4*x+c]) - meanRGB[c]) / 255
			}
		}
	}
	return in
}

// Cosine returns the cosine of the angle between embeddings a and b (their
// dot product, as Embed's are unit vectors), from −1 to 1; 0 if their
// lengths differ or either is zero.
func Cosine(a, b []float32) float64 {
	return facevault.FaceCosine(a, b)
}

// Similarity is the similarity score of two embeddings, from 0 to 100:
// 100 × their cosine, negative cosines counting as 0. The network's
// descriptors share a large common component, so scores crowd the top of
// the range: on the development set (README, "Face embeddings") different
// people score 73 to 92 and the same person 93 to 98. What threshold
// means "the same person" is for the checks that use the score to
// calibrate; dlib's own rule (a Euclidean distance under 0.6 between raw
// descriptors, whose length is about 1.3 to 1.6) does not translate into
// a fixed cosine.
func Similarity(a, b []float32) float64 {
	return 100 * max(0, Cosine(a, b))
}

// LandmarksOf returns the landmarks of a face the liveness detector found,
// in the coordinates of the image liveness.Analyzer.Faces returned with it.
// The detector measures from the pixels' edges (the centre of pixel i is at
// i + 0.5); Point from their centres.
func LandmarksOf(f liveness.Face) Landmarks {
	p := func(q liveness.Point) Point { return Point{q.X - 0.5, q.Y - 0.5} }
	return Landmarks{RightEye: p(f.RightEye), LeftEye: p(f.LeftEye), Mouth: p(f.Mouth)}
}

// EmbedFace is Embed of a face as the liveness check's detector found it:
// a liveness.EmbedFunc, for Analyzer.SetEmbedder.
func (e *Embedder) EmbedFace(ctx context.Context, work *image.RGBA, f liveness.Face) ([]float32, error) {
	return e.Embed(ctx, work, LandmarksOf(f))
}
