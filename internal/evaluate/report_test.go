package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/internal/testimage"
	"github.com/facevault/facevault/liveness"
)

// result builds a check result as the analyzer shapes it: with faces, the
// quality and authenticity analyses and the score (both verdicts against
// 60); without, neither (as results stored by earlier versions are).
func result(faces int, readable bool, outcome string, score int) *facevault.LivenessCheck {
	c := &facevault.LivenessCheck{Outcome: outcome, Engine: "test engine 1.0"}
	c.Breakdown.IntegrityAnalysis.Breakdown = facevault.IntegrityBreakdown{FaceCount: faces, ImageReadable: readable}
	c.Breakdown.IntegrityAnalysis.FaceDetection = verdictOf(faces == 1)
	if faces == 0 {
		return c
	}
	c.Breakdown.QualityAnalysis = &facevault.QualityAnalysis{}
	c.Breakdown.AuthenticityAnalysis = &facevault.AuthenticityAnalysis{
		SpoofedImageAnalysis: verdictOf(score >= 60),
		LivenessCheck:        verdictOf(score >= 60),
		Breakdown:            facevault.AuthenticityBreakdown{LivenessCheckScore: &score},
	}
	return c
}

func verdictOf(ok bool) string {
	if ok {
		return facevault.OutcomeClear
	}
	return facevault.OutcomeAttention
}

func stages(ms ...float64) []liveness.Stage {
	names := []string{"decode", "orient+gray", "detect", "measure", "models"}
	s := make([]liveness.Stage, len(ms))
	for i, m := range ms {
		s[i] = liveness.Stage{Name: names[i], Duration: time.Duration(m * float64(time.Millisecond))}
	}
	return s
}

// samplePhotos is a small labelled set whose figures are counted by hand in
// TestSummarizeFigures.
func samplePhotos() []Photo {
	const clear, attention = facevault.OutcomeClear, facevault.OutcomeAttention
	p := func(file, label string, faces int, check *facevault.LivenessCheck, st []liveness.Stage, total float64) Photo {
		return Photo{Label: Label{File: file, Label: label, ExpectedFaces: faces}, Check: check, Stages: st,
			Total: time.Duration(total * float64(time.Millisecond))}
	}
	return []Photo{
		p("g1.jpg", Genuine, 1, result(1, true, clear, 80), stages(10, 1, 40, 2, 30), 90),
		p("g2.jpg", Genuine, 1, result(1, true, attention, 40), stages(20, 1, 40, 2, 30), 100),
		p("g3.jpg", Genuine, 1, result(0, true, attention, 0), stages(30, 1, 40), 80),
		p("g4.jpg", Genuine, 1, result(0, false, attention, 0), stages(5), 6),
		p("s1.jpg", Spoof, 1, result(1, true, attention, 70), stages(10, 1, 40, 2, 30), 90),
		p("s2.jpg", Spoof, 1, result(1, true, attention, 30), stages(10, 1, 40, 2, 30), 90),
		p("m1.jpg", Multi, 3, result(2, true, attention, 90), stages(10, 1, 40, 2, 30), 90),
		p("n1.jpg", NoFace, 0, result(0, true, attention, 0), stages(10, 1, 40), 55),
		p("n2.jpg", NoFace, 0, result(1, true, attention, 10), stages(10, 1, 40, 2, 30), 90),
	}
}

var sampleThresholds = map[string]float64{"livenessCheckScore": 60, "otherScore": 50}

