package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/facevault/facevault/internal/evaluate"
	"github.com/facevault/facevault/liveness"
)

// EvalCommand runs the liveness check, with the settings `facevault serve`
// uses, on a folder of labelled photos and reports how well it did: the
// face count per class, how well its scores tell genuine photos from
// spoofs (AUC, APCER and BPCER at the configured thresholds and at the
// thresholds that keep BPCER within 5% and 10%), and the time of each
// stage; optionally a ROC plot as a PNG.
type EvalCommand struct {
	Stdout, Stderr io.Writer
}

const evalUsage = `Usage: facevault eval --labels FILE [--plot FILE.png] [--json]
                      [--min-liveness-score N] [--pad-model FILE --pad-manifest FILE] DIR

Runs the liveness check, with the settings of 'facevault serve', on every
photo the labels file lists in DIR, one after the other, and prints per
class how often the face count was right and what a live-mode upload would
get; for genuine vs spoof, each score's AUC, APCER and BPCER at the
configured threshold and the thresholds that keep BPCER within 5% and 10%,
and the same for the verdicts; and the time of each stage. The report is
Markdown (or JSON with --json).

The labels file is CSV whose header names the columns file, label and
expected_faces (other columns are ignored): file is a path inside DIR, label
one of genuine, spoof, multi or noface, expected_faces the number of faces
in the photo (noface 0, genuine and spoof 1, multi 2 or more).

--min-liveness-score, --pad-model and --pad-manifest choose the check as
they do for 'facevault serve': give eval the same ones to measure what serve
runs, or others to compare.

Flags (each also FACEVAULT_<NAME> in the environment):
`

// Run executes the command.
func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("eval", c.Stderr)
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, evalUsage)
		fs.PrintDefaults()
	}
	labelsPath := fs.String("labels", "", "the labels file, CSV with columns file,label,expected_faces (required)")
	plotPath := fs.String("plot", "", "write the ROC curve of each score, genuine vs spoof, to this PNG file")
	asJSON := fs.Bool("json", false, "print the report as JSON, with every photo's result, instead of Markdown")
	livenessOpts := addLivenessFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := livenessOpts.check(); err != nil {
		return err
	}
	switch {
	case *labelsPath == "":
		return fmt.Errorf("%w: eval needs --labels FILE (see 'facevault eval -h')", errUsage)
	case fs.NArg() != 1:
		return fmt.Errorf("%w: eval takes one folder of photos, after the flags (see 'facevault eval -h')", errUsage)
	}
	dir := fs.Arg(0)
	if *plotPath != "" {
		if fi, err := os.Stat(filepath.Dir(*plotPath)); err != nil || !fi.IsDir() {
			return fmt.Errorf("%w: --plot %s: its folder does not exist", errUsage, *plotPath)
		}
	}

	// The check first: a wrong --pad-model is a usage error, whatever the
	// labels say.
	analyzer, err := livenessOpts.analyzer(liveness.DefaultConfig())
	if err != nil {
		return err
	}
	labels, err := evaluate.ReadLabelsFile(*labelsPath)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open the folder of photos: %w", err)
	}
	defer root.Close()
	if err := evaluate.CheckPhotos(root, labels, *labelsPath); err != nil {
		return err
	}

	photos, err := evaluate.Run(ctx, analyzer, root, labels)
	if err != nil {
		return err
	}
	report, err := evaluate.Summarize(photos, analyzer.Thresholds())
	if err != nil {
		return err
	}
	report.Dir, report.Labels = dir, *labelsPath

	if *plotPath != "" {
		var buf bytes.Buffer
		if err := evaluate.WritePlot(&buf, report); err != nil {
			return err
		}
		if err := writeFileAtomic(*plotPath, buf.Bytes()); err != nil {
			return fmt.Errorf("write the plot: %w", err)
		}
		fmt.Fprintf(c.Stderr, "Wrote the ROC plot (%d×%d px) to %s.\n", evaluate.PlotWidth, evaluate.PlotHeight, *plotPath)
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return evaluate.WriteText(c.Stdout, report)
}

// writeFileAtomic writes data to path through a temporary file beside it,
// so that path holds either its old content or all of data.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
