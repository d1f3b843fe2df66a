package datadog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func target() annotations.Target {
	return annotations.Target{
		Record: "AddToCartEvent", FullName: "com.example.shop.AddToCartEvent", Doc: "A shopper added an item.",
		File: "schemas/cart.avdl", Line: 12,
		Env:      annotations.Environment{Name: "prod", Metric: "esm.events.received", EnvTag: "prod", Tags: []string{"Team:Cart"}, MessageFooter: "Runbook: https://wiki/esm"},
		Channels: annotations.Channels{Always: []string{"team-cart"}},
	}
}

func annotation(params string) annotations.Layer {
	return annotations.Layer{Source: "@traffic_anomaly_monitor", Params: json.RawMessage(params), Pos: annotations.Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
}

// rendered renders the anomaly monitor the layers ask for target.
func rendered(t *testing.T, tg annotations.Target, layers []annotations.Layer) monitor.Definition {
	t.Helper()
	s, err := annotations.TrafficAnomaly().Spec(tg, layers)
	require.NoError(t, err)
	m, err := Render(s)
	require.NoError(t, err)
	return m
}

func TestTrafficAnomalyDefaults(t *testing.T) {
	m := rendered(t, target(), []annotations.Layer{annotation(`{}`)})
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", m.Name)
	assert.Equal(t, "query alert", m.Type)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count(), 'agile', 2, direction='both', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", m.Query)
	assert.Equal(t, []string{"env:prod", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
	assert.Equal(t, 1.0, *m.Options.Thresholds.Critical)
	assert.Equal(t, 0.0, *m.Options.Thresholds.CriticalRecovery)
	assert.Nil(t, m.Options.Thresholds.Warning)
	assert.Equal(t, &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"}, m.Options.ThresholdWindows)
	assert.True(t, m.Options.IncludeTags)
	assert.False(t, m.Options.NotifyNoData)
	assert.Contains(t, m.Message, "@slack-team-cart")
	assert.Contains(t, m.Message, "A shopper added an item.")
	assert.Contains(t, m.Message, "schemas/cart.avdl")
	assert.True(t, strings.HasSuffix(m.Message, "Runbook: https://wiki/esm"))
}

func TestTrafficAnomalyLayers(t *testing.T) {
	layers := []annotations.Layer{
		{Source: "esm.yaml", Params: json.RawMessage(`{"deviations": 4, "algorithm": "robust"}`), Pos: annotations.Position{File: "esm.yaml", Line: 3}},
		{Source: "environment prod", Params: json.RawMessage(`{"deviations": 3}`), Pos: annotations.Position{File: "esm.yaml", Line: 9}},
		annotation(`{"direction": "above", "interval": 120, "alert_window": "last_30m", "priority": 2, "tags": ["tier:1"], "notify_no_data": true}`),
	}
	m := rendered(t, target(), layers)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count(), 'robust', 3, direction='above', alert_window='last_30m', interval=120, count_default_zero='true', seasonality='weekly') >= 1", m.Query)
	assert.Equal(t, int64(2), m.Priority)
	assert.Contains(t, m.Tags, "tier:1")
	assert.True(t, m.Options.NotifyNoData)
	assert.Equal(t, int64(480), m.Options.NoDataTimeframe)
}

func TestTrafficAnomalyBasicOmitsSeasonality(t *testing.T) {
	m := rendered(t, target(), []annotations.Layer{annotation(`{"algorithm": "basic", "deviations": 2.5}`)})
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count(), 'basic', 2.5, direction='both', alert_window='last_15m', interval=60, count_default_zero='true') >= 1", m.Query)
}

// TestTrafficAnomalyTagFilters: the query filters on, and the monitor
// carries, the tags in the form Datadog stores them, whatever the case of
// the record and the environment tag, and a value cannot break out of the
// query's braces.
func TestTrafficAnomalyTagFilters(t *testing.T) {
	tests := []struct {
		record, envTag, filter, eventTag string
	}{
		{"AddToCartEvent", "prod", "{event_type:addtocartevent,env:prod}", "event_type:addtocartevent"},
		{"Checkout_V2", "Prod-EU", "{event_type:checkout_v2,env:prod-eu}", "event_type:checkout_v2"},
		{"Legacy__Event_", "prod", "{event_type:legacy_event,env:prod}", "event_type:legacy_event"},
		{"AddToCartEvent", "a b,x}", "{event_type:addtocartevent,env:a_b_x}", "event_type:addtocartevent"},
	}
	for _, tt := range tests {
		t.Run(tt.record+" "+tt.envTag, func(t *testing.T) {
			tg := target()
			tg.Record, tg.Env.EnvTag = tt.record, tt.envTag
			m := rendered(t, tg, []annotations.Layer{annotation(`{}`)})
			assert.Contains(t, m.Query, "sum:esm.events.received"+tt.filter+".as_count()")
			assert.Equal(t, 1, strings.Count(m.Query, "{"), m.Query)
			assert.Contains(t, m.Tags, tt.eventTag)
			assert.Contains(t, m.Message, "esm.events.received{"+tt.eventTag+"}")
			for _, tag := range m.Tags {
				assert.Equal(t, annotations.DatadogTag(tag), tag, "tags are in Datadog's form")
			}
		})
	}
}

func TestHandles(t *testing.T) {
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
		c, err := annotations.ParseChannels(json.RawMessage(tt.value), annotations.Position{})
		require.NoError(t, err, tt.value)
		assert.Equal(t, tt.want, Handles(c), tt.value)
	}
}
