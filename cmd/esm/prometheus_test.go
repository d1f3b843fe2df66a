package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/testenv"
)

// volumeIDL is a protocol whose records carry a traffic volume monitor
// with the given parameters.
func volumeIDL(params string, records ...string) string {
	var b strings.Builder
	b.WriteString("@namespace(\"com.example.test\")\nprotocol Shop {\n")
	for _, r := range records {
		b.WriteString("  /** The " + r + " event. */\n  @alert_channel(\"team-test\")\n  @traffic_volume_monitor(" + params + ")\n")
		b.WriteString("  record " + r + " {\n    string id;\n  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// promWorkspace runs esm with the Prometheus backend on a temporary rules
// directory.
type promWorkspace struct {
	*workspace
	rulesDir string
}

func newPromWorkspace(t *testing.T, idl string) *promWorkspace {
	t.Helper()
	w := newWorkspace(t, idl)
	return &promWorkspace{workspace: w, rulesDir: filepath.Join(filepath.Dir(w.schemas), "rules")}
}

func (w *promWorkspace) esm(command string, args ...string) result {
	w.t.Helper()
	return w.workspace.esm(command, append([]string{"--backend", "prometheus", "--rules-dir", w.rulesDir}, args...)...)
}

func (w *promWorkspace) rules() string {
	w.t.Helper()
	data, err := os.ReadFile(filepath.Join(w.rulesDir, "esm-prod.rules.yml"))
	require.NoError(w.t, err)
	return string(data)
}

// TestPrometheusPlanApplyLifecycle: plan lists each alert to create;
// apply writes esm-prod.rules.yml and leaves the directory's other files
// alone; a second plan has nothing to do; an edit is an update with the
// field diff; a removed annotation is a delete.
func TestPrometheusPlanApplyLifecycle(t *testing.T) {
	w := newPromWorkspace(t, volumeIDL(`{"below": 10, "warning": 50}`, "Ping", "Pong"))
	other := filepath.Join(w.rulesDir, "team.rules.yml")
	writeFiles(t, w.rulesDir, map[string]string{"team.rules.yml": "groups: []\n"})
	before, err := os.Stat(other)
	require.NoError(t, err)

	r := w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "using the Prometheus rules file "+filepath.Join(w.rulesDir, "esm-prod.rules.yml")+"\n", r.stderr)
	assert.Contains(t, r.stdout, `  + monitor "Traffic Volume with Ping" {`)
	assert.Contains(t, r.stdout, `  + monitor "Traffic Volume with Ping (warning)" {`)
	assert.Contains(t, r.stdout, `      + expr = "(sum(increase(esm_events_received_total{event_type=\"Ping\",env=\"prod\"}[1h])) or vector(0)) < 10"`)
	assert.Contains(t, r.stdout, `      + labels.esm_channels = ",team-test,"`)
	assert.Contains(t, r.stdout, "Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged.\n")
	assert.NoDirExists(t, filepath.Join(w.rulesDir, "esm-prod.rules.yml"))
	assert.NoFileExists(t, filepath.Join(w.rulesDir, "esm-prod.rules.yml"), "plan writes nothing")

	r = w.esm("apply")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 4 created, 0 updated, 0 deleted, 0 failed.\n")
	assert.Contains(t, r.stdout, "wrote "+filepath.Join(w.rulesDir, "esm-prod.rules.yml")+"\n")
	assert.Contains(t, w.rules(), "  - name: Traffic Volume with Pong\n")
	after, err := os.Stat(other)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime(), "other files in DIR are never touched")

	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))

	w.write(volumeIDL(`{"below": 20, "warning": 50}`, "Ping", "Pong"))
	r = w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, `  ~ monitor "Traffic Volume with Ping" {`)
	assert.Contains(t, r.stdout, `      ~ expr = "(sum(increase(esm_events_received_total{event_type=\"Ping\",env=\"prod\"}[1h])) or vector(0)) < 10"
            -> "(sum(increase(esm_events_received_total{event_type=\"Ping\",env=\"prod\"}[1h])) or vector(0)) < 20"`)
	assert.Contains(t, r.stdout, `      ~ annotations.summary = "Traffic volume for Ping events in prod: fewer than 10 events in the last 1h."
                           -> "Traffic volume for Ping events in prod: fewer than 20 events in the last 1h."`)
	assert.Contains(t, r.stdout, "Plan: 0 to create, 2 to update, 0 to delete, 2 unchanged.\n")
	require.Equal(t, exitOK, w.esm("apply").code)
	assert.Contains(t, w.rules(), "< 20\n")

	w.write(volumeIDL(`{"below": 20}`, "Ping"))
	r = w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "  - monitor \"Traffic Volume with Pong\"\n")
	assert.Contains(t, r.stdout, "  - monitor \"Traffic Volume with Ping (warning)\"\n")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 3 to delete, 1 unchanged.\n")
	r = w.esm("apply")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.NotContains(t, w.rules(), "Pong")
	assert.NotContains(t, w.rules(), "severity: warning")
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, w.esm("plan").stdout))
	after, err = os.Stat(other)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime())
}

