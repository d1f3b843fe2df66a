package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// esm.yaml takes defaults for the forecast and log kinds, per kind and per
// environment, like the anomaly kind's: they apply under the annotation,
// and a bad value is reported at its line and column.
func TestForecastAndLogDefaultsFromConfig(t *testing.T) {
	useLocalStore(t)
	const schema = `@namespace("com.example.pay")
protocol Pay {
  @traffic_forecast_monitor({})
  @log_monitor({"above": 3})
  record Paid { string id; }
}
`
	tests := []struct {
		name, config string
		code         int
		stdoutRE     []string
		stderrRE     string
	}{
		{"defaults apply", `defaults:
  log_monitor:
    window: 1h
  traffic_forecast_monitor:
    below: 50
environments:
  prod:
    defaults:
      traffic_forecast_monitor:
        above: 900
        horizon: next_1d
`, exitOK, []string{
			regexp.QuoteMeta(`logs(\"event_type:paid status:error\").index(\"*\").rollup(\"count\").last(\"1h\") > 3`),
			regexp.QuoteMeta(`max(next_1d):forecast(sum:esm.events.received{event_type:paid,env:prod}.as_count(), 'linear', 1, interval='60m') >= 900`),
		}, ""},
		{"bad values at their positions", `defaults:
  log_monitor:
    window: 3d
environments:
  prod:
    defaults:
      traffic_forecast_monitor:
        above: 1
        below: 2
`, exitFailure, nil, `(?s):3:13: .*window 3d is longer than Datadog accepts for a log monitor.*:9:16: .*above and below are both set`},
		{"no threshold anywhere", "defaults: {}\n", exitFailure, nil, `shop\.avdl:3:3: @traffic_forecast_monitor needs a threshold`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{"esm.yaml": tt.config, "schemas/shop.avdl": schema})
			r := runESM(t, "plan", "--env", "prod", "--output", "json", "--config", filepath.Join(dir, "esm.yaml"),
				"--state-dir", filepath.Join(dir, "state"), filepath.Join(dir, "schemas"))
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			for _, re := range tt.stdoutRE {
				assert.Regexp(t, re, r.stdout)
			}
			if tt.stderrRE != "" {
				assert.Regexp(t, tt.stderrRE, r.stderr)
			}
		})
	}
}
