// Package dashboard is FaceVault's Grafana dashboard (deploy/grafana-
// dashboard.json) as data: each panel's title, its PromQL expression, and
// how to compute the same series from successive scrapes of /metrics, so
// that the panels can be drawn from a load run where no Prometheus and
// Grafana run (see internal/loadrun).
package dashboard

// Kind is how a panel turns scrapes into series.
type Kind int

const (
	// Rate is the per-second increase of a counter, summed by Label.
	Rate Kind = iota
	// Quantile95 is the 95th percentile of a histogram's observations in
	// each interval, by Label.
	Quantile95
	// Mean is a histogram's mean observation in each interval (sum over
	// count), by Label.
	Mean
)

// Panel is one panel of the dashboard.
type Panel struct {
	Title  string
	Expr   string  // the PromQL the dashboard runs
	Metric string  // the series the load run reads
	Label  string  // the label series are split by ("" for one series)
	Kind   Kind    // how the load run computes it
	Scale  float64 // multiplies values (1 if 0): seconds to ms, bytes to MB
	Unit   string  // the Grafana unit and the axis label of the load run
	Filter string  // a label that must be present, k="v" (optional)
}

// Panels are the dashboard's panels, in order.
var Panels = []Panel{
	{Title: "Requests per second by route", Expr: `sum by (route) (rate(facevault_http_requests_total[1m]))`,
		Metric: "facevault_http_requests_total", Label: "route", Kind: Rate, Unit: "req/s"},
	{Title: "Request latency p95 by route", Expr: `histogram_quantile(0.95, sum by (route, le) (rate(facevault_http_request_duration_seconds_bucket[1m])))`,
		Metric: "facevault_http_request_duration_seconds", Label: "route", Kind: Quantile95, Scale: 1000, Unit: "ms"},
	{Title: "Errors per second by status", Expr: `sum by (status) (rate(facevault_http_requests_total{status=~"4..|5.."}[1m]))`,
		Metric: "facevault_http_requests_total", Label: "status", Kind: Rate, Unit: "req/s", Filter: `status=~"4..|5.."`},
	{Title: "Upload throughput", Expr: `rate(facevault_upload_bytes_total[1m])`,
		Metric: "facevault_upload_bytes_total", Kind: Rate, Scale: 1e-6, Unit: "MB/s"},
	{Title: "Upload slot wait p95", Expr: `histogram_quantile(0.95, sum by (le) (rate(facevault_upload_slot_wait_seconds_bucket[1m])))`,
		Metric: "facevault_upload_slot_wait_seconds", Kind: Quantile95, Scale: 1000, Unit: "ms"},
	{Title: "Liveness check time by stage (mean)", Expr: `sum by (stage) (rate(facevault_liveness_stage_seconds_sum[1m])) / sum by (stage) (rate(facevault_liveness_stage_seconds_count[1m]))`,
		Metric: "facevault_liveness_stage_seconds", Label: "stage", Kind: Mean, Scale: 1000, Unit: "ms"},
	{Title: "Liveness outcomes per second", Expr: `sum by (outcome) (rate(facevault_liveness_checks_total[1m]))`,
		Metric: "facevault_liveness_checks_total", Label: "outcome", Kind: Rate, Unit: "checks/s"},
	{Title: "Checks finished per second", Expr: `sum by (type, outcome) (rate(facevault_checks_total[1m]))`,
		Metric: "facevault_checks_total", Label: "type", Kind: Rate, Unit: "checks/s"},
	{Title: "Record store call time p95", Expr: `histogram_quantile(0.95, sum by (op, le) (rate(facevault_db_duration_seconds_bucket[1m])))`,
		Metric: "facevault_db_duration_seconds", Label: "op", Kind: Quantile95, Scale: 1000, Unit: "ms"},
	{Title: "Record store and S3 errors per second", Expr: `sum(rate(facevault_db_errors_total[1m])) + sum(rate(facevault_s3_errors_total[1m]))`,
		Metric: "facevault_db_errors_total", Kind: Rate, Unit: "errors/s"},
	{Title: "S3 request time p95", Expr: `histogram_quantile(0.95, sum by (method, le) (rate(facevault_s3_request_duration_seconds_bucket[1m])))`,
		Metric: "facevault_s3_request_duration_seconds", Label: "method", Kind: Quantile95, Scale: 1000, Unit: "ms"},
	{Title: "Background work per second", Expr: `sum by (task) (rate(facevault_background_items_total[5m]))`,
		Metric: "facevault_background_items_total", Label: "task", Kind: Rate, Unit: "items/s"},
}
