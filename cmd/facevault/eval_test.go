package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/evaluate"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/liveness"
)

// evalPhoto is one photo of the labelled folder the eval tests make.
type evalPhoto struct {
	file, label string
	faces       int
	data        []byte
}

// evalPhotos makes the labelled photos from the repository's fixtures:
// genuine, pigo's sample photo and the NASA portrait as they are, and the
// sample cut short in its scan data (its header decodes, its pixels do
// not); spoof, the sample made to look re-photographed off a screen (see
// screenCopy); multi, two copies of the sample side by side; noface, noise.
// The labels are what the test says they are: the test checks the
// evaluation's arithmetic and report, not the model.
func evalPhotos(t *testing.T) []evalPhoto {
	t.Helper()
	sample, err := os.ReadFile("../../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	astronaut, err := os.ReadFile("../../liveness/testdata/astronaut.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	two := image.NewRGBA(image.Rect(0, 0, 2*b.Dx(), b.Dy()))
	draw.Draw(two, b.Sub(b.Min), img, b.Min, draw.Src)
	draw.Draw(two, b.Sub(b.Min).Add(image.Pt(b.Dx(), 0)), img, b.Min, draw.Src)
	return []evalPhoto{
		{"genuine/sample.jpg", "genuine", 1, sample},
		{"genuine/astronaut.png", "genuine", 1, astronaut},
		{"genuine/cut short.jpg", "genuine", 1, sample[:40<<10]},
		{"spoof/screen.jpg", "spoof", 1, encodeJPEG(t, screenCopy(img))},
		{"multi/two.jpg", "multi", 2, encodeJPEG(t, two)},
		{"noface/noise.jpg", "noface", 0, testimage.JPEG(256, 256, 11)},
	}
}

// screenCopy returns img as a camera sees it on a screen: the screen's
// gamma and blue cast, its pixel grid beating against the sensor's as a
// moiré of slightly different frequencies, and a little blur.
func screenCopy(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			var sum [3]float64
			n := 0.0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := min(max(x+dx, 0), b.Dx()-1), min(max(y+dy, 0), b.Dy()-1)
					r, g, bl, _ := img.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
					sum[0], sum[1], sum[2] = sum[0]+float64(r>>8), sum[1]+float64(g>>8), sum[2]+float64(bl>>8)
					n++
				}
			}
			moire := 1 + 0.12*math.Sin(2*math.Pi*(float64(x)/3.1+float64(y)/17))*math.Sin(2*math.Pi*float64(y)/2.9)
			p := out.Pix[out.PixOffset(x, y):]
			for c, cast := range [3]float64{0.92, 0.97, 1.08} {
				v := 255 * math.Pow(sum[c]/n/255, 0.8) * cast * moire
				p[c] = uint8(min(max(math.Round(v), 0), 255))
			}
			p[3] = 0xFF
		}
	}
	return out
}

func encodeJPEG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 88}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeEvalSet writes photos under dir/photos and their labels, with extra
// columns as the development set has, to dir/labels.csv.
func writeEvalSet(t *testing.T, dir string, photos []evalPhoto) (photosDir, labels string) {
	t.Helper()
	photosDir = filepath.Join(dir, "photos")
	var csv strings.Builder
	csv.WriteString("file,label,expected_faces,source,notes\n")
	for _, p := range photos {
		path := filepath.Join(photosDir, filepath.FromSlash(p.file))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, p.data, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&csv, "%s,%s,%d,test fixture,\"made by the test, from liveness/testdata\"\n", p.file, p.label, p.faces)
	}
	labels = filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return photosDir, labels
}

// evalJSON is the part of eval's JSON report the test reads.
type evalJSON struct {
	Dir, Labels, Engine string
	Photos              int
	Classes             []struct {
		Label          string
		Photos         int
		FaceCountRight struct{ N, Of int }
		Clear          int
		Attention      int
		Refusals       map[string]int
	}
	GenuineVsSpoof struct {
		Genuine, Spoof, GenuineNoFace, SpoofNoFace int
		Scores                                     []struct {
			Name                       string
			GenuineScored, SpoofScored int
			AUC                        *float64
			AUCScoredOnly              *float64
			Configured                 *struct {
				Threshold    float64
				APCER, BPCER struct{ N, Of int }
			}
			BPCERTargets []struct {
				Target       float64
				Reachable    bool
				Threshold    *float64
				APCER, BPCER struct{ N, Of int }
			}
		}
		Verdicts []struct {
			Name         string
			APCER, BPCER struct{ N, Of int }
		}
	}
	Stages []struct {
		Name   string
		Photos int
		MeanMs float64
	}
	Total struct {
		Photos int
		MaxMs  float64
	}
	Results []struct {
		File      string
		FaceCount int
		Refusal   string
		Scores    map[string]float64
		Check     facevault.LivenessCheck
	}
}

