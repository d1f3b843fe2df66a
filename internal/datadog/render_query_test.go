package datadog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// renderQuery renders the monitor of a query kind that params (the query
// file's entry) ask for the query orders, with labels.
func renderQuery(t *testing.T, kind annotations.Kind, labels []string, params string) monitor.Definition {
	t.Helper()
	tg := annotations.Target{
		Record: "orders", FullName: annotations.QueryFullName("orders"), Doc: "The orders of the day.",
		File: "queries/orders.yaml", Line: 9,
		Env:      annotations.Environment{Name: "prod", Metric: "esm.events.received", QueryMetric: "esm.query.value", EnvTag: "Prod"},
		Channels: annotations.Channels{Always: []string{"team-data"}, Critical: []string{"pagerduty-data"}},
		Query:    &annotations.QueryTarget{Name: "orders", Labels: labels},
	}
	l := annotations.Layer{Source: "threshold", Params: json.RawMessage(params), Pos: annotations.Position{File: "queries/orders.yaml", Line: 10, Column: 5}}
	s, err := kind.Spec(tg, []annotations.Layer{l})
	require.NoError(t, err)
	m, err := Render(s)
	require.NoError(t, err)
	return m
}

const queryFooter = "\n\nThe orders of the day.\n\nQuery: orders in queries/orders.yaml\n\n@slack-team-data\n{{#is_alert}}@pagerduty-data{{/is_alert}}"

func TestQueryThresholdRender(t *testing.T) {
	tests := []struct {
		name, params string
		labels       []string
		query        string
		summary      string
		thresholds   monitor.Thresholds
	}{
		{"below, no labels", `{"below": 1000}`, nil,
			"avg(last_1h):avg:esm.query.value{query:orders,env:prod} < 1000",
			"Query threshold for orders in prod: the value of esm.query.value{query:orders} is below 1000 (average over the last 1 hour).",
			monitor.Thresholds{Critical: monitor.Float(1000)}},
		{"below with a warning, by labels", `{"below": 10, "warning": 50.5, "window": "last_1d"}`, []string{"Country", "extraction_source"},
			"avg(last_1d):avg:esm.query.value{query:orders,env:prod} by {country,extraction_source} < 10",
			"Query threshold for orders in prod: the value of esm.query.value{query:orders} for each country, extraction_source is below 10 (average over the last 1 day).",
			monitor.Thresholds{Critical: monitor.Float(10), Warning: monitor.Float(50.5)}},
		{"above with a warning, by one label", `{"above": 0.25, "warning": 0.1, "window": "last_15m"}`, []string{"country"},
			"avg(last_15m):avg:esm.query.value{query:orders,env:prod} by {country} > 0.25",
			"Query threshold for orders in prod: the value of esm.query.value{query:orders} for each country is above 0.25 (average over the last 15 minutes).",
			monitor.Thresholds{Critical: monitor.Float(0.25), Warning: monitor.Float(0.1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderQuery(t, annotations.QueryThreshold(), tt.labels, tt.params)
			assert.Equal(t, "Query Threshold with orders", m.Name)
			assert.Equal(t, "query alert", m.Type)
			assert.Equal(t, tt.query, m.Query)
			assert.Equal(t, tt.thresholds, m.Options.Thresholds)
			assert.Nil(t, m.Options.ThresholdWindows)
			assert.Equal(t, []string{"env:prod", "esm_kind:query_threshold", "managed_by:esm", "query:orders"}, m.Tags)
			assert.Equal(t, tt.summary+queryFooter, m.Message)
			assert.True(t, m.Options.IncludeTags)
			assert.False(t, m.Options.RequireFullWindow)
		})
	}
}

func TestQueryAnomalyRender(t *testing.T) {
	m := renderQuery(t, annotations.QueryAnomaly(), []string{"country"}, `{"deviations": 3, "priority": 2}`)
	assert.Equal(t, "Query Anomaly with orders", m.Name)
	assert.Equal(t, "query alert", m.Type)
	assert.Equal(t, "avg(last_4h):anomalies(avg:esm.query.value{query:orders,env:prod} by {country}, 'agile', 3, direction='both', alert_window='last_15m', interval=60, count_default_zero='false', seasonality='weekly') >= 1", m.Query)
	assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)}, m.Options.Thresholds)
	assert.Equal(t, &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"}, m.Options.ThresholdWindows)
	assert.Equal(t, int64(2), m.Priority)
	assert.Equal(t, []string{"env:prod", "esm_kind:query_anomaly", "managed_by:esm", "query:orders"}, m.Tags)
	assert.Equal(t, "Query anomaly for orders in prod: the value of esm.query.value{query:orders} for each country left its expected band (agile, 3 deviations, direction both, weekly seasonality)."+queryFooter, m.Message)

	m = renderQuery(t, annotations.QueryAnomaly(), nil, `{"algorithm": "basic", "direction": "below"}`)
	assert.Equal(t, "avg(last_4h):anomalies(avg:esm.query.value{query:orders,env:prod}, 'basic', 2, direction='below', alert_window='last_15m', interval=60, count_default_zero='false') >= 1", m.Query)
}
