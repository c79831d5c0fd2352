package liveness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestAnalyzeTimed checks that AnalyzeTimed gives Analyze's result and
// lists, in pipeline order, exactly the stages the check ran.
func TestAnalyzeTimed(t *testing.T) {
	a := analyzer(t)
	sample := readFixture(t, "pigo-sample.jpg")
	all := []string{StageDecode, StageOrient, StageDetect, StageMeasure, StagePAD}
	for _, tc := range []struct {
		name   string
		img    []byte
		stages []string
	}{
		{"OK/Face", sample, all},
		{"OK/TwoFaces", encodeJPEG(t, sideBySide(fixtureRGBA(t, "pigo-sample.jpg")), 90, nil), all},
		{"OK/PNG", readFixture(t, "astronaut.png"), all},
		{"OK/NoFace", encodeJPEG(t, noise(256, 256, 5), 90, nil), all[:3]},
		// The header decodes, the pixels do not: decode ran and failed.
		{"OK/TruncatedScan", truncatedScan(t, sample), all[:1]},
		// Not an image at all: the check stops at the header, before
		// decoding.
		{"OK/NotAnImage", []byte("neither a JPEG nor a PNG"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stages, err := a.AnalyzeTimed(context.Background(), bytes.NewReader(tc.img))
			if err != nil {
				t.Fatal(err)
			}
			want, err := a.Analyze(context.Background(), bytes.NewReader(tc.img))
			if err != nil {
				t.Fatal(err)
			}
			// The check has no random state: the same bytes give the
			// same result, field for field.
			if !reflect.DeepEqual(got, want) {
				t.Errorf("AnalyzeTimed gave %s\nAnalyze gave %s", describe(got), describe(want))
			}
			var names []string
			for _, s := range stages {
				names = append(names, s.Name)
				if s.Duration <= 0 {
					t.Errorf("stage %s took %v", s.Name, s.Duration)
				}
			}
			if !reflect.DeepEqual(names, tc.stages) {
				t.Errorf("stages %v, want %v", names, tc.stages)
			}
		})
	}
	t.Run("ErrCanceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r, stages, err := a.AnalyzeTimed(ctx, bytes.NewReader(sample))
		if !errors.Is(err, context.Canceled) || r != nil || stages != nil {
			t.Errorf("got %v, %v, %v; want context.Canceled", r, stages, err)
		}
	})
}

func TestThresholds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinLivenessScore = 72
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"livenessCheckScore": 72}
	if got := a.Thresholds(); !reflect.DeepEqual(got, want) {
		t.Errorf("Thresholds() = %v, want %v", got, want)
	}
	// Each name is a score in the result's JSON, and the verdict that
	// score decides follows the threshold.
	r, err := a.Analyze(context.Background(), bytes.NewReader(readFixture(t, "pigo-sample.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.Breakdown.AuthenticityAnalysis.Breakdown)
	if err != nil {
		t.Fatal(err)
	}
	var scores map[string]float64
	if err := json.Unmarshal(b, &scores); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{"livenessCheckScore": r.Breakdown.AuthenticityAnalysis.LivenessCheck}
	for name, th := range want {
		s, ok := scores[name]
		if !ok {
			t.Errorf("threshold %s names no score of %s", name, b)
		}
		if got := verdicts[name]; got != verdict(s >= th) {
			t.Errorf("%s %v against threshold %v gives %s", name, s, th, got)
		}
	}
}
