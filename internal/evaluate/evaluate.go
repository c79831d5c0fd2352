package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// Analyzer is what the evaluation needs of the liveness check
// (*liveness.Analyzer is one).
type Analyzer interface {
	// AnalyzeTimed runs the check on an image, returning the time each
	// stage it ran took, in pipeline order.
	AnalyzeTimed(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, []liveness.Stage, error)
	// Thresholds returns, by score name, the configured score at or above
	// which a photo is accepted.
	Thresholds() map[string]float64
}

var _ Analyzer = (*liveness.Analyzer)(nil)

// Photo is what the check found in one labelled photo.
type Photo struct {
	Label
	Check *facevault.LivenessCheck
	// Stages is the time of each stage the check ran, in pipeline order;
	// Total the time of the whole check, from the bytes in memory to the
	// result.
	Stages []liveness.Stage
	Total  time.Duration
}

// Run runs the check on each labelled photo of the folder root, one after
// the other (so that the stage times are those of one check on an idle
// core), and returns what it found in the order of labels. Call
// CheckPhotos first: Run fails at the first photo it cannot read.
func Run(ctx context.Context, a Analyzer, root *os.Root, labels []Label) ([]Photo, error) {
	photos := make([]Photo, 0, len(labels))
	for _, l := range labels {
		b, err := readPhoto(root, l.File)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", l.Line, err)
		}
		start := time.Now()
		check, stages, err := a.AnalyzeTimed(ctx, bytes.NewReader(b))
		total := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", l.File, err)
		}
		photos = append(photos, Photo{Label: l, Check: check, Stages: stages, Total: total})
	}
	return photos, nil
}

// faceCount is the number of faces the check found.
func (p *Photo) faceCount() int { return p.Check.Breakdown.IntegrityAnalysis.Breakdown.FaceCount }

// refusal is the code of the live-mode refusal the upload would get, or "".
func (p *Photo) refusal() string {
	if err := facevault.Refusal(p.Check); err != nil {
		return facevault.ErrorCode(err)
	}
	return ""
}

// authenticity returns the verdicts (clear or attention, by field name)
// and scores (by name) of the check's authenticity analysis, read from its
// JSON form so that whatever scores the engine reports are found. A photo
// in which no face was found has no scores, whatever the result holds.
func (p *Photo) authenticity() (verdicts map[string]string, scores map[string]float64, err error) {
	verdicts, scores = map[string]string{}, map[string]float64{}
	aa := p.Check.Breakdown.AuthenticityAnalysis
	if aa == nil {
		return verdicts, scores, nil
	}
	b, err := json.Marshal(aa)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: encode the authenticity analysis: %w", p.File, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, nil, fmt.Errorf("%s: decode the authenticity analysis: %w", p.File, err)
	}
	for k, raw := range fields {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			verdicts[k] = s
		}
	}
	if p.faceCount() == 0 {
		return verdicts, scores, nil
	}
	var breakdown map[string]json.RawMessage
	if raw, ok := fields["breakdown"]; ok && json.Unmarshal(raw, &breakdown) == nil {
		for k, raw := range breakdown {
			var v float64
			if json.Unmarshal(raw, &v) == nil { // null and non-numbers are skipped
				scores[k] = v
			}
		}
	}
	return verdicts, scores, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
