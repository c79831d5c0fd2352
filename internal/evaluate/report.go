package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/facevault/facevault"
)

// BPCERTargets are the BPCER targets the report gives thresholds for.
var BPCERTargets = []float64{0.05, 0.10}

// NotRefused is the key of Class.Refusals that counts the photos a
// live-mode upload would accept.
const NotRefused = "notRefused"

// Report is what an evaluation found. Its JSON form is what
// `facevault eval --json` prints.
type Report struct {
	// Dir and Labels are the folder and labels file, as given; Engine
	// names the check's detector and models (from the results).
	Dir    string `json:"dir"`
	Labels string `json:"labels"`
	Engine string `json:"engine"`
	// Photos is the number of labelled photos.
	Photos int `json:"photos"`
	// Classes holds the face count and outcomes per label, in the order
	// of Classes, for the labels that have photos.
	Classes        []Class        `json:"classes"`
	GenuineVsSpoof GenuineVsSpoof `json:"genuineVsSpoof"`
	// Stages summarises the time of each stage, in pipeline order, over
	// the photos that ran it; Total the time of the whole check.
	Stages  []StageTime   `json:"stages"`
	Total   StageTime     `json:"total"`
	Results []PhotoResult `json:"results"`
}

// Class is what the check found on the photos of one label.
type Class struct {
	Label  string `json:"label"`
	Photos int    `json:"photos"`
	// FaceCountRight counts the photos in which the check found exactly
	// the expected number of faces.
	FaceCountRight Rate `json:"faceCountRight"`
	// Clear and Attention count the check's outcomes.
	Clear     int `json:"clear"`
	Attention int `json:"attention"`
	// Refusals counts, by error code, the refusals a live-mode upload of
	// the photos would get (facevault.Refusal), and under NotRefused the
	// photos it would accept.
	Refusals map[string]int `json:"refusals"`
}

// GenuineVsSpoof measures how well the check tells genuine photos (bona
// fide presentations) from spoofs (attacks).
type GenuineVsSpoof struct {
	Genuine int `json:"genuine"`
	Spoof   int `json:"spoof"`
	// GenuineNoFace and SpoofNoFace count the photos in which no face
	// was found: they have no score and are rejected at every threshold.
	GenuineNoFace int `json:"genuineNoFace"`
	SpoofNoFace   int `json:"spoofNoFace"`
	// Scores holds one entry per score the check reports, by name.
	Scores []ScoreResult `json:"scores"`
	// Verdicts holds APCER and BPCER when a photo is accepted if a
	// verdict is clear: each verdict of the authenticity analysis, all of
	// them together, and the check's outcome.
	Verdicts []Verdict `json:"verdicts"`
}

// ScoreResult measures one score on genuine and spoof photos.
type ScoreResult struct {
	Name string `json:"name"`
	// GenuineScored and SpoofScored count the photos that have the score.
	GenuineScored int `json:"genuineScored"`
	SpoofScored   int `json:"spoofScored"`
	// AUC counts unscored photos as below every score (Scores.AUC);
	// AUCScoredOnly leaves them out. Each is null when a class has no
	// photo to count.
	AUC           *float64 `json:"auc"`
	AUCScoredOnly *float64 `json:"aucScoredOnly"`
	// Configured is the operating point at the analyzer's threshold, null
	// when it has none for this score.
	Configured *OperatingPoint `json:"configured"`
	// BPCERTargets holds, for each of BPCERTargets, the threshold that
	// meets it with the lowest APCER.
	BPCERTargets []TargetPoint `json:"bpcerTargets"`
	// ROC holds the operating point at every distinct score, highest
	// first.
	ROC []OperatingPoint `json:"roc"`
}

// TargetPoint is the operating point chosen for a BPCER target: the highest
// threshold whose BPCER is at most Target. When none is (Reachable false),
// it is the point with the lowest BPCER there is. Threshold is null when no
// photo has the score.
type TargetPoint struct {
	Target    float64  `json:"target"`
	Reachable bool     `json:"reachable"`
	Threshold *float64 `json:"threshold"`
	APCER     Rate     `json:"apcer"`
	BPCER     Rate     `json:"bpcer"`
}

// Verdict is APCER and BPCER when a photo is accepted if the verdict Name
// is clear (a photo without it is rejected).
type Verdict struct {
	Name  string `json:"name"`
	APCER Rate   `json:"apcer"`
	BPCER Rate   `json:"bpcer"`
}

