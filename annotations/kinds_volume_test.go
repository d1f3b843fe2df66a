package annotations

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// layerAt is a layer from source written at file:line:3, with the
// positions of its values when pos names them.
func layerAt(source, file string, line int, params string, pos map[string]Position) Layer {
	return Layer{Source: source, Params: json.RawMessage(params), Pos: Position{File: file, Line: line, Column: 3}, ParamPos: pos}
}

func volumeAnnotation(params string) Layer {
	return layerAt("@traffic_volume_monitor", "schemas/cart.avdl", 12, params, nil)
}

func badDataAnnotation(params string) Layer {
	return layerAt("@bad_data_monitor", "schemas/cart.avdl", 12, params, nil)
}

func float(f float64) *float64 { return &f }

func TestTrafficVolumeSpec(t *testing.T) {
	cfg := func(params string) Layer { return layerAt("esm.yaml defaults", "esm.yaml", 4, params, nil) }
	env := func(params string) Layer { return layerAt("esm.yaml environment prod", "esm.yaml", 9, params, nil) }
	tests := []struct {
		name   string
		layers []Layer
		want   TrafficVolumeSpec
	}{
		{"defaults: no event in the last hour", []Layer{volumeAnnotation(`{}`)}, TrafficVolumeSpec{Direction: "below", Threshold: 1, Window: "last_1h"}},
		{"below with a warning", []Layer{volumeAnnotation(`{"below": 10, "warning": 50, "window": "last_2h"}`)},
			TrafficVolumeSpec{Direction: "below", Threshold: 10, Warning: float(50), Window: "last_2h"}},
		{"above replaces the default below", []Layer{volumeAnnotation(`{"above": 1000}`)}, TrafficVolumeSpec{Direction: "above", Threshold: 1000, Window: "last_1h"}},
		{"above with a warning", []Layer{volumeAnnotation(`{"above": 1000, "warning": 800}`)},
			TrafficVolumeSpec{Direction: "above", Threshold: 1000, Warning: float(800), Window: "last_1h"}},
		{"above replaces a lower layer's below and its warning", []Layer{cfg(`{"below": 5, "warning": 20, "window": "last_30m"}`), volumeAnnotation(`{"above": 0}`)},
			TrafficVolumeSpec{Direction: "above", Threshold: 0, Window: "last_30m"}},
		{"below replaces a lower layer's above", []Layer{cfg(`{"above": 100}`), env(`{"below": 3}`)},
			TrafficVolumeSpec{Direction: "below", Threshold: 3, Window: "last_1h"}},
		{"a warning over the side a lower layer chose", []Layer{cfg(`{"above": 100}`), volumeAnnotation(`{"warning": 90}`)},
			TrafficVolumeSpec{Direction: "above", Threshold: 100, Warning: float(90), Window: "last_1h"}},
		{"the same side again keeps the warning", []Layer{cfg(`{"below": 5, "warning": 20}`), volumeAnnotation(`{"below": 10}`)},
			TrafficVolumeSpec{Direction: "below", Threshold: 10, Warning: float(20), Window: "last_1h"}},
		{"window bounds", []Layer{volumeAnnotation(`{"window": "last_1m"}`)}, TrafficVolumeSpec{Direction: "below", Threshold: 1, Window: "last_1m"}},
		{"a month", []Layer{volumeAnnotation(`{"window": "last_30d"}`)}, TrafficVolumeSpec{Direction: "below", Threshold: 1, Window: "last_30d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := TrafficVolume().Spec(target(), tt.layers)
			require.NoError(t, err)
			assert.Equal(t, &tt.want, s.Params)
		})
	}

	s, err := TrafficVolume().Spec(target(), []Layer{volumeAnnotation(`{"notify_no_data": true, "window": "last_2h", "tags": ["tier:1"]}`)})
	require.NoError(t, err)
	assert.Equal(t, "Traffic Volume with AddToCartEvent", s.Name)
	assert.Equal(t, TrafficVolumeAnnotation, s.Kind)
	assert.Equal(t, Common{Tags: []string{"tier:1"}, NotifyNoData: true, NoDataTimeframe: 240, IncludeTags: true}, s.Common, "no data after 2 × the window; no full window needed")
	assert.Equal(t, []string{"env:prod", "esm_kind:traffic_volume", "event_type:addtocartevent", "managed_by:esm", "team:cart", "tier:1"}, s.Tags())
}

