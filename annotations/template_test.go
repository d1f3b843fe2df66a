package annotations

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// at returns a position in esm.yaml.
func at(line, col int) Position { return Position{File: "esm.yaml", Line: line, Column: col} }

func text(s string, line, col int) DeclText { return DeclText{Text: s, Pos: at(line, col)} }

func value(js string, line, col int) *DeclValue {
	return &DeclValue{JSON: json.RawMessage(js), Pos: at(line, col)}
}

// payloadSize is the README's worked example, declared at esm.yaml:2.
func payloadSize() KindDecl {
	summary := text("{{.Record}} events in {{.Env}} average over {{.above}} bytes ({{.window}}).", 6, 14)
	warning := text("{{if .warning}}{{.warning}}{{end}}", 8, 16)
	return KindDecl{
		Annotation: "payload_size_monitor", Pos: at(2, 3),
		Name:    text("Payload Size with {{.Record}}", 3, 11),
		Type:    text("query alert", 4, 11),
		Query:   text("avg({{.window}}):avg:esm.events.bytes{ {{- .Scope -}} } > {{.above}}", 5, 12),
		Summary: &summary, Warning: &warning,
		Params: []ParamDecl{
			{Name: "above", Pos: at(10, 7), Type: text("number", 10, 21), Default: value("1048576", 10, 38), Min: value("1", 10, 52)},
			{Name: "warning", Pos: at(11, 7), Type: text("number", 11, 21), Default: value("0", 11, 38), Min: value("0", 11, 46)},
			{Name: "window", Pos: at(12, 7), Type: text("window", 12, 21), Default: value(`"last_15m"`, 12, 38), Min: value(`"last_5m"`, 12, 53), Max: value(`"last_1d"`, 12, 67)},
			{Name: "percentile", Pos: at(13, 7), Type: text("string", 13, 21), Default: value(`"avg"`, 13, 38), Enum: []DeclValue{*value(`"avg"`, 13, 50), *value(`"max"`, 13, 57)}},
			{Name: "source", Pos: at(14, 7), Type: text("string", 14, 21), Default: value(`"web"`, 14, 38), Pattern: &DeclText{Text: "[a-z]+", Pos: at(14, 55)}},
			{Name: "strict", Pos: at(15, 7), Type: text("boolean", 15, 21), Default: value("false", 15, 38)},
			{Name: "count", Pos: at(16, 7), Type: text("integer", 16, 21), Default: value("3", 16, 38), Max: value("10", 16, 45)},
		},
	}
}

func newKind(t *testing.T, d KindDecl) *TemplateKind {
	t.Helper()
	k, err := NewTemplateKind(d)
	require.NoError(t, err)
	return k
}

func layer(params string) Layer {
	return Layer{Source: "@payload_size_monitor", Params: json.RawMessage(params), Pos: Position{File: "schemas/cart.avdl", Line: 12, Column: 3},
		ParamPos: map[string]Position{"above": {File: "schemas/cart.avdl", Line: 12, Column: 34}}}
}

