package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
)

// TestDeclaredKind: a kind declared under kinds: is found like a built-in
// one, and takes defaults from the file and from an environment.
func TestDeclaredKind(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "kinds.good.yaml"))
	require.NoError(t, err)
	k, ok := c.Kind("payload_size_monitor")
	require.True(t, ok)
	assert.Equal(t, "payload_size_monitor", k.Annotation())
	_, ok = c.Kind(annotations.TrafficAnomalyAnnotation)
	assert.True(t, ok, "built-in kinds are found too")
	_, ok = c.Kind("sise_monitor")
	assert.False(t, ok)
	assert.True(t, c.IsMonitorAnnotation("payload_size_monitor"))
	assert.True(t, c.IsMonitorAnnotation(annotations.ChannelAnnotation))
	assert.False(t, c.IsMonitorAnnotation("doc"))
	var names []string
	for _, k := range c.Kinds() {
		names = append(names, k.Annotation())
	}
	assert.Contains(t, names, "payload_size_monitor")
	assert.Contains(t, names, annotations.TrafficAnomalyAnnotation)
	_, builtin := annotations.Lookup("payload_size_monitor")
	assert.False(t, builtin, "a declared kind is the file's, not the registry's")

	layers := c.Layers("payload_size_monitor", "prod")
	require.Len(t, layers, 2)
	assert.JSONEq(t, `{"above": 2000000}`, string(layers[0].Params))
	assert.JSONEq(t, `{"window": "last_1h"}`, string(layers[1].Params))
	e, err := c.Env("prod")
	require.NoError(t, err)
	s, err := k.Spec(annotations.Target{Record: "CartViewed", Env: e.Annotations()}, layers)
	require.NoError(t, err)
	assert.Equal(t, "Payload Size with CartViewed", s.Name)
	assert.Equal(t, "avg(last_1h):avg:esm.events.bytes{event_type:cartviewed,env:prod} > 2000000", s.Params.(*annotations.TemplateSpec).Query)
	assert.Len(t, c.Layers("payload_size_monitor", "staging"), 1)
}

// TestDeclaredKindsBad: every problem of a kinds: section and of the
// defaults of declared kinds, at its position, in the order of the file.
func TestDeclaredKindsBad(t *testing.T) {
	tests := map[string][]string{
		"kinds.bad.yaml": {
			`testdata/kinds.bad.yaml:2:3: kinds.traffic_anomaly_monitor: @traffic_anomaly_monitor is a built-in kind; give your kind another name`,
			`testdata/kinds.bad.yaml:11:7: kinds.payload_size_monitor.thresholds: critical is the number the query ends with (> 100)`,
			`testdata/kinds.bad.yaml:13:21: kinds.payload_size_monitor.params.above: type must be one of number, integer, string, boolean, window, not "float"`,
			`testdata/kinds.bad.yaml:14:39: kinds.payload_size_monitor.params.window: default last_1m is shorter than window allows (at least last_5m)`,
			`testdata/kinds.bad.yaml:18:12: kinds.latency_monitor: query: bad character U+007D '}'`,
			`testdata/kinds.bad.yaml:20:58: unknown key "colour" in kinds.latency_monitor.params.above_ms; known keys: type, default, min, max, enum, pattern, doc`,
			`testdata/kinds.bad.yaml:22:11: kinds.rate_monitor: name: "Rate" is the same for every record; use {{.Record}} in it`,
			`testdata/kinds.bad.yaml:28:12: kinds.bytes_monitor: query: <.abov>: map has no entry for key "abov"; the templates know .Env, .EnvTag, .EventType, .FullName, .Metric, .Record, .Scope, .above`,
			`testdata/kinds.bad.yaml:31:3: kinds.Size: a kind's annotation name is lowercase letters, digits and _, starting with a letter and ending with _monitor`,
			`testdata/kinds.bad.yaml:31:3: kinds.Size: name is required`,
			`testdata/kinds.bad.yaml:44:12: defaults: above must be at most 10, not 11`,
			`testdata/kinds.bad.yaml:45:17: defaults: unknown monitor kind "sise_monitor"; known kinds: bad_data_monitor, log_monitor, size_monitor, traffic_anomaly_monitor, traffic_forecast_monitor, traffic_volume_monitor`,
			`testdata/kinds.bad.yaml:50:15: environments.prod.defaults: unknown parameter "abov" for @size_monitor`,
		},
	}
	for file, wants := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", file))
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Equal(t, len(wants), len(lines), err.Error())
			for i, w := range wants {
				assert.Contains(t, lines[i], w)
			}
		})
	}
}

// TestDeclaredKindsShape: a kinds: section of the wrong shape is reported
// at the value at fault.
func TestDeclaredKindsShape(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"not a mapping", "kinds: [a]\n", `esm.yaml:1:8: kinds: must be a mapping of annotation names to kind declarations`},
		{"kind not a mapping", "kinds:\n  x_monitor: 3\n", `esm.yaml:2:14: kinds.x_monitor must be a mapping`},
		{"unknown key", "kinds:\n  x_monitor:\n    nmae: x\n", `esm.yaml:3:5: unknown key "nmae" in kinds.x_monitor; known keys: name, type, query, summary, thresholds, params`},
		{"query not a string", "kinds:\n  x_monitor:\n    query: [1]\n", `esm.yaml:3:12: kinds.x_monitor.query must be a string`},
		{"params not a mapping", "kinds:\n  x_monitor:\n    params: [1]\n", `esm.yaml:3:13: kinds.x_monitor.params must be a mapping`},
		{"enum not a list", "kinds:\n  x_monitor:\n    params:\n      p: {type: string, default: a, enum: a}\n", `esm.yaml:4:43: kinds.x_monitor.params.p.enum must be a list`},
		{"default .inf", "kinds:\n  x_monitor:\n    params:\n      p: {type: number, default: .inf}\n", `esm.yaml:4:34: kinds.x_monitor.params.p.default: .inf is not a value JSON can hold`},
		{"default out of range", "kinds:\n  x_monitor:\n    name: \"{{.Record}}\"\n    type: query alert\n    query: \"avg(last_5m):avg:x{*} > {{.p}}\"\n    params:\n      p: {type: number, default: 1e400}\n", `esm.yaml:7:34: kinds.x_monitor.params.p: default: 1e400 is out of range`},
		{"empty is fine", "kinds:\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("esm.yaml", []byte(tt.yaml))
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestExampleFileKind: the example file's kinds: section declares the
// README's worked example.
func TestExampleFileKind(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "esm.example.yaml"))
	require.NoError(t, err)
	k, ok := c.Kind("payload_size_monitor")
	require.True(t, ok)
	e, err := c.Env("prod")
	require.NoError(t, err)
	s, err := k.Spec(annotations.Target{Record: "AddToCartEvent", Env: e.Annotations()}, c.Layers(k.Annotation(), "prod"))
	require.NoError(t, err)
	assert.Equal(t, "avg(last_15m):p95:esm.events.bytes{event_type:addtocartevent,env:prod} > 1048576", s.Params.(*annotations.TemplateSpec).Query)
}
