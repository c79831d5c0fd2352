package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
	"github.com/facevault/facevault/liveness/models"
)

// padFiles writes an ONNX model and a manifest for it to a temporary
// folder and returns their paths. The model is the embedded one: a model
// file the test suite already has. manifest edits the default manifest.
func padFiles(t *testing.T, manifest func(m *liveness.PADManifest)) (modelPath, manifestPath string, m liveness.PADManifest) {
	t.Helper()
	dir := t.TempDir()
	modelPath = filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(modelPath, models.FRLiveness(), 0o600); err != nil {
		t.Fatal(err)
	}
	m = liveness.DefaultPADManifest()
	if manifest != nil {
		manifest(&m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	manifestPath = filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(manifestPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return modelPath, manifestPath, m
}

// TestServeOwnPADModel runs serve with an operator's presentation-attack
// model and manifest (the embedded model file, described as if it took RGB
// input and its second class were live): every upload is scored by it,
// exactly as the liveness package scores it with that manifest, and the
// result names it.
func TestServeOwnPADModel(t *testing.T) {
	clearEnv(t)
	modelPath, manifestPath, m := padFiles(t, func(m *liveness.PADManifest) {
		m.Name = "operator's PAD model (test)"
		m.ColorOrder = "RGB"
		m.LiveIndex = 1
	})
	face := readFace(t)
	want, err := liveness.NewWithPAD(liveness.DefaultConfig(), models.FRLiveness(), m)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck, err := want.Analyze(context.Background(), bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	def, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defCheck, err := def.Analyze(context.Background(), bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	score := func(c *facevault.LivenessCheck) int {
		return *c.Breakdown.AuthenticityAnalysis.Breakdown.LivenessCheckScore
	}
	if score(wantCheck) == score(defCheck) {
		t.Fatalf("the manifest changes nothing (score %d either way): the test shows nothing", score(defCheck))
	}

	s := startServe(t, append(serveArgs(t.TempDir()), "--pad-model", modelPath, "--pad-manifest", manifestPath,
		"--min-liveness-score", "40")...)
	keys := s.bootstrapKeys(t)
	id := s.uploadPhoto(t, keys.test, s.createClient(t, keys.test), face)
	status, body := s.do(t, "GET", "/v1/livePhotos/"+id, keys.test, nil)
	if status != 200 {
		t.Fatalf("get: %d %s", status, body)
	}
	var p struct{ LivenessCheck facevault.LivenessCheck }
	decode(t, body, &p)
	got := p.LivenessCheck
	if !strings.Contains(got.Engine, "operator's PAD model (test)") {
		t.Errorf("engine %q does not name the operator's model", got.Engine)
	}
	if score(&got) != score(wantCheck) {
		t.Errorf("score %d through serve, %d from the liveness package with the same manifest", score(&got), score(wantCheck))
	}
	if wantVerdict := map[bool]string{true: "clear", false: "attention"}[score(&got) >= 40]; got.Breakdown.AuthenticityAnalysis.LivenessCheck != wantVerdict {
		t.Errorf("livenessCheck %s with score %d and --min-liveness-score 40", got.Breakdown.AuthenticityAnalysis.LivenessCheck, score(&got))
	}
}

// TestOwnPADModelRefused: every way a model or manifest can be wrong stops
// serve and eval at once, with a usage error that says what is wrong.
func TestOwnPADModelRefused(t *testing.T) {
	clearEnv(t)
	modelPath, manifestPath, _ := padFiles(t, nil)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, wrongInput, _ := padFiles(t, func(m *liveness.PADManifest) { m.Input = "pixels" })
	_, wrongSize, _ := padFiles(t, func(m *liveness.PADManifest) { m.Size = 112 })
	_, wrongLayout, _ := padFiles(t, func(m *liveness.PADManifest) { m.Layout = "NHWC" })
	_, wrongOutput, _ := padFiles(t, func(m *liveness.PADManifest) { m.Output = "logits" })
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ModelWithoutManifest", []string{"--pad-model", modelPath}, "--pad-model and --pad-manifest go together"},
		{"ManifestWithoutModel", []string{"--pad-manifest", manifestPath}, "--pad-model and --pad-manifest go together"},
		{"NoModelFile", []string{"--pad-model", filepath.Join(dir, "none.onnx"), "--pad-manifest", manifestPath}, "none.onnx"},
		{"NoManifestFile", []string{"--pad-model", modelPath, "--pad-manifest", filepath.Join(dir, "none.json")}, "none.json"},
		{"ManifestNotJSON", []string{"--pad-model", modelPath, "--pad-manifest", write("bad.json", "{")}, "PAD manifest"},
		{"ManifestIncomplete", []string{"--pad-model", modelPath, "--pad-manifest", write("part.json", `{"name":"x"}`)}, "missing input"},
		{"NotAModel", []string{"--pad-model", write("junk.onnx", "not a model"), "--pad-manifest", manifestPath}, "junk.onnx"},
		{"WrongInput", []string{"--pad-model", modelPath, "--pad-manifest", wrongInput}, `no input "pixels"`},
		{"WrongSize", []string{"--pad-model", modelPath, "--pad-manifest", wrongSize}, "describes [1 3 112 112]"},
		{"WrongLayout", []string{"--pad-model", modelPath, "--pad-manifest", wrongLayout}, "describes [1 128 128 3]"},
		{"WrongOutput", []string{"--pad-model", modelPath, "--pad-manifest", wrongOutput}, `no output "logits"`},
		{"ScoreTooHigh", []string{"--min-liveness-score", "101"}, "--min-liveness-score must be from 0 to 100"},
		{"ScoreNegative", []string{"--min-liveness-score", "-1"}, "--min-liveness-score must be from 0 to 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range [][]string{
				append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...),
				append(append([]string{"eval", "--labels", "labels.csv"}, tc.args...), "photos"),
			} {
				_, _, err := runCLI(t, cmd...)
				if err == nil {
					t.Fatalf("%s succeeded, want a usage error", cmd[0])
				}
				assertUsageError(t, err)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want it to mention %q", cmd[0], err, tc.want)
				}
			}
		})
	}
}

// readFace is the repository's face fixture.
func readFace(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(fmt.Errorf("read the face fixture: %w", err))
	}
	return b
}