func TestTemplateKindSpec(t *testing.T) {
	k := newKind(t, payloadSize())
	tests := []struct {
		name    string
		layers  []Layer
		query   string
		summary string
		warning *float64
		values  map[string]any
	}{
		{"defaults", []Layer{layer(`{}`)},
			"avg(last_15m):avg:esm.events.bytes{event_type:addtocartevent,env:prod} > 1048576",
			"AddToCartEvent events in prod average over 1048576 bytes (last_15m).", nil,
			map[string]any{"above": 1048576.0, "warning": 0.0, "window": "last_15m", "percentile": "avg", "source": "web", "strict": false, "count": int64(3)}},
		{"layers, later wins", []Layer{
			{Source: "esm.yaml defaults", Params: json.RawMessage(`{"above": 2000000, "window": "last_1h"}`), Pos: at(20, 5)},
			layer(`{"above": 1.5, "warning": 0.25, "count": 10, "strict": true, "percentile": "max", "priority": 2}`)},
			"avg(last_1h):avg:esm.events.bytes{event_type:addtocartevent,env:prod} > 1.5",
			"AddToCartEvent events in prod average over 1.5 bytes (last_1h).", floatPtr(0.25),
			map[string]any{"above": 1.5, "warning": 0.25, "window": "last_1h", "percentile": "max", "source": "web", "strict": true, "count": int64(10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := k.Spec(target(), tt.layers)
			require.NoError(t, err)
			assert.Equal(t, "payload_size_monitor", s.Kind)
			assert.Equal(t, "Payload Size with AddToCartEvent", s.Name)
			p, ok := s.Params.(*TemplateSpec)
			require.True(t, ok)
			assert.Equal(t, "query alert", p.Type)
			assert.Equal(t, tt.query, p.Query)
			assert.Equal(t, tt.summary, p.Summary)
			assert.Equal(t, tt.warning, p.Warning)
			assert.Equal(t, tt.values, p.Values)
			assert.Equal(t, at(2, 3), p.DeclPos)
			assert.Contains(t, s.Tags(), "esm_kind:payload_size")
		})
	}
}

func floatPtr(f float64) *float64 { return &f }

// TestTemplateKindCommonParams: the parameters every kind takes apply to
// a declared kind too.
func TestTemplateKindCommonParams(t *testing.T) {
	k := newKind(t, payloadSize())
	s, err := k.Spec(target(), []Layer{layer(`{"priority": 2, "tags": ["tier:1"], "notify_no_data": true, "renotify_interval": 30, "message": " Runbook "}`)})
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.Common.Priority)
	assert.Equal(t, []string{"tier:1"}, s.Common.Tags)
	assert.True(t, s.Common.NotifyNoData)
	assert.Equal(t, int64(30), s.Common.NoDataTimeframe, "twice the longest window")
	assert.Equal(t, int64(30), s.Common.RenotifyInterval)
	assert.Equal(t, "Runbook", s.Common.Message)
	assert.True(t, s.Common.IncludeTags)
	assert.JSONEq(t, `{"above": 1048576, "warning": 0, "window": "last_15m", "percentile": "avg", "source": "web", "strict": false, "count": 3,
 "require_full_window": false, "notify_no_data": false, "renotify_interval": 0, "include_tags": true, "notify_audit": false}`, string(k.Defaults()))
}