func TestSummarizeFigures(t *testing.T) {
	r, err := Summarize(samplePhotos(), sampleThresholds)
	if err != nil {
		t.Fatal(err)
	}
	if r.Photos != 9 || r.Engine != "test engine 1.0" {
		t.Errorf("photos %d, engine %q", r.Photos, r.Engine)
	}

	wantClasses := []Class{
		{Label: Genuine, Photos: 4, FaceCountRight: Rate{2, 4}, Clear: 1, Attention: 3,
			Refusals: map[string]int{NotRefused: 2, facevault.ENoFace: 1, facevault.EUnreadable: 1}},
		{Label: Spoof, Photos: 2, FaceCountRight: Rate{2, 2}, Attention: 2, Refusals: map[string]int{NotRefused: 2}},
		{Label: Multi, Photos: 1, FaceCountRight: Rate{0, 1}, Attention: 1, Refusals: map[string]int{facevault.EMultipleFaces: 1}},
		{Label: NoFace, Photos: 2, FaceCountRight: Rate{1, 2}, Attention: 2, Refusals: map[string]int{NotRefused: 1, facevault.ENoFace: 1}},
	}
	if !reflect.DeepEqual(r.Classes, wantClasses) {
		t.Errorf("classes:\n got %+v\nwant %+v", r.Classes, wantClasses)
	}

	g := r.GenuineVsSpoof
	if g.Genuine != 4 || g.Spoof != 2 || g.GenuineNoFace != 2 || g.SpoofNoFace != 0 {
		t.Errorf("counts: %d genuine (%d no face), %d spoof (%d no face); want 4 (2), 2 (0)", g.Genuine, g.GenuineNoFace, g.Spoof, g.SpoofNoFace)
	}
	f := func(v float64) *float64 { return &v }
	// livenessCheckScore: genuine 80, 40 and two unscored; spoof 70, 30.
	// Pairs won: 80>70, 80>30, 40>30 = 3 of 8 (4×2); scored only 3 of 4.
	// otherScore: no photo has it; every photo ties, 0.5.
	want := []ScoreResult{
		{Name: "livenessCheckScore", GenuineScored: 2, SpoofScored: 2, AUC: f(3.0 / 8), AUCScoredOnly: f(0.75),
			Configured: &OperatingPoint{60, Rate{1, 2}, Rate{3, 4}},
			BPCERTargets: []TargetPoint{
				{Target: 0.05, Reachable: false, Threshold: f(30), APCER: Rate{2, 2}, BPCER: Rate{2, 4}},
				{Target: 0.10, Reachable: false, Threshold: f(30), APCER: Rate{2, 2}, BPCER: Rate{2, 4}},
			},
			ROC: []OperatingPoint{{80, Rate{0, 2}, Rate{3, 4}}, {70, Rate{1, 2}, Rate{3, 4}}, {40, Rate{1, 2}, Rate{2, 4}}, {30, Rate{2, 2}, Rate{2, 4}}},
		},
		{Name: "otherScore", AUC: f(0.5), Configured: &OperatingPoint{50, Rate{0, 2}, Rate{4, 4}},
			BPCERTargets: []TargetPoint{
				{Target: 0.05, APCER: Rate{0, 2}, BPCER: Rate{4, 4}},
				{Target: 0.10, APCER: Rate{0, 2}, BPCER: Rate{4, 4}},
			},
			ROC: []OperatingPoint{},
		},
	}
	if !reflect.DeepEqual(g.Scores, want) {
		gotJSON, _ := json.MarshalIndent(g.Scores, "", " ")
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("scores:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	// Accepted when clear; a photo without a face has no verdict and is
	// rejected.
	wantVerdicts := []Verdict{
		{"authenticityAnalysis.livenessCheck", Rate{1, 2}, Rate{3, 4}},
		{"authenticityAnalysis.spoofedImageAnalysis", Rate{1, 2}, Rate{3, 4}},
		{VerdictAuthenticity, Rate{1, 2}, Rate{3, 4}},
		{VerdictOutcome, Rate{0, 2}, Rate{3, 4}},
	}
	if !reflect.DeepEqual(g.Verdicts, wantVerdicts) {
		t.Errorf("verdicts:\n got %+v\nwant %+v", g.Verdicts, wantVerdicts)
	}

	// Stages: decode ran on all 9 (5, 10×6, 20, 30: median 10), the models
	// on the 6 with a face.
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	wantStages := []StageTime{
		{"decode", TimeSummary{9, ms(115.0 / 9), ms(10), ms(30)}},
		{"orient+gray", TimeSummary{8, ms(1), ms(1), ms(1)}},
		{"detect", TimeSummary{8, ms(40), ms(40), ms(40)}},
		{"measure", TimeSummary{6, ms(2), ms(2), ms(2)}},
		{"models", TimeSummary{6, ms(30), ms(30), ms(30)}},
	}
	if !reflect.DeepEqual(r.Stages, wantStages) {
		t.Errorf("stages:\n got %+v\nwant %+v", r.Stages, wantStages)
	}
	if want := (StageTime{"total", TimeSummary{9, ms(691.0 / 9), ms(90), ms(100)}}); r.Total != want {
		t.Errorf("total %+v, want %+v", r.Total, want)
	}

	if got := r.Results[3]; got.Refusal != facevault.EUnreadable || len(got.Scores) != 0 || len(got.StagesMs) != 1 {
		t.Errorf("unreadable photo: %+v", got)
	}
	if got := r.Results[0]; !reflect.DeepEqual(got.Scores, map[string]float64{"livenessCheckScore": 80}) ||
		got.Verdicts["livenessCheck"] != facevault.OutcomeClear || got.Refusal != "" {
		t.Errorf("first photo: %+v", got)
	}
}

// TestSummarizeStageOrder checks that a stage first seen on a later photo
// takes its place in pipeline order.
func TestSummarizeStageOrder(t *testing.T) {
	st := func(names ...string) []liveness.Stage {
		s := make([]liveness.Stage, len(names))
		for i, n := range names {
			s[i] = liveness.Stage{Name: n, Duration: time.Millisecond}
		}
		return s
	}
	c := result(0, true, facevault.OutcomeAttention, 0)
	photos := []Photo{
		{Label: Label{File: "a", Label: NoFace}, Check: c, Stages: st("read", "detect")},
		{Label: Label{File: "b", Label: NoFace}, Check: c, Stages: st("read", "decode", "detect", "models")},
		{Label: Label{File: "c", Label: NoFace}, Check: c, Stages: st("crop", "models")},
	}
	r, err := Summarize(photos, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range r.Stages {
		got = append(got, s.Name)
	}
	if want := []string{"crop", "read", "decode", "detect", "models"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stage order %v, want %v", got, want)
	}
}

// TestSummarizeOneClass: without genuine or spoof photos the rates are
// undefined, not zero, and no score is invented.
func TestSummarizeOneClass(t *testing.T) {
	c := result(0, true, facevault.OutcomeAttention, 0)
	r, err := Summarize([]Photo{{Label: Label{File: "a", Label: NoFace}, Check: c}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Classes) != 1 || r.Classes[0].Label != NoFace {
		t.Errorf("classes %+v, want noface only", r.Classes)
	}
	g := r.GenuineVsSpoof
	if len(g.Scores) != 0 {
		t.Errorf("scores %+v, want none", g.Scores)
	}
	for _, v := range g.Verdicts {
		if v.APCER.Of != 0 || v.BPCER.Of != 0 {
			t.Errorf("verdict %+v: want undefined rates", v)
		}
	}
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| `outcome` of the whole check | n/a (0 photos) | n/a (0 photos) |") {
		t.Errorf("report does not show undefined rates as n/a:\n%s", out.String())
	}
	if err := WritePlot(io.Discard, r); err != nil {
		t.Errorf("WritePlot with no genuine or spoof photos: %v", err)
	}
}

func TestWriteText(t *testing.T) {
	r, err := Summarize(samplePhotos(), sampleThresholds)
	if err != nil {
		t.Fatal(err)
	}
	r.Dir, r.Labels = "photos", "labels.csv"
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"## Liveness check on 9 labelled photos\n",
		"Folder `photos`, labels `labels.csv`.",
		"Engine: test engine 1.0.",
		"| class | photos | face count right | outcome clear | attention | live upload accepted | no_face_detected | multiple_faces_detected | image_unreadable |\n" +
			"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
			"| genuine | 4 | 50% (2/4) | 1 | 3 | 2 | 1 | 0 | 1 |\n" +
			"| spoof | 2 | 100% (2/2) | 0 | 2 | 2 | 0 | 0 | 0 |\n" +
			"| multi | 1 | 0% (0/1) | 0 | 1 | 0 | 0 | 1 | 0 |\n" +
			"| noface | 2 | 50% (1/2) | 0 | 2 | 1 | 1 | 0 | 0 |\n",
		"4 genuine and 2 spoof photos.",
		"No face was found in 2 genuine and 0 spoof photos",
		"| `livenessCheckScore` | 0.375 | 0.750 | ≥ 60 | 50% (1/2) | 75% (3/4) |\n",
		"| `otherScore` | 0.500 | n/a | ≥ 50 | 0% (0/2) | 100% (4/4) |\n",
		"| `livenessCheckScore` | 5% | not reachable; lowest BPCER at ≥ 30 | 50% (2/4) | 100% (2/2) |\n",
		"| `otherScore` | 10% | none: no photo has the score | 100% (4/4) | 0% (0/2) |\n",
		"| `authenticityAnalysis.spoofedImageAnalysis` | 50% (1/2) | 75% (3/4) |\n",
		"| `authenticityAnalysis`, every verdict clear | 50% (1/2) | 75% (3/4) |\n",
		"| decode | 9 | 12.8 ms | 10.0 ms | 30.0 ms |\n",
		"| models | 6 | 30.0 ms | 30.0 ms | 30.0 ms |\n",
		"| **whole check** | 9 | 76.8 ms | 90.0 ms | 100.0 ms |\n",
		"### Photos whose face count was wrong",
		"| `g3.jpg` | genuine | 1 | 0 | no_face_detected |\n",
		"| `g4.jpg` | genuine | 1 | 0 | image_unreadable |\n",
		"| `m1.jpg` | multi | 3 | 2 | multiple_faces_detected |\n",
		"| `n2.jpg` | noface | 0 | 1 | accepted |\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", text)
	}
}

func TestReportJSON(t *testing.T) {
	r, err := Summarize(samplePhotos(), sampleThresholds)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Photos  int `json:"photos"`
		Classes []struct {
			Label          string         `json:"label"`
			FaceCountRight map[string]any `json:"faceCountRight"`
			Refusals       map[string]int `json:"refusals"`
		} `json:"classes"`
		GenuineVsSpoof struct {
			Scores []struct {
				Name          string   `json:"name"`
				AUC           *float64 `json:"auc"`
				AUCScoredOnly *float64 `json:"aucScoredOnly"`
				BPCERTargets  []struct {
					Threshold *float64 `json:"threshold"`
				} `json:"bpcerTargets"`
			} `json:"scores"`
		} `json:"genuineVsSpoof"`
		Stages  []map[string]any `json:"stages"`
		Total   map[string]any   `json:"total"`
		Results []struct {
			File     string                   `json:"file"`
			Refusal  string                   `json:"refusal"`
			StagesMs []map[string]any         `json:"stagesMs"`
			TotalMs  float64                  `json:"totalMs"`
			Check    *facevault.LivenessCheck `json:"check"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Photos != 9 || len(got.Classes) != 4 || got.Classes[0].FaceCountRight["rate"] != 0.5 ||
		got.Classes[0].Refusals[facevault.EUnreadable] != 1 {
		t.Errorf("classes %+v", got.Classes)
	}
	s := got.GenuineVsSpoof.Scores
	if len(s) != 2 || *s[0].AUC != 0.375 || s[1].AUCScoredOnly != nil || s[1].BPCERTargets[0].Threshold != nil {
		t.Errorf("scores %s", b)
	}
	if got.Stages[0]["name"] != "decode" || got.Stages[0]["medianMs"] != 10.0 || got.Total["maxMs"] != 100.0 {
		t.Errorf("stages %+v total %+v", got.Stages, got.Total)
	}
	if res := got.Results[3]; res.File != "g4.jpg" || res.Refusal != facevault.EUnreadable || res.TotalMs != 6 ||
		len(res.StagesMs) != 1 || res.Check.Breakdown.IntegrityAnalysis.Breakdown.ImageReadable {
		t.Errorf("result %+v", res)
	}
}

func TestWritePlot(t *testing.T) {
	r, err := Summarize(samplePhotos(), sampleThresholds)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, r); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("the plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != PlotWidth || b.Dy() != PlotHeight {
		t.Errorf("plot is %v, want %d×%d", b, PlotWidth, PlotHeight)
	}
	// Something is drawn in colour (the curves), not only black and grey.
	coloured := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if max(r, g, bl)-min(r, g, bl) > 0x4000 {
				coloured++
			}
		}
	}
	if coloured < 500 {
		t.Errorf("%d coloured pixels: no curves drawn?", coloured)
	}
}

// fakeAnalyzer answers each photo's bytes with a set result.
type fakeAnalyzer struct {
	results map[string]*facevault.LivenessCheck
	err     error
}

func (f *fakeAnalyzer) AnalyzeTimed(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, []liveness.Stage, error) {
	b, err := io.ReadAll(img)
	if err != nil {
		return nil, nil, err
	}
	if f.err != nil {
		return nil, nil, f.err
	}
	return f.results[string(b)], stages(1, 2), nil
}

func (f *fakeAnalyzer) Thresholds() map[string]float64 { return nil }

func TestRun(t *testing.T) {
	dir := t.TempDir()
	a, b := testimage.JPEG(32, 32, 1), testimage.PNG(32, 32, 2)
	mustWrite(t, filepath.Join(dir, "a.jpg"), a)
	mustWrite(t, filepath.Join(dir, "b.png"), b)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ra := result(1, true, facevault.OutcomeClear, 70)
	rb := result(0, true, facevault.OutcomeAttention, 0)
	labels := []Label{{File: "b.png", Label: NoFace}, {File: "a.jpg", Label: Genuine, ExpectedFaces: 1}}

	t.Run("OK", func(t *testing.T) {
		fa := &fakeAnalyzer{results: map[string]*facevault.LivenessCheck{string(a): ra, string(b): rb}}
		photos, err := Run(context.Background(), fa, root, labels)
		if err != nil {
			t.Fatal(err)
		}
		if len(photos) != 2 || photos[0].File != "b.png" || photos[0].Check != rb || photos[1].Check != ra {
			t.Fatalf("photos %+v", photos)
		}
		for _, p := range photos {
			if len(p.Stages) != 2 || p.Total <= 0 {
				t.Errorf("%s: stages %v, total %v", p.File, p.Stages, p.Total)
			}
		}
	})
	t.Run("ErrAnalyzer", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := Run(context.Background(), &fakeAnalyzer{err: boom}, root, labels)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "check b.png") {
			t.Errorf("got %v, want boom naming b.png", err)
		}
	})
	t.Run("ErrGone", func(t *testing.T) {
		_, err := Run(context.Background(), &fakeAnalyzer{}, root, []Label{{File: "gone.jpg", Line: 9}})
		if err == nil || !strings.Contains(err.Error(), "line 9: gone.jpg is not in") {
			t.Errorf("got %v", err)
		}
	})
}
