package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
)

// planFile is where a test saves its plan.
func (w *workspace) planFile() string {
	return filepath.Join(filepath.Dir(w.schemas), "prod.tfplan.json")
}

// applyFile runs "esm apply FILE" with args, and no other flag: the saved
// plan says the environment, the store and the scope.
func applyFile(t *testing.T, file string, args ...string) result {
	t.Helper()
	return runESM(t, append(append([]string{"apply"}, args...), file)...)
}

// ddWrites counts the requests that change monitors.
func ddWrites(dd *ddtest.Server) int {
	return dd.CountRequests(http.MethodPost, "") + dd.CountRequests(http.MethodPut, "") + dd.CountRequests(http.MethodDelete, "")
}

// ddNames returns the names of the fake's monitors.
func ddNames(dd *ddtest.Server) []string {
	var out []string
	for _, m := range dd.Monitors() {
		out = append(out, m.Name)
	}
	return out
}

// esm plan --out FILE then esm apply FILE creates exactly the planned
// monitors, against the fake Datadog: not what the schemas say by the
// time of the apply.
func TestSavedPlanAppliesExactlyThePlan(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	dd := useDatadog(t)

	r := w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.\n\nSaved the plan to "+w.planFile()+". To apply exactly this plan, run: esm apply "+w.planFile()+"\n")
	info, err := os.Stat(w.planFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a plan names monitors and channels: only its owner reads it")
	entries, err := os.ReadDir(filepath.Dir(w.planFile()))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "no temporary file is left")
	}
	assert.Zero(t, ddWrites(dd), "plan --out changes nothing")

	// The schemas change after the plan: the saved plan is applied, not a
	// fresh one.
	w.write(annotatedIDL([]string{"Ping", "Pong", "Pang"}, all("Ping", "Pang")))
	onTerminal(t, "") // on a terminal too: the plan was reviewed when it was made
	r = applyFile(t, w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "using Datadog at "+dd.URL+"\napplying the saved plan "+w.planFile()+", made ")
	assert.NotContains(t, r.stdout, confirmPrompt, "a saved plan was reviewed: it is applied without asking")
	assert.Contains(t, r.stdout, "Apply complete: 2 created, 0 updated, 0 deleted, 0 failed.\n")
	assert.ElementsMatch(t, []string{"Traffic Anomaly with Ping", "Traffic Anomaly with Pong"}, ddNames(dd))
	for _, m := range dd.Monitors() {
		assert.Contains(t, m.Tags, "esm-prod")
	}

	// Applied once, the plan is stale: its monitors exist now.
	dd.ResetRequests()
	r = applyFile(t, w.planFile())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `monitor "Traffic Anomaly with Ping", which the plan creates, was created since the plan (id `)
	assert.Zero(t, ddWrites(dd))
}

