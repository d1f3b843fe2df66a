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

// renderAnnotation renders the monitor of kind that the annotation params asks
// for target.
func renderAnnotation(t *testing.T, k annotations.Kind, tg annotations.Target, params string) monitor.Definition {
	t.Helper()
	l := annotations.Layer{Source: "@" + k.Annotation(), Params: json.RawMessage(params), Pos: annotations.Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
	s, err := k.Spec(tg, []annotations.Layer{l})
	require.NoError(t, err)
	m, err := Render(s)
	require.NoError(t, err)
	return m
}

func TestTrafficForecastRender(t *testing.T) {
	const filter = "sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count()"
	tests := []struct {
		name, params, query string
		critical            float64
		warning             *float64
	}{
		{"defaults, below", `{"below": 100}`,
			"min(next_1w):forecast(" + filter + ", 'linear', 1, interval='60m') <= 100", 100, nil},
		{"above with a warning", `{"above": 5000, "warning": 4000}`,
			"max(next_1w):forecast(" + filter + ", 'linear', 1, interval='60m') >= 5000", 5000, monitor.Float(4000)},
		{"linear options", `{"below": 0.5, "deviations": 2.5, "horizon": "next_1mo", "interval": "4h", "history": "2w", "model": "reactive"}`,
			"min(next_1mo):forecast(" + filter + ", 'linear', 2.5, interval='4h', history='2w', model='reactive') <= 0.5", 0.5, nil},
		{"seasonal", `{"above": 1000000, "algorithm": "seasonal", "seasonality": "daily", "interval": "20m", "horizon": "next_3d"}`,
			"max(next_3d):forecast(" + filter + ", 'seasonal', 1, interval='20m', seasonality='daily') >= 1000000", 1e6, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderAnnotation(t, annotations.TrafficForecast(), target(), tt.params)
			assert.Equal(t, "Traffic Forecast with AddToCartEvent", m.Name)
			assert.Equal(t, "query alert", m.Type)
			assert.Equal(t, tt.query, m.Query)
			assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(tt.critical), Warning: tt.warning}, m.Options.Thresholds)
			assert.Nil(t, m.Options.ThresholdWindows, "threshold windows are the anomaly monitor's")
			assert.Equal(t, []string{"env:prod", "esm_kind:traffic_forecast", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
			assert.False(t, m.Options.RequireFullWindow)
			assert.True(t, m.Options.IncludeTags)
		})
	}
	m := renderAnnotation(t, annotations.TrafficForecast(), target(), `{"below": 100, "message": "Check the checkout.", "priority": 2}`)
	assert.Equal(t, "Traffic forecast for AddToCartEvent events in prod: the forecast of the count of esm.events.received{event_type:addtocartevent} falls to 100 within the next 1w (linear, 1 deviations)."+
		"\n\nA shopper added an item.\n\nCheck the checkout.\n\nSchema: com.example.shop.AddToCartEvent in schemas/cart.avdl\n\n@slack-team-cart\n\nRunbook: https://wiki/esm", m.Message)
	assert.Equal(t, int64(2), m.Priority)
}

// TestKindsOnOneRecord: several kinds on one record are independent
// monitors, with names and kind tags of their own.
func TestKindsOnOneRecord(t *testing.T) {
	anomaly := renderAnnotation(t, annotations.TrafficAnomaly(), target(), `{}`)
	forecast := renderAnnotation(t, annotations.TrafficForecast(), target(), `{"below": 1}`)
	logs := renderAnnotation(t, annotations.Log(), target(), `{}`)
	names := map[string]bool{anomaly.Name: true, forecast.Name: true, logs.Name: true}
	assert.Len(t, names, 3)
	assert.NotContains(t, strings.Join(anomaly.Tags, ","), "esm_kind:")
	assert.Contains(t, forecast.Tags, "esm_kind:traffic_forecast")
	assert.Contains(t, logs.Tags, "esm_kind:log")
}
