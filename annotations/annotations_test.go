package annotations

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func target() Target {
	return Target{
		Record: "AddToCartEvent", FullName: "com.example.shop.AddToCartEvent", Doc: "A shopper added an item.",
		File: "schemas/cart.avdl", Line: 12,
		Env:      Environment{Name: "prod", Metric: "esm.events.received", EnvTag: "prod", Tags: []string{"Team:Cart"}, MessageFooter: "Runbook: https://wiki/esm"},
		Channels: Channels{Always: []string{"team-cart"}},
	}
}

func annotation(params string) Layer {
	return Layer{Source: "@traffic_anomaly_monitor", Params: json.RawMessage(params), Pos: Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
}

func TestTrafficAnomalyDefaults(t *testing.T) {
	m, err := TrafficAnomaly().Build(target(), []Layer{annotation(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", m.Name)
	assert.Equal(t, "query alert", m.Type)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:AddToCartEvent,env:prod}.as_count(), 'agile', 2, direction='both', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", m.Query)
	assert.Equal(t, []string{"env:prod", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
	assert.Equal(t, 1.0, *m.Options.Thresholds.Critical)
	assert.Equal(t, 0.0, *m.Options.Thresholds.CriticalRecovery)
	assert.Nil(t, m.Options.Thresholds.Warning)
	assert.Equal(t, &ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"}, m.Options.ThresholdWindows)
	assert.True(t, m.Options.IncludeTags)
	assert.False(t, m.Options.NotifyNoData)
	assert.Contains(t, m.Message, "@slack-team-cart")
	assert.Contains(t, m.Message, "A shopper added an item.")
	assert.Contains(t, m.Message, "schemas/cart.avdl")
	assert.True(t, strings.HasSuffix(m.Message, "Runbook: https://wiki/esm"))
}

func TestTrafficAnomalyLayers(t *testing.T) {
	layers := []Layer{
		{Source: "esm.yaml", Params: json.RawMessage(`{"deviations": 4, "algorithm": "robust"}`), Pos: Position{File: "esm.yaml", Line: 3}},
		{Source: "environment prod", Params: json.RawMessage(`{"deviations": 3}`), Pos: Position{File: "esm.yaml", Line: 9}},
		annotation(`{"direction": "above", "interval": 120, "alert_window": "last_30m", "priority": 2, "tags": ["tier:1"], "notify_no_data": true}`),
	}
	m, err := TrafficAnomaly().Build(target(), layers)
	require.NoError(t, err)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:AddToCartEvent,env:prod}.as_count(), 'robust', 3, direction='above', alert_window='last_30m', interval=120, count_default_zero='true', seasonality='weekly') >= 1", m.Query)
	assert.Equal(t, int64(2), m.Priority)
	assert.Contains(t, m.Tags, "tier:1")
	assert.True(t, m.Options.NotifyNoData)
	assert.Equal(t, int64(480), m.Options.NoDataTimeframe)
}

func TestTrafficAnomalyBasicOmitsSeasonality(t *testing.T) {
	m, err := TrafficAnomaly().Build(target(), []Layer{annotation(`{"algorithm": "basic", "deviations": 2.5}`)})
	require.NoError(t, err)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:AddToCartEvent,env:prod}.as_count(), 'basic', 2.5, direction='both', alert_window='last_15m', interval=60, count_default_zero='true') >= 1", m.Query)
}

func TestTrafficAnomalyErrors(t *testing.T) {
	cfg := Layer{Source: "esm.yaml", Params: json.RawMessage(`{"seasonality": "daily"}`), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"unknown parameter", []Layer{annotation(`{"deviation": 3}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: unknown parameter "deviation" for @traffic_anomaly_monitor; known parameters: alert_window, algorithm,`},
		{"wrong type", []Layer{annotation(`{"deviations": "3"}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: parameter "deviations" of @traffic_anomaly_monitor must be a number, not string`},
		{"not an object", []Layer{annotation(`3`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor takes an object of parameters`},
		{"bad algorithm", []Layer{annotation(`{"algorithm": "smart"}`)}, `schemas/cart.avdl:12:3: algorithm must be one of basic, agile, robust, not "smart"`},
		{"zero deviations", []Layer{annotation(`{"deviations": 0}`)}, `deviations must be greater than 0`},
		{"bad window", []Layer{annotation(`{"alert_window": "15m"}`)}, `alert_window must look like last_15m`},
		{"interval over alert window", []Layer{annotation(`{"interval": 300}`)}, `schemas/cart.avdl:12:3: interval 300 s is over a fifth of alert_window last_15m (180 s)`},
		{"seasonality with basic, set in the file", []Layer{cfg, annotation(`{"algorithm": "basic"}`)}, `esm.yaml:4:7: seasonality "daily" cannot be used with the basic algorithm`},
		{"priority", []Layer{annotation(`{"priority": 7}`)}, `priority must be 1 (highest) to 5, not 7`},
		{"bad tag", []Layer{annotation(`{"tags": ["9lives"]}`)}, `tag "9lives" is not a valid Datadog tag`},
		{"query shorter than alert", []Layer{annotation(`{"query_window": "last_5m", "interval": 60}`)}, `query_window last_5m is shorter than alert_window last_15m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficAnomaly().Build(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestChannels(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{`"team-cart"`, "@slack-team-cart"},
		{`"pagerduty-payments"`, "@pagerduty-payments"},
		{`"opsgenie-x"`, "@opsgenie-x"},
		{`"webhook-y"`, "@webhook-y"},
		{`"teams-z"`, "@teams-z"},
		{`"oncall@example.com"`, "@oncall@example.com"},
		{`["team-cart", "@ops"]`, "@slack-team-cart @ops"},
		{`{"warning": "slack-cart", "critical": "pagerduty-cart"}`, "{{#is_alert}}@pagerduty-cart{{/is_alert}}\n{{#is_warning}}@slack-cart{{/is_warning}}"},
		{`{"all": "team-a", "no_data": ["team-b"]}`, "@slack-team-a\n{{#is_no_data}}@slack-team-b{{/is_no_data}}"},
	}
	for _, tt := range tests {
		c, err := ParseChannels(json.RawMessage(tt.value), Position{})
		require.NoError(t, err, tt.value)
		assert.Equal(t, tt.want, c.Render(), tt.value)
	}
	for _, bad := range []string{`3`, `""`, `{"urgent": "x"}`, `{}`, `[1]`} {
		_, err := ParseChannels(json.RawMessage(bad), Position{File: "a.avdl", Line: 1, Column: 1})
		require.Error(t, err, bad)
		assert.True(t, strings.HasPrefix(err.Error(), "a.avdl:1:1: @alert_channel"), err.Error())
	}
}

func TestRegistry(t *testing.T) {
	k, ok := Lookup(TrafficAnomalyAnnotation)
	require.True(t, ok)
	assert.Equal(t, TrafficAnomalyAnnotation, k.Annotation())
	assert.True(t, IsMonitorAnnotation("alert_channel"))
	assert.False(t, IsMonitorAnnotation("java-class"))
	assert.Panics(t, func() { Register(trafficAnomaly{}) })
	require.NoError(t, k.Check(Layer{Params: k.Defaults()}))
}
