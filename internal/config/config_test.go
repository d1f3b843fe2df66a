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
	assert.Equal(t, 38, layers[1].Pos.Line)
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
			`testdata/many.bad.yaml:3:5: defaults: parameter "deviations" of @traffic_anomaly_monitor must be a number, not string`,
			`testdata/many.bad.yaml:5:5: defaults: unknown monitor kind "traffic_anomoly_monitor"; known kinds: traffic_anomaly_monitor`,
			`environment name "Prod" must be lowercase`,
			`environments.Prod.metric "not a metric" is not a valid metric name`,
			`environments.staging.tags: "esm-prod" uses esm's reserved tag prefix`,
			`testdata/many.bad.yaml:13:9: environments.staging.defaults: algorithm must be one of basic, agile, robust, not "smart"`,
		},
	}
	for file, wants := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", file))
			require.Error(t, err)
			for _, w := range wants {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, len(wants), len(strings.Split(err.Error(), "\n")), err.Error())
		})
	}
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
