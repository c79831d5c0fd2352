package models

import (
	"testing"

	"github.com/facevault/facevault/internal/provenance"
)

// TestProvenance checks every file listed in PROVENANCE.md against its
// size and sha256, that the model files and the licence are all listed,
// and that the embedded bytes are the files.
func TestProvenance(t *testing.T) {
	provenance.Check(t, ".", []string{"face_recognition_model.bin", "face_recognition_model-weights_manifest.json", "LICENSE-face-api.txt"}, map[string][]byte{
		"face_recognition_model.bin":                   FaceRecognitionWeights(),
		"face_recognition_model-weights_manifest.json": FaceRecognitionManifest(),
	})
}