// A saved plan is refused, and nothing changed, when a monitor it touches
// changed between the plan and the apply: edited, deleted, or created by
// someone else. The refusal names every such monitor.
func TestSavedPlanRefusesStalePlans(t *testing.T) {
	tests := []struct {
		name string
		// before makes the store and the schemas the plan is made from;
		// it returns the workspace.
		before func(t *testing.T, dd *ddtest.Server) *workspace
		// between changes the store after the plan is saved.
		between func(t *testing.T, dd *ddtest.Server)
		want    []string
	}{
		{
			name:   "update of a monitor edited since",
			before: appliedThenChanged(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")), strings.ReplaceAll(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")), `"deviations": 3`, `"deviations": 4`)),
			between: func(t *testing.T, dd *ddtest.Server) {
				dd.EditMonitor(t, monitorID(t, dd, "Traffic Anomaly with Ping"), func(m map[string]any) { m["message"] = "edited in the UI" })
				dd.EditMonitor(t, monitorID(t, dd, "Traffic Anomaly with Pong"), func(m map[string]any) { m["message"], m["priority"] = "edited too", 2 })
			},
			want: []string{
				` "Traffic Anomaly with Ping" changed since the plan: message` + "\n",
				` "Traffic Anomaly with Pong" changed since the plan: message, priority` + "\n",
			},
		},
		{
			name:   "update of a monitor deleted since",
			before: appliedThenChanged(annotatedIDL([]string{"Ping"}, all("Ping")), strings.ReplaceAll(annotatedIDL([]string{"Ping"}, all("Ping")), `"deviations": 3`, `"deviations": 4`)),
			between: func(t *testing.T, dd *ddtest.Server) {
				dd.DeleteMonitor(t, monitorID(t, dd, "Traffic Anomaly with Ping"))
			},
			want: []string{` "Traffic Anomaly with Ping" was deleted, or lost its environment tag, since the plan` + "\n"},
		},
		{
			name:   "delete of a monitor edited since",
			before: appliedThenChanged(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")), annotatedIDL([]string{"Ping", "Pong"}, all("Ping"))),
			between: func(t *testing.T, dd *ddtest.Server) {
				dd.EditMonitor(t, monitorID(t, dd, "Traffic Anomaly with Pong"), func(m map[string]any) { m["message"] = "keep me, I am watched" })
			},
			want: []string{` "Traffic Anomaly with Pong" changed since the plan: message` + "\n"},
		},
		{
			name: "create of a monitor created since",
			before: func(t *testing.T, dd *ddtest.Server) *workspace {
				return newWorkspaceKeepingStore(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
			},
			between: func(t *testing.T, dd *ddtest.Server) {
				dd.Seed(ddtest.Monitor{ID: 40, Name: "Traffic Anomaly with Pong", Type: "query alert", Query: "avg(last_5m):sum:x{*} > 1", Tags: []string{"esm-prod"}})
			},
			want: []string{`  monitor "Traffic Anomaly with Pong", which the plan creates, was created since the plan (id 40)` + "\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dd := useDatadog(t)
			w := tt.before(t, dd)
			r := w.esm("plan", "--out", w.planFile())
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			require.Contains(t, r.stdout, "Saved the plan to ")
			tt.between(t, dd)
			before := dd.Monitors()
			dd.ResetRequests()

			r = applyFile(t, w.planFile())
			assert.Equal(t, exitFailure, r.code)
			assert.Contains(t, r.stderr, fmt.Sprintf("esm: the saved plan %s is stale: %s it touches changed since it was made; nothing was changed:\n", w.planFile(), plural(len(tt.want), "monitor")))
			for _, line := range tt.want {
				assert.Contains(t, r.stderr, line)
			}
			assert.Contains(t, r.stderr, "Make a new plan (esm plan --env prod --out "+w.planFile()+") and review it.\n")
			assert.NotContains(t, r.stdout, "Apply complete")
			assert.Zero(t, ddWrites(dd), "the fake saw no write: %v", dd.Requests())
			assert.Equal(t, before, dd.Monitors(), "nothing changed")

			// As JSON: the refusal is the error, nothing applied.
			r = applyFile(t, w.planFile(), "--output", "json")
			assert.Equal(t, exitFailure, r.code)
			var out struct {
				Applied bool   `json:"applied"`
				Error   string `json:"error"`
				Results []any  `json:"results"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "stdout: %s", r.stdout)
			assert.False(t, out.Applied)
			assert.Contains(t, out.Error, "the saved plan is stale, nothing was changed: ")
			assert.Empty(t, out.Results)
			assert.Zero(t, ddWrites(dd))
		})
	}
}

// appliedThenChanged returns a before step that applies first, then
// writes second: the plan then updates or deletes.
func appliedThenChanged(first, second string) func(t *testing.T, dd *ddtest.Server) *workspace {
	return func(t *testing.T, dd *ddtest.Server) *workspace {
		w := newWorkspaceKeepingStore(t, first)
		r := w.esm("apply", "--yes")
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		w.write(second)
		return w
	}
}

// newWorkspaceKeepingStore is newWorkspace without switching to the local
// store (the test chose Datadog already).
func newWorkspaceKeepingStore(t *testing.T, idl string) *workspace {
	t.Helper()
	dir := t.TempDir()
	w := &workspace{t: t, schemas: filepath.Join(dir, "schemas"), stateDir: filepath.Join(dir, "state")}
	w.write(idl)
	return w
}

// On the local state store, too, a saved plan made stale by another
// apply is refused and the state file is left as it is; a fresh one is
// applied, with the state directory taken from the plan.
func TestSavedPlanLocalStore(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	w.write(annotatedIDL([]string{"Ping", "Pong"}, all("Ping")))
	r := w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.")

	// Someone applies another change first: Pong's annotation is back and
	// its monitor is updated.
	w.write(strings.ReplaceAll(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")), `"deviations": 3`, `"deviations": 5`))
	require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	before := w.state()
	r = applyFile(t, w.planFile())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, ` "Traffic Anomaly with Pong" changed since the plan: query`)
	assert.Equal(t, before, w.state(), "the state file is untouched")

	// A fresh plan applies, without --state-dir: the plan names the file.
	w.write(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	r = w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, "Plan: 0 to create, 2 to update, 0 to delete, 0 unchanged.")
	w.write(annotatedIDL([]string{"Ping"}, nil)) // not read by apply FILE
	r = applyFile(t, w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 0 created, 2 updated, 0 deleted, 0 failed.\n")
	assert.Contains(t, r.stderr, "using the local state store "+w.statePath())
	assert.Contains(t, w.state(), `"Traffic Anomaly with Pong"`)
	assert.Equal(t, 2, strings.Count(w.state(), `"name"`), "exactly the plan's two monitors")

	// The same --state-dir as the plan's is fine.
	r = w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	r = applyFile(t, w.planFile(), "--state-dir", w.stateDir, "--env", "prod")
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
}

// A plan without changes applies nothing and asks the store nothing.
func TestSavedPlanWithoutChanges(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	dd := useDatadog(t)
	require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	r := w.esm("plan", "--out", w.planFile(), "--detailed-exitcode")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	dd.ResetRequests()
	onTerminal(t, "")
	r = applyFile(t, w.planFile())
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
	assert.Empty(t, dd.Requests())
}

// The mass-delete guard holds for saved plans as for esm apply.
func TestSavedPlanMassDeleteGuard(t *testing.T) {
	var records []string
	for i := range 11 {
		records = append(records, fmt.Sprintf("Event%02d", i))
	}
	w := newWorkspace(t, annotatedIDL(records, all(records...)))
	require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	w.write(annotatedIDL(records, nil))
	require.Equal(t, exitOK, w.esm("plan", "--out", w.planFile()).code)
	before := w.state()

	r := applyFile(t, w.planFile())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "esm: plan deletes too many monitors: 11 deletions, more than the limit of 10")
	assert.Equal(t, before, w.state())

	r = applyFile(t, w.planFile(), "--allow-mass-delete", "--output", "json")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var out struct {
		Applied bool           `json:"applied"`
		Summary map[string]int `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "json needs no --yes: a saved plan asks nothing")
	assert.True(t, out.Applied)
	assert.Equal(t, 11, out.Summary["deleted"])
	assert.NotContains(t, w.state(), "Event")
}

// Flags that contradict the saved plan, and a plan mixed with PATHs, are
// usage errors; a store other than the plan's is an error. Nothing runs.
func TestSavedPlanContradictions(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, w.esm("plan", "--out", w.planFile()).code)
	other := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"another env", []string{"--env", "staging"}, "esm: --env staging contradicts the saved plan " + w.planFile() + ", made for environment prod\nRun 'esm apply --help' for usage.\n"},
		{"a target", []string{"--target", "Ping"}, "esm: --target: the scope of the saved plan " + w.planFile() + " was set when it was made; make a new plan with --target\n"},
		{"an import dir", []string{"-I", other}, "esm: -I: the saved plan " + w.planFile() + " reads no schemas\n"},
		{"another state dir", []string{"--state-dir", other}, "esm: --state-dir " + other + " contradicts the saved plan " + w.planFile() + ", made against the local state store "},
		{"with a PATH", []string{w.schemas}, "esm: " + w.planFile() + " is a saved plan: esm apply FILE applies it alone, without other PATHs\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := applyFile(t, w.planFile(), tt.args...)
			assert.Equal(t, exitFailure, r.code)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
			assert.NoFileExists(t, w.statePath())
		})
	}
	t.Run("Datadog instead of the local store", func(t *testing.T) {
		dd := useDatadog(t)
		r := applyFile(t, w.planFile())
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, "esm: the saved plan "+w.planFile()+" was made against the local state store ")
		assert.Contains(t, r.stderr, "but this apply would use Datadog at "+dd.URL)
		assert.Empty(t, dd.Requests())
	})
	t.Run("--out in a missing directory", func(t *testing.T) {
		out := filepath.Join(other, "missing", "prod.plan")
		r := w.esm("plan", "--out", out)
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, "esm: write plan file "+out+": no such file or directory\n")
		assert.Empty(t, r.stdout, "no plan is shown that was not saved")
	})
	t.Run("--out named as a schema", func(t *testing.T) {
		r := w.esm("plan", "--out", filepath.Join(other, "plan.avdl"))
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, "a plan file must not be named as a schema file")
		assert.NoFileExists(t, filepath.Join(other, "plan.avdl"))
	})
}