// Names of the verdict rows that combine others.
const (
	VerdictAuthenticity = "authenticityAnalysis"
	VerdictOutcome      = "outcome"
)

// StageTime summarises the time one stage of the check took.
type StageTime struct {
	Name string
	TimeSummary
}

// MarshalJSON encodes s with its times in milliseconds.
func (s StageTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name     string  `json:"name"`
		Photos   int     `json:"photos"`
		MeanMs   float64 `json:"meanMs"`
		MedianMs float64 `json:"medianMs"`
		MaxMs    float64 `json:"maxMs"`
	}{s.Name, s.Photos, ms(s.Mean), ms(s.Median), ms(s.Max)})
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// PhotoResult is what the check found in one photo.
type PhotoResult struct {
	File          string `json:"file"`
	Label         string `json:"label"`
	ExpectedFaces int    `json:"expectedFaces"`
	FaceCount     int    `json:"faceCount"`
	// Refusal is the code of the live-mode refusal, empty when none.
	Refusal string `json:"refusal,omitempty"`
	// Scores and Verdicts are those of the authenticity analysis, by
	// name; a photo without a face has no scores.
	Scores   map[string]float64 `json:"scores"`
	Verdicts map[string]string  `json:"verdicts"`
	// StagesMs is the time of each stage the check ran, in pipeline
	// order; TotalMs the whole check.
	StagesMs []StageMs                `json:"stagesMs"`
	TotalMs  float64                  `json:"totalMs"`
	Check    *facevault.LivenessCheck `json:"check"`
}

// StageMs is the time one stage took on one photo.
type StageMs struct {
	Name string  `json:"name"`
	Ms   float64 `json:"ms"`
}

// Summarize measures what the check found in photos. thresholds gives, by
// score name, the configured score at or above which a photo is accepted.
func Summarize(photos []Photo, thresholds map[string]float64) (*Report, error) {
	r := &Report{Photos: len(photos)}
	results := make([]PhotoResult, len(photos))
	scoreNames := map[string]bool{}
	for name := range thresholds {
		scoreNames[name] = true
	}
	for i := range photos {
		p := &photos[i]
		verdicts, scores, err := p.authenticity()
		if err != nil {
			return nil, err
		}
		for name := range scores {
			scoreNames[name] = true
		}
		res := PhotoResult{
			File: p.File, Label: p.Label.Label, ExpectedFaces: p.ExpectedFaces, FaceCount: p.faceCount(),
			Refusal: p.refusal(), Scores: scores, Verdicts: verdicts, TotalMs: ms(p.Total), Check: p.Check,
			StagesMs: []StageMs{},
		}
		for _, s := range p.Stages {
			res.StagesMs = append(res.StagesMs, StageMs{s.Name, ms(s.Duration)})
		}
		results[i] = res
		if r.Engine == "" {
			r.Engine = p.Check.Engine
		}
	}
	r.Results = results
	r.Classes = classes(results)
	r.GenuineVsSpoof = genuineVsSpoof(results, sortedKeys(scoreNames), thresholds)
	r.Stages, r.Total = stageTimes(photos)
	return r, nil
}

