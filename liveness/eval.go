package liveness

import (
	"context"
	"io"
	"time"

	"github.com/facevault/facevault"
)

// What `facevault eval` needs from the Analyzer besides Analyze: the time
// each stage takes, and the thresholds its scores are judged against.

// Stage is one stage of the liveness check and the time it took.
type Stage struct {
	Name     string
	Duration time.Duration
}

// Stage names, in pipeline order. "decode" includes reading the bytes, the
// header and any wait for memory (see Config.MemoryBudget); "orient+gray"
// turns the working image upright by its EXIF orientation and takes its
// grey plane; "detect" runs the face detector (letterboxing, network,
// boxes); "measure" takes the quality figures of the largest face; "pad"
// runs the presentation-attack model on its crop.
const (
	StageDecode  = "decode"
	StageOrient  = "orient+gray"
	StageDetect  = "detect"
	StageMeasure = "measure"
	StagePAD     = "pad"
)

// AnalyzeTimed is Analyze, also returning the time each stage of the check
// took, in pipeline order. Only the stages the check ran are listed: an
// image whose pixels do not decode stops after decode (or before it, when
// its header already fails), and one in which no face is found after
// detect.
func (a *Analyzer) AnalyzeTimed(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, []Stage, error) {
	var tm stageTimes
	res, err := a.analyze(ctx, img, &tm)
	if err != nil {
		return nil, nil, err
	}
	in := res.Breakdown.IntegrityAnalysis.Breakdown
	var stages []Stage
	if in.ImageReadable || tm.decode > 0 {
		stages = append(stages, Stage{StageDecode, tm.decode})
	}
	if in.ImageReadable {
		stages = append(stages, Stage{StageOrient, tm.orient}, Stage{StageDetect, tm.detect})
	}
	if in.ImageReadable && in.FaceCount > 0 {
		stages = append(stages, Stage{StageMeasure, tm.measure}, Stage{StagePAD, tm.pad})
	}
	return res, stages, nil
}

// Thresholds returns, for each score of the authenticity analysis by its
// name in the result (livenessCheck.breakdown.authenticityAnalysis.breakdown),
// the configured score at or above which the photo is accepted (the
// analysis that score decides is clear).
func (a *Analyzer) Thresholds() map[string]float64 {
	return map[string]float64{"livenessCheckScore": float64(a.cfg.MinLivenessScore)}
}
