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

	"github.com/facevault/facevault"
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
		desc, err := e.Descriptor(ctx, img, faceid.LandmarksOf(faces[0]))
		if err != nil {
			return fmt.Errorf("%s: %w", r.file, err)
		}
		emb, err := faceid.Normalize(slices.Clone(desc))
		if err != nil {
			return fmt.Errorf("%s: %w", r.file, err)
		}
		detect = append(detect, t1.Sub(t0))
		embed = append(embed, time.Since(t1))
		items = append(items, faceid.Labelled{Name: r.file, Identity: r.identity, Embedding: emb, Descriptor: desc})
	}
	writeFaceReport(c.Stdout, dir, len(rows), noFace, items, faceid.Pairs(items), detect, embed)
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
func writeFaceReport(w io.Writer, dir string, photos int, noFace []string, items []faceid.Labelled, pairs []faceid.Pair, detect, embed []time.Duration) {
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
	writeTargetFMR(w, pairs, gen, imp)
	writeDlibPoint(w, items, pairs)

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

// writeTargetFMR prints the true match rate at the false match rates of
// 1e-3 and 1e-4 as far as the set can say: the threshold that lets at
// most that share of its impostor pairs match (none, on a small set), and
// the upper bound on the false match rate that a count of false matches
// supports (the rule of three for none: under 3/n at 95% confidence).
func writeTargetFMR(w io.Writer, pairs []faceid.Pair, gen, imp []float64) {
	if len(imp) == 0 {
		return
	}
	fmt.Fprint(w, "\n| target false match rate | impostor pairs allowed to match | threshold | true match rate | false match rate, 95% upper bound |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, target := range []float64{1e-3, 1e-4} {
		t, _ := faceid.ThresholdAtFMR(pairs, target)
		tmr, fmr := faceid.Rates(pairs, t)
		allowed := int(math.Floor(target * float64(len(imp))))
		fmt.Fprintf(w, "| %g | %d of %d | %.2f | %s | %.3g%% |\n", target, allowed, len(imp), t,
			rateOf(tmr, len(gen)), 100*fmrUpperBound(int(math.Round(fmr*float64(len(imp)))), len(imp)))
	}
	fmt.Fprintf(w, "\nThe upper bound is what %d impostor pairs can show: a false match rate of 1e-3 needs about 3,000 impostor pairs without a false match to be shown at 95%% confidence, 1e-4 about 30,000.\n", len(imp))
}

// fmrUpperBound is a one-sided 95% upper bound on a rate of which k
// events were seen in n trials: 3/n for none (the rule of three), else the
// normal approximation k/n + 1.645·sqrt(k(n−k)/n)/n, at most 1.
func fmrUpperBound(k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	if k == 0 {
		return min(1, 3/float64(n))
	}
	p := float64(k) / float64(n)
	return min(1, p+1.645*math.Sqrt(p*(1-p)/float64(n)))
}

// writeDlibPoint relates the score threshold to the model's published
// operating point: dlib calls two descriptors one person under
// faceid.DlibThreshold apart (its 99.38% on LFW). For descriptors of norm
// n, a distance d is a cosine of 1 − d²/(2n²): the report gives the
// descriptors' norms, the score that distance maps to at their median,
// and dlib's own rule on the set, beside the score threshold.
func writeDlibPoint(w io.Writer, items []faceid.Labelled, pairs []faceid.Pair) {
	var norms []float64
	for _, it := range items {
		var sum float64
		for _, v := range it.Descriptor {
			sum += float64(v) * float64(v)
		}
		if sum > 0 {
			norms = append(norms, math.Sqrt(sum))
		}
	}
	if len(norms) == 0 {
		return
	}
	slices.Sort(norms)
	med := norms[len(norms)/2]
	d := faceid.DlibThreshold
	score := 100 * (1 - d*d/(2*med*med))
	tmr, fmr := faceid.DlibRates(pairs)
	var gen, imp, agree, n int
	for _, p := range pairs {
		if math.IsNaN(p.Distance) {
			continue
		}
		n++
		if p.Genuine {
			gen++
		} else {
			imp++
		}
		if (p.Distance < d) == (p.Score >= facevault.FaceMatchThreshold) {
			agree++
		}
	}
	fmt.Fprintf(w, "\nThe published operating point: dlib calls two faces one person when their descriptors are less than %.1f apart "+
		"(the rule behind its 99.38%% on LFW). Descriptor norms here: %.3f to %.3f, median %.3f; at the median norm a distance of %.1f "+
		"is a score of %.1f. FaceVault's threshold is %d.\n\n", d, norms[0], norms[len(norms)-1], med, d, score, facevault.FaceMatchThreshold)
	fmt.Fprint(w, "| rule | true match rate | false match rate |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(w, "| dlib: distance < %.1f | %s | %s |\n", d, rateOf(tmr, gen), rateOf(fmr, imp))
	t1, f1 := faceid.Rates(pairs, facevault.FaceMatchThreshold)
	fmt.Fprintf(w, "| FaceVault: score ≥ %d | %s | %s |\n", facevault.FaceMatchThreshold, rateOf(t1, gen), rateOf(f1, imp))
	fmt.Fprintf(w, "\nThe two rules agree on %d of %d pairs.\n", agree, n)
}
