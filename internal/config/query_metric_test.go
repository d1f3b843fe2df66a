package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueryKindDefaults: esm.yaml takes defaults for the query monitors'
// kinds, per file and per environment, checked at their values.
func TestQueryKindDefaults(t *testing.T) {
	good := "defaults:\n  query_threshold:\n    window: last_4h\nenvironments:\n  prod:\n    defaults:\n      query_anomaly:\n        deviations: 3\n"
	c, err := Parse("esm.yaml", []byte(good))
	require.NoError(t, err)
	require.Len(t, c.Layers("query_threshold", "prod"), 1)
	layers := c.Layers("query_anomaly", "prod")
	require.Len(t, layers, 1)
	assert.JSONEq(t, `{"deviations": 3}`, string(layers[0].Params))

	bad := "defaults:\n  query_threshold:\n    below: 1\n    above: 2\n    windw: last_1h\nenvironments:\n  prod:\n    defaults:\n      query_anomaly:\n        deviations: 30\n"
	_, err = Parse("esm.yaml", []byte(bad))
	require.Error(t, err)
	assert.Equal(t, []string{
		`esm.yaml:4:12: defaults: above and below cannot both be set: a threshold alerts on one side (below is set at esm.yaml:3:12)`,
		`esm.yaml:5:12: defaults: unknown parameter "windw" for query_threshold: did you mean "window"?`,
		`esm.yaml:10:21: environments.prod.defaults: deviations must be greater than 0 and at most 10, not 30`,
	}, strings.Split(err.Error(), "\n"))

	_, err = Parse("esm.yaml", []byte("defaults:\n  query_treshold: {}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), ", query_anomaly, query_threshold")
}
