package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// TestStoreCallErrors: answers (not found, a coded refusal, a caller gone)
// are not store failures; anything else is.
func TestStoreCallErrors(t *testing.T) {
	m := New("v", "r")
	for _, err := range []error{nil, fmt.Errorf("sqlite: x: %w", facevault.ErrNotFound), facevault.Invalid("a", "b"),
		context.Canceled, errors.New("disk I/O error")} {
		m.StoreCall("sqlite", "op", 0, err)
	}
	if got := testutil.ToFloat64(m.dbErrors.WithLabelValues("sqlite", "op")); got != 1 {
		t.Errorf("errors counted: %v, want 1 (the I/O error)", got)
	}
	if got := testutil.CollectAndCount(m.dbTime); got != 1 {
		t.Errorf("%d time series, want 1", got)
	}
}

// TestTimedAnalyzer: the liveness check's result is the analyzer's, and
// its stages and outcome are recorded.
func TestTimedAnalyzer(t *testing.T) {
	a, err := liveness.New(liveness.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile("../liveness/testdata/pigo-sample.jpg")
	if err != nil {
		t.Fatal(err)
	}
	m := New("v", "r")
	got, err := TimedAnalyzer{a, m}.Analyze(context.Background(), strings.NewReader(string(img)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Analyze(context.Background(), strings.NewReader(string(img)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != want.Outcome || got.Breakdown.AuthenticityAnalysis.Breakdown.LivenessCheckScore == nil {
		t.Errorf("timed result %+v differs from %+v", got, want)
	}
	// A face was found: every stage ran, decode to the PAD model.
	if n := testutil.CollectAndCount(m.livenessStage, "facevault_liveness_stage_seconds"); n != 5 {
		t.Errorf("%d stage series, want the 5 stages", n)
	}
	if got := testutil.ToFloat64(m.livenessTotal.WithLabelValues(want.Outcome)); got != 1 {
		t.Errorf("outcome %s counted %v times, want 1", want.Outcome, got)
	}
	if _, err := (TimedAnalyzer{a, m}).Analyze(context.Background(), errReader{}); err == nil {
		t.Error("a read error was not returned")
	}
	if got := testutil.ToFloat64(m.livenessTotal.WithLabelValues("error")); got != 1 {
		t.Errorf("errors counted %v, want 1", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestHandler: the text format, with build info and Go's collectors.
func TestHandler(t *testing.T) {
	m := New("v1.2.3", "abc")
	m.Request("GET /v1/clients", "GET", 200, 0)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`facevault_build_info{goversion="`, `revision="abc",version="v1.2.3"} 1`,
		`facevault_http_requests_total{method="GET",route="GET /v1/clients",status="200"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