// A file that is not a saved plan esm can apply is a one-line error
// naming it; nothing is read from the store or written.
func TestSavedPlanCorruptFiles(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, w.esm("plan", "--out", w.planFile()).code)
	good, err := os.ReadFile(w.planFile())
	require.NoError(t, err)
	tests := []struct {
		name    string
		content string
		want    string
	}{
		// Not JSON: a PATH that is not a schema file.
		{"empty", "", "not an Avro schema file (want .avdl, .avsc or .avpr)"},
		{"not JSON", "plan: yes\n", "not an Avro schema file (want .avdl, .avsc or .avpr)"},
		{"truncated", string(good[:len(good)/2]), "not an esm plan file: unexpected end of JSON input (line "},
		{"a JSON syntax error", "{\n  \"format_version\": 1,,\n}", "not an esm plan file: invalid character ',' looking for beginning of object key string (line 2, column 23)"},
		{"another program's JSON", `{"terraform_version": "1.9.0", "planned_values": {}}`, `not an esm plan file: no "format_version" (write one with esm plan --out FILE)`},
		{"a newer format", `{"format_version": 2, "something": "new"}`, "plan file format_version 2 is newer than this esm reads (1)"},
		{"an unknown key", strings.Replace(string(good), `"format_version": 1,`, `"format_version": 1, "extra": true,`, 1), `invalid plan file: json: unknown field "extra"`},
		{"a field of the wrong type", regexp.MustCompile(`"options.thresholds.critical": [0-9.]+`).ReplaceAllString(string(good), `"options.thresholds.critical": "high"`), "invalid plan file: changes[0]: desired: options.thresholds.critical must be a number"},
		{"an edited summary", strings.Replace(string(good), `"create": 1`, `"create": 2`, 1), `invalid plan file: "summary"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plan.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			var args []string
			if !strings.HasPrefix(strings.TrimSpace(tt.content), "{") {
				// Not JSON, so a schema PATH: esm apply needs --env.
				args = []string{"--env", "prod", "--state-dir", w.stateDir}
			}
			r := applyFile(t, path, args...)
			assert.Equal(t, exitFailure, r.code)
			assert.True(t, strings.HasPrefix(r.stderr, "esm: "+path+": "), "names the file: %q", r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Empty(t, r.stdout)
			assert.NoFileExists(t, w.statePath())
		})
	}
}

// The saved plan's format, exactly, with the time, the version and the
// temporary paths normalised: a create, an update, a delete and an
// unchanged monitor.
func TestSavedPlanFormatGolden(t *testing.T) {
	records := []string{"Alpha", "Beta", "Gamma", "Delta"}
	w := newWorkspace(t, annotatedIDL(records, nil))
	// One create per apply, so that the IDs are 1, 2, 3.
	for i := range 3 {
		w.write(annotatedIDL(records, all(records[:i+1]...)))
		require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	}
	idl := annotatedIDL([]string{"Alpha", "Beta", "Gamma", "Delta"}, all("Alpha", "Beta", "Delta"))
	idl = strings.Replace(idl, "  @alert_channel(\"team-test\")\n  @traffic_anomaly_monitor({\"deviations\": 3})\n  record Beta", "  @alert_channel(\"team-test\")\n  @traffic_anomaly_monitor({\"deviations\": 4})\n  record Beta", 1)
	w.write(idl)
	r := w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, "Plan: 1 to create, 1 to update, 1 to delete, 1 unchanged.")
	data, err := os.ReadFile(w.planFile())
	require.NoError(t, err)
	root := filepath.Dir(w.schemas)
	data = bytes.ReplaceAll(data, []byte(root), []byte("/ROOT"))
	data = bytes.ReplaceAll(data, []byte(strings.ToLower(root)), []byte("/root")) // in tags
	data = regexp.MustCompile(`"created_at": "[^"]+"`).ReplaceAll(data, []byte(`"created_at": "2026-01-02T03:04:05Z"`))
	data = regexp.MustCompile(`"esm_version": "[^"]+"`).ReplaceAll(data, []byte(`"esm_version": "v0.0.0"`))
	golden(t, "saved_plan.json", data)
}

