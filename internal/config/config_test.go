package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefault(t *testing.T) {
	c := Default()
	assert.Equal(t, []string{"prod", "staging"}, c.EnvNames())
	e, err := c.Env("prod")
	require.NoError(t, err)
	assert.Equal(t, DefaultMetric, e.Metric)
	assert.Equal(t, "prod", e.EnvTag)
	assert.Equal(t, 10, c.MaxDeletes("prod"))
	_, err = c.Env("qa")
	assert.EqualError(t, err, `unknown environment "qa": configured environments are prod, staging`)
}

func TestExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "esm.example.yaml"))
	require.NoError(t, err)
	layers := c.Layers("traffic_anomaly_monitor", "prod")
	require.Len(t, layers, 2)
	assert.JSONEq(t, `{"deviations": 3, "renotify_interval": 60}`, string(layers[1].Params))
	// The layer is at the value of prod's traffic_anomaly_monitor key (the
	// first after "environments:"): the mapping on the next line.
	data, err := os.ReadFile(filepath.Join("..", "..", "esm.example.yaml"))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	want, inEnvs := 0, false
	for i, l := range lines {
		inEnvs = inEnvs || l == "environments:"
		if inEnvs && strings.TrimSpace(l) == "traffic_anomaly_monitor:" {
			want = i + 2
			break
		}
	}
	assert.Equal(t, want, layers[1].Pos.Line)
	e, _ := c.Env("prod")
	assert.Equal(t, []string{"team:platform"}, e.Tags)
}

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	require.NotEmpty(t, files)
	for _, f := range files {
		_, err := Load(f)
		assert.NoError(t, err, f)
	}
}

func TestBadFiles(t *testing.T) {
	tests := map[string][]string{
		"unknown_key.bad.yaml": {`testdata/unknown_key.bad.yaml:3: unknown key "metrik"`},
		"many.bad.yaml": {
			`testdata/many.bad.yaml:3:17: defaults: parameter "deviations" of @traffic_anomaly_monitor must be a number, not string`,
			`testdata/many.bad.yaml:5:5: defaults: unknown monitor kind "traffic_anomoly_monitor"; known kinds: `,
			`testdata/many.bad.yaml:7:3: environment name "Prod" must be lowercase`,
			`testdata/many.bad.yaml:8:13: environments.Prod.metric "not a metric" is not a valid Datadog metric name: a metric name holds only ASCII letters, digits, _ and . (not ' ')`,
			`testdata/many.bad.yaml:10:12: environments.staging.tags: "esm-prod" is reserved: esm-*, esm_* and managed_by:esm are esm's own tags`,
			`testdata/many.bad.yaml:13:20: environments.staging.defaults: algorithm must be one of basic, agile, robust, not "smart"`,
		},
		// Values that would reach a query or a tag: Datadog's grammar,
		// esm's own tags, Datadog's window limits, numbers out of range,
		// each at its value.
		"values.bad.yaml": {
			`testdata/values.bad.yaml:3:17: defaults: deviations: 1e400 is out of range`,
			`testdata/values.bad.yaml:4:15: defaults: interval: .inf is not a finite number`,
			`testdata/values.bad.yaml:5:19: defaults: alert_window last_3w is longer than Datadog accepts for an anomaly monitor (at most 24 hours)`,
			`testdata/values.bad.yaml:6:19: defaults: query_window last_10w is longer than Datadog accepts for an anomaly monitor (at most 30 days)`,
			`testdata/values.bad.yaml:7:18: defaults: seasonality: holds .inf or .nan, which is not a finite number`,
			`testdata/values.bad.yaml:10:14: environments.prod.env_tag "a b,x}" cannot be the value of env: in a query: a tag holds only letters, digits and _ - : . / (not ' ')`,
			`testdata/values.bad.yaml:11:13: environments.prod.metric "esm-events" is not a valid Datadog metric name: a metric name holds only ASCII letters, digits, _ and . (not '-')`,
			`testdata/values.bad.yaml:12:25: environments.prod.tags: "bad tag" is not a valid Datadog tag: a tag holds only letters, digits and _ - : . / (not ' ')`,
			`testdata/values.bad.yaml:12:36: environments.prod.tags: "managed_by:esm" is reserved`,
			`testdata/values.bad.yaml:12:54: environments.prod.tags: "ESM_file:x" is reserved`,
			`testdata/values.bad.yaml:13:3: environment name "staging_" must be lowercase letters, digits, - or _, starting with a letter, without __ or a trailing _`,
			`testdata/values.bad.yaml:14:3: environment name "qa__eu" must be`,
			`testdata/values.bad.yaml:17:16: environments.qa__eu.defaults: tag "esm-prod" is reserved: esm-*, esm_* and managed_by:esm are esm's own tags`,
			`testdata/values.bad.yaml:18:20: environments.qa__eu.defaults: timeout_h: 99999999999999999999 is out of range`,
			`testdata/values.bad.yaml:19:18: environments.qa__eu.defaults: message: holds a mapping whose keys are not all strings`,
		},
	}
	for file, wants := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", file))
			require.Error(t, err)
			// Every problem, one per line, in the order of the file.
			lines := strings.Split(err.Error(), "\n")
			require.Equal(t, len(wants), len(lines), err.Error())
			for i, w := range wants {
				assert.Contains(t, lines[i], w)
			}
		})
	}
}

// TestValuesAsDatadogStoresThem: an upper-case env_tag and tags pass
// (Datadog lowercases them; so does esm).
func TestValuesAsDatadogStoresThem(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "values.good.yaml"))
	require.NoError(t, err)
	e, err := c.Env("prod")
	require.NoError(t, err)
	assert.Equal(t, "Prod-EU", e.EnvTag)
	assert.Equal(t, "Shop_Events.v2", e.Metric)
}

func TestLoadWithoutFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	require.NoError(t, os.Chdir(dir))
	t.Cleanup(func() { os.Chdir(wd) })
	c, err := Load("")
	require.NoError(t, err)
	assert.Equal(t, "", c.File)
	_, err = Load("missing.yaml")
	assert.ErrorContains(t, err, "read config: open missing.yaml: no such file or directory")
}

// TestParseSyntaxErrorLine: a YAML syntax error names the line where
// esm.yaml stops being valid; yaml.v3 alone names the line before the
// construct's context (here line 1 for a mistake on line 4).
func TestParseSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"defaults:\n  traffic_anomaly_monitor:\n    deviations: 3\n   algorithm: agile\n", "esm.yaml:4: did not find expected key"},
		{"defaults:\n  traffic_anomaly_monitor:\n    algorithm: [agile\n    direction: both\n", "esm.yaml:3: did not find expected ',' or ']'"},
		{"environments:\n  prod:\n\tmetric: x\n", "esm.yaml:3: found character that cannot start any token"},
	}
	for _, tt := range tests {
		_, err := Parse("esm.yaml", []byte(tt.src))
		require.Error(t, err)
		assert.Equal(t, tt.want, err.Error())
	}
}