// volumeAndLogIDL is a record Ping with a traffic volume monitor and a log
// monitor, which has no Prometheus form, at 5:3.
const volumeAndLogIDL = `@namespace("com.example.test")
protocol Shop {
  @alert_channel("team-test")
  @traffic_volume_monitor({})
  @log_monitor({"above": 5})
  record Ping {
    string id;
  }
}
`

// TestPrometheusLogMonitorHasNoForm: a log monitor is skipped with a note
// naming it; the plan of the other monitors goes on.
func TestPrometheusLogMonitorHasNoForm(t *testing.T) {
	w := newPromWorkspace(t, volumeAndLogIDL)
	r := w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.\n")
	assert.Contains(t, r.stdout, "  - Logs with Ping ("+w.file()+":5:3): @log_monitor has no Prometheus form: it searches Datadog's logs, which Prometheus does not have; not planned\n")
}

// TestPrometheusReloadAfterApply: with --prometheus-url, apply POSTs
// /-/reload and says that Prometheus reloaded.
func TestPrometheusReloadAfterApply(t *testing.T) {
	var reloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/-/reload" {
			reloads.Add(1)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	w := newPromWorkspace(t, volumeIDL(`{}`, "Ping"))
	r := w.esm("apply", "--prometheus-url", srv.URL)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Prometheus at "+srv.URL+" reloaded its rules\n")
	assert.Equal(t, int32(1), reloads.Load())
	r = w.esm("apply", "--prometheus-url", srv.URL)
	require.Equal(t, exitOK, r.code)
	assert.Equal(t, int32(1), reloads.Load(), "nothing to apply: no reload")
}

func TestPrometheusBackendFlagErrors(t *testing.T) {
	w := newWorkspace(t, volumeIDL(`{}`, "Ping"))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "grafana"}, `--backend must be datadog or prometheus, not "grafana"`},
		{[]string{"--rules-dir", "rules"}, "--rules-dir, --prometheus-url and --format are settings of the Prometheus backend: add --backend prometheus"},
		{[]string{"--backend", "prometheus"}, "the Prometheus backend of prod needs a rules directory: --rules-dir DIR, or rules_dir in the environment's section of esm.yaml"},
	}
	for _, tt := range tests {
		r := w.esm("plan", tt.args...)
		assert.Equal(t, exitFailure, r.code, "%v", tt.args)
		assert.Contains(t, r.stderr, tt.want, "%v", tt.args)
	}
}

// TestPrometheusBackendFromConfig: backend and rules_dir in esm.yaml,
// rules_dir relative to the file.
func TestPrometheusBackendFromConfig(t *testing.T) {
	w := newWorkspace(t, volumeIDL(`{}`, "Ping"))
	root := filepath.Dir(w.schemas)
	writeFiles(t, root, map[string]string{"esm.yaml": "environments:\n  prod:\n    backend: prometheus\n    rules_dir: deploy/rules\n"})
	r := w.esm("apply", "--config", filepath.Join(root, "esm.yaml"))
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.FileExists(t, filepath.Join(root, "deploy", "rules", "esm-prod.rules.yml"))
	assert.NoFileExists(t, w.statePath(), "not the local state store")
}

