package annotations

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func forecastAnnotation(params string) Layer {
	return Layer{Source: "@traffic_forecast_monitor", Params: json.RawMessage(params), Pos: Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
}

func TestTrafficForecastSpecDefaults(t *testing.T) {
	s, err := TrafficForecast().Spec(target(), []Layer{forecastAnnotation(`{"below": 100}`)})
	require.NoError(t, err)
	assert.Equal(t, TrafficForecastAnnotation, s.Kind)
	assert.Equal(t, "Traffic Forecast with AddToCartEvent", s.Name)
	assert.Equal(t, &TrafficForecastSpec{Algorithm: "linear", Deviations: 1, Horizon: "next_1w", Interval: "60m",
		Direction: "below", Threshold: 100}, s.Params, "linear: no seasonality, history and model left to Datadog")
	assert.Equal(t, Common{IncludeTags: true}, s.Common)
	assert.Contains(t, s.Tags(), "esm_kind:traffic_forecast")

	seasonal, err := TrafficForecast().Spec(target(), []Layer{forecastAnnotation(`{"algorithm": "seasonal", "above": 5000, "warning": 4000, "notify_no_data": true}`)})
	require.NoError(t, err)
	w := 4000.0
	assert.Equal(t, &TrafficForecastSpec{Algorithm: "seasonal", Deviations: 1, Horizon: "next_1w", Interval: "60m",
		Seasonality: "weekly", Direction: "above", Threshold: 5000, Warning: &w}, seasonal.Params)
	assert.Equal(t, int64(2*7*24*60), seasonal.Common.NoDataTimeframe, "2 × the horizon")
}

// TestTrafficForecastDirectionLayers: above and below are one parameter
// in two directions; a higher layer that sets one replaces the other.
func TestTrafficForecastDirectionLayers(t *testing.T) {
	cfg := Layer{Source: "esm.yaml", Params: json.RawMessage(`{"below": 10, "horizon": "next_1d"}`), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}
	tests := []struct {
		name      string
		layers    []Layer
		direction string
		threshold float64
	}{
		{"from the file", []Layer{cfg, forecastAnnotation(`{}`)}, "below", 10},
		{"annotation replaces the file's other direction", []Layer{cfg, forecastAnnotation(`{"above": 900}`)}, "above", 900},
		{"annotation changes the file's value", []Layer{cfg, forecastAnnotation(`{"below": 3}`)}, "below", 3},
		{"protocol then record", []Layer{cfg, forecastAnnotation(`{"above": 1}`), forecastAnnotation(`{"below": 2}`)}, "below", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := TrafficForecast().Spec(target(), tt.layers)
			require.NoError(t, err)
			p := s.Params.(*TrafficForecastSpec)
			assert.Equal(t, tt.direction, p.Direction)
			assert.Equal(t, tt.threshold, p.Threshold)
			assert.Equal(t, "next_1d", p.Horizon)
		})
	}
}

