// Package models embeds the face-recognition model that package faceid runs:
// dlib's ResNet face descriptor network, as face-api.js ships it (TensorFlow.js
// weights, most of them quantised to 8 bits, and their manifest). Where each
// file comes from, its licence and what is known of its training data are in
// PROVENANCE.md.
package models

import _ "embed"

//go:embed face_recognition_model.bin
var weights string

//go:embed face_recognition_model-weights_manifest.json
var manifest string

// FaceRecognitionWeights returns a copy of face_recognition_model.bin: the
// weights, in the order and encoding FaceRecognitionManifest gives.
func FaceRecognitionWeights() []byte { return []byte(weights) }

// FaceRecognitionManifest returns a copy of
// face_recognition_model-weights_manifest.json, the TensorFlow.js weights
// manifest: each weight's name, shape and quantisation.
func FaceRecognitionManifest() []byte { return []byte(manifest) }
