// Package models embeds the age-estimation model that package faceage runs:
// face-api.js's AgeGenderNet (a small Xception-like feature extractor with an
// age regression head), as @vladmandic/face-api ships it (TensorFlow.js
// weights quantised to 8 bits, and their manifest). Where each file comes
// from, its licence, its training data and its published error are in
// PROVENANCE.md.
package models

import _ "embed"

//go:embed age_gender_model.bin
var weights string

//go:embed age_gender_model-weights_manifest.json
var manifest string

// AgeGenderWeights returns a copy of age_gender_model.bin: the weights, in
// the order and encoding AgeGenderManifest gives.
func AgeGenderWeights() []byte { return []byte(weights) }

// AgeGenderManifest returns a copy of age_gender_model-weights_manifest.json,
// the TensorFlow.js weights manifest: each weight's name, shape and
// quantisation.
func AgeGenderManifest() []byte { return []byte(manifest) }
