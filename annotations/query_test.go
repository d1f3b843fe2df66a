package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func queryTarget() Target {
	return Target{
		Record: "orders", FullName: QueryFullName("orders"), Doc: "The orders of the day, per country",
		File: "queries/orders.yaml", Line: 9,
		Env:      Environment{Name: "prod", Metric: "esm.events.received", QueryMetric: "esm.query.value", EnvTag: "prod", Tags: []string{"Team:Data"}},
		Channels: Channels{Always: []string{"team-data"}},
		Query:    &QueryTarget{Name: "orders", Labels: []string{"country"}},
	}
}

// thresholdEntry is a query file's threshold: {...}, its values at
// queries/orders.yaml:10 from column 20 on, as pos says.
func thresholdEntry(params string, pos map[string]Position) Layer {
	return layerAt("threshold", "queries/orders.yaml", 10, params, pos)
}

func TestQueryThresholdSpec(t *testing.T) {
	cfg := func(params string) Layer { return layerAt("esm.yaml defaults", "esm.yaml", 4, params, nil) }
	tests := []struct {
		name   string
		layers []Layer
		want   QueryThresholdSpec
	}{
		{"below, default window", []Layer{thresholdEntry(`{"below": 1000}`, nil)}, QueryThresholdSpec{Direction: "below", Threshold: 1000, Window: "last_1h"}},
		{"below with a warning", []Layer{thresholdEntry(`{"below": 0.5, "warning": 0.75, "window": "last_1d"}`, nil)},
			QueryThresholdSpec{Direction: "below", Threshold: 0.5, Warning: float(0.75), Window: "last_1d"}},
		{"above with a warning, negative values", []Layer{thresholdEntry(`{"above": -1, "warning": -2.5}`, nil)},
			QueryThresholdSpec{Direction: "above", Threshold: -1, Warning: float(-2.5), Window: "last_1h"}},
		{"the file's side replaces esm.yaml's and its warning", []Layer{cfg(`{"below": 5, "warning": 20, "window": "last_4h"}`), thresholdEntry(`{"above": 100}`, nil)},
			QueryThresholdSpec{Direction: "above", Threshold: 100, Window: "last_4h"}},
		{"a side from esm.yaml", []Layer{cfg(`{"above": 100}`), thresholdEntry(`{"warning": 90}`, nil)},
			QueryThresholdSpec{Direction: "above", Threshold: 100, Warning: float(90), Window: "last_1h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := QueryThreshold().Spec(queryTarget(), tt.layers)
			require.NoError(t, err)
			assert.Equal(t, &tt.want, s.Params)
		})
	}

	s, err := QueryThreshold().Spec(queryTarget(), []Layer{thresholdEntry(`{"below": 1, "priority": 2, "notify_no_data": true, "tags": ["tier:1"]}`, nil)})
	require.NoError(t, err)
	assert.Equal(t, "Query Threshold with orders", s.Name)
	assert.Equal(t, QueryThresholdKind, s.Kind)
	assert.Equal(t, Common{Priority: 2, Tags: []string{"tier:1"}, NotifyNoData: true, NoDataTimeframe: 120, IncludeTags: true}, s.Common)
	assert.Equal(t, []string{"env:prod", "esm_kind:query_threshold", "managed_by:esm", "query:orders", "team:data", "tier:1"}, s.Tags())
	assert.Equal(t, "Summary.\n\nThe orders of the day, per country\n\nQuery: orders in queries/orders.yaml\n\n@slack-team-data", s.Message("Summary.", "@slack-team-data"))
}

