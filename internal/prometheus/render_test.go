package prometheus

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func target() annotations.Target {
	return annotations.Target{
		Record: "AddToCartEvent", FullName: "com.example.shop.AddToCartEvent", Doc: "A shopper added an item.",
		File: "schemas/cart.avdl", Line: 12,
		Env:      annotations.Environment{Name: "prod", Metric: "esm.events.received", RejectedMetric: "esm.events.rejected", EnvTag: "prod"},
		Channels: annotations.Channels{Always: []string{"team-cart"}},
	}
}

// spec returns the spec that params (the record's annotation) ask of kind
// for tg.
func spec(t *testing.T, kind annotations.Kind, tg annotations.Target, params string) annotations.Spec {
	t.Helper()
	l := annotations.Layer{Source: "@" + kind.Annotation(), Params: json.RawMessage(params), Pos: annotations.Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
	s, err := kind.Spec(tg, []annotations.Layer{l})
	require.NoError(t, err)
	return s
}

// renderCase is one kind and parameter combination, rendered into the
// golden file testdata/<name>.rules.yml.
type renderCase struct {
	name   string
	kind   annotations.Kind
	params string
	// channels, when set, replace the target's.
	channels *annotations.Channels
	// target, when set, is the target instead of target().
	target func() annotations.Target
}

// renderCases are every kind and parameter combination the tests render;
// promtool checks each of their files.
var renderCases = []renderCase{
	{name: "traffic_volume_defaults", kind: annotations.TrafficVolume(), params: `{}`},
	{name: "traffic_volume_below_warning", kind: annotations.TrafficVolume(), params: `{"below": 10, "warning": 50, "window": "last_15m"}`},
	{name: "traffic_volume_above", kind: annotations.TrafficVolume(), params: `{"above": 5000, "warning": 4000, "window": "last_1d"}`,
		channels: &annotations.Channels{Always: []string{"team-cart", "team-cart"}, Critical: []string{"pagerduty-cart"}, Warning: []string{"slack-cart-low"}}},
	{name: "traffic_anomaly_defaults", kind: annotations.TrafficAnomaly(), params: `{}`},
	{name: "traffic_anomaly_basic_above", kind: annotations.TrafficAnomaly(), params: `{"algorithm": "basic", "direction": "above", "deviations": 2.5, "count_default_zero": false}`},
	{name: "traffic_anomaly_daily_below", kind: annotations.TrafficAnomaly(), params: `{"algorithm": "robust", "seasonality": "daily", "direction": "below", "interval": 600, "alert_window": "last_1h", "query_window": "last_1d"}`},
	{name: "traffic_anomaly_hourly", kind: annotations.TrafficAnomaly(), params: `{"seasonality": "hourly", "query_window": "last_30m"}`,
		channels: &annotations.Channels{}},
	{name: "traffic_forecast_below", kind: annotations.TrafficForecast(), params: `{"below": 100}`},
	{name: "traffic_forecast_above_history", kind: annotations.TrafficForecast(), params: `{"above": 1000, "warning": 800, "history": "3d", "horizon": "next_2d", "interval": "30m"}`},
	{name: "traffic_forecast_seasonal", kind: annotations.TrafficForecast(), params: `{"algorithm": "seasonal", "seasonality": "daily", "below": 10}`},
	{name: "bad_data_defaults", kind: annotations.BadData(), params: `{}`},
	{name: "bad_data_warning", kind: annotations.BadData(), params: `{"above": 0.2, "warning": 0.1, "window": "last_1h"}`,
		channels: &annotations.Channels{Critical: []string{"pagerduty-cart"}, Warning: []string{"team-cart"}, Recovery: []string{"team-cart-log"}}},
	{name: "query_threshold_below_warning", kind: annotations.QueryThreshold(), params: `{"below": 1000, "warning": 2000}`, target: queryTarget("country")},
	{name: "query_threshold_above", kind: annotations.QueryThreshold(), params: `{"above": 5, "window": "last_15m"}`, target: queryTarget(),
		channels: &annotations.Channels{Critical: []string{"pagerduty-data"}, Warning: []string{"team-data"}}},
	{name: "query_threshold_two_labels", kind: annotations.QueryThreshold(), params: `{"below": 1, "window": "last_1d"}`, target: queryTarget("country", "source")},
	{name: "query_anomaly_defaults", kind: annotations.QueryAnomaly(), params: `{}`, target: queryTarget("country")},
	{name: "query_anomaly_basic_default_zero", kind: annotations.QueryAnomaly(), params: `{"algorithm": "basic", "direction": "below", "deviations": 3, "count_default_zero": true, "interval": 600, "alert_window": "last_1h"}`, target: queryTarget()},
	{name: "query_anomaly_daily_above", kind: annotations.QueryAnomaly(), params: `{"seasonality": "daily", "direction": "above", "alert_window": "last_1h", "query_window": "last_1d"}`, target: queryTarget("country", "source")},
}

// render renders a case into its monitors, numbered as a store numbers
// them.
func (c renderCase) render(t *testing.T) []monitor.Monitor {
	t.Helper()
	tg := target()
	if c.target != nil {
		tg = c.target()
	}
	if c.channels != nil {
		tg.Channels = *c.channels
	}
	defs, err := Render(spec(t, c.kind, tg, c.params))
	require.NoError(t, err)
	ms := make([]monitor.Monitor, len(defs))
	for i, d := range defs {
		ms[i] = monitor.Monitor{ID: int64(i + 1), Definition: d}
	}
	return ms
}

// TestRenderGolden renders every case into a rules file and compares it
// with testdata/<case>.rules.yml (go test -update rewrites them).
func TestRenderGolden(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := encodeRules(c.render(t), nil)
			require.NoError(t, err)
			golden := filepath.Join("testdata", c.name+".rules.yml")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to write it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestPromtoolCheckRules runs promtool check rules on the file of every
// case: Prometheus loads what esm writes.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	var files []string
	for _, c := range renderCases {
		data, err := encodeRules(c.render(t), nil)
		require.NoError(t, err)
		f := filepath.Join(dir, c.name+".rules.yml")
		require.NoError(t, os.WriteFile(f, data, 0o644))
		files = append(files, f)
	}
	out, err := exec.Command(promtool, append([]string{"check", "rules", "--lint-fatal"}, files...)...).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	assert.NotContains(t, string(out), "FAILED")
}

// needTool returns the path of a tool (testenv.Tool).
func needTool(t *testing.T, name string) string {
	t.Helper()
	return testenv.Tool(t, ".ci/run installs Debian's prometheus package", name)
}

func TestRenderLabels(t *testing.T) {
	tg := target()
	tg.Channels = annotations.Channels{Always: []string{"team-cart", "a-team", "team-cart"}, Critical: []string{"pagerduty-cart"}, Warning: []string{"slack-low"}, NoData: []string{"nodata"}}
	defs, err := Render(spec(t, annotations.TrafficVolume(), tg, `{"below": 10, "warning": 50}`))
	require.NoError(t, err)
	require.Len(t, defs, 2)
	assert.Equal(t, "Traffic Volume with AddToCartEvent", defs[0].Name)
	assert.Equal(t, "Traffic Volume with AddToCartEvent (warning)", defs[1].Name)
	assert.Equal(t, map[string]string{
		"esm_monitor": "Traffic Volume with AddToCartEvent", "event_type": "AddToCartEvent", "env": "prod",
		"severity": "critical", "esm_channels": ",a-team,pagerduty-cart,team-cart,",
	}, defs[0].Rule.Labels)
	assert.Equal(t, map[string]string{
		"esm_monitor": "Traffic Volume with AddToCartEvent", "event_type": "AddToCartEvent", "env": "prod",
		"severity": "warning", "esm_channels": ",a-team,slack-low,team-cart,",
	}, defs[1].Rule.Labels)
	assert.Equal(t, map[string]string{
		"summary":     "Traffic volume for AddToCartEvent events in prod: fewer than 10 events in the last 1h.",
		"description": "A shopper added an item.", "esm_file": "schemas/cart.avdl", "esm_record": "com.example.shop.AddToCartEvent",
	}, defs[0].Rule.Annotations)
	assert.Equal(t, `(sum(increase(esm_events_received_total{event_type="AddToCartEvent",env="prod"}[1h])) or vector(0)) < 50`, defs[1].Rule.Expr)
}

func TestChannelsValue(t *testing.T) {
	c := annotations.Channels{Always: []string{"b", "a"}, Critical: []string{"a", "p"}, Warning: []string{"w"}}
	tests := []struct{ severity, want string }{
		{SeverityCrit, ",a,b,p,"},
		{SeverityWarning, ",a,b,w,"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ChannelsValue(c, tt.severity), tt.severity)
	}
	assert.Equal(t, "", ChannelsValue(annotations.Channels{Warning: []string{"w"}}, SeverityCrit))
}

// TestNoForm: a log monitor has no Prometheus form; the error says so and
// matches monitor.ErrNoForm, which the plan turns into a note.
func TestNoForm(t *testing.T) {
	tg := target()
	s := spec(t, annotations.Log(), tg, `{"query": "service:cart status:error", "above": 5}`)
	_, err := Render(s)
	require.Error(t, err)
	assert.True(t, errors.Is(err, monitor.ErrNoForm))
	assert.EqualError(t, err, "@log_monitor has no Prometheus form: it searches Datadog's logs, which Prometheus does not have")
	_, err = RenderOne(s)
	assert.True(t, errors.Is(err, monitor.ErrNoForm))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		span string
		want string
	}{
		{"last_1h", "1h"}, {"last_90m", "90m"}, {"last_60m", "1h"}, {"next_1w", "1w"}, {"next_2mo", "60d"},
		{"last_14d", "2w"}, {"3d", "3d"}, {"60m", "1h"},
	}
	for _, tt := range tests {
		got, err := promDuration(tt.span)
		require.NoError(t, err, tt.span)
		assert.Equal(t, tt.want, got, tt.span)
	}
	_, err := promDuration("last_x")
	assert.EqualError(t, err, `"last_x" is not a window esm knows`)
	assert.Equal(t, "90s", duration(90))
}
