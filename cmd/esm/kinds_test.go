package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kindsConfig declares @latency_monitor, a kind of the platform team's,
// and sets a default for it in prod.
const kindsConfig = `kinds:
  latency_monitor:
    name: "Latency of {{.Record}}"
    type: query alert
    query: "percentile({{.window}}):p95:esm.events.latency{ {{- .Scope -}} } > {{.above_ms}}"
    summary: "p95 latency of {{.Record}} events in {{.Env}} is over {{.above_ms}} ms."
    thresholds:
      warning: "{{if .warning_ms}}{{.warning_ms}}{{end}}"
    params:
      above_ms: {type: number, default: 500, min: 1}
      warning_ms: {type: number, default: 0, min: 0}
      window: {type: window, default: last_5m, min: last_1m, max: last_1d}
environments:
  prod:
    defaults:
      latency_monitor:
        window: last_15m
`

// kindsIDL uses the declared kind next to a built-in one.
const kindsIDL = `@namespace("com.example.test")
protocol Shop {
  /** A checkout finished. */
  @alert_channel("team-checkout")
  @latency_monitor({"above_ms": 800, "warning_ms": 600, "priority": 2})
  @traffic_anomaly_monitor({})
  record CheckoutCompleted { string id; }
}
`

// A kind declared in esm.yaml is planned and applied like a built-in one,
// against the local store and Datadog, and a second plan is clean.
func TestDeclaredKindPlanApply(t *testing.T) {
	w := newWorkspace(t, kindsIDL)
	cfg := filepath.Join(filepath.Dir(w.schemas), "esm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(kindsConfig), 0o644))

	r := w.esm("plan", "--config", cfg)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	for _, want := range []string{
		`  + monitor "Latency of CheckoutCompleted" {`,
		`      + type = "query alert"`,
		`      + query = "percentile(last_15m):p95:esm.events.latency{event_type:checkoutcompleted,env:prod} > 800"`,
		`            p95 latency of CheckoutCompleted events in prod is over 800 ms.`,
		`            "esm_kind:latency",`,
		`      + options.thresholds.critical = 800`,
		`      + options.thresholds.warning = 600`,
		`  + monitor "Traffic Anomaly with CheckoutCompleted" {`,
		"Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.",
	} {
		assert.Contains(t, r.stdout, want)
	}

	r = w.esm("apply", "--config", cfg, "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	r = w.esm("plan", "--config", cfg, "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "the local store plans no change: %s%s", r.stdout, r.stderr)

	dd := useDatadog(t)
	r = w.esm("apply", "--config", cfg, "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 2 created, 0 updated, 0 deleted, 0 failed.\n")
	var found bool
	for _, m := range dd.Monitors() {
		if m.Name != "Latency of CheckoutCompleted" {
			continue
		}
		found = true
		assert.Equal(t, "query alert", m.Type)
		assert.Equal(t, "percentile(last_15m):p95:esm.events.latency{event_type:checkoutcompleted,env:prod} > 800", m.Query)
		assert.Equal(t, map[string]any{"critical": 800.0, "warning": 600.0}, m.Options["thresholds"])
		assert.Contains(t, m.Tags, "esm_kind:latency")
		assert.Contains(t, m.Message, "@slack-team-checkout")
	}
	assert.True(t, found, "the declared kind's monitor is in Datadog")
	r = w.esm("plan", "--config", cfg, "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "what Datadog stored plans no change: %s%s", r.stdout, r.stderr)
}

// An error in a kind's template is reported at its line in esm.yaml, and
// a parameter out of the kind's range at its value in the schema.
func TestDeclaredKindErrors(t *testing.T) {
	w := newWorkspace(t, kindsIDL)
	cfg := filepath.Join(filepath.Dir(w.schemas), "esm.yaml")
	bad := strings.Replace(kindsConfig, "{{.above_ms}}\"", "{{.above}}\"", 1)
	require.NoError(t, os.WriteFile(cfg, []byte(bad), 0o644))
	for _, command := range []string{"plan", "validate"} {
		r := runESM(t, command, "--env", "prod", "--config", cfg, w.schemas)
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, cfg+`:5:12: kinds.latency_monitor: query: <.above>: map has no entry for key "above"`)
		assert.NotContains(t, r.stdout, "Plan:")
	}

	require.NoError(t, os.WriteFile(cfg, []byte(kindsConfig), 0o644))
	w.write(strings.Replace(kindsIDL, `"above_ms": 800`, `"above_ms": 0`, 1))
	r := w.esm("plan", "--config", cfg)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, w.file()+`:5:33: @latency_monitor: above_ms must be at least 1, not 0`)

	w.write(strings.Replace(kindsIDL, "@latency_monitor", "@latncy_monitor", 1))
	r = w.esm("plan", "--config", cfg)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "unknown annotation @latncy_monitor: did you mean @latency_monitor?")
	assert.NoFileExists(t, w.statePath())
}

// esm validate runs the checks the Datadog renderer makes at plan time
// (here a warning past the critical threshold of a declared kind), at
// the annotation, as plan does.
func TestValidateRunsRenderChecks(t *testing.T) {
	w := newWorkspace(t, strings.Replace(kindsIDL, `"warning_ms": 600`, `"warning_ms": 900`, 1))
	cfg := filepath.Join(filepath.Dir(w.schemas), "esm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(kindsConfig), 0o644))
	plan := w.esm("plan", "--config", cfg)
	require.Equal(t, exitFailure, plan.code)
	r := runESM(t, "validate", "--env", "prod", "--config", cfg, w.schemas)
	assert.Equal(t, exitFailure, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, w.file()+":5:3: ")
	assert.Contains(t, r.stderr, "warning 900 must be below the critical threshold 800")
	assert.Contains(t, plan.stderr, "warning 900 must be below the critical threshold 800", "the same verdict as plan")
}