// classes summarises the results per label.
func classes(results []PhotoResult) []Class {
	var out []Class
	for _, label := range Classes {
		c := Class{Label: label, Refusals: map[string]int{}}
		for _, res := range results {
			if res.Label != label {
				continue
			}
			c.Photos++
			if res.FaceCount == res.ExpectedFaces {
				c.FaceCountRight.N++
			}
			if res.Check.Outcome == facevault.OutcomeClear {
				c.Clear++
			} else {
				c.Attention++
			}
			c.Refusals[cmpOr(res.Refusal, NotRefused)]++
		}
		if c.Photos == 0 {
			continue
		}
		c.FaceCountRight.Of = c.Photos
		out = append(out, c)
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// genuineVsSpoof measures each score and verdict on the genuine and spoof
// photos.
func genuineVsSpoof(results []PhotoResult, scoreNames []string, thresholds map[string]float64) GenuineVsSpoof {
	var g GenuineVsSpoof
	verdictNames := map[string]bool{}
	for _, res := range results {
		switch res.Label {
		case Genuine:
			g.Genuine++
			if res.FaceCount == 0 {
				g.GenuineNoFace++
			}
		case Spoof:
			g.Spoof++
			if res.FaceCount == 0 {
				g.SpoofNoFace++
			}
		default:
			continue
		}
		for name := range res.Verdicts {
			verdictNames[name] = true
		}
	}
	g.Scores = []ScoreResult{}
	for _, name := range scoreNames {
		g.Scores = append(g.Scores, scoreResult(name, results, thresholds))
	}
	// Each verdict, then all of the authenticity analysis, then the outcome.
	accepts := map[string]func(PhotoResult) bool{}
	names := sortedKeys(verdictNames)
	for _, name := range names {
		accepts["authenticityAnalysis."+name] = func(res PhotoResult) bool { return res.Verdicts[name] == facevault.OutcomeClear }
	}
	accepts[VerdictAuthenticity] = func(res PhotoResult) bool {
		if len(res.Verdicts) == 0 {
			return false
		}
		for _, v := range res.Verdicts {
			if v != facevault.OutcomeClear {
				return false
			}
		}
		return true
	}
	accepts[VerdictOutcome] = func(res PhotoResult) bool { return res.Check.Outcome == facevault.OutcomeClear }
	order := make([]string, 0, len(names)+2)
	for _, name := range names {
		order = append(order, "authenticityAnalysis."+name)
	}
	order = append(order, VerdictAuthenticity, VerdictOutcome)
	for _, name := range order {
		v := Verdict{Name: name, APCER: Rate{Of: g.Spoof}, BPCER: Rate{Of: g.Genuine}}
		for _, res := range results {
			ok := accepts[name](res)
			switch {
			case res.Label == Spoof && ok:
				v.APCER.N++
			case res.Label == Genuine && !ok:
				v.BPCER.N++
			}
		}
		g.Verdicts = append(g.Verdicts, v)
	}
	return g
}

// scoreResult measures one score.
func scoreResult(name string, results []PhotoResult, thresholds map[string]float64) ScoreResult {
	var s Scores
	for _, res := range results {
		v, ok := res.Scores[name]
		switch {
		case res.Label == Genuine && ok:
			s.Genuine = append(s.Genuine, v)
		case res.Label == Genuine:
			s.GenuineUnscored++
		case res.Label == Spoof && ok:
			s.Spoof = append(s.Spoof, v)
		case res.Label == Spoof:
			s.SpoofUnscored++
		}
	}
	sr := ScoreResult{Name: name, GenuineScored: len(s.Genuine), SpoofScored: len(s.Spoof), ROC: s.ROC()}
	if v, ok := s.AUC(); ok {
		sr.AUC = &v
	}
	if v, ok := s.AUCScored(); ok {
		sr.AUCScoredOnly = &v
	}
	if t, ok := thresholds[name]; ok {
		a, b := s.At(t)
		sr.Configured = &OperatingPoint{Threshold: t, APCER: a, BPCER: b}
	}
	for _, target := range BPCERTargets {
		p, ok := s.ForBPCER(target)
		tp := TargetPoint{Target: target, Reachable: ok, APCER: p.APCER, BPCER: p.BPCER}
		if !math.IsInf(p.Threshold, 0) {
			tp.Threshold = &p.Threshold
		}
		sr.BPCERTargets = append(sr.BPCERTargets, tp)
	}
	return sr
}

// stageTimes summarises the stage times, the stages in pipeline order (the
// order they appear in, a stage a photo skipped taking its place after the
// stage before it).
func stageTimes(photos []Photo) ([]StageTime, StageTime) {
	var order []string
	times := map[string][]time.Duration{}
	var totals []time.Duration
	for _, p := range photos {
		prev := -1
		for _, s := range p.Stages {
			i := slices.Index(order, s.Name)
			if i < 0 {
				i = prev + 1
				order = slices.Insert(order, i, s.Name)
			}
			prev = i
			times[s.Name] = append(times[s.Name], s.Duration)
		}
		totals = append(totals, p.Total)
	}
	stages := make([]StageTime, len(order))
	for i, name := range order {
		stages[i] = StageTime{Name: name, TimeSummary: summarize(times[name])}
	}
	return stages, StageTime{Name: "total", TimeSummary: summarize(totals)}
}

// String describes a rate as a percentage with its counts: "66.7% (2/3)",
// or "n/a (0 photos)".
func (r Rate) String() string {
	v, ok := r.Value()
	if !ok {
		return "n/a (0 photos)"
	}
	return fmt.Sprintf("%s (%d/%d)", percent(v), r.N, r.Of)
}

// percent formats a share as a percentage with one decimal, dropping a
// trailing ".0".
func percent(v float64) string {
	s := fmt.Sprintf("%.1f", 100*v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + "%"
}
