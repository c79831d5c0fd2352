package dashboard

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/facevault/facevault/metrics"
)

var update = flag.Bool("update", false, "rewrite deploy/grafana-dashboard.json")

const dashboardFile = "../../deploy/grafana-dashboard.json"

// TestGrafanaFile: the dashboard in deploy/ is the one Grafana generates
// from Panels (go test ./internal/dashboard -update rewrites it).
func TestGrafanaFile(t *testing.T) {
	want, err := Grafana()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(dashboardFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what Panels generate: run go test ./internal/dashboard -update", dashboardFile)
	}
}

// TestPanelsReadRealMetrics: every metric a panel reads, in its
// expression and in the load run, is one the service exports, with the
// label the panel splits by.
func TestPanelsReadRealMetrics(t *testing.T) {
	m := metrics.New("test", "")
	// Every vector shows up in a scrape once it has a series.
	m.Request("GET /v1/clients", "GET", 200, 0)
	m.UploadSlotWait(0)
	m.UploadStored(1)
	m.LivenessStage("detect", 0)
	m.LivenessOutcome("clear")
	m.CheckFinished("face_authentication_check", "complete", "clear", 0)
	m.StoreCall("sqlite", "op", 0, os.ErrClosed)
	m.S3Request("PUT", 0, 0, os.ErrClosed)
	m.Background("purge", 1, os.ErrClosed)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{}
	for _, f := range families {
		ls := map[string]bool{}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				ls[l.GetName()] = true
			}
		}
		labels[f.GetName()] = ls
	}
	for _, p := range Panels {
		ls, ok := labels[p.Metric]
		if !ok {
			t.Errorf("panel %q reads %s, which the service does not export", p.Title, p.Metric)
			continue
		}
		if p.Label != "" && !ls[p.Label] {
			t.Errorf("panel %q splits %s by %q, which it does not carry", p.Title, p.Metric, p.Label)
		}
		if !strings.Contains(p.Expr, p.Metric) {
			t.Errorf("panel %q: its expression %q does not read %s", p.Title, p.Expr, p.Metric)
		}
		if p.Label != "" && !strings.Contains(p.Expr, p.Label) {
			t.Errorf("panel %q: its expression does not split by %s", p.Title, p.Label)
		}
	}
}
