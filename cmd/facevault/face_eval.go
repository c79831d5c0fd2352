package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/facevault/facevault/faceid"
	"github.com/facevault/facevault/liveness"
)

// FaceEvalCommand measures the face embeddings on a folder of photos of
// known people: it embeds the largest face of each photo and reports how
// the similarity scores of same-person (genuine) and different-person
// (impostor) pairs are spread, the match rates at a few thresholds, and the
// time per photo.
type FaceEvalCommand struct {
	Stdout, Stderr io.Writer
}

const faceEvalUsage = `Usage: facevault face-eval --identities FILE DIR

Embeds the largest face of every photo the identities file lists in DIR
(found by the liveness check's detector, aligned and run through the face
recognition network, as FaceVault will at upload), scores every pair of
photos, and prints a Markdown report: the scores of genuine pairs (same
identity) and impostor pairs (different identities), the true and false
match rates at a few thresholds, the threshold that no impostor pair
reaches, the closest pairs, and the time per photo.

The identities file is CSV whose header names the columns file and identity
(other columns are ignored): file is a path inside DIR.

Flags (each also FACEVAULT_<NAME> in the environment):
`

// Run executes the command.
func (c *FaceEvalCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("face-eval", c.Stderr)
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, faceEvalUsage)
		fs.PrintDefaults()
	}
	idsPath := fs.String("identities", "", "the identities file, CSV with columns file,identity (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *idsPath == "":
		return fmt.Errorf("%w: face-eval needs --identities FILE (see 'facevault face-eval -h')", errUsage)
	case fs.NArg() != 1:
		return fmt.Errorf("%w: face-eval takes one folder of photos, after the flags (see 'facevault face-eval -h')", errUsage)
	}
	dir := fs.Arg(0)
	rows, err := readIdentities(*idsPath)
	if err != nil {
		return err
	}
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		return err
	}
	e, err := faceid.New()
	if err != nil {
		return err
	}
	var items []faceid.Labelled
	var noFace []string
	var detect, embed []time.Duration
	for _, r := range rows {
		if !filepath.IsLocal(r.file) {
			return fmt.Errorf("%s:%d: file %q is not a path inside the folder", *idsPath, r.line, r.file)
		}
		data, err := os.ReadFile(filepath.Join(dir, r.file))
		if err != nil {
			return fmt.Errorf("%s:%d: %w", *idsPath, r.line, err)
		}
		t0 := time.Now()
		img, faces, err := a.Faces(ctx, data)
		if err != nil {
			return fmt.Errorf("%s: %w", r.file, err)
		}
		t1 := time.Now()
		if len(faces) == 0 {
			noFace = append(noFace, r.file)
			continue
		}
		emb, err := e.Embed(ctx, img, faceid.LandmarksOf(faces[0]))
		if err != nil {
			return fmt.Errorf("%s: %w", r.file, err)
		}
		detect = append(detect, t1.Sub(t0))
		embed = append(embed, time.Since(t1))
		items = append(items, faceid.Labelled{Name: r.file, Identity: r.identity, Embedding: emb})
	}
	writeFaceReport(c.Stdout, dir, len(rows), noFace, faceid.Pairs(items), detect, embed)
	return nil
}

// identityRow is one row of an identities file.
type identityRow struct {
	file, identity string
	line           int
}

// readIdentities reads an identities file: CSV with a header naming the
// columns file and identity.
func readIdentities(path string) ([]identityRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty; want a header naming file,identity", path)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fileCol, idCol := slices.Index(head, "file"), slices.Index(head, "identity")
	if fileCol < 0 || idCol < 0 {
		return nil, fmt.Errorf("%s:1: the header must name the columns file and identity", path)
	}
	var rows []identityRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if max(fileCol, idCol) >= len(rec) || rec[fileCol] == "" || rec[idCol] == "" {
			return nil, fmt.Errorf("%s:%d: file or identity missing", path, line)
		}
		rows = append(rows, identityRow{file: rec[fileCol], identity: rec[idCol], line: line})
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: fewer than two photos", path)
	}
	return rows, nil
}