// TestPrometheusPlanOfTheExampleSchemas is the "Done when": esm
// plan --env prod --backend prometheus --rules-dir rules/ on schemas/,
// with the query monitor of queries/ (the repository's query directory).
func TestPrometheusPlanOfTheExampleSchemas(t *testing.T) {
	useLocalStore(t)
	dir := t.TempDir()
	r := runESM(t, "plan", "--env", "prod", "--backend", "prometheus", "--rules-dir", dir, "--config", filepath.Join("..", "..", "esm.example.yaml"), filepath.Join("..", "..", "schemas"))
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	for _, alert := range []string{"EsmTrafficAnomaly", "EsmTrafficVolume", "EsmTrafficForecast", "EsmBadData", "EsmQueryThreshold"} {
		assert.Contains(t, r.stdout, `+ alert = "`+alert+`"`)
	}
	assert.Contains(t, r.stdout, "@log_monitor has no Prometheus form")
	// The example query monitor of queries/ is a rule too, not a note.
	assert.Contains(t, r.stdout, `  + monitor "Query Threshold with example_orders_by_country" {`+"\n")
	assert.Contains(t, r.stdout, `      + expr = "avg by (country) (avg_over_time(esm_query_value{query=\"example_orders_by_country\"}[4h])) < 1"`+"\n")
	assert.Contains(t, r.stdout, `      + labels.query = "example_orders_by_country"`+"\n")
	assert.NotContains(t, r.stdout, "no Prometheus form: it is a Datadog query")
	assert.Regexp(t, `Plan: \d+ to create, 0 to update, 0 to delete, 0 unchanged.`, r.stdout)

	// esm apply writes rules promtool accepts; the second plan has
	// nothing to do.
	args := []string{"--env", "prod", "--backend", "prometheus", "--rules-dir", dir, "--config", filepath.Join("..", "..", "esm.example.yaml"), filepath.Join("..", "..", "schemas")}
	r = runESM(t, append([]string{"apply"}, args...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	r = runESM(t, append([]string{"plan"}, args...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.True(t, strings.HasSuffix(r.stdout, "\nNo changes. Monitors match the schemas.\n"), r.stdout)
	promtool := testenv.Tool(t, "Debian: apt-get install prometheus", "promtool")
	out, err := exec.Command(promtool, "check", "rules", "--lint-fatal", filepath.Join(dir, "esm-prod.rules.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
}

// TestBotBackendFollowsTheEnvironment: the bot opens each environment's
// backend as esm.yaml says.
func TestBotBackendFollowsTheEnvironment(t *testing.T) {
	useLocalStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"esm.yaml": "environments:\n  prod:\n    backend: prometheus\n    rules_dir: rules\n  staging: {}\n"})
	cfg, err := config.Load(filepath.Join(dir, "esm.yaml"))
	require.NoError(t, err)
	c := &storeCache{conf: cfg, stateDir: filepath.Join(dir, "state"), getenv: func(string) string { return "" }, stores: map[string]reconcile.Backend{}}
	prod, err := c.open("prod")
	require.NoError(t, err)
	assert.Equal(t, "the Prometheus rules file "+filepath.Join(dir, "rules", "esm-prod.rules.yml"), prod.Description)
	assert.NotNil(t, prod.RenderMany)
	staging, err := c.open("staging")
	require.NoError(t, err)
	assert.Contains(t, staging.Description, "the local state store")
}

// TestPrometheusRuleFormat: --format prometheusrule writes the rules as a
// PrometheusRule object, which plans settle against too.
func TestPrometheusRuleFormat(t *testing.T) {
	w := newPromWorkspace(t, volumeIDL(`{}`, "Ping"))
	r := w.esm("apply", "--format", "prometheusrule")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	data, err := os.ReadFile(filepath.Join(w.rulesDir, "esm-prod.prometheusrule.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "kind: PrometheusRule\n")
	assert.Contains(t, string(data), "  name: esm-prod\n")
	assert.NoFileExists(t, filepath.Join(w.rulesDir, "esm-prod.rules.yml"))
	r = w.esm("plan", "--format", "prometheusrule")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
	r = w.esm("plan", "--format", "helm")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `--format must be rules or prometheusrule, not "helm"`)
}

// TestPrometheusRuleExampleIsCurrent: deploy/monitors holds what esm apply
// writes for schemas/ in prod with deploy's esm.yaml as a PrometheusRule
// (go test -run TestPrometheusRuleExampleIsCurrent -update rewrites it).
func TestPrometheusRuleExampleIsCurrent(t *testing.T) {
	useLocalStore(t)
	root := filepath.Join("..", "..")
	cmd := "plan"
	if *update {
		cmd = "apply"
	}
	r := runESM(t, cmd, "--env", "prod", "--backend", "prometheus", "--format", "prometheusrule",
		"--rules-dir", filepath.Join(root, "deploy", "monitors"), "--config", filepath.Join(root, "deploy", "config", "esm.yaml"),
		filepath.Join(root, "schemas"))
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	if !*update {
		assert.True(t, strings.HasSuffix(r.stdout, "\nNo changes. Monitors match the schemas.\n"), "run go test ./cmd/esm -run TestPrometheusRuleExampleIsCurrent -update:\n%s", r.stdout)
	}
}

// TestPrometheusTargetScope: --target finds the rules of a record (their
// esm_record annotation), warning rules included: after an apply, a
// targeted plan has nothing to do rather than planning twins.
func TestPrometheusTargetScope(t *testing.T) {
	w := newPromWorkspace(t, volumeIDL(`{"below": 10, "warning": 50}`, "Ping", "Pong"))
	require.Equal(t, exitOK, w.esm("apply").code)
	r := w.esm("plan", "--target", "Ping")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
	w.write(volumeIDL(`{"below": 10}`, "Ping", "Pong"))
	r = w.esm("plan", "--target", "Ping")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "  - monitor \"Traffic Volume with Ping (warning)\"\n")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.\n")
}

// TestPrometheusSavedPlanRefused: a saved plan keeps Datadog-shaped
// monitors, so --out with the Prometheus backend is a usage error rather
// than a file esm apply could not apply.
func TestPrometheusSavedPlanRefused(t *testing.T) {
	w := newWorkspace(t, volumeIDL(`{}`, "Ping"))
	out := filepath.Join(t.TempDir(), "prod.plan")
	r := w.esm("plan", "--backend", "prometheus", "--rules-dir", t.TempDir(), "--out", out)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "--out: saved plans are for Datadog and the local state store, not the Prometheus backend")
	assert.NoFileExists(t, out)
}
