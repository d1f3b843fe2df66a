package datadog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// latencyKind declares a latency kind on an APM metric, at esm.yaml:2,
// with its type, query and warning as given.
func latencyKind(t *testing.T, typ, query, warning string) *annotations.TemplateKind {
	t.Helper()
	pos := func(line int) annotations.Position {
		return annotations.Position{File: "esm.yaml", Line: line, Column: 5}
	}
	d := annotations.KindDecl{
		Annotation: "latency_monitor", Pos: pos(2),
		Name:  annotations.DeclText{Text: "Latency of {{.Record}}", Pos: pos(3)},
		Type:  annotations.DeclText{Text: typ, Pos: pos(4)},
		Query: annotations.DeclText{Text: query, Pos: pos(5)},
		Params: []annotations.ParamDecl{
			{Name: "above_ms", Pos: pos(8), Type: annotations.DeclText{Text: "number", Pos: pos(8)}, Default: &annotations.DeclValue{JSON: json.RawMessage("500"), Pos: pos(8)}},
			{Name: "window", Pos: pos(9), Type: annotations.DeclText{Text: "window", Pos: pos(9)}, Default: &annotations.DeclValue{JSON: json.RawMessage(`"last_5m"`), Pos: pos(9)}},
		},
	}
	if warning != "" {
		d.Warning = &annotations.DeclText{Text: warning, Pos: pos(6)}
	}
	k, err := annotations.NewTemplateKind(d)
	require.NoError(t, err)
	return k
}

const latencyQuery = "percentile({{.window}}):p95:trace.http.request{service:shop,resource_name:{{.EventType}},env:{{.EnvTag}}} > {{.above_ms}}"

func renderTemplateKind(t *testing.T, k annotations.Kind, params string) (monitor.Definition, error) {
	t.Helper()
	s, err := k.Spec(target(), []annotations.Layer{{Source: "@latency_monitor", Params: json.RawMessage(params), Pos: annotations.Position{File: "schemas/cart.avdl", Line: 12, Column: 3}}})
	require.NoError(t, err)
	return Render(s)
}

func TestTemplateKindRender(t *testing.T) {
	k := latencyKind(t, "query alert", latencyQuery, "{{with .above_ms}}{{.}}{{end}}")
	_, err := renderTemplateKind(t, k, `{}`)
	assert.ErrorContains(t, err, "warning 500 must be below the critical threshold 500", "a warning equal to critical")

	k = latencyKind(t, "query alert", latencyQuery, "")
	m, err := renderTemplateKind(t, k, `{"above_ms": 250.5, "window": "last_10m", "priority": 3, "tags": ["tier:1"]}`)
	require.NoError(t, err)
	assert.Equal(t, "Latency of AddToCartEvent", m.Name)
	assert.Equal(t, "query alert", m.Type)
	assert.Equal(t, "percentile(last_10m):p95:trace.http.request{service:shop,resource_name:addtocartevent,env:prod} > 250.5", m.Query)
	assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(250.5)}, m.Options.Thresholds)
	assert.Nil(t, m.Options.ThresholdWindows)
	assert.Equal(t, int64(3), m.Priority)
	assert.Equal(t, []string{"env:prod", "esm_kind:latency", "event_type:addtocartevent", "managed_by:esm", "team:cart", "tier:1"}, m.Tags)
	assert.True(t, m.Options.IncludeTags)
	assert.False(t, m.Options.RequireFullWindow)
	assert.Equal(t, "Latency of AddToCartEvent in prod.\n\nA shopper added an item.\n\nSchema: com.example.shop.AddToCartEvent in schemas/cart.avdl\n\n@slack-team-cart\n\nRunbook: https://wiki/esm", m.Message)
}

func TestTemplateKindRenderThresholds(t *testing.T) {
	d := func(query, warning string) *annotations.TemplateKind {
		return latencyKind(t, "query alert", query, warning)
	}
	m, err := renderTemplateKind(t, d(latencyQuery, "400"), `{}`)
	require.NoError(t, err)
	assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(500), Warning: monitor.Float(400)}, m.Options.Thresholds)

	m, err = renderTemplateKind(t, d("avg({{.window}}):sum:esm.events.received{ {{- .Scope -}} }.as_count() <= {{.above_ms}}", "600"), `{}`)
	require.NoError(t, err)
	assert.Equal(t, monitor.Thresholds{Critical: monitor.Float(500), Warning: monitor.Float(600)}, m.Options.Thresholds, "below: warning above critical")
}

func TestTemplateKindRenderErrors(t *testing.T) {
	tests := []struct {
		name, typ, query, warning, want string
	}{
		{"not a Datadog type", "cpu alert", latencyQuery, "", `@latency_monitor (declared at esm.yaml:2:5): type "cpu alert" is not a Datadog monitor type esm manages; use one of audit alert,`},
		{"metric alert", "metric alert", latencyQuery, "", `(Datadog stores "metric alert" as "query alert": write that)`},
		{"no comparison", "query alert", "avg({{.window}}):avg:x{*}", "", `the query "avg(last_5m):avg:x{*}" does not end with a comparison such as "> 100"`},
		{"warning past critical", "query alert", latencyQuery, "900", `warning 900 must be below the critical threshold 500`},
		{"warning past critical, below", "log alert", `logs("service:shop").index("*").rollup("count").last("5m") < {{.above_ms}}`, "100", `warning 100 must be above the critical threshold 500`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderTemplateKind(t, latencyKind(t, tt.typ, tt.query, tt.warning), `{}`)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
