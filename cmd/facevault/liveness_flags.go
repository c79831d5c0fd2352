package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/facevault/facevault/liveness"
)

// livenessFlags choose the liveness check's presentation-attack model and
// threshold; serve and eval take them alike, so that eval measures the
// check serve runs.
type livenessFlags struct {
	padModel, padManifest *string
	minScore              *int
}

func addLivenessFlags(fs *flag.FlagSet) *livenessFlags {
	def := liveness.DefaultConfig().MinLivenessScore
	return &livenessFlags{
		padModel: fs.String("pad-model", "", "ONNX file of a presentation-attack model to use instead of the embedded one "+
			"(needs --pad-manifest; see the README)"),
		padManifest: fs.String("pad-manifest", "", "JSON file describing --pad-model: input and output names, input size and "+
			"layout, crop scale, colour order, normalisation, activation and live class"),
		minScore: fs.Int("min-liveness-score", def, "presentation-attack score (0-100) at or above which a face counts as live "+
			"(authenticityAnalysis clear); calibrate it with 'facevault eval'"),
	}
}

// check reports flag values that are wrong on their own, before anything
// is opened.
func (f *livenessFlags) check() error {
	if *f.minScore < 0 || *f.minScore > 100 {
		return fmt.Errorf("%w: --min-liveness-score must be from 0 to 100", errUsage)
	}
	if (*f.padModel == "") != (*f.padManifest == "") {
		return fmt.Errorf("%w: --pad-model and --pad-manifest go together: give both or neither", errUsage)
	}
	return nil
}

// analyzer builds the liveness check with cfg, the flags' threshold and,
// if given, the operator's presentation-attack model.
func (f *livenessFlags) analyzer(cfg liveness.Config) (*liveness.Analyzer, error) {
	cfg.MinLivenessScore = *f.minScore
	if *f.padModel == "" {
		a, err := liveness.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("load the liveness check: %w", err)
		}
		return a, nil
	}
	raw, err := os.ReadFile(*f.padManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: --pad-manifest: %v", errUsage, err)
	}
	m, err := liveness.ParsePADManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: --pad-manifest %s: %v", errUsage, *f.padManifest, err)
	}
	model, err := os.ReadFile(*f.padModel)
	if err != nil {
		return nil, fmt.Errorf("%w: --pad-model: %v", errUsage, err)
	}
	a, err := liveness.NewWithPAD(cfg, model, m)
	if err != nil {
		return nil, fmt.Errorf("%w: --pad-model %s: %v", errUsage, *f.padModel, err)
	}
	return a, nil
}
