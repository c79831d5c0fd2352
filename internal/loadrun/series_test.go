package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/facevault/facevault/internal/dashboard"
)

// TestQuantile: histogram_quantile's interpolation on hand-worked
// buckets.
func TestQuantile(t *testing.T) {
	b := map[float64]float64{0.1: 50, 0.2: 90, 0.5: 100, math.Inf(1): 100}
	// rank 95 falls in (0.2, 0.5]: 0.2 + 0.3 × (95−90)/(100−90) = 0.35.
	if q, ok := quantile(0.95, b); !ok || math.Abs(q-0.35) > 1e-12 {
		t.Errorf("quantile = %v, %v; want 0.35", q, ok)
	}
	if q, _ := quantile(0.5, b); math.Abs(q-0.1) > 1e-12 {
		t.Errorf("median = %v, want 0.1", q)
	}
	if _, ok := quantile(0.95, map[float64]float64{math.Inf(1): 0}); ok {
		t.Error("a quantile of no observations")
	}
	if q, _ := quantile(0.95, map[float64]float64{1: 0, math.Inf(1): 10}); q != 1 {
		t.Errorf("all above the last bound: %v, want the bound", q)
	}
}

// TestPanelSeries: rates, means and quantiles from two scrapes.
func TestPanelSeries(t *testing.T) {
	t0 := time.Unix(0, 0)
	parse := func(text string, at time.Time) scrape {
		s, err := parseScrape(strings.NewReader(text), at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := parse(`# HELP x
facevault_http_requests_total{method="GET",route="GET /v1/clients",status="200"} 10
facevault_http_requests_total{method="GET",route="GET /v1/clients",status="404"} 1
facevault_liveness_stage_seconds_sum{stage="detect"} 1
facevault_liveness_stage_seconds_count{stage="detect"} 10
`, t0)
	b := parse(`facevault_http_requests_total{method="GET",route="GET /v1/clients",status="200"} 30
facevault_http_requests_total{method="GET",route="GET /v1/clients",status="404"} 5
facevault_liveness_stage_seconds_sum{stage="detect"} 1.5
facevault_liveness_stage_seconds_count{stage="detect"} 20
`, t0.Add(2*time.Second))
	find := func(title string) dashboard.Panel {
		for _, p := range dashboard.Panels {
			if p.Title == title {
				return p
			}
		}
		t.Fatalf("no panel %q", title)
		return dashboard.Panel{}
	}
	rate := panelSeries(find("Requests per second by route"), []scrape{a, b}, 1)
	if got := rate["GET /v1/clients"]; len(got) != 1 || got[0].v != 12 || got[0].t != 2 {
		t.Errorf("rate = %v, want 12 req/s at 2 s", got)
	}
	errs := panelSeries(find("Errors per second by status"), []scrape{a, b}, 1)
	if len(errs) != 1 || errs["404"][0].v != 2 {
		t.Errorf("errors = %v, want only 404 at 2/s", errs)
	}
	mean := panelSeries(find("Liveness check time by stage (mean)"), []scrape{a, b}, 1)
	if got := mean["detect"]; len(got) != 1 || math.Abs(got[0].v-50) > 1e-9 {
		t.Errorf("mean = %v, want 50 ms", got)
	}
}
