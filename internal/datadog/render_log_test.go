package datadog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func TestLogRender(t *testing.T) {
	tests := []struct {
		name, params, query string
		critical            float64
		warning             *float64
	}{
		{"defaults", `{}`,
			`logs("event_type:addtocartevent status:error").index("*").rollup("count").last("5m") > 0`, 0, nil},
		{"a search of the user's", `{"query": "service:cart {event_type}", "index": "main", "above": 10, "warning": 5, "window": "1h"}`,
			`logs("service:cart addtocartevent").index("main").rollup("count").last("1h") > 10`, 10, monitor.Float(5)},
		{"a phrase is quoted", `{"query": "\"connection refused\" -env:test"}`,
			`logs("\"connection refused\" -env:test").index("*").rollup("count").last("5m") > 0`, 0, nil},
		{"a quote cannot end the search", `{"query": "x\").index(\"secret"}`,
			`logs("x\").index(\"secret").index("*").rollup("count").last("5m") > 0`, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := renderAnnotation(t, annotations.Log(), target(), tt.params)
			assert.Equal(t, "Logs with AddToCartEvent", m.Name)
			assert.Equal(t, "log alert", m.Type)
			assert.Equal(t, tt.query, m.Query)
			assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(tt.critical), Warning: tt.warning}, m.Options.Thresholds)
			assert.Nil(t, m.Options.ThresholdWindows)
			assert.Equal(t, []string{"env:prod", "esm_kind:log", "event_type:addtocartevent", "managed_by:esm", "team:cart"}, m.Tags)
			// The search is the one string argument of logs(): every quote
			// in it is escaped.
			search := strings.TrimPrefix(m.Query, `logs("`)
			end := strings.Index(strings.ReplaceAll(search, `\"`, "xx"), `"`)
			assert.Equal(t, `").index("`, search[end:end+len(`").index("`)], m.Query)
		})
	}
	m := renderAnnotation(t, annotations.Log(), target(), `{"notify_no_data": true}`)
	assert.True(t, m.Options.NotifyNoData)
	assert.Equal(t, int64(10), m.Options.NoDataTimeframe)
	assert.True(t, strings.HasPrefix(m.Message, "Logs for AddToCartEvent events in prod: more than 0 logs matching event_type:addtocartevent status:error in the last 5m."), m.Message)
	assert.Contains(t, m.Message, "@slack-team-cart")

	// A spec made without annotations' checks cannot end the search either.
	bad := annotations.Spec{Kind: annotations.LogAnnotation, Name: "Logs with X", Target: target(),
		Params: &annotations.LogSpec{Query: `a\`, Index: "*", Window: "5m"}}
	_, err := Render(bad)
	assert.ErrorContains(t, err, "backslash")
}
