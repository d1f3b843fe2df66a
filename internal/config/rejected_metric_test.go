package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRejectedMetric: environments.<env>.rejected_metric defaults to the
// collector's rejection counter, is checked like metric at its value, and
// reaches the annotations' view of the environment.
func TestRejectedMetric(t *testing.T) {
	tests := []struct {
		name, yaml, want, problem string
	}{
		{"default", "environments:\n  prod: {}\n", DefaultRejectedMetric, ""},
		{"set", "environments:\n  prod:\n    rejected_metric: shop.events.bad\n", "shop.events.bad", ""},
		{"invalid", "environments:\n  prod:\n    rejected_metric: \"bad-metric\"\n", "",
			`esm.yaml:3:22: environments.prod.rejected_metric "bad-metric" is not a valid Datadog metric name: a metric name holds only ASCII letters, digits, _ and . (not '-')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("esm.yaml", []byte(tt.yaml))
			if tt.problem != "" {
				require.Error(t, err)
				assert.EqualError(t, err, tt.problem)
				return
			}
			require.NoError(t, err)
			e, err := c.Env("prod")
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.RejectedMetric)
			assert.Equal(t, tt.want, e.Annotations().RejectedMetric)
		})
	}
	assert.Equal(t, DefaultRejectedMetric, Default().Environments["staging"].RejectedMetric)
}