func TestTrafficVolumeErrors(t *testing.T) {
	at := func(line, col int) Position { return Position{File: "schemas/cart.avdl", Line: line, Column: col} }
	cfg := layerAt("esm.yaml defaults", "esm.yaml", 4, `{"below": 1, "warning": 5}`, map[string]Position{"warning": {File: "esm.yaml", Line: 6, Column: 14}})
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"unknown parameter", []Layer{volumeAnnotation(`{"bellow": 3}`)}, `schemas/cart.avdl:12:3: @traffic_volume_monitor: unknown parameter "bellow" for @traffic_volume_monitor: did you mean "below"?`},
		{"wrong type", []Layer{volumeAnnotation(`{"below": "3"}`)}, `schemas/cart.avdl:12:3: @traffic_volume_monitor: parameter "below" of @traffic_volume_monitor must be a number, not string`},
		{"both sides in one layer", []Layer{layerAt("@traffic_volume_monitor", "schemas/cart.avdl", 12, `{"below": 3, "above": 10}`, map[string]Position{"below": at(12, 36), "above": at(12, 49)})},
			`schemas/cart.avdl:12:49: @traffic_volume_monitor: above and below cannot both be set: a traffic volume monitor alerts on one side of its threshold (below is set at schemas/cart.avdl:12:36)`},
		{"below zero never alerts", []Layer{volumeAnnotation(`{"below": 0}`)}, `schemas/cart.avdl:12:3: below must be between 1 and 1e+15 events, not 0`},
		{"negative above", []Layer{volumeAnnotation(`{"above": -1}`)}, `above must be between 0 and 1e+15 events, not -1`},
		{"huge above", []Layer{volumeAnnotation(`{"above": 1e16}`)}, `above must be between 0 and 1e+15 events, not 1e+16`},
		{"fraction of an event", []Layer{volumeAnnotation(`{"below": 2.5}`)}, `below is a count of events: it must be a whole number, not 2.5`},
		{"warning below a below threshold", []Layer{layerAt("@traffic_volume_monitor", "schemas/cart.avdl", 12, `{"below": 10, "warning": 5}`, map[string]Position{"warning": at(12, 40)})},
			`schemas/cart.avdl:12:40: warning 5 must be greater than below 10`},
		{"warning equal to the threshold", []Layer{volumeAnnotation(`{"below": 10, "warning": 10}`)}, `warning 10 must be greater than below 10`},
		{"warning above an above threshold", []Layer{volumeAnnotation(`{"above": 100, "warning": 200}`)}, `schemas/cart.avdl:12:3: warning 200 must be less than above 100`},
		{"the file's warning against the record's below", []Layer{cfg, volumeAnnotation(`{"below": 10}`)}, `schemas/cart.avdl:12:3: warning 5 must be greater than below 10: it warns before the count falls below the critical threshold (warning is set at esm.yaml:6:14)`},
		{"window too short", []Layer{volumeAnnotation(`{"window": "last_0m"}`)}, `window must look like last_15m, last_4h or last_1d, not "last_0m"`},
		{"window over a month", []Layer{volumeAnnotation(`{"window": "last_5w"}`)}, `window last_5w is longer than Datadog accepts for a metric monitor (at most 30 days)`},
		{"common parameter", []Layer{volumeAnnotation(`{"priority": 0}`)}, `priority must be 1 (highest) to 5, not 0`},
		{"escalation without renotification", []Layer{volumeAnnotation(`{"escalation_message": "still quiet"}`)}, `escalation_message needs renotify_interval`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficVolume().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTrafficVolumeCheck: a layer on its own (an esm.yaml defaults block)
// is checked at its values, both sides included.
func TestTrafficVolumeCheck(t *testing.T) {
	pos := map[string]Position{"below": {File: "esm.yaml", Line: 5, Column: 12}, "above": {File: "esm.yaml", Line: 6, Column: 12}, "window": {File: "esm.yaml", Line: 7, Column: 13}}
	err := TrafficVolume().Check(layerAt("defaults", "esm.yaml", 4, `{"below": 1, "above": 5, "window": "last_2y"}`, pos))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `esm.yaml:6:12: defaults: above and below cannot both be set`)
	assert.Contains(t, err.Error(), `esm.yaml:7:13: defaults: window must look like last_15m`)
	assert.NoError(t, TrafficVolume().Check(layerAt("defaults", "esm.yaml", 4, `{"above": 5, "warning": 3}`, nil)))
	assert.NoError(t, TrafficVolume().Check(Layer{Params: TrafficVolume().Defaults()}))
}

