package datadog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// renderKind renders the monitor of kind that params (the record's
// annotation) ask for the example target, whose environment names a
// rejection counter of its own.
func renderKind(t *testing.T, kind annotations.Kind, params string) monitor.Definition {
	t.Helper()
	tg := target()
	tg.Env.RejectedMetric = "shop.events.rejected"
	l := annotations.Layer{Source: "@" + kind.Annotation(), Params: json.RawMessage(params), Pos: annotations.Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}
	s, err := kind.Spec(tg, []annotations.Layer{l})
	require.NoError(t, err)
	m, err := Render(s)
	require.NoError(t, err)
	return m
}

// footer is what every message of the example target ends with: the
// record's doc, its schema, its channel and the environment's footer.
const footer = "\n\nA shopper added an item.\n\nSchema: com.example.shop.AddToCartEvent in schemas/cart.avdl\n\n@slack-team-cart\n\nRunbook: https://wiki/esm"

func TestTrafficVolumeRender(t *testing.T) {
	tests := []struct {
		name, params, query, summary string
		thresholds                   monitor.Thresholds
	}{
		{"defaults", `{}`,
			"sum(last_1h):sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count() < 1",
			"Traffic volume for AddToCartEvent events in prod: no events of esm.events.received{event_type:addtocartevent} in the last 1 hour.",
			monitor.Thresholds{Critical: monitor.Float(1)}},
		{"below with a warning", `{"below": 10, "warning": 50, "window": "last_15m"}`,
			"sum(last_15m):sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count() < 10",
			"Traffic volume for AddToCartEvent events in prod: fewer than 10 events of esm.events.received{event_type:addtocartevent} in the last 15 minutes.",
			monitor.Thresholds{Critical: monitor.Float(10), Warning: monitor.Float(50)}},
		{"above", `{"above": 5000, "warning": 4000, "window": "last_1d"}`,
			"sum(last_1d):sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count() > 5000",
			"Traffic volume for AddToCartEvent events in prod: more than 5000 events of esm.events.received{event_type:addtocartevent} in the last 1 day.",
			monitor.Thresholds{Critical: monitor.Float(5000), Warning: monitor.Float(4000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderKind(t, annotations.TrafficVolume(), tt.params)
			assert.Equal(t, "Traffic Volume with AddToCartEvent", m.Name)
			assert.Equal(t, "query alert", m.Type)
			assert.Equal(t, tt.query, m.Query)
			assert.Equal(t, tt.thresholds, m.Options.Thresholds)
			assert.Nil(t, m.Options.ThresholdWindows)
			assert.Equal(t, []string{"env:prod", "esm_kind:traffic_volume", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
			assert.Equal(t, tt.summary+footer, m.Message)
			assert.False(t, m.Options.RequireFullWindow)
			assert.True(t, m.Options.IncludeTags)
		})
	}
}

func TestTrafficVolumeRenderOptions(t *testing.T) {
	m := renderKind(t, annotations.TrafficVolume(), `{"window": "last_2h", "notify_no_data": true, "priority": 2, "renotify_interval": 30,
 "escalation_message": "still nothing", "evaluation_delay": 300, "require_full_window": true, "timeout_h": 4, "message": "Check the producer.", "tags": ["tier:1"]}`)
	assert.Equal(t, int64(2), m.Priority)
	assert.Equal(t, monitor.Options{
		NotifyNoData: true, NoDataTimeframe: 240, RenotifyInterval: 30, EscalationMessage: "still nothing", EvaluationDelay: 300,
		RequireFullWindow: true, IncludeTags: true, TimeoutH: 4, Thresholds: monitor.Thresholds{Critical: monitor.Float(1)},
	}, m.Options)
	assert.Contains(t, m.Tags, "tier:1")
	assert.Contains(t, m.Message, "in the last 2 hours.\n\nA shopper added an item.\n\nCheck the producer.\n\nSchema:")
}

func TestBadDataRender(t *testing.T) {
	const scope = "{event_type:addtocartevent,env:prod}"
	tests := []struct {
		name, params, query, summary string
		thresholds                   monitor.Thresholds
	}{
		{"defaults", `{}`,
			"sum(last_15m):sum:shop.events.rejected" + scope + ".as_count() / (sum:esm.events.received" + scope + ".as_count() + sum:shop.events.rejected" + scope + ".as_count()) > 0.05",
			"Bad data for AddToCartEvent events in prod: more than 5% of them were rejected by the collector (shop.events.rejected{event_type:addtocartevent}) in the last 15 minutes.",
			monitor.Thresholds{Critical: monitor.Float(0.05)}},
		{"with a warning", `{"above": 0.125, "warning": 0.07, "window": "last_1h"}`,
			"sum(last_1h):sum:shop.events.rejected" + scope + ".as_count() / (sum:esm.events.received" + scope + ".as_count() + sum:shop.events.rejected" + scope + ".as_count()) > 0.125",
			"Bad data for AddToCartEvent events in prod: more than 12.5% of them were rejected by the collector (shop.events.rejected{event_type:addtocartevent}) in the last 1 hour.",
			monitor.Thresholds{Critical: monitor.Float(0.125), Warning: monitor.Float(0.07)}},
		{"everything", `{"above": 1, "window": "last_1m"}`,
			"sum(last_1m):sum:shop.events.rejected" + scope + ".as_count() / (sum:esm.events.received" + scope + ".as_count() + sum:shop.events.rejected" + scope + ".as_count()) > 1",
			"Bad data for AddToCartEvent events in prod: more than 100% of them were rejected by the collector (shop.events.rejected{event_type:addtocartevent}) in the last 1 minute.",
			monitor.Thresholds{Critical: monitor.Float(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderKind(t, annotations.BadData(), tt.params)
			assert.Equal(t, "Bad Data with AddToCartEvent", m.Name)
			assert.Equal(t, "query alert", m.Type)
			assert.Equal(t, tt.query, m.Query)
			assert.Equal(t, tt.thresholds, m.Options.Thresholds)
			assert.Equal(t, []string{"env:prod", "esm_kind:bad_data", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
			assert.Equal(t, tt.summary+footer, m.Message)
		})
	}
}

func TestWindowText(t *testing.T) {
	for w, want := range map[string]string{"last_1m": "1 minute", "last_15m": "15 minutes", "last_1h": "1 hour", "last_4h": "4 hours", "last_2d": "2 days", "last_1w": "1 week", "odd": "odd", "last_xh": "last_xh"} {
		assert.Equal(t, want, windowText(w), w)
	}
}