// writeFaceReport prints face-eval's Markdown report.
func writeFaceReport(w io.Writer, dir string, photos int, noFace []string, pairs []faceid.Pair, detect, embed []time.Duration) {
	fmt.Fprintf(w, "# Face embeddings: %s\n\n", dir)
	fmt.Fprintf(w, "Model: %s. Score: faceid.Similarity, 100 × cosine (0–100).\n\n", faceid.Engine)
	fmt.Fprintf(w, "%d photos, %d embedded, %d without a face", photos, len(detect), len(noFace))
	if len(noFace) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(noFace, ", "))
	}
	fmt.Fprint(w, ".\n\n")

	var gen, imp []float64
	for _, p := range pairs {
		if p.Genuine {
			gen = append(gen, p.Score)
		} else {
			imp = append(imp, p.Score)
		}
	}
	fmt.Fprint(w, "| pairs | count | min | mean | max |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, k := range []struct {
		name string
		s    []float64
	}{{"genuine", gen}, {"impostor", imp}} {
		if len(k.s) == 0 {
			fmt.Fprintf(w, "| %s | 0 | | | |\n", k.name)
			continue
		}
		var sum float64
		for _, v := range k.s {
			sum += v
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f |\n", k.name, len(k.s), slices.Min(k.s), sum/float64(len(k.s)), slices.Max(k.s))
	}

	fmt.Fprint(w, "\n| threshold (score ≥) | true match rate | false match rate |\n| --- | ---: | ---: |\n")
	row := func(label string, t float64) {
		tmr, fmr := faceid.Rates(pairs, t)
		fmt.Fprintf(w, "| %s | %s | %s |\n", label, rateOf(tmr, len(gen)), rateOf(fmr, len(imp)))
	}
	for _, t := range []float64{80, 85, 90, 92, 94, 96} {
		row(fmt.Sprintf("%.0f", t), t)
	}
	if t, ok := faceid.ThresholdAtFMR(pairs, 0); ok {
		row(fmt.Sprintf("%.2f (just above the highest impostor pair)", t), t)
	}
	fmt.Fprintf(w, "\nWith %d impostor pairs the lowest false match rate measurable is %s: rates of 1e-3 and 1e-4 need at least 1,000 and 10,000 impostor pairs, and far more to be measured well.\n",
		len(imp), rateOf(1/float64(max(1, len(imp))), 0))

	fmt.Fprint(w, "\nClosest impostor pairs and furthest genuine pairs:\n\n| pair | kind | score |\n| --- | --- | ---: |\n")
	shown := 0
	for _, p := range pairs {
		if !p.Genuine && shown < 5 {
			fmt.Fprintf(w, "| %s – %s | impostor | %.1f |\n", p.A, p.B, p.Score)
			shown++
		}
	}
	shown = 0
	for i := len(pairs) - 1; i >= 0; i-- {
		if p := pairs[i]; p.Genuine && shown < 5 {
			fmt.Fprintf(w, "| %s – %s | genuine | %.1f |\n", p.A, p.B, p.Score)
			shown++
		}
	}

	fmt.Fprint(w, "\n| stage, per photo | photos | mean | median | max |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"decode and detect", detect}, {"align and embed", embed}} {
		if len(s.d) == 0 {
			continue
		}
		d := slices.Clone(s.d)
		slices.Sort(d)
		var sum time.Duration
		for _, v := range d {
			sum += v
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", s.name, len(d), ms(sum/time.Duration(len(d))), ms(d[len(d)/2]), ms(d[len(d)-1]))
	}
}

// rateOf formats a rate as a percentage, with the count of n it was
// measured on when n > 0.
func rateOf(r float64, n int) string {
	if math.IsNaN(r) {
		return "–"
	}
	if n <= 0 {
		return fmt.Sprintf("%.2g%%", 100*r)
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*r, int(math.Round(r*float64(n))), n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