func TestBadDataSpec(t *testing.T) {
	tests := []struct {
		name   string
		layers []Layer
		want   BadDataSpec
	}{
		{"defaults", []Layer{badDataAnnotation(`{}`)}, BadDataSpec{Above: 0.05, Window: "last_15m"}},
		{"all set", []Layer{badDataAnnotation(`{"above": 0.2, "warning": 0.1, "window": "last_1h"}`)}, BadDataSpec{Above: 0.2, Warning: float(0.1), Window: "last_1h"}},
		{"everything rejected", []Layer{badDataAnnotation(`{"above": 1}`)}, BadDataSpec{Above: 1, Window: "last_15m"}},
		{"layers", []Layer{layerAt("esm.yaml defaults", "esm.yaml", 4, `{"above": 0.5, "warning": 0.25}`, nil), badDataAnnotation(`{"window": "last_5m"}`)},
			BadDataSpec{Above: 0.5, Warning: float(0.25), Window: "last_5m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := BadData().Spec(target(), tt.layers)
			require.NoError(t, err)
			assert.Equal(t, &tt.want, s.Params)
		})
	}
	s, err := BadData().Spec(target(), []Layer{badDataAnnotation(`{"notify_no_data": true}`)})
	require.NoError(t, err)
	assert.Equal(t, "Bad Data with AddToCartEvent", s.Name)
	assert.Equal(t, int64(30), s.Common.NoDataTimeframe, "2 × last_15m")
	assert.False(t, s.Common.RequireFullWindow)
	assert.Contains(t, s.Tags(), "esm_kind:bad_data")
}

func TestBadDataErrors(t *testing.T) {
	at := func(line, col int) Position { return Position{File: "schemas/cart.avdl", Line: line, Column: col} }
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"unknown parameter", []Layer{badDataAnnotation(`{"below": 0.1}`)}, `schemas/cart.avdl:12:3: @bad_data_monitor: unknown parameter "below" for @bad_data_monitor; known parameters: above,`},
		{"wrong type", []Layer{badDataAnnotation(`{"above": "5%"}`)}, `parameter "above" of @bad_data_monitor must be a number, not string`},
		{"a percentage, not a share", []Layer{layerAt("@bad_data_monitor", "schemas/cart.avdl", 12, `{"above": 5}`, map[string]Position{"above": at(12, 31)})},
			`schemas/cart.avdl:12:31: above is a share of the events, from 0.0001 to 1 (0.05 is 5%), not 5`},
		{"zero", []Layer{badDataAnnotation(`{"above": 0}`)}, `above is a share of the events, from 0.0001 to 1`},
		{"too small to write", []Layer{badDataAnnotation(`{"above": 0.00001}`)}, `above is a share of the events, from 0.0001 to 1 (0.05 is 5%), not 1e-05`},
		{"negative warning", []Layer{badDataAnnotation(`{"warning": -0.1}`)}, `warning is a share of the events`},
		{"warning not under above", []Layer{layerAt("@bad_data_monitor", "schemas/cart.avdl", 12, `{"above": 0.1, "warning": 0.1}`, map[string]Position{"warning": at(12, 45)})},
			`schemas/cart.avdl:12:45: warning 0.1 must be less than above 0.1`},
		{"the file's warning over the record's above", []Layer{layerAt("esm.yaml defaults", "esm.yaml", 4, `{"warning": 0.2}`, nil), badDataAnnotation(`{"above": 0.1}`)},
			`schemas/cart.avdl:12:3: warning 0.2 must be less than above 0.1: it warns before the share reaches the critical threshold (warning is set at esm.yaml:4:3)`},
		{"window", []Layer{badDataAnnotation(`{"window": "15m"}`)}, `window must look like last_15m`},
		{"window over a month", []Layer{badDataAnnotation(`{"window": "last_31d"}`)}, `window last_31d is longer than Datadog accepts for a metric monitor (at most 30 days)`},
		{"reserved tag", []Layer{badDataAnnotation(`{"tags": ["esm_kind:x"]}`)}, `tag "esm_kind:x" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BadData().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.NoError(t, BadData().Check(Layer{Params: BadData().Defaults()}))
}

func TestVolumeKindsRegistered(t *testing.T) {
	for _, name := range []string{TrafficVolumeAnnotation, BadDataAnnotation} {
		k, ok := Lookup(name)
		require.True(t, ok, name)
		assert.Equal(t, name, k.Annotation())
		assert.True(t, IsMonitorAnnotation(name))
	}
}
