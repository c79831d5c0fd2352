package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/facevault/facevault"
	"github.com/facevault/facevault/liveness"
)

// S3Request records a request to the S3 server (s3blob.Options.Observe):
// status 0 is a request that got no answer.
func (m *Metrics) S3Request(method string, status int, d time.Duration, err error) {
	label := strconv.Itoa(status)
	if status == 0 {
		label = "error"
	}
	m.s3Time.WithLabelValues(metricMethod(method), label).Observe(d.Seconds())
	if status == 0 || status >= 500 {
		m.s3Errors.WithLabelValues(metricMethod(method)).Inc()
	}
}

// StoreObserver returns the function a record store calls for each of its
// calls (sqlite.DB.SetObserver, postgres.WithObserver), labelled store.
func (m *Metrics) StoreObserver(store string) func(op string, d time.Duration, err error) {
	return func(op string, d time.Duration, err error) { m.StoreCall(store, op, d, err) }
}

func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
		return method
	}
	return "other"
}

// TimedAnalyzer is a liveness check that reports the time of each of its
// stages and its outcome.
type TimedAnalyzer struct {
	*liveness.Analyzer
	M *Metrics
}

var _ facevault.Analyzer = TimedAnalyzer{}

// Analyze runs the liveness check, timing its stages.
func (t TimedAnalyzer) Analyze(ctx context.Context, img io.Reader) (*facevault.LivenessCheck, error) {
	res, stages, err := t.Analyzer.AnalyzeTimed(ctx, img)
	if err != nil {
		t.M.LivenessOutcome("error")
		return nil, err
	}
	for _, s := range stages {
		t.M.LivenessStage(s.Name, s.Duration)
	}
	t.M.LivenessOutcome(res.Outcome)
	return res, nil
}
