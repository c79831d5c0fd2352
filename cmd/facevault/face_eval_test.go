package main

import (
	"errors"
	"image"
	_ "image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFaceEval runs face-eval on the liveness package's two photographs
// and a mirror image of the first, labelled as the same person.
func TestFaceEval(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join("..", "..", "liveness", "testdata")
	for _, name := range []string{"pigo-sample.jpg", "astronaut.png"} {
		data, err := os.ReadFile(filepath.Join(photos, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(photos, "pigo-sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	src, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	mirrored := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			mirrored.Set(b.Dx()-1-x, y, src.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	out, err := os.Create(filepath.Join(dir, "pigo-mirrored.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(out, mirrored); err != nil {
		t.Fatal(err)
	}
	out.Close()
	ids := filepath.Join(t.TempDir(), "identities.csv")
	if err := os.WriteFile(ids, []byte("file,identity,notes\npigo-sample.jpg,pigo,\npigo-mirrored.png,pigo,mirrored\nastronaut.png,astronaut,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := mustRun(t, "face-eval", "--identities", ids, dir)
	for _, want := range []string{
		"3 photos, 3 embedded, 0 without a face.",
		"| genuine | 1 |",
		"| impostor | 2 |",
		"| 92 | 100.0% (1/1) | 0.0% (0/2) |",
		// At a target false match rate the set cannot resolve, no impostor
		// pair may match, and two of them bound the rate at 3/2, capped.
		"| 0.001 | 0 of 2 |",
		"| 100% |",
		"| dlib: distance < 0.6 | 100.0% (1/1) | 0.0% (0/2) |",
		"The two rules agree on 3 of 3 pairs.",
		"| align and embed | 3 |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		csv  string
		want string
	}{
		{"ErrNoIdentities", []string{dir}, "", "needs --identities"},
		{"ErrNoFolder", []string{"--identities", ids}, "", "one folder"},
		{"ErrHeader", nil, "file,label\na.jpg,x\nb.jpg,y\n", "must name the columns file and identity"},
		{"ErrOutside", nil, "file,identity\n../a.jpg,x\nb.jpg,y\n", "not a path inside the folder"},
		{"ErrOnePhoto", nil, "file,identity\npigo-sample.jpg,x\n", "fewer than two photos"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.csv != "" {
				p := filepath.Join(t.TempDir(), "ids.csv")
				if err := os.WriteFile(p, []byte(tc.csv), 0o644); err != nil {
					t.Fatal(err)
				}
				args = []string{"--identities", p, dir}
			}
			_, _, err := runCLI(t, append([]string{"face-eval"}, args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if len(tc.args) > 0 && !errors.Is(err, errUsage) {
				t.Errorf("got %v, want a usage error", err)
			}
		})
	}

	t.Run("Help", func(t *testing.T) {
		_, stderr, err := runCLI(t, "face-eval", "-h")
		if exitCode(err) != 2 || !strings.Contains(stderr, "Usage: facevault face-eval") || !strings.Contains(stderr, "-identities") {
			t.Errorf("face-eval -h: exit code %d, stderr:\n%s", exitCode(err), stderr)
		}
	})
}

// TestFMRUpperBound: the rule of three for no events, the normal
// approximation otherwise, capped at 1.
func TestFMRUpperBound(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want float64
	}{
		{0, 3000, 0.001},
		{0, 2, 1},
		{10, 1000, 0.01 + 1.645*math.Sqrt(0.01*0.99/1000)},
		{5, 5, 1},
	} {
		if got := fmrUpperBound(tc.k, tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("fmrUpperBound(%d, %d) = %g, want %g", tc.k, tc.n, got, tc.want)
		}
	}
	if got := fmrUpperBound(0, 0); !math.IsNaN(got) {
		t.Errorf("fmrUpperBound(0, 0) = %g, want NaN", got)
	}
}