// TestEval runs facevault eval end to end on a labelled folder made from the
// fixtures and checks its figures against what the analyzer returns for
// each photo, counted by the test: the face counts and refusals per class,
// each score's AUC, APCER and BPCER at the configured threshold, the verdict
// rates; then the Markdown report's tables and the plot.
func TestEval(t *testing.T) {
	clearEnv(t)
	photos := evalPhotos(t)
	dir := t.TempDir()
	photosDir, labels := writeEvalSet(t, dir, photos)

	// What the analyzer says of each photo, on its own.
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	checks := make([]*facevault.LivenessCheck, len(photos))
	for i, p := range photos {
		if checks[i], err = a.Analyze(context.Background(), bytes.NewReader(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	faces := func(i int) int { return checks[i].Breakdown.IntegrityAnalysis.Breakdown.FaceCount }
	// The fixtures are chosen so that every case is exercised.
	if faces(0) != 1 || faces(1) != 1 || checks[2].Breakdown.IntegrityAnalysis.Breakdown.ImageReadable || faces(3) != 1 ||
		faces(4) != 2 || faces(5) != 0 {
		t.Fatalf("the fixtures no longer give the cases the test needs: faces %d %d %d %d %d %d",
			faces(0), faces(1), faces(2), faces(3), faces(4), faces(5))
	}

	plotPath := filepath.Join(dir, "roc.png")
	stdout, stderr, err := runCLI(t, "eval", "--json", "--labels", labels, "--plot", plotPath, photosDir)
	if err != nil {
		t.Fatalf("eval: %v\nstderr:\n%s", err, stderr)
	}
	var r evalJSON
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("eval --json printed no JSON: %v\n%s", err, stdout)
	}
	if r.Photos != 6 || r.Dir != photosDir || r.Labels != labels || r.Engine != a.Engine() {
		t.Errorf("report head: %d photos, dir %q, labels %q, engine %q", r.Photos, r.Dir, r.Labels, r.Engine)
	}

	// Per photo: the same faces and scores as the analyzer alone.
	for i, res := range r.Results {
		if res.File != photos[i].file || res.FaceCount != faces(i) {
			t.Errorf("result %d: %s with %d faces, want %s with %d", i, res.File, res.FaceCount, photos[i].file, faces(i))
		}
		if want := refusalOf(checks[i]); res.Refusal != want {
			t.Errorf("%s: refusal %q, want %q", res.File, res.Refusal, want)
		}
		if sc := checks[i].Breakdown.AuthenticityAnalysis.Breakdown.LivenessCheckScore; sc != nil {
			if len(res.Scores) != 1 || res.Scores["livenessCheckScore"] != float64(*sc) {
				t.Errorf("%s: scores %v, the analyzer gives %d", res.File, res.Scores, *sc)
			}
		} else if len(res.Scores) != 0 {
			t.Errorf("%s: scores %v without a face", res.File, res.Scores)
		}
	}

	// Per class: genuine 2 of 3 right (the cut photo has no face) and
	// refused image_unreadable; spoof, multi and noface right.
	type class struct {
		photos, right int
		refusals      map[string]int
	}
	wantClasses := map[string]class{
		"genuine": {3, 2, map[string]int{evaluate.NotRefused: 2, facevault.EUnreadable: 1}},
		"spoof":   {1, 1, map[string]int{evaluate.NotRefused: 1}},
		"multi":   {1, 1, map[string]int{facevault.EMultipleFaces: 1}},
		"noface":  {1, 1, map[string]int{facevault.ENoFace: 1}},
	}
	if len(r.Classes) != 4 {
		t.Errorf("%d classes, want 4", len(r.Classes))
	}
	for _, c := range r.Classes {
		w := wantClasses[c.Label]
		if c.Photos != w.photos || c.FaceCountRight.N != w.right || c.FaceCountRight.Of != w.photos ||
			c.Clear+c.Attention != w.photos || fmt.Sprint(c.Refusals) != fmt.Sprint(w.refusals) {
			t.Errorf("class %s: %+v, want %+v", c.Label, c, w)
		}
	}

	// Genuine vs spoof, counted here from the analyzer's scores: genuine
	// photos 0 and 1 are scored, 2 is not (rejected at every threshold,
	// and below every score in the AUC); the spoof is photo 3.
	g := r.GenuineVsSpoof
	if g.Genuine != 3 || g.Spoof != 1 || g.GenuineNoFace != 1 || g.SpoofNoFace != 0 {
		t.Errorf("genuine vs spoof counts: %+v", g)
	}
	type scoreFigures struct {
		auc, aucScored float64
		apcer, bpcer   int // of 1 and of 3
	}
	want := map[string]scoreFigures{}
	cfg := liveness.DefaultConfig()
	for name, th := range map[string]float64{"livenessCheckScore": float64(cfg.MinLivenessScore)} {
		score := func(i int) float64 {
			return float64(*checks[i].Breakdown.AuthenticityAnalysis.Breakdown.LivenessCheckScore)
		}
		s := score(3)
		wins := 0.0
		var f scoreFigures
		for _, gi := range []int{0, 1} {
			switch gv := score(gi); {
			case gv > s:
				wins++
			case gv == s:
				wins += 0.5
			}
			if score(gi) < th {
				f.bpcer++
			}
		}
		f.bpcer++ // the unreadable genuine photo
		f.auc, f.aucScored = wins/3, wins/2
		if s >= th {
			f.apcer = 1
		}
		want[name] = f
	}
	if len(g.Scores) != 1 {
		t.Fatalf("%d scores, want 1: %+v", len(g.Scores), g.Scores)
	}
	for _, s := range g.Scores {
		w := want[s.Name]
		if s.GenuineScored != 2 || s.SpoofScored != 1 || s.AUC == nil || math.Abs(*s.AUC-w.auc) > 1e-12 ||
			s.AUCScoredOnly == nil || math.Abs(*s.AUCScoredOnly-w.aucScored) > 1e-12 {
			t.Errorf("%s: scored %d+%d, AUC %v (scored only %v); want 2+1, %v (%v)", s.Name, s.GenuineScored, s.SpoofScored,
				ptr(s.AUC), ptr(s.AUCScoredOnly), w.auc, w.aucScored)
		}
		th := float64(cfg.MinLivenessScore)
		if c := s.Configured; c == nil || c.Threshold != th || c.APCER.N != w.apcer || c.APCER.Of != 1 || c.BPCER.N != w.bpcer || c.BPCER.Of != 3 {
			t.Errorf("%s at the configured threshold: %+v; want ≥ %v, APCER %d/1, BPCER %d/3", s.Name, c, th, w.apcer, w.bpcer)
		}
		// With one of three genuine photos unscored, BPCER cannot go
		// below a third: neither target is reachable.
		for _, tp := range s.BPCERTargets {
			if tp.Reachable || tp.BPCER.N != 1 || tp.BPCER.Of != 3 || tp.Threshold == nil {
				t.Errorf("%s: BPCER target %+v, want unreachable at BPCER 1/3", s.Name, tp)
			}
		}
	}
	verdicts := map[string]struct{ apcer, bpcer int }{}
	for _, v := range g.Verdicts {
		if v.APCER.Of != 1 || v.BPCER.Of != 3 {
			t.Errorf("verdict %s counted of %d and %d photos, want 1 and 3", v.Name, v.APCER.Of, v.BPCER.Of)
		}
		verdicts[v.Name] = struct{ apcer, bpcer int }{v.APCER.N, v.BPCER.N}
	}
	if got, w := verdicts["authenticityAnalysis.livenessCheck"], want["livenessCheckScore"]; got.apcer != w.apcer || got.bpcer != w.bpcer {
		t.Errorf("livenessCheck verdict: APCER %d, BPCER %d; the score gives %d, %d", got.apcer, got.bpcer, w.apcer, w.bpcer)
	}
	if got, w := verdicts["authenticityAnalysis.spoofedImageAnalysis"], want["livenessCheckScore"]; got.apcer != w.apcer || got.bpcer != w.bpcer {
		t.Errorf("spoofedImageAnalysis verdict: APCER %d, BPCER %d; the score gives %d, %d", got.apcer, got.bpcer, w.apcer, w.bpcer)
	}
	if _, ok := verdicts["outcome"]; !ok {
		t.Errorf("no outcome verdict: %v", verdicts)
	}

	// Stages: every photo was decoded (the cut one failing there), the
	// five readable ones searched for faces, the four with a face scored.
	stages := map[string]int{}
	for _, s := range r.Stages {
		stages[s.Name] = s.Photos
		if s.MeanMs <= 0 {
			t.Errorf("stage %s: mean %v ms", s.Name, s.MeanMs)
		}
	}
	if fmt.Sprint(stages) != fmt.Sprint(map[string]int{"decode": 6, "orient+gray": 5, "detect": 5, "measure": 4, "pad": 4}) ||
		r.Total.Photos != 6 || r.Total.MaxMs <= 0 {
		t.Errorf("stages %v, total %+v", stages, r.Total)
	}

	// The plot.
	if !strings.Contains(stderr, "Wrote the ROC plot") {
		t.Errorf("stderr %q does not mention the plot", stderr)
	}
	f, err := os.Open(plotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfgPNG, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("the plot is not a PNG: %v", err)
	}
	if cfgPNG.Width != evaluate.PlotWidth || cfgPNG.Height != evaluate.PlotHeight {
		t.Errorf("plot %d×%d, want %d×%d", cfgPNG.Width, cfgPNG.Height, evaluate.PlotWidth, evaluate.PlotHeight)
	}

	// The Markdown report shows the same figures; --labels from the
	// environment.
	t.Setenv("FACEVAULT_LABELS", labels)
	text := mustRun(t, "eval", photosDir)
	for _, s := range g.Scores {
		w := want[s.Name]
		row := fmt.Sprintf("| `%s` | %.3f | %.3f | ≥ %d | %s | %s |", s.Name, w.auc, w.aucScored, cfg.MinLivenessScore,
			evaluate.Rate{N: w.apcer, Of: 1}, evaluate.Rate{N: w.bpcer, Of: 3})
		if !strings.Contains(text, row) {
			t.Errorf("the report lacks the row %q", row)
		}
	}
	for _, row := range []string{
		"## Liveness check on 6 labelled photos",
		"| genuine | 3 | 66.7% (2/3) |",
		"| spoof | 1 | 100% (1/1) |",
		"| multi | 1 | 100% (1/1) | 0 | 1 | 0 | 0 | 1 | 0 |",
		"| noface | 1 | 100% (1/1) | 0 | 1 | 0 | 1 | 0 | 0 |",
		"No face was found in 1 genuine and 0 spoof photos",
		"| `genuine/cut short.jpg` | genuine | 1 | 0 | image_unreadable |",
		"| **whole check** | 6 |",
	} {
		if !strings.Contains(text, row) {
			t.Errorf("the report lacks %q", row)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", text)
	}
}

func refusalOf(c *facevault.LivenessCheck) string {
	if err := facevault.Refusal(c); err != nil {
		return facevault.ErrorCode(err)
	}
	return ""
}

func ptr(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// TestEvalErrors runs eval on every mistake a user can make: each ends
// with a message that names the problem and a non-zero exit status, prints
// no report and writes no plot.
func TestEvalErrors(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	photosDir, labels := writeEvalSet(t, dir, evalPhotos(t)[:2])
	if err := os.WriteFile(filepath.Join(dir, "outside.jpg"), testimage.JPEG(64, 64, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside.jpg", filepath.Join(photosDir, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(photosDir, "notes.txt"), []byte("a note, not a photo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	labelsWith := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const header = "file,label,expected_faces\n"
	const good = "genuine/sample.jpg,genuine,1\n"
	plot := filepath.Join(dir, "plot.png")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"ErrNoLabels", []string{photosDir}, 2, []string{"eval needs --labels FILE"}},
		{"ErrNoDir", []string{"--labels", labels}, 2, []string{"eval takes one folder"}},
		{"ErrTwoDirs", []string{"--labels", labels, photosDir, dir}, 2, []string{"eval takes one folder"}},
		{"ErrUnknownFlag", []string{"--labels", labels, "--frobnicate", photosDir}, 2, []string{"frobnicate"}},
		{"ErrPlotFolder", []string{"--labels", labels, "--plot", filepath.Join(dir, "nowhere", "roc.png"), photosDir}, 2,
			[]string{"--plot", "nowhere", "its folder does not exist"}},
		{"ErrLabelsMissing", []string{"--labels", filepath.Join(dir, "missing.csv"), photosDir}, 1,
			[]string{"missing.csv", "no such file"}},
		{"ErrDirMissing", []string{"--labels", labels, filepath.Join(dir, "nowhere")}, 1, []string{"open the folder of photos", "nowhere"}},
		{"ErrBadHeader", []string{"--labels", labelsWith("h.csv", "path,label,faces\n"+good), photosDir}, 1,
			[]string{"h.csv:1:", "lacks the column(s) file, expected_faces"}},
		{"ErrBadLabel", []string{"--labels", labelsWith("l.csv", header+good+"genuine/astronaut.png,real,1\n"), photosDir}, 1,
			[]string{"l.csv:3:", `label "real" of genuine/astronaut.png is not one of genuine, spoof, multi, noface`}},
		{"ErrBadCount", []string{"--labels", labelsWith("c.csv", header+"genuine/sample.jpg,multi,1\n"), photosDir}, 1,
			[]string{"c.csv:2:", "expected_faces 1 of genuine/sample.jpg does not fit label multi"}},
		{"ErrCountNotNumber", []string{"--labels", labelsWith("n.csv", header+"genuine/sample.jpg,genuine,1.0\n"), photosDir}, 1,
			[]string{"n.csv:2:", `expected_faces "1.0"`}},
		{"ErrUnknownFile", []string{"--labels", labelsWith("u.csv", header+good+"genuine/nobody.jpg,genuine,1\n"), photosDir}, 1,
			[]string{"u.csv:3:", "genuine/nobody.jpg is not in " + photosDir}},
		{"ErrOutsideDir", []string{"--labels", labelsWith("o.csv", header+"../outside.jpg,genuine,1\n"), photosDir}, 1,
			[]string{"o.csv:2:", `"../outside.jpg" is outside the folder`}},
		{"ErrSymlinkOutsideDir", []string{"--labels", labelsWith("s.csv", header+good+"link.jpg,genuine,1\n"), photosDir}, 1,
			[]string{"s.csv:3:", "link.jpg cannot be read inside " + photosDir}},
		{"ErrNotAnImage", []string{"--labels", labelsWith("t.csv", header+"notes.txt,noface,0\n"+good), photosDir}, 1,
			[]string{"t.csv:2:", "notes.txt is not an image the check reads: it is neither a JPEG nor a PNG"}},
		{"ErrDirectory", []string{"--labels", labelsWith("d.csv", header+"genuine,genuine,1\n"), photosDir}, 1,
			[]string{"d.csv:2:", "genuine in " + photosDir + " is not a regular file"}},
		{"ErrEmptySet", []string{"--labels", labelsWith("e.csv", header), photosDir}, 1, []string{"e.csv: no photos"}},
		{"ErrEmptyFile", []string{"--labels", labelsWith("z.csv", ""), photosDir}, 1, []string{"z.csv: empty"}},
		// Every bad row is named, not only the first.
		{"ErrEveryRow", []string{"--labels", labelsWith("m.csv", header+"a.jpg,fake,1\n"+good+"b.jpg,noface,2\n"), photosDir}, 1,
			[]string{"m.csv:2:", "m.csv:4:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"eval", "--plot", plot}, tc.args...)
			if tc.name == "ErrPlotFolder" {
				args = append([]string{"eval"}, tc.args...)
			}
			stdout, _, err := runCLI(t, args...)
			if err == nil {
				t.Fatalf("eval %v succeeded:\n%s", tc.args, stdout)
			}
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit code %d, want %d (%v)", got, tc.code, err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if stdout != "" {
				t.Errorf("printed a report on error:\n%s", stdout)
			}
			if _, err := os.Stat(plot); !os.IsNotExist(err) {
				t.Errorf("a plot was written on error (stat: %v)", err)
			}
		})
	}
}

// TestEvalUsage checks that eval is listed in the usage text and that
// eval -h explains the labels file.
func TestEvalUsage(t *testing.T) {
	clearEnv(t)
	stdout, _, err := runCLI(t, "help")
	if err != nil || !strings.Contains(stdout, "eval           measure the liveness check on a folder of labelled photos") {
		t.Errorf("help (err %v) does not list eval:\n%s", err, stdout)
	}
	_, stderr, err := runCLI(t, "eval", "-h")
	if exitCode(err) != 2 || !strings.Contains(stderr, "Usage: facevault eval --labels FILE [--plot FILE.png] [--json]") ||
		!strings.Contains(stderr, "[--min-liveness-score N] [--pad-model FILE --pad-manifest FILE] DIR") ||
		!strings.Contains(stderr, "expected_faces") || !strings.Contains(stderr, "FACEVAULT_<NAME>") {
		t.Errorf("eval -h (err %v):\n%s", err, stderr)
	}
}
