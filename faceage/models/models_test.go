package models

import (
	"testing"

	"github.com/facevault/facevault/internal/provenance"
)

// TestProvenance checks every file listed in PROVENANCE.md against its
// size and sha256, that the model files and the licences are all listed,
// and that the embedded bytes are the files.
func TestProvenance(t *testing.T) {
	provenance.Check(t, ".", []string{
		"age_gender_model.bin", "age_gender_model-weights_manifest.json",
		"LICENSE-face-api.txt", "LICENSE-face-api.js.txt",
	}, map[string][]byte{
		"age_gender_model.bin":                   AgeGenderWeights(),
		"age_gender_model-weights_manifest.json": AgeGenderManifest(),
	})
}
