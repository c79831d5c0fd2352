// Package metrics is FaceVault's Prometheus instrumentation: one registry
// per server (no global state), the collectors the dashboard in
// deploy/grafana-dashboard.json reads, and the adapters that feed them
// from the HTTP API, the liveness check, the checks, the stores and the
// background work.
//
// Every metric is named facevault_*; none carries an account, a client, a
// photo id or anything else of a person, so that a scrape reveals load,
// never data.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/facevault/facevault"
)

// Metrics holds the collectors of one server and the registry they are in.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	uploadBytes   prometheus.Counter
	slotWait      prometheus.Histogram
	livenessStage *prometheus.HistogramVec
	livenessTotal *prometheus.CounterVec
	checks        *prometheus.CounterVec
	checkTime     *prometheus.HistogramVec
	dbTime        *prometheus.HistogramVec
	dbErrors      *prometheus.CounterVec
	s3Time        *prometheus.HistogramVec
	s3Errors      *prometheus.CounterVec
	background    *prometheus.CounterVec
	backgroundErr *prometheus.CounterVec
}

// latencyBuckets span a cache hit to a slow upload (seconds).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New returns a registry with FaceVault's collectors, Go's runtime and the
// process's collectors, and facevault_build_info for the given version and
// VCS revision.
func New(version, revision string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "facevault_build_info",
		Help:        "The binary's version and revision, and Go's version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()}})
	build.Set(1)
	f(build)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_http_requests_total",
		Help: "HTTP requests answered, by route (the API's path pattern; other for no route), method and status."},
		[]string{"route", "method", "status"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "facevault_http_request_duration_seconds",
		Help: "Time from a request's headers to the end of its answer, by route and method.", Buckets: latencyBuckets},
		[]string{"route", "method"})
	m.uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "facevault_upload_bytes_total",
		Help: "Bytes of image stored by uploads that succeeded (decoded, as stored)."})
	m.slotWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "facevault_upload_slot_wait_seconds",
		Help: "Time an upload whose body had arrived waited for a processing slot.", Buckets: latencyBuckets})
	m.livenessStage = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "facevault_liveness_stage_seconds",
		Help: "Time each stage of the liveness check took (decode, orient+gray, detect, measure, pad).", Buckets: latencyBuckets},
		[]string{"stage"})
	m.livenessTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_liveness_checks_total",
		Help: "Liveness checks run, by outcome (clear, attention; error for a check that failed to run)."},
		[]string{"outcome"})
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_checks_total",
		Help: "Checks finished, by type, status (complete, failed) and outcome (clear, attention; none when failed)."},
		[]string{"type", "status", "outcome"})
	m.checkTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "facevault_check_duration_seconds",
		Help: "Time a check's run took, by type.", Buckets: latencyBuckets}, []string{"type"})
	m.dbTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "facevault_db_duration_seconds",
		Help: "Time of record store calls, by store (sqlite, postgres) and operation.", Buckets: latencyBuckets},
		[]string{"store", "op"})
	m.dbErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_db_errors_total",
		Help: "Record store calls that failed, by store and operation."}, []string{"store", "op"})
	m.s3Time = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "facevault_s3_request_duration_seconds",
		Help: "Time of S3 requests, by method and status (error when no answer came).", Buckets: latencyBuckets},
		[]string{"method", "status"})
	m.s3Errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_s3_errors_total",
		Help: "S3 requests that got no answer or a 5xx, by method."}, []string{"method"})
	m.background = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_background_items_total",
		Help: "Work done by the background loops, by task (purge: images destroyed; sweep: orphans set aside; " +
			"retention: photos deleted; webhooks: deliveries that succeeded; webhookFailures: attempts a receiver failed)."}, []string{"task"})
	m.backgroundErr = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facevault_background_errors_total",
		Help: "Background runs that failed, by task."}, []string{"task"})
	for _, c := range []prometheus.Collector{m.requests, m.requestTime, m.uploadBytes, m.slotWait, m.livenessStage,
		m.livenessTotal, m.checks, m.checkTime, m.dbTime, m.dbErrors, m.s3Time, m.s3Errors, m.background, m.backgroundErr} {
		f(c)
	}
	return m
}

// Registry is the registry the collectors are in, for tests and for
// adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records an answered HTTP request.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestTime.WithLabelValues(route, method).Observe(d.Seconds())
}

// UploadSlotWait records an upload's wait for a processing slot.
func (m *Metrics) UploadSlotWait(d time.Duration) { m.slotWait.Observe(d.Seconds()) }

// UploadStored records the bytes of an image an upload stored.
func (m *Metrics) UploadStored(bytes int64) { m.uploadBytes.Add(float64(bytes)) }

// LivenessStage records how long a stage of a liveness check took.
func (m *Metrics) LivenessStage(stage string, d time.Duration) {
	m.livenessStage.WithLabelValues(stage).Observe(d.Seconds())
}

// LivenessOutcome counts a liveness check by outcome.
func (m *Metrics) LivenessOutcome(outcome string) { m.livenessTotal.WithLabelValues(outcome).Inc() }

// CheckFinished counts a finished check and records its run time.
func (m *Metrics) CheckFinished(typ, status, outcome string, d time.Duration) {
	if outcome == "" {
		outcome = "none"
	}
	m.checks.WithLabelValues(typ, status, outcome).Inc()
	m.checkTime.WithLabelValues(typ).Observe(d.Seconds())
}

// StoreCall records a record store call. An error that is an answer (a
// record not found, a refusal with a code, a caller gone) is not counted
// as a failure of the store.
func (m *Metrics) StoreCall(store, op string, d time.Duration, err error) {
	m.dbTime.WithLabelValues(store, op).Observe(d.Seconds())
	var fe *facevault.Error
	if err != nil && !errors.Is(err, facevault.ErrNotFound) && !errors.As(err, &fe) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		m.dbErrors.WithLabelValues(store, op).Inc()
	}
}

// Background records the work a background task did, or its failure.
func (m *Metrics) Background(task string, items int, err error) {
	if items > 0 {
		m.background.WithLabelValues(task).Add(float64(items))
	}
	if err != nil {
		m.backgroundErr.WithLabelValues(task).Inc()
	}
}
