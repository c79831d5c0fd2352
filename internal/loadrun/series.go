package main

import (
	"bufio"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/facevault/facevault/internal/dashboard"
)

// scrape is one reading of /metrics: each series (name and labels as
// written) and its value, and when it was taken.
type scrape struct {
	at     time.Time
	values map[string]float64
}

// parseScrape reads Prometheus's text format.
func parseScrape(r io.Reader, at time.Time) (scrape, error) {
	s := scrape{at: at, values: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return s, err
		}
		s.values[line[:i]] = v
	}
	return s, sc.Err()
}

// labelValue returns the value of label in a series' label set, or "".
func labelValue(series, label string) string {
	_, rest, ok := strings.Cut(series, "{")
	if !ok {
		return ""
	}
	for _, kv := range splitLabels(strings.TrimSuffix(rest, "}")) {
		k, v, _ := strings.Cut(kv, "=")
		if k == label {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// splitLabels splits k="v",k2="v2" at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func nameOf(series string) string { n, _, _ := strings.Cut(series, "{"); return n }

// keep reports whether a series passes a panel's filter (only the
// status=~"4..|5.." form is used).
func keep(p dashboard.Panel, series string) bool {
	if p.Filter == "" {
		return true
	}
	st := labelValue(series, "status")
	return len(st) == 3 && (st[0] == '4' || st[0] == '5')
}

// point is one value of a line at a time since the run's start.
type point struct{ t, v float64 }

// panelSeries computes a panel's lines over a run: for each pair of
// scrapes window apart, the panel's value per label value.
func panelSeries(p dashboard.Panel, scrapes []scrape, window int) map[string][]point {
	out := map[string][]point{}
	scale := p.Scale
	if scale == 0 {
		scale = 1
	}
	for i := window; i < len(scrapes); i++ {
		a, b := scrapes[i-window], scrapes[i]
		dt := b.at.Sub(a.at).Seconds()
		t := b.at.Sub(scrapes[0].at).Seconds()
		delta := func(name string) map[string]map[string]float64 { // label -> series -> delta
			d := map[string]map[string]float64{}
			for k, v := range b.values {
				if nameOf(k) != name || !keep(p, k) {
					continue
				}
				l := labelValue(k, p.Label)
				if d[l] == nil {
					d[l] = map[string]float64{}
				}
				d[l][k] = v - a.values[k]
			}
			return d
		}
		switch p.Kind {
		case dashboard.Rate:
			for l, m := range delta(p.Metric) {
				var sum float64
				for _, v := range m {
					sum += v
				}
				out[l] = append(out[l], point{t, scale * sum / dt})
			}
		case dashboard.Mean:
			sums, counts := delta(p.Metric+"_sum"), delta(p.Metric+"_count")
			for l, m := range counts {
				var s, c float64
				for k, v := range m {
					c += v
					s += sums[l][strings.Replace(k, "_count", "_sum", 1)]
				}
				if c > 0 {
					out[l] = append(out[l], point{t, scale * s / c})
				}
			}
		case dashboard.Quantile95:
			for l, m := range delta(p.Metric + "_bucket") {
				buckets := map[float64]float64{}
				for k, v := range m {
					le, err := strconv.ParseFloat(labelValue(k, "le"), 64)
					if err != nil {
						le = math.Inf(1)
					}
					buckets[le] += v
				}
				if q, ok := quantile(0.95, buckets); ok {
					out[l] = append(out[l], point{t, scale * q})
				}
			}
		}
	}
	return out
}

// quantile is Prometheus's histogram_quantile over cumulative buckets:
// linear within the bucket the rank falls in; the highest finite bound for
// a rank in the +Inf bucket.
func quantile(q float64, buckets map[float64]float64) (float64, bool) {
	var les []float64
	for le := range buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 {
		return 0, false
	}
	total := buckets[les[len(les)-1]]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for _, le := range les {
		c := buckets[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevLe, true
			}
			if c == prevCount {
				return le, true
			}
			return prevLe + (le-prevLe)*(rank-prevCount)/(c-prevCount), true
		}
		prevLe, prevCount = le, c
	}
	return prevLe, true
}
