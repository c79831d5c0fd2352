package evaluate

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/facevault/facevault"
)

// refusalColumns are the refusal codes the text report always shows, in
// this order; any other code found is added after them.
var refusalColumns = []string{NotRefused, facevault.ENoFace, facevault.EMultipleFaces, facevault.EUnreadable}

// WriteText writes r as Markdown: a heading per part and a table for each,
// ready to paste into a README.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	row := func(cells ...string) { p("| %s |\n", strings.Join(cells, " | ")) }

	p("## Liveness check on %d labelled photos\n\n", r.Photos)
	if r.Dir != "" {
		p("Folder `%s`, labels `%s`.  \n", r.Dir, r.Labels)
	}
	p("Engine: %s.\n\n", r.Engine)

	// Face count and outcome per class.
	p("### Face count per class\n\n")
	cols := slices.Clone(refusalColumns)
	for _, c := range r.Classes {
		for _, code := range sortedKeys(c.Refusals) {
			if !slices.Contains(cols, code) {
				cols = append(cols, code)
			}
		}
	}
	head := []string{"class", "photos", "face count right", "outcome clear", "attention", "live upload accepted"}
	head = append(head, cols[1:]...)
	row(head...)
	row(align(len(head))...)
	for _, c := range r.Classes {
		cells := []string{c.Label, strconv.Itoa(c.Photos), c.FaceCountRight.String(), strconv.Itoa(c.Clear), strconv.Itoa(c.Attention)}
		for _, code := range cols {
			cells = append(cells, strconv.Itoa(c.Refusals[code]))
		}
		row(cells...)
	}
	p("\nA face count is right when the check finds exactly `expected_faces` faces. The last columns are what a " +
		"live-mode upload of the photo would get: accepted, or refused with that error.\n\n")

	// Genuine vs spoof.
	g := r.GenuineVsSpoof
	p("### Genuine vs spoof\n\n")
	p("%d genuine and %d spoof photos. A photo is accepted as genuine when its score is at least the threshold. "+
		"APCER is the share of spoof photos accepted, BPCER the share of genuine photos rejected (ISO/IEC 30107-3). ",
		g.Genuine, g.Spoof)
	p("No face was found in %d genuine and %d spoof photos: they have no score and count as rejected at every threshold "+
		"(the AUC ranks them below every score; \"scored only\" leaves them out).\n\n", g.GenuineNoFace, g.SpoofNoFace)
	row("score", "AUC", "AUC, scored only", "threshold", "APCER", "BPCER")
	row(align(6)...)
	for _, s := range g.Scores {
		cells := []string{"`" + s.Name + "`", auc(s.AUC), auc(s.AUCScoredOnly)}
		if s.Configured != nil {
			cells = append(cells, "≥ "+number(s.Configured.Threshold), s.Configured.APCER.String(), s.Configured.BPCER.String())
		} else {
			cells = append(cells, "none configured", "", "")
		}
		row(cells...)
	}
	p("\nThe thresholds that keep BPCER within a target with the lowest APCER (chosen on these photos: expect higher " +
		"error rates on others):\n\n")
	row("score", "BPCER target", "threshold", "BPCER", "APCER")
	row(align(5)...)
	for _, s := range g.Scores {
		for _, t := range s.BPCERTargets {
			th := "none: no photo has the score"
			if t.Threshold != nil {
				th = "≥ " + number(*t.Threshold)
				if !t.Reachable {
					th = "not reachable; lowest BPCER at " + th
				}
			}
			row("`"+s.Name+"`", percent(t.Target), th, t.BPCER.String(), t.APCER.String())
		}
	}
	p("\nThe verdicts, a photo accepted when the verdict is clear:\n\n")
	row("verdict", "APCER", "BPCER")
	row(align(3)...)
	for _, v := range g.Verdicts {
		name := "`" + v.Name + "`"
		switch v.Name {
		case VerdictAuthenticity:
			name += ", every verdict clear"
		case VerdictOutcome:
			name += " of the whole check"
		}
		row(name, v.APCER.String(), v.BPCER.String())
	}

	// Time per stage.
	p("\n### Time per stage\n\n")
	row("stage", "photos", "mean", "median", "max")
	row(align(5)...)
	for _, s := range r.Stages {
		row(s.Name, strconv.Itoa(s.Photos), duration(s.Mean), duration(s.Median), duration(s.Max))
	}
	t := r.Total
	row("**whole check**", strconv.Itoa(t.Photos), duration(t.Mean), duration(t.Median), duration(t.Max))
	p("\nEach photo checked alone, one after the other, from its bytes in memory; a stage counts the photos that reached it.\n")

	// The photos whose face count was wrong.
	var wrong []PhotoResult
	for _, res := range r.Results {
		if res.FaceCount != res.ExpectedFaces {
			wrong = append(wrong, res)
		}
	}
	if len(wrong) > 0 {
		p("\n### Photos whose face count was wrong\n\n")
		row("file", "label", "expected", "found", "live upload")
		row("---", "---", "---:", "---:", "---")
		for _, res := range wrong {
			row("`"+res.File+"`", res.Label, strconv.Itoa(res.ExpectedFaces), strconv.Itoa(res.FaceCount), cmpOr(res.Refusal, "accepted"))
		}
	}
	return bw.Flush()
}

// align returns the Markdown separator row of a table of n columns, the
// first left-aligned and the others right-aligned.
func align(n int) []string {
	a := make([]string, n)
	a[0] = "---"
	for i := 1; i < n; i++ {
		a[i] = "---:"
	}
	return a
}

func auc(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", *v)
}

// number formats a score or threshold without needless decimals.
func number(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// duration formats d in milliseconds with one decimal.
func duration(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
