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

func TestTrafficAnomalyErrors(t *testing.T) {
	cfg := Layer{Source: "esm.yaml", Params: json.RawMessage(`{"seasonality": "daily"}`), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"unknown parameter", []Layer{annotation(`{"deviation": 3}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: unknown parameter "deviation" for @traffic_anomaly_monitor: did you mean "deviations"?`},
		{"unknown parameter, nothing close", []Layer{annotation(`{"colour": 3}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: unknown parameter "colour" for @traffic_anomaly_monitor; known parameters: alert_window, algorithm,`},
		{"wrong type", []Layer{annotation(`{"deviations": "3"}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: parameter "deviations" of @traffic_anomaly_monitor must be a number, not string`},
		{"not an object", []Layer{annotation(`3`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor takes an object of parameters`},
		{"bad algorithm", []Layer{annotation(`{"algorithm": "smart"}`)}, `schemas/cart.avdl:12:3: algorithm must be one of basic, agile, robust, not "smart"`},
		{"zero deviations", []Layer{annotation(`{"deviations": 0}`)}, `deviations must be greater than 0`},
		{"bad window", []Layer{annotation(`{"alert_window": "15m"}`)}, `alert_window must look like last_15m`},
		{"interval over alert window", []Layer{annotation(`{"interval": 300}`)}, `schemas/cart.avdl:12:3: interval 300 s is over a fifth of alert_window last_15m (180 s)`},
		{"seasonality with basic, set in the file", []Layer{cfg, annotation(`{"algorithm": "basic"}`)}, `schemas/cart.avdl:12:3: seasonality "daily" cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality (seasonality is set at esm.yaml:4:7; "seasonality": null here clears it)`},
		{"priority", []Layer{annotation(`{"priority": 7}`)}, `priority must be 1 (highest) to 5, not 7`},
		{"bad tag", []Layer{annotation(`{"tags": ["9lives"]}`)}, `tag "9lives" is not a valid Datadog tag: a tag starts with a letter`},
		{"tag with a space", []Layer{annotation(`{"tags": ["team cart"]}`)}, `tag "team cart" is not a valid Datadog tag: a tag holds only letters, digits and _ - : . / (not ' ')`},
		{"tag ending with a colon", []Layer{annotation(`{"tags": ["team:"]}`)}, `tag "team:" is not a valid Datadog tag: a tag cannot end with a colon`},
		{"identity tag", []Layer{annotation(`{"tags": ["esm-prod"]}`)}, `schemas/cart.avdl:12:3: tag "esm-prod" is reserved: esm-*, esm_* and managed_by:esm are esm's own tags`},
		{"record tag", []Layer{annotation(`{"tags": ["esm_record:com.x.Other"]}`)}, `tag "esm_record:com.x.Other" is reserved`},
		{"managed_by tag", []Layer{annotation(`{"tags": ["Managed_By:ESM"]}`)}, `tag "Managed_By:ESM" is reserved`},
		{"alert window over 24 hours", []Layer{annotation(`{"alert_window": "last_3w"}`)}, `alert_window last_3w is longer than Datadog accepts for an anomaly monitor (at most 24 hours)`},
		{"alert window under 15 minutes", []Layer{annotation(`{"alert_window": "last_10m", "interval": 60}`)}, `alert_window last_10m is shorter than Datadog accepts for an anomaly monitor (at least 15 minutes)`},
		{"query window over a month", []Layer{annotation(`{"query_window": "last_10w"}`)}, `query_window last_10w is longer than Datadog accepts for an anomaly monitor (at most 30 days)`},
		{"escalation without renotification", []Layer{annotation(`{"escalation_message": "still broken"}`)}, `schemas/cart.avdl:12:3: escalation_message needs renotify_interval`},
		{"escalation with renotification off in the file", []Layer{{Source: "esm.yaml", Params: json.RawMessage(`{"escalation_message": "still broken"}`), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}, annotation(`{"renotify_interval": 0}`)}, `schemas/cart.avdl:12:3: escalation_message needs renotify_interval: Datadog sends it only with renotifications, and renotify_interval is 0 (never) (escalation_message is set at esm.yaml:4:7)`},
		{"deviations overflow", []Layer{annotation(`{"deviations": 1e400}`)}, `schemas/cart.avdl:12:3: @traffic_anomaly_monitor: deviations: 1e400 is out of range`},
		{"interval overflow", []Layer{annotation(`{"interval": 99999999999999999999}`)}, `interval: 99999999999999999999 is out of range`},
		{"common parameter of the wrong type", []Layer{annotation(`{"timeout_h": "2"}`)}, `parameter "timeout_h" of @traffic_anomaly_monitor must be an integer, not string`},
		{"interval not whole", []Layer{annotation(`{"interval": 1.5}`)}, `parameter "interval" of @traffic_anomaly_monitor must be an integer, not number 1.5`},
		{"query shorter than alert", []Layer{annotation(`{"query_window": "last_5m", "interval": 60}`)}, `query_window last_5m is shorter than alert_window last_15m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficAnomaly().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTrafficAnomalyParameterPositions: a problem with a parameter is
// reported at its value when the layer knows where the value is.
func TestTrafficAnomalyParameterPositions(t *testing.T) {
	at := func(line, col int) Position { return Position{File: "schemas/cart.avdl", Line: line, Column: col} }
	layer := func(params string, pos map[string]Position) Layer {
		l := annotation(params)
		l.ParamPos = pos
		return l
	}
	tests := []struct {
		name  string
		layer Layer
		want  string
	}{
		{"range", layer(`{"priority": 9}`, map[string]Position{"priority": at(12, 41)}), "schemas/cart.avdl:12:41: priority must be 1"},
		{"type", layer(`{"deviations": "3"}`, map[string]Position{"deviations": at(13, 20)}), "schemas/cart.avdl:13:20: @traffic_anomaly_monitor: parameter \"deviations\""},
		{"unknown", layer(`{"deviation": 3}`, map[string]Position{"deviation": at(14, 5)}), "schemas/cart.avdl:14:5: @traffic_anomaly_monitor: unknown parameter"},
		{"combination", layer(`{"escalation_message": "x"}`, map[string]Position{"escalation_message": at(15, 9)}), "schemas/cart.avdl:15:9: escalation_message needs renotify_interval"},
		{"array item", layer(`{"tags": ["ok:1", "esm-prod"]}`, map[string]Position{"tags": at(17, 30), "tags.1": at(17, 38)}), "schemas/cart.avdl:17:38: tag \"esm-prod\" is reserved"},
		{"array without item positions", layer(`{"tags": ["ok:1", "esm-prod"]}`, map[string]Position{"tags": at(18, 30)}), "schemas/cart.avdl:18:30: tag \"esm-prod\" is reserved"},
		{"other parameter", layer(`{"priority": 9}`, map[string]Position{"deviations": at(16, 9)}), "schemas/cart.avdl:12:3: priority must be 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficAnomaly().Spec(target(), []Layer{tt.layer})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTrafficAnomalyWindowsDatadogAccepts: the bounds themselves pass.
func TestTrafficAnomalyWindowsDatadogAccepts(t *testing.T) {
	for _, params := range []string{
		`{"alert_window": "last_15m", "query_window": "last_30d"}`,
		`{"alert_window": "last_24h", "query_window": "last_1w", "interval": 300}`,
		`{"alert_window": "last_1d", "query_window": "last_4w", "interval": 300}`,
		`{"escalation_message": "still broken", "renotify_interval": 60}`,
	} {
		t.Run(params, func(t *testing.T) {
			_, err := TrafficAnomaly().Spec(target(), []Layer{annotation(params)})
			assert.NoError(t, err)
		})
	}
}

func TestDatadogTag(t *testing.T) {
	long := strings.Repeat("a", 250)
	tests := []struct{ in, want string }{
		{"event_type:AddToCartEvent", "event_type:addtocartevent"},
		{"esm_file:Schemas Dir/My Cart.avdl", "esm_file:schemas_dir/my_cart.avdl"},
		{"esm_record:com.example.Legacy__Event_", "esm_record:com.example.legacy_event"},
		{"  team:cart  ", "team:cart"},
		{"env:a b,x}", "env:a_b_x"},
		{"team:a&&b", "team:a_b"},
		{"Équipe:Panier", "équipe:panier"},
		{"9lives", "lives"},
		{"_x", "x"},
		{long, long[:MaxTagLength]},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := DatadogTag(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, DatadogTag(got), "normalising twice changes nothing")
		})
	}
}

func TestCheckTagAndMetricName(t *testing.T) {
	tests := []struct {
		check          func(string) error
		value, problem string
	}{
		{CheckTag, "team:cart", ""},
		{CheckTag, "Team:Cart", ""},
		{CheckTag, "tier:1/a.b-c_d", ""},
		{CheckTag, "équipe:panier", ""},
		{CheckTag, "", "a tag cannot be empty"},
		{CheckTag, "1team", "a tag starts with a letter"},
		{CheckTag, "team cart", "a tag holds only letters, digits and _ - : . / (not ' ')"},
		{CheckTag, "env:a,b", "a tag holds only letters, digits and _ - : . / (not ',')"},
		{CheckTag, "team:", "a tag cannot end with a colon"},
		{CheckTag, strings.Repeat("a", 201), "a tag is at most 200 characters long"},
		{CheckMetricName, "esm.events.received", ""},
		{CheckMetricName, "Shop_Events.v2", ""},
		{CheckMetricName, "", "a metric name cannot be empty"},
		{CheckMetricName, "2fast", "a metric name starts with an ASCII letter"},
		{CheckMetricName, "x y", "a metric name holds only ASCII letters, digits, _ and . (not ' ')"},
		{CheckMetricName, "shop-events", "a metric name holds only ASCII letters, digits, _ and . (not '-')"},
		{CheckMetricName, "a{b}", "a metric name holds only ASCII letters, digits, _ and . (not '{')"},
		{CheckMetricName, strings.Repeat("a", 201), "a metric name is at most 200 characters long"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			err := tt.check(tt.value)
			if tt.problem == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tt.problem)
			}
		})
	}
	for _, tag := range []string{"esm-prod", "ESM-staging", "esm_record:x", "esm_file:a", "managed_by:esm", "Managed_By:ESM"} {
		assert.True(t, IsReservedTag(tag), tag)
	}
	for _, tag := range []string{"esmx", "team:esm", "managed_by:terraform", "env:esm-prod"} {
		assert.False(t, IsReservedTag(tag), tag)
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

func TestChannels(t *testing.T) {
	c, err := ParseChannels(json.RawMessage(`{"warning": "slack-cart", "critical": ["pagerduty-cart"], "all": "team-a", "no_data": "b"}`), Position{})
	require.NoError(t, err)
	assert.Equal(t, Channels{Always: []string{"team-a"}, Critical: []string{"pagerduty-cart"}, Warning: []string{"slack-cart"}, NoData: []string{"b"}}, c)
	for _, bad := range []string{`3`, `""`, `{"urgent": "x"}`, `{}`, `[1]`} {
		_, err := ParseChannels(json.RawMessage(bad), Position{File: "a.avdl", Line: 1, Column: 1})
		require.Error(t, err, bad)
		assert.True(t, strings.HasPrefix(err.Error(), "a.avdl:1:1: @alert_channel"), err.Error())
	}
}

// The anomaly kind's spec holds the resolved parameters: the built-in
// defaults under the layers, later layers winning field by field.
func TestTrafficAnomalySpec(t *testing.T) {
	layers := []Layer{
		{Source: "esm.yaml", Params: json.RawMessage(`{"deviations": 4, "algorithm": "robust"}`), Pos: Position{File: "esm.yaml", Line: 3}},
		annotation(`{"deviations": 3, "notify_no_data": true, "tags": ["tier:1"], "message": "  look  "}`),
	}
	s, err := TrafficAnomaly().Spec(target(), layers)
	require.NoError(t, err)
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", s.Name)
	assert.Equal(t, TrafficAnomalyAnnotation, s.Kind)
	assert.Equal(t, &TrafficAnomalySpec{Deviations: 3, Algorithm: "robust", Direction: "both", AlertWindow: "last_15m",
		Interval: 60, Seasonality: "weekly", QueryWindow: "last_4h", CountDefaultZero: true}, s.Params)
	assert.Equal(t, Common{Tags: []string{"tier:1"}, Message: "look", NotifyNoData: true, NoDataTimeframe: 480, IncludeTags: true}, s.Common)
	assert.Equal(t, []string{"env:prod", "event_type:addtocartevent", "managed_by:esm", "team:cart", "tier:1"}, s.Tags(), "no kind tag on the first kind")

	basic, err := TrafficAnomaly().Spec(target(), []Layer{annotation(`{"algorithm": "basic"}`)})
	require.NoError(t, err)
	assert.Empty(t, basic.Params.(*TrafficAnomalySpec).Seasonality, "the default seasonality does not apply to basic")
}

// TestLayerConflictsBlameTheMoreSpecificLayer: a conflict between two
// layers is reported at the value of the more specific one (the
// annotation the user edits), with the other layer's position as a
// related position, not at an esm.yaml line the user did not touch.
func TestLayerConflictsBlameTheMoreSpecificLayer(t *testing.T) {
	yamlAt := func(line, col int) Position { return Position{File: "esm.yaml", Line: line, Column: col} }
	avdlAt := func(line, col int) Position { return Position{File: "schemas/cart.avdl", Line: line, Column: col} }
	file := Layer{Source: "esm.yaml", Pos: yamlAt(12, 3),
		Params:   json.RawMessage(`{"algorithm": "agile", "seasonality": "weekly", "query_window": "last_4h"}`),
		ParamPos: map[string]Position{"algorithm": yamlAt(13, 16), "seasonality": yamlAt(18, 18), "query_window": yamlAt(19, 19)}}
	ann := func(params string, pos map[string]Position) Layer {
		l := annotation(params)
		l.ParamPos = pos
		return l
	}
	tests := []struct {
		name    string
		layers  []Layer
		want    string
		related []Position
	}{
		{"alert window over the file's query window",
			[]Layer{file, ann(`{"alert_window": "last_1d"}`, map[string]Position{"alert_window": avdlAt(12, 44)})},
			`schemas/cart.avdl:12:44: query_window last_4h is shorter than alert_window last_1d (query_window is set at esm.yaml:19:19)`,
			[]Position{yamlAt(19, 19)}},
		{"basic algorithm with the file's seasonality",
			[]Layer{file, ann(`{"algorithm": "basic"}`, map[string]Position{"algorithm": avdlAt(12, 41)})},
			`schemas/cart.avdl:12:41: seasonality "weekly" cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality (seasonality is set at esm.yaml:18:18; "seasonality": null here clears it)`,
			[]Position{yamlAt(18, 18)}},
		{"seasonality in the annotation with the file's basic algorithm",
			[]Layer{{Source: "esm.yaml", Pos: yamlAt(12, 3), Params: json.RawMessage(`{"algorithm": "basic"}`), ParamPos: map[string]Position{"algorithm": yamlAt(13, 16)}},
				ann(`{"seasonality": "daily"}`, map[string]Position{"seasonality": avdlAt(12, 43)})},
			`schemas/cart.avdl:12:43: seasonality "daily" cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality (algorithm is set at esm.yaml:13:16)`,
			[]Position{yamlAt(13, 16)}},
		{"both in one layer",
			[]Layer{ann(`{"alert_window": "last_1d", "query_window": "last_4h"}`, map[string]Position{"alert_window": avdlAt(12, 44), "query_window": avdlAt(12, 60)})},
			`schemas/cart.avdl:12:60: query_window last_4h is shorter than alert_window last_1d (alert_window is set at schemas/cart.avdl:12:44)`,
			[]Position{avdlAt(12, 44)}},
		{"the other value is a built-in default",
			[]Layer{ann(`{"alert_window": "last_1d"}`, map[string]Position{"alert_window": avdlAt(12, 44)})},
			`schemas/cart.avdl:12:44: query_window last_4h is shorter than alert_window last_1d`,
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficAnomaly().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.related, ae.Related)
		})
	}
}

// TestNullClearsAnInheritedValue: "param": null in a layer takes back what
// the layers below set: the parameter is back to its built-in default, or
// unset when it has none.
func TestNullClearsAnInheritedValue(t *testing.T) {
	file := Layer{Source: "esm.yaml", Pos: Position{File: "esm.yaml", Line: 12, Column: 3},
		Params: json.RawMessage(`{"seasonality": "daily", "deviations": 4, "priority": 2}`)}
	s, err := TrafficAnomaly().Spec(target(), []Layer{file, annotation(`{"algorithm": "basic", "seasonality": null}`)})
	require.NoError(t, err)
	p := s.Params.(*TrafficAnomalySpec)
	assert.Equal(t, "basic", p.Algorithm)
	assert.Empty(t, p.Seasonality, "basic has no seasonality once the inherited one is cleared")
	assert.Equal(t, 4.0, p.Deviations, "other inherited values stay")

	s, err = TrafficAnomaly().Spec(target(), []Layer{file, annotation(`{"deviations": null, "priority": null}`)})
	require.NoError(t, err)
	p = s.Params.(*TrafficAnomalySpec)
	assert.Equal(t, 2.0, p.Deviations, "null goes back to the built-in default")
	assert.Equal(t, "daily", p.Seasonality)
	assert.Zero(t, s.Common.Priority, "a parameter without a built-in default is unset")

	// A later layer may set it again.
	s, err = TrafficAnomaly().Spec(target(), []Layer{file, annotation(`{"seasonality": null}`), annotation(`{"seasonality": "hourly"}`)})
	require.NoError(t, err)
	assert.Equal(t, "hourly", s.Params.(*TrafficAnomalySpec).Seasonality)
}

// TestTrafficAnomalyReportsEveryCombination: the combinations Datadog
// rejects are reported together, not one per run.
func TestTrafficAnomalyReportsEveryCombination(t *testing.T) {
	_, err := TrafficAnomaly().Spec(target(), []Layer{annotation(`{"algorithm": "basic", "seasonality": "daily", "query_window": "last_5m", "interval": 300}`)})
	require.Error(t, err)
	for _, want := range []string{`seasonality "daily" cannot be used with the basic algorithm`, `interval 300 s is over a fifth of alert_window last_15m`, `query_window last_5m is shorter than alert_window last_15m`} {
		assert.Contains(t, err.Error(), want)
	}
}
