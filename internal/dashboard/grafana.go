package dashboard

import (
	"encoding/json"
	"fmt"
)

// grafanaUnits maps a panel's unit to Grafana's.
var grafanaUnits = map[string]string{"req/s": "reqps", "ms": "ms", "MB/s": "MBs", "checks/s": "ops", "errors/s": "ops", "items/s": "ops"}

// Grafana returns the dashboard as Grafana's JSON model (schema 39), for
// import: a Prometheus data source chosen at import, two panels a row.
func Grafana() ([]byte, error) {
	type target struct {
		Datasource   map[string]string `json:"datasource"`
		Expr         string            `json:"expr"`
		LegendFormat string            `json:"legendFormat"`
		RefID        string            `json:"refId"`
	}
	type panel struct {
		ID          int               `json:"id"`
		Type        string            `json:"type"`
		Title       string            `json:"title"`
		Datasource  map[string]string `json:"datasource"`
		GridPos     map[string]int    `json:"gridPos"`
		FieldConfig map[string]any    `json:"fieldConfig"`
		Targets     []target          `json:"targets"`
	}
	ds := map[string]string{"type": "prometheus", "uid": "${datasource}"}
	var panels []panel
	for i, p := range Panels {
		unit, ok := grafanaUnits[p.Unit]
		if !ok {
			return nil, fmt.Errorf("panel %q: no Grafana unit for %q", p.Title, p.Unit)
		}
		legend := "{{" + p.Label + "}}"
		if p.Label == "" {
			legend = p.Title
		}
		panels = append(panels, panel{
			ID: i + 1, Type: "timeseries", Title: p.Title, Datasource: ds,
			GridPos:     map[string]int{"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i / 2)},
			FieldConfig: map[string]any{"defaults": map[string]any{"unit": unit}, "overrides": []any{}},
			Targets:     []target{{Datasource: ds, Expr: p.Expr, LegendFormat: legend, RefID: "A"}},
		})
	}
	d := map[string]any{
		"title": "FaceVault", "uid": "facevault", "schemaVersion": 39, "version": 1, "editable": true,
		"time": map[string]string{"from": "now-1h", "to": "now"}, "refresh": "30s",
		"tags": []string{"facevault"},
		"templating": map[string]any{"list": []any{map[string]any{
			"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
		}}},
		"panels": panels,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