func TestTrafficForecastErrors(t *testing.T) {
	cfg := func(params string) Layer {
		return Layer{Source: "esm.yaml", Params: json.RawMessage(params), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}
	}
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"no threshold", []Layer{forecastAnnotation(`{}`)}, `schemas/cart.avdl:12:3: @traffic_forecast_monitor needs a threshold: above`},
		{"no threshold anywhere", []Layer{cfg(`{"deviations": 2}`), forecastAnnotation(`{"horizon": "next_1d"}`)}, `schemas/cart.avdl:12:3: @traffic_forecast_monitor needs a threshold`},
		{"both in the annotation", []Layer{forecastAnnotation(`{"above": 1, "below": 2}`)}, `schemas/cart.avdl:12:3: @traffic_forecast_monitor: above and below are both set`},
		{"both in the file", []Layer{cfg(`{"above": 1, "below": 2}`), forecastAnnotation(`{"below": 2}`)}, `esm.yaml:4:7: esm.yaml: above and below are both set`},
		{"unknown parameter", []Layer{forecastAnnotation(`{"below": 1, "treshold": 3}`)}, `unknown parameter "treshold" for @traffic_forecast_monitor; known parameters: above, algorithm,`},
		{"wrong type", []Layer{forecastAnnotation(`{"below": "1"}`)}, `parameter "below" of @traffic_forecast_monitor must be a number, not string`},
		{"interval as seconds", []Layer{forecastAnnotation(`{"below": 1, "interval": 3600}`)}, `parameter "interval" of @traffic_forecast_monitor must be a string, not number`},
		{"bad algorithm", []Layer{forecastAnnotation(`{"below": 1, "algorithm": "agile"}`)}, `algorithm must be one of linear, seasonal, not "agile"`},
		{"deviations under 1", []Layer{forecastAnnotation(`{"below": 1, "deviations": 0.5}`)}, `deviations must be at least 1`},
		{"negative threshold", []Layer{forecastAnnotation(`{"below": -1}`)}, `below must be a count, 0 or more, not -1`},
		{"horizon form", []Layer{forecastAnnotation(`{"below": 1, "horizon": "last_1w"}`)}, `horizon must look like next_12h`},
		{"horizon under 12 hours", []Layer{forecastAnnotation(`{"below": 1, "horizon": "next_6h"}`)}, `horizon next_6h is shorter than Datadog accepts for a forecast monitor (at least 12 hours)`},
		{"horizon over 3 months", []Layer{forecastAnnotation(`{"below": 1, "horizon": "next_4mo"}`)}, `horizon next_4mo is longer than Datadog accepts for a forecast monitor (at most 3 months)`},
		{"horizon in minutes", []Layer{forecastAnnotation(`{"below": 1, "horizon": "next_1000m"}`)}, `horizon must look like next_12h`},
		{"interval form", []Layer{forecastAnnotation(`{"below": 1, "interval": "1d"}`)}, `interval must be a number of minutes or hours such as 20m or 1h, not "1d"`},
		{"history form", []Layer{forecastAnnotation(`{"below": 1, "history": "last_1w"}`)}, `history must be a number of minutes, hours, days or weeks`},
		{"bad model", []Layer{forecastAnnotation(`{"below": 1, "model": "robust"}`)}, `model must be one of default, simple, reactive, not "robust"`},
		{"bad seasonality", []Layer{forecastAnnotation(`{"below": 1, "algorithm": "seasonal", "seasonality": "monthly"}`)}, `seasonality must be one of hourly, daily, weekly`},
		{"model with seasonal", []Layer{forecastAnnotation(`{"below": 1, "algorithm": "seasonal", "model": "simple"}`)}, `schemas/cart.avdl:12:3: model "simple" is only used with the linear algorithm`},
		{"history with seasonal", []Layer{forecastAnnotation(`{"below": 1, "algorithm": "seasonal", "history": "2w"}`)}, `history is only used with the linear algorithm`},
		{"seasonality with linear, set in the file", []Layer{cfg(`{"seasonality": "daily"}`), forecastAnnotation(`{"below": 1}`)}, `esm.yaml:4:7: seasonality "daily" is only used with the seasonal algorithm`},
		{"interval not under the horizon", []Layer{forecastAnnotation(`{"below": 1, "horizon": "next_12h", "interval": "12h"}`)}, `interval 12h is not shorter than horizon next_12h`},
		{"interval not under the history", []Layer{forecastAnnotation(`{"below": 1, "history": "1h", "interval": "60m"}`)}, `interval 60m is not shorter than history 1h`},
		{"interval not under the season", []Layer{forecastAnnotation(`{"below": 1, "algorithm": "seasonal", "seasonality": "hourly"}`)}, `interval 60m is not shorter than the hourly season`},
		{"warning above", []Layer{forecastAnnotation(`{"above": 100, "warning": 100}`)}, `warning 100 must be lower than above 100`},
		{"warning below", []Layer{forecastAnnotation(`{"below": 100, "warning": 50}`)}, `warning 50 must be higher than below 100`},
		{"warning of the file against the annotation's direction", []Layer{cfg(`{"above": 100, "warning": 80}`), forecastAnnotation(`{"below": 100}`)}, `schemas/cart.avdl:12:3: warning 80 must be higher than below 100: the forecast falls to the warning threshold first (warning is set at esm.yaml:4:7)`},
		{"common parameter", []Layer{forecastAnnotation(`{"below": 1, "priority": 0}`)}, `priority must be 1 (highest) to 5, not 0`},
		{"escalation without renotification", []Layer{forecastAnnotation(`{"below": 1, "escalation_message": "x"}`)}, `escalation_message needs renotify_interval`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficForecast().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTrafficForecastParameterPositions: problems are reported at the
// value at fault when the layer knows where it is.
func TestTrafficForecastParameterPositions(t *testing.T) {
	at := func(line, col int) Position { return Position{File: "schemas/cart.avdl", Line: line, Column: col} }
	layer := func(params string, pos map[string]Position) Layer {
		l := forecastAnnotation(params)
		l.ParamPos = pos
		return l
	}
	tests := []struct {
		name  string
		layer Layer
		want  string
	}{
		{"range", layer(`{"below": 1, "horizon": "next_1h"}`, map[string]Position{"horizon": at(12, 40)}), "schemas/cart.avdl:12:40: horizon next_1h is shorter"},
		{"type", layer(`{"above": true}`, map[string]Position{"above": at(13, 20)}), "schemas/cart.avdl:13:20: @traffic_forecast_monitor: parameter \"above\""},
		{"unknown", layer(`{"below": 1, "seasonal": true}`, map[string]Position{"seasonal": at(14, 5)}), "schemas/cart.avdl:14:5: @traffic_forecast_monitor: unknown parameter"},
		{"both directions, at the second", layer(`{"above": 1, "below": 2}`, map[string]Position{"above": at(15, 9), "below": at(15, 21)}), "schemas/cart.avdl:15:21: @traffic_forecast_monitor: above and below are both set"},
		{"combination", layer(`{"below": 1, "algorithm": "seasonal", "model": "simple"}`, map[string]Position{"model": at(16, 44)}), "schemas/cart.avdl:16:44: model \"simple\""},
		{"warning", layer(`{"above": 10, "warning": 20}`, map[string]Position{"warning": at(17, 26)}), "schemas/cart.avdl:17:26: warning 20 must be lower"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TrafficForecast().Spec(target(), []Layer{tt.layer})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTrafficForecastCheck: a layer of esm.yaml is checked on its own;
// it needs no threshold (the annotation may give it), but cannot set both.
func TestTrafficForecastCheck(t *testing.T) {
	l := Layer{Source: "esm.yaml", Pos: Position{File: "esm.yaml", Line: 3, Column: 5}}
	for params, want := range map[string]string{
		`{"deviations": 2}`:                 "",
		`{"above": 1, "below": 2}`:          "esm.yaml:3:5: esm.yaml: above and below are both set",
		`{"horizon": "next_1y"}`:            `esm.yaml:3:5: esm.yaml: horizon must look like next_12h`,
		`{"model": "x", "deviations": 0.1}`: "deviations must be at least 1",
	} {
		l.Params = json.RawMessage(params)
		err := TrafficForecast().Check(l)
		if want == "" {
			assert.NoError(t, err, params)
		} else if assert.Error(t, err, params) {
			assert.Contains(t, err.Error(), want, params)
		}
	}
	require.NoError(t, TrafficForecast().Check(Layer{Params: TrafficForecast().Defaults()}))
}

// TestTrafficForecastBoundsDatadogAccepts: the documented limits pass.
func TestTrafficForecastBoundsDatadogAccepts(t *testing.T) {
	for _, params := range []string{
		`{"below": 0, "horizon": "next_12h", "interval": "20m"}`,
		`{"below": 0, "horizon": "next_3mo", "interval": "4h", "history": "4w", "model": "reactive"}`,
		`{"above": 1, "horizon": "next_90d", "deviations": 1}`,
		`{"above": 1, "algorithm": "seasonal", "seasonality": "hourly", "interval": "5m", "horizon": "next_1d"}`,
		`{"above": 1, "algorithm": "seasonal", "seasonality": "daily"}`,
	} {
		t.Run(params, func(t *testing.T) {
			_, err := TrafficForecast().Spec(target(), []Layer{forecastAnnotation(params)})
			assert.NoError(t, err)
		})
	}
}
