package config

import "testing"

// FuzzParse: no esm.yaml makes Parse panic; it returns a configuration or
// an error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"environments:\n  prod:\n    env_tag: \"a b,x}\"\n",
		"defaults:\n  traffic_anomaly_monitor:\n    deviations: 1e400\n    tags: [.inf, {1: x}]\n",
		"environments:\n  prod:\n    defaults:\n      traffic_anomaly_monitor: {interval: 99999999999999999999}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("esm.yaml", b)
		if err == nil && c == nil {
			t.Fatal("no configuration and no error")
		}
	})
}
