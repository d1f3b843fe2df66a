package annotations

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func logAnnotation(params string) Layer {
	return Layer{Source: "@log_monitor", Params: json.RawMessage(params), Pos: Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
}

func TestLogSpec(t *testing.T) {
	w := 2.0
	tests := []struct {
		name   string
		record string
		layers []Layer
		want   *LogSpec
	}{
		{"defaults", "AddToCartEvent", []Layer{logAnnotation(`{}`)},
			&LogSpec{Query: "event_type:addtocartevent status:error", Index: "*", Above: 0, Window: "5m"}},
		{"the type as Datadog stores it", "Legacy__Event_", []Layer{logAnnotation(`{}`)},
			&LogSpec{Query: "event_type:legacy_event status:error", Index: "*", Above: 0, Window: "5m"}},
		{"token in a query of the user's", "AddToCartEvent", []Layer{logAnnotation(`{"query": " service:cart @evt:{event_type} OR {event_type} ", "index": "main-2", "above": 5, "warning": 2, "window": "2d"}`)},
			&LogSpec{Query: "service:cart @evt:addtocartevent OR addtocartevent", Index: "main-2", Above: 5, Warning: &w, Window: "2d"}},
		{"a phrase", "AddToCartEvent", []Layer{logAnnotation(`{"query": "\"connection refused\" service:cart"}`)},
			&LogSpec{Query: `"connection refused" service:cart`, Index: "*", Above: 0, Window: "5m"}},
		{"layers", "AddToCartEvent", []Layer{
			{Source: "esm.yaml", Params: json.RawMessage(`{"window": "1h", "above": 10}`), Pos: Position{File: "esm.yaml", Line: 3}},
			logAnnotation(`{"window": "15m"}`)},
			&LogSpec{Query: "event_type:addtocartevent status:error", Index: "*", Above: 10, Window: "15m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := target()
			tg.Record = tt.record
			s, err := Log().Spec(tg, tt.layers)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Params)
			assert.Equal(t, "Logs with "+tt.record, s.Name)
			assert.Equal(t, LogAnnotation, s.Kind)
			assert.Contains(t, s.Tags(), "esm_kind:log")
		})
	}
	s, err := Log().Spec(target(), []Layer{logAnnotation(`{"notify_no_data": true, "window": "30m"}`)})
	require.NoError(t, err)
	assert.Equal(t, int64(60), s.Common.NoDataTimeframe, "2 × the window")
}

func TestLogErrors(t *testing.T) {
	tests := []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"unknown parameter", []Layer{logAnnotation(`{"search": "x"}`)}, `schemas/cart.avdl:12:3: @log_monitor: unknown parameter "search" for @log_monitor; known parameters: above,`},
		{"wrong type", []Layer{logAnnotation(`{"query": 3}`)}, `parameter "query" of @log_monitor must be a string, not number`},
		{"empty query", []Layer{logAnnotation(`{"query": "  "}`)}, `schemas/cart.avdl:12:3: query must be a log search; use * for every log`},
		{"backslash", []Layer{logAnnotation(`{"query": "a\\"}`)}, `query cannot hold a backslash`},
		{"line break", []Layer{logAnnotation(`{"query": "a\nb"}`)}, `query cannot hold a line break`},
		{"index", []Layer{logAnnotation(`{"index": "Main"}`)}, `index must be * or a Datadog log index name`},
		{"index with a quote", []Layer{logAnnotation(`{"index": "a\")"}`)}, `index must be * or a Datadog log index name`},
		{"window form", []Layer{logAnnotation(`{"window": "last_5m"}`)}, `window must look like 5m, 1h or 1d, not "last_5m"`},
		{"window in weeks", []Layer{logAnnotation(`{"window": "1w"}`)}, `window must look like 5m, 1h or 1d`},
		{"window over 2 days", []Layer{logAnnotation(`{"window": "49h"}`)}, `window 49h is longer than Datadog accepts for a log monitor (at most 2 days)`},
		{"window of 3 days", []Layer{logAnnotation(`{"window": "3d"}`)}, `window 3d is longer than Datadog accepts`},
		{"negative above", []Layer{logAnnotation(`{"above": -1}`)}, `above must be a count of logs, 0 or more, not -1`},
		{"warning not under above", []Layer{logAnnotation(`{"above": 5, "warning": 5}`)}, `schemas/cart.avdl:12:3: warning 5 must be lower than above 5`},
		{"warning with the default above", []Layer{logAnnotation(`{"warning": 1}`)}, `warning 1 must be lower than above 0`},
		{"full window", []Layer{logAnnotation(`{"require_full_window": true}`)}, `require_full_window applies only to metric monitors`},
		{"common parameter", []Layer{logAnnotation(`{"timeout_h": 25}`)}, `timeout_h must be between 0 and 24, not 25`},
		{"warning set in the file", []Layer{{Source: "esm.yaml", Params: json.RawMessage(`{"warning": 3}`), Pos: Position{File: "esm.yaml", Line: 4, Column: 7}}, logAnnotation(`{"above": 2}`)}, `schemas/cart.avdl:12:3: warning 3 must be lower than above 2: more than warning logs warn, more than above alert (warning is set at esm.yaml:4:7)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Log().Spec(target(), tt.layers)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	require.NoError(t, Log().Check(Layer{Params: Log().Defaults()}))
	err := Log().Check(Layer{Source: "esm.yaml", Params: json.RawMessage(`{"window": "3d", "query": ""}`), ParamPos: map[string]Position{"window": {File: "esm.yaml", Line: 5, Column: 13}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "esm.yaml:5:13: esm.yaml: window 3d is longer")
	assert.Contains(t, err.Error(), "esm.yaml: query must be a log search")
}

// TestLogWindowsDatadogAccepts: the documented limits pass.
func TestLogWindowsDatadogAccepts(t *testing.T) {
	for _, w := range []string{"1m", "5m", "2880m", "1h", "48h", "1d", "2d"} {
		_, err := Log().Spec(target(), []Layer{logAnnotation(`{"window": "` + w + `"}`)})
		assert.NoError(t, err, w)
	}
}

func TestEventTypeValue(t *testing.T) {
	assert.Equal(t, "addtocartevent", EventTypeValue("AddToCartEvent"))
	assert.Equal(t, "checkout_v2", EventTypeValue("Checkout_V2"))
}