// With --output json the plan on standard output stays pure JSON: the
// saved-plan line goes to standard error.
func TestSavedPlanWithJSONOutput(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	r := w.esm("plan", "--out", w.planFile(), "--output", "json", "--detailed-exitcode")
	require.Equal(t, exitChanges, r.code, "stderr: %s", r.stderr)
	var plan map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &plan), "stdout: %s", r.stdout)
	assert.Equal(t, "Saved the plan to "+w.planFile()+". To apply exactly this plan, run: esm apply "+w.planFile()+"\n", r.stderr)
	assert.FileExists(t, w.planFile())
}

// A plan made against Datadog is applied against the same Datadog only:
// not another endpoint, not the local store.
func TestSavedPlanKeepsItsDatadog(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	dd := useDatadog(t)
	require.Equal(t, exitOK, w.esm("plan", "--out", w.planFile()).code)
	dd.ResetRequests()

	other := useDatadog(t)
	r := applyFile(t, w.planFile())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "esm: the saved plan "+w.planFile()+" was made against Datadog at "+dd.URL+", but this apply would use Datadog at "+other.URL+": ")
	assert.Empty(t, other.Requests())

	useLocalStore(t)
	r = applyFile(t, w.planFile())
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "was made against Datadog at "+dd.URL+", but this apply would use the local state store ")
	r = applyFile(t, w.planFile(), "--state-dir", w.stateDir)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "esm: --state-dir "+w.stateDir+" contradicts the saved plan "+w.planFile()+", made against Datadog at "+dd.URL+"\n")
	assert.Empty(t, dd.Requests())
	assert.NoDirExists(t, w.stateDir)
}

// A saved plan keeps the drift verdict: esm apply FILE shows the monitor
// changed outside esm as the plan did, and reverts the edit.
func TestSavedPlanKeepsDrift(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	dd := useDatadog(t)
	require.Equal(t, exitOK, w.esm("apply", "--yes").code)
	id := monitorID(t, dd, "Traffic Anomaly with Ping")
	want, _ := dd.Monitor(id)
	dd.EditMonitor(t, id, func(m map[string]any) { m["message"] = "edited in the UI" })

	r := w.esm("plan", "--out", w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, "(changed outside esm: message)")
	data, err := os.ReadFile(w.planFile())
	require.NoError(t, err)
	assert.Contains(t, string(data), `"drift": true,`)

	r = applyFile(t, w.planFile())
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "(changed outside esm: message)")
	assert.Contains(t, r.stdout, "Apply complete: 0 created, 1 updated, 0 deleted, 0 failed.\n")
	got, _ := dd.Monitor(id)
	assert.Equal(t, want.Message, got.Message, "the edit is reverted")
}