func TestQueryThresholdErrors(t *testing.T) {
	at := func(col int) Position { return Position{File: "queries/orders.yaml", Line: 10, Column: col} }
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"no side", []Layer{thresholdEntry(`{"window": "last_2h"}`, nil)},
			`queries/orders.yaml:10:3: query_threshold needs below or above: the value that alerts, such as {below: 1000}`},
		{"both sides", []Layer{thresholdEntry(`{"below": 1, "above": 10}`, map[string]Position{"below": at(20), "above": at(30)})},
			`queries/orders.yaml:10:30: threshold: above and below cannot both be set: a threshold alerts on one side (below is set at queries/orders.yaml:10:20)`},
		{"unknown parameter", []Layer{thresholdEntry(`{"blow": 1}`, map[string]Position{"blow": at(20)})},
			`queries/orders.yaml:10:20: threshold: unknown parameter "blow" for query_threshold: did you mean "below"?`},
		{"unknown parameter, far", []Layer{thresholdEntry(`{"below": 1, "zzz": 1}`, map[string]Position{"zzz": at(31)})},
			`queries/orders.yaml:10:31: threshold: unknown parameter "zzz" for query_threshold; known parameters: above, below, escalation_message, evaluation_delay, include_tags, message, no_data_timeframe, notify_audit, notify_no_data, priority, renotify_interval, require_full_window, tags, timeout_h, warning, window`},
		{"wrong type", []Layer{thresholdEntry(`{"below": "1000"}`, map[string]Position{"below": at(20)})},
			`queries/orders.yaml:10:20: threshold: parameter "below" of query_threshold must be a number, not string`},
		{"not a mapping", []Layer{thresholdEntry(`1000`, nil)},
			`queries/orders.yaml:10:3: query_threshold takes a mapping of parameters, like {below: 10}; threshold gives 1000`},
		{"warning on the wrong side of below", []Layer{thresholdEntry(`{"below": 10, "warning": 5}`, map[string]Position{"warning": at(33)})},
			`queries/orders.yaml:10:33: warning 5 must be greater than below 10: it warns before the value falls below the critical threshold`},
		{"warning on the wrong side of above", []Layer{thresholdEntry(`{"above": 10, "warning": 10}`, map[string]Position{"warning": at(33)})},
			`queries/orders.yaml:10:33: warning 10 must be less than above 10: it warns before the value rises above the critical threshold`},
		{"bad window", []Layer{thresholdEntry(`{"below": 1, "window": "1h"}`, map[string]Position{"window": at(33)})},
			`queries/orders.yaml:10:33: window must look like last_15m, last_4h or last_1d, not "1h"`},
		{"window too long", []Layer{thresholdEntry(`{"below": 1, "window": "last_31d"}`, map[string]Position{"window": at(33)})},
			`queries/orders.yaml:10:33: window last_31d is longer than Datadog accepts for a metric monitor (at most 30 days)`},
		{"a common parameter out of range", []Layer{thresholdEntry(`{"below": 1, "priority": 9}`, map[string]Position{"priority": at(35)})},
			`queries/orders.yaml:10:35: priority must be 1 (highest) to 5, not 9`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := QueryThreshold().Spec(queryTarget(), tt.layers)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
	// Check reports a layer's problems on their own, all at once.
	err := QueryThreshold().Check(thresholdEntry(`{"below": 1, "above": 2, "window": "soon"}`, map[string]Position{"below": at(20), "above": at(30), "window": at(40)}))
	require.Error(t, err)
	assert.Equal(t, "queries/orders.yaml:10:30: threshold: above and below cannot both be set: a threshold alerts on one side (below is set at queries/orders.yaml:10:20)\n"+
		`queries/orders.yaml:10:40: threshold: window must look like last_15m, last_4h or last_1d, not "soon"`, err.Error())
}

func TestQueryAnomalySpec(t *testing.T) {
	entry := func(params string, pos map[string]Position) Layer {
		return layerAt("anomaly", "queries/orders.yaml", 11, params, pos)
	}
	s, err := QueryAnomaly().Spec(queryTarget(), []Layer{entry(`{"deviations": 3, "seasonality": "daily"}`, nil)})
	require.NoError(t, err)
	assert.Equal(t, "Query Anomaly with orders", s.Name)
	assert.Equal(t, QueryAnomalyKind, s.Kind)
	assert.Equal(t, &QueryAnomalySpec{TrafficAnomalySpec{Deviations: 3, Algorithm: "agile", Direction: "both", AlertWindow: "last_15m",
		Interval: 60, Seasonality: "daily", QueryWindow: "last_4h", CountDefaultZero: false}}, s.Params)
	assert.Equal(t, []string{"env:prod", "esm_kind:query_anomaly", "managed_by:esm", "query:orders", "team:data"}, s.Tags())

	at := func(col int) Position { return Position{File: "queries/orders.yaml", Line: 11, Column: col} }
	for _, tt := range []struct {
		name, params string
		pos          map[string]Position
		want         string
	}{
		{"unknown parameter", `{"deviation": 3}`, map[string]Position{"deviation": at(20)},
			`queries/orders.yaml:11:20: anomaly: unknown parameter "deviation" for query_anomaly: did you mean "deviations"?`},
		{"basic has no seasonality", `{"algorithm": "basic", "seasonality": "daily"}`, map[string]Position{"algorithm": at(20), "seasonality": at(40)},
			`queries/orders.yaml:11:40: seasonality "daily" cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality (algorithm is set at queries/orders.yaml:11:20)`},
		{"a bad direction", `{"direction": "up"}`, map[string]Position{"direction": at(20)},
			`queries/orders.yaml:11:20: direction must be one of both, above, below, not "up"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := QueryAnomaly().Spec(queryTarget(), []Layer{entry(tt.params, tt.pos)})
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

// The kinds of query files are not annotations: a record cannot ask for
// them, and they are found by their entry key or their name.
func TestQueryKindsAreNotAnnotations(t *testing.T) {
	for _, k := range QueryKinds() {
		_, ok := Lookup(k.Annotation())
		assert.False(t, ok, k.Annotation())
		assert.False(t, IsMonitorAnnotation(k.Annotation()))
	}
	assert.Equal(t, []string{"anomaly", "threshold"}, QueryMonitorKeys())
	k, ok := QueryMonitorKind("threshold")
	require.True(t, ok)
	assert.Equal(t, QueryThresholdKind, k.Annotation())
	k, ok = QueryKind(QueryAnomalyKind)
	require.True(t, ok)
	assert.Equal(t, QueryAnomalyKind, k.Annotation())
	_, ok = QueryMonitorKind("query_threshold")
	assert.False(t, ok)
}
