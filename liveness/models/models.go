// Package models embeds the face models FaceVault runs and loads them into
// the pure-Go ONNX executor (internal/onnx). Where each file comes from, its
// licence and what is known of its training data are in PROVENANCE.md.
//
// Each Load function reads and plans its model; the *onnx.Model it returns
// is safe for concurrent use, so a caller loads each model once.
package models

import (
	_ "embed"
	"fmt"

	"github.com/facevault/facevault/internal/onnx"
)

//go:embed face_detection_back_256x256_barracuda.onnx
var blazeFaceBack string

//go:embed fr_liveness.onnx
var frLiveness string

// The BlazeFace "back" detector's inputs and outputs (see PROVENANCE.md).
const (
	// BlazeFaceInput is the input: float32 NHWC [1,256,256,3], RGB as
	// v/127.5 - 1 (the image letterboxed into 256x256).
	BlazeFaceInput = "input:0"
	// BlazeFaceScores16 holds the score logits of the 16x16 grid's 512
	// anchors (2 per cell, cell-major): [1,512,1].
	BlazeFaceScores16 = "Identity:0"
	// BlazeFaceScores8 holds the score logits of the 8x8 grid's 384
	// anchors (6 per cell): [1,384,1].
	BlazeFaceScores8 = "Identity_1:0"
	// BlazeFaceBoxes16 holds the 16 regression values (box centre offset,
	// size, then six keypoints as x,y pairs, in input pixels) of the 512
	// anchors: [1,512,16].
	BlazeFaceBoxes16 = "Identity_2:0"
	// BlazeFaceBoxes8 holds the regressions of the 384 anchors: [1,384,16].
	BlazeFaceBoxes8 = "Identity_3:0"
	// BlazeFaceSize is the side of the square input.
	BlazeFaceSize = 256
)

// The presentation-attack (liveness) model's input and output.
const (
	// LivenessInput is the input: float32 NCHW [1,3,128,128], RGB 0-255
	// unnormalised (a face crop resized to 128x128).
	LivenessInput = "input"
	// LivenessOutput is the output: [1,3] logits (softmax not applied).
	LivenessOutput = "output"
	// LivenessSize is the side of the square input.
	LivenessSize = 128
)

// BlazeFaceBack returns a copy of the BlazeFace "back" ONNX file.
func BlazeFaceBack() []byte { return []byte(blazeFaceBack) }

// FRLiveness returns a copy of the liveness ONNX file.
func FRLiveness() []byte { return []byte(frLiveness) }

// LoadBlazeFaceBack loads the BlazeFace "back" 256x256 face detector.
func LoadBlazeFaceBack() (*onnx.Model, error) {
	m, err := onnx.Load(BlazeFaceBack())
	if err != nil {
		return nil, fmt.Errorf("models: face_detection_back_256x256_barracuda.onnx: %w", err)
	}
	return m, nil
}

// LoadFRLiveness loads Faceplugin's presentation-attack model.
func LoadFRLiveness() (*onnx.Model, error) {
	m, err := onnx.Load(FRLiveness())
	if err != nil {
		return nil, fmt.Errorf("models: fr_liveness.onnx: %w", err)
	}
	return m, nil
}
