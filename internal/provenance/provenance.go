// Package provenance checks a models directory against its PROVENANCE.md,
// for the tests of the packages that embed model files.
package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// row matches a row of the table in PROVENANCE.md: file, bytes, sha256.
var row = regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([0-9,]+) \\| `([0-9a-f]{64})` \\|")

// Check checks every file the PROVENANCE.md of dir lists against its size
// and sha256, that each of required is listed, and that the bytes the
// package embeds (embedded, by file name) are the files'.
func Check(t *testing.T, dir string, required []string, embedded map[string][]byte) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(dir, "PROVENANCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range row.FindAllStringSubmatch(string(doc), -1) {
		name, sum := r[1], r[3]
		size, err := strconv.Atoi(strings.ReplaceAll(r[2], ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, name)
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s is listed in PROVENANCE.md: %v", name, err)
			continue
		}
		if len(data) != size {
			t.Errorf("%s has %d bytes, PROVENANCE.md says %d", name, len(data), size)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s has sha256 %x, PROVENANCE.md says %s", name, got, sum)
		}
	}
	for _, want := range required {
		if !slices.Contains(listed, want) {
			t.Errorf("PROVENANCE.md does not list %s", want)
		}
	}
	for name, b := range embedded {
		file, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file, b) {
			t.Errorf("the embedded %s differs from the file", name)
		}
	}
}