func TestTemplateKindLayerErrors(t *testing.T) {
	k := newKind(t, payloadSize())
	tests := []struct {
		name   string
		params string
		want   []string
	}{
		{"unknown parameter", `{"abov": 1}`, []string{`schemas/cart.avdl:12:3: @payload_size_monitor: unknown parameter "abov" for @payload_size_monitor; known parameters: above, count, escalation_message,`}},
		{"wrong type, at its value", `{"above": "big"}`, []string{`schemas/cart.avdl:12:34: @payload_size_monitor: above must be a number, not string`}},
		{"below min", `{"above": 0}`, []string{`schemas/cart.avdl:12:34: @payload_size_monitor: above must be at least 1, not 0`}},
		{"out of range", `{"above": 1e400}`, []string{`above: 1e400 is out of range`}},
		{"integer not whole", `{"count": 1.5}`, []string{`count must be an integer, not number 1.5`}},
		{"integer over max", `{"count": 11}`, []string{`count must be at most 10, not 11`}},
		{"enum", `{"percentile": "p99"}`, []string{`percentile must be one of avg, max, not "p99"`}},
		{"pattern", `{"source": "Web App"}`, []string{`source "Web App" does not match the pattern [a-z]+`}},
		{"boolean", `{"strict": "yes"}`, []string{`strict must be true or false, not string`}},
		{"window form", `{"window": "1h"}`, []string{`window must look like last_15m, last_4h or last_1d, not "1h"`}},
		{"window too short", `{"window": "last_1m"}`, []string{`window last_1m is shorter than window allows (at least last_5m)`}},
		{"window too long", `{"window": "last_2d"}`, []string{`window last_2d is longer than window allows (at most last_1d)`}},
		{"common parameter of the wrong type", `{"timeout_h": "2"}`, []string{`parameter "timeout_h" of @payload_size_monitor must be an integer, not string`}},
		{"common parameter out of range", `{"priority": 9}`, []string{`priority must be 1 (highest) to 5, not 9`}},
		{"not an object", `3`, []string{`@payload_size_monitor takes an object of parameters`}},
		{"every problem, in the order of their positions", `{"above": 0, "count": 11}`, []string{`12:3: @payload_size_monitor: count must be at most 10`, `12:34: @payload_size_monitor: above must be at least 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, err := range map[string]error{"Spec": specErr(k, layer(tt.params)), "Check": k.Check(layer(tt.params))} {
				require.Error(t, err, name)
				lines := strings.Split(err.Error(), "\n")
				require.Len(t, lines, len(tt.want), "%s: %v", name, err)
				for i, w := range tt.want {
					assert.Contains(t, lines[i], w, name)
				}
			}
		})
	}
}

func specErr(k *TemplateKind, l Layer) error {
	_, err := k.Spec(target(), []Layer{l})
	return err
}

func TestTemplateKindDeclErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *KindDecl)
		want   string
	}{
		{"built-in name", func(d *KindDecl) { d.Annotation = TrafficAnomalyAnnotation }, `esm.yaml:2:3: kinds.traffic_anomaly_monitor: @traffic_anomaly_monitor is a built-in kind`},
		{"alert_channel", func(d *KindDecl) { d.Annotation = ChannelAnnotation }, `esm.yaml:2:3: kinds.alert_channel: alert_channel is esm's own annotation`},
		{"no _monitor", func(d *KindDecl) { d.Annotation = "payload_size" }, `esm.yaml:2:3: kinds.payload_size: a kind's annotation name is lowercase letters, digits and _, starting with a letter and ending with _monitor`},
		{"no query", func(d *KindDecl) { d.Query.Text = "" }, `esm.yaml:5:12: kinds.payload_size_monitor: query is required`},
		{"no type", func(d *KindDecl) { d.Type.Text = " " }, `esm.yaml:4:11: kinds.payload_size_monitor: type is required`},
		{"template syntax", func(d *KindDecl) { d.Query.Text = "avg(last_5m):avg:x{{{.Scope}}} > 1" }, `esm.yaml:5:12: kinds.payload_size_monitor: query: unexpected "{" in command`},
		{"unknown variable", func(d *KindDecl) { d.Query.Text = "avg(last_5m):avg:x{*} > {{.abovee}}" }, `esm.yaml:5:12: kinds.payload_size_monitor: query: <.abovee>: map has no entry for key "abovee"; the templates know .Env, .EnvTag, .EventType, .FullName, .Metric, .Record, .Scope, .above, .warning,`},
		{"unknown function", func(d *KindDecl) { d.Summary.Text = "{{upper .Record}}" }, `esm.yaml:6:14: kinds.payload_size_monitor: summary: function "upper" not defined`},
		{"range", func(d *KindDecl) { d.Summary.Text = "{{range 1000000000}}{{end}}" }, `esm.yaml:6:14: kinds.payload_size_monitor: summary: range is not allowed in a kind's templates`},
		{"range in an if", func(d *KindDecl) { d.Summary.Text = "{{if .Record}}{{else}}{{range 3}}x{{end}}{{end}}" }, `summary: range is not allowed`},
		{"define", func(d *KindDecl) { d.Summary.Text = `{{define "x"}}y{{end}}{{template "x"}}` }, `summary: define and block are not allowed`},
		{"name for every record", func(d *KindDecl) { d.Name.Text = "Payload Size" }, `esm.yaml:3:11: kinds.payload_size_monitor: name: "Payload Size" is the same for every record; use {{.Record}} in it`},
		{"threshold not a number", func(d *KindDecl) { d.Warning.Text = "{{.window}}" }, `esm.yaml:8:16: kinds.payload_size_monitor: warning: expands to "last_15m", which is not a number`},
		{"unknown param type", func(d *KindDecl) { d.Params[0].Type.Text = "float" }, `esm.yaml:10:21: kinds.payload_size_monitor.params.above: type must be one of number, integer, string, boolean, window, not "float"`},
		{"no default", func(d *KindDecl) { d.Params[0].Default = nil }, `esm.yaml:10:7: kinds.payload_size_monitor.params.above: default is required`},
		{"default out of its range", func(d *KindDecl) { d.Params[0].Default = value("0", 10, 38) }, `esm.yaml:10:38: kinds.payload_size_monitor.params.above: default must be at least 1, not 0`},
		{"default of the wrong type", func(d *KindDecl) { d.Params[2].Default = value("15", 12, 38) }, `esm.yaml:12:38: kinds.payload_size_monitor.params.window: default must be a string, not number 15`},
		{"default not in enum", func(d *KindDecl) { d.Params[3].Default = value(`"p50"`, 13, 38) }, `esm.yaml:13:38: kinds.payload_size_monitor.params.percentile: default must be one of avg, max, not "p50"`},
		{"min on a string", func(d *KindDecl) { d.Params[3].Min = value(`"a"`, 13, 70) }, `esm.yaml:13:70: kinds.payload_size_monitor.params.percentile: min applies to number, integer and window parameters, not to a string`},
		{"max under min", func(d *KindDecl) { d.Params[0].Max = value("0.5", 10, 60) }, `esm.yaml:10:60: kinds.payload_size_monitor.params.above: max 0.5 is less than min 1`},
		{"enum on a number", func(d *KindDecl) { d.Params[0].Enum = []DeclValue{*value("1", 10, 70)} }, `esm.yaml:10:70: kinds.payload_size_monitor.params.above: enum applies to string parameters, not to a number`},
		{"bad pattern", func(d *KindDecl) { d.Params[4].Pattern.Text = "[a-" }, `esm.yaml:14:55: kinds.payload_size_monitor.params.source: pattern: error parsing regexp`},
		{"common parameter name", func(d *KindDecl) { d.Params[0].Name = "priority" }, `esm.yaml:10:7: kinds.payload_size_monitor.params.priority: priority is a parameter every kind takes already`},
		{"parameter name", func(d *KindDecl) { d.Params[0].Name = "Above" }, `esm.yaml:10:7: kinds.payload_size_monitor.params.Above: a parameter name is lowercase letters`},
		{"declared twice", func(d *KindDecl) { d.Params[1].Name = "above" }, `esm.yaml:11:7: kinds.payload_size_monitor: parameter "above" is declared twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := payloadSize()
			tt.change(&d)
			_, err := NewTemplateKind(d)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestTemplateKindBoundsOutput: a template cannot expand without bound.
func TestTemplateKindBoundsOutput(t *testing.T) {
	d := payloadSize()
	d.Summary.Text = strings.Repeat("{{.FullName}}", 1000)
	_, err := NewTemplateKind(d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expands to more than 8192 bytes")
}

// TestTemplateVarsDocumented: every built-in variable is set, as
// TemplateVars documents.
func TestTemplateVarsDocumented(t *testing.T) {
	data := templateData(target(), nil)
	assert.Len(t, data, len(TemplateVars))
	for name := range TemplateVars {
		assert.Contains(t, data, name)
	}
	assert.Equal(t, "event_type:addtocartevent,env:prod", data["Scope"])
	assert.Equal(t, "addtocartevent", data["EventType"])
}
