package config

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnvironmentMetrics: the per-environment metric names other than
// metric (rejected_metric, the collector's rejection counter; query_metric,
// the gauge esm serve sends for query results) default to esm's own, are
// checked like metric at their values, and reach the annotations' view of
// the environment.
func TestEnvironmentMetrics(t *testing.T) {
	settings := []struct {
		key, dflt string
		get       func(*Environment) string
		annotated func(*Environment) string
	}{
		{"rejected_metric", DefaultRejectedMetric,
			func(e *Environment) string { return e.RejectedMetric },
			func(e *Environment) string { return e.Annotations().RejectedMetric }},
		{"query_metric", DefaultQueryMetric,
			func(e *Environment) string { return e.QueryMetric },
			func(e *Environment) string { return e.Annotations().QueryMetric }},
	}
	for _, s := range settings {
		col := len("    "+s.key+": ") + 1
		tests := []struct {
			name, yaml, want, problem string
		}{
			{"default", "environments:\n  prod: {}\n", s.dflt, ""},
			{"set", "environments:\n  prod:\n    " + s.key + ": shop.events.bad\n", "shop.events.bad", ""},
			{"invalid", "environments:\n  prod:\n    " + s.key + ": \"bad-metric\"\n", "",
				"esm.yaml:3:" + strconv.Itoa(col) + ": environments.prod." + s.key + ` "bad-metric" is not a valid Datadog metric name: a metric name holds only ASCII letters, digits, _ and . (not '-')`},
		}
		for _, tt := range tests {
			t.Run(s.key+"/"+tt.name, func(t *testing.T) {
				c, err := Parse("esm.yaml", []byte(tt.yaml))
				if tt.problem != "" {
					assert.EqualError(t, err, tt.problem)
					return
				}
				require.NoError(t, err)
				e, err := c.Env("prod")
				require.NoError(t, err)
				assert.Equal(t, tt.want, s.get(e))
				assert.Equal(t, tt.want, s.annotated(e))
			})
		}
		assert.Equal(t, s.dflt, s.get(Default().Environments["staging"]), s.key)
	}
	assert.Equal(t, "esm.query.value", DefaultQueryMetric)
	assert.Equal(t, "esm.events.rejected", DefaultRejectedMetric)
}
