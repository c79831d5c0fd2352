package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// provenanceRow matches a row of the table in PROVENANCE.md: file, bytes,
// sha256.
var provenanceRow = regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([0-9,]+) \\| `([0-9a-f]{64})` \\|")

// TestProvenance checks every file listed in PROVENANCE.md against its
// size and sha256, that the model files and the licence are all listed,
// and that the embedded bytes are the files.
func TestProvenance(t *testing.T) {
	doc, err := os.ReadFile("PROVENANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range provenanceRow.FindAllStringSubmatch(string(doc), -1) {
		name, sum := r[1], r[3]
		size, err := strconv.Atoi(strings.ReplaceAll(r[2], ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, name)
		data, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s is listed in PROVENANCE.md: %v", name, err)
			continue
		}
		if len(data) != size {
			t.Errorf("%s has %d bytes, PROVENANCE.md says %d", name, len(data), size)
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s has sha256 %x, PROVENANCE.md says %s", name, got, sum)
		}
	}
	for _, want := range []string{"face_recognition_model.bin", "face_recognition_model-weights_manifest.json", "LICENSE-face-api.txt"} {
		if !slices.Contains(listed, want) {
			t.Errorf("PROVENANCE.md does not list %s", want)
		}
	}
	for name, embedded := range map[string][]byte{
		"face_recognition_model.bin":                   FaceRecognitionWeights(),
		"face_recognition_model-weights_manifest.json": FaceRecognitionManifest(),
	} {
		file, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file, embedded) {
			t.Errorf("the embedded %s differs from the file", name)
		}
	}
}
