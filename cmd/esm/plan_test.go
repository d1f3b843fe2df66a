package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// useLocalStore clears the variables that would select the Datadog store.
func useLocalStore(t *testing.T) {
	t.Helper()
	for _, k := range []string{envAPIKey, envAppKey, envSite, envDatadogURL} {
		t.Setenv(k, "")
	}
}

// annotatedIDL returns a protocol with one record per name; the records
// named in annotated carry a traffic anomaly monitor.
func annotatedIDL(records []string, annotated map[string]bool) string {
	var b strings.Builder
	b.WriteString("@namespace(\"com.example.test\")\nprotocol Shop {\n")
	for _, r := range records {
		fmt.Fprintf(&b, "  /** The %s event. */\n", r)
		if annotated[r] {
			b.WriteString("  @alert_channel(\"team-test\")\n  @traffic_anomaly_monitor({\"deviations\": 3})\n")
		}
		fmt.Fprintf(&b, "  record %s {\n    string id;\n  }\n", r)
	}
	b.WriteString("}\n")
	return b.String()
}

// all returns a set holding every name.
func all(names ...string) map[string]bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return set
}

// workspace is a temporary schema tree with its own state directory.
type workspace struct {
	t        *testing.T
	schemas  string // the schema directory
	stateDir string
}

func newWorkspace(t *testing.T, idl string) *workspace {
	t.Helper()
	useLocalStore(t)
	dir := t.TempDir()
	w := &workspace{t: t, schemas: filepath.Join(dir, "schemas"), stateDir: filepath.Join(dir, "state")}
	w.write(idl)
	return w
}

// file is the schema file of the workspace.
func (w *workspace) file() string { return filepath.Join(w.schemas, "shop.avdl") }

// statePath is the local store's file for prod.
func (w *workspace) statePath() string { return filepath.Join(w.stateDir, "prod.json") }

func (w *workspace) write(idl string) {
	w.t.Helper()
	writeFiles(w.t, filepath.Dir(w.schemas), map[string]string{"schemas/shop.avdl": idl})
}

// esm runs "esm <command> --env prod --state-dir ... <args> <schemas>".
func (w *workspace) esm(command string, args ...string) result {
	w.t.Helper()
	full := append([]string{command, "--env", "prod", "--state-dir", w.stateDir}, args...)
	return runESM(w.t, append(full, w.schemas)...)
}

func (w *workspace) state() string {
	w.t.Helper()
	data, err := os.ReadFile(w.statePath())
	require.NoError(w.t, err)
	return string(data)
}

// The README's first run: plan shows creates, apply writes the state
// file, a second plan has nothing to do; removing an annotation plans a
// delete.
func TestPlanApplyPlanLifecycle(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))

	r := w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, `  + monitor "Traffic Anomaly with Ping" {`)
	assert.Contains(t, r.stdout, "  # from com.example.test.Ping at "+w.file()+":5\n")
	assert.Contains(t, r.stdout, "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.\n")
	assert.Equal(t, "using the local state store "+w.statePath()+" (set DD_API_KEY and DD_APP_KEY to use Datadog)\n", r.stderr)
	assert.NoFileExists(t, w.statePath(), "plan changes nothing")

	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitChanges, r.code, "changes to apply")
	assert.Empty(t, strings.TrimPrefix(r.stderr, "using the local state store "+w.statePath()+" (set DD_API_KEY and DD_APP_KEY to use Datadog)\n"))

	r = w.esm("apply")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^created monitor \d+ "Traffic Anomaly with Ping"$`, r.stdout)
	assert.Contains(t, r.stdout, "Apply complete: 2 created, 0 updated, 0 deleted, 0 failed.\n")
	assert.NotContains(t, r.stdout, confirmPrompt, "not a terminal: no question")
	assert.Contains(t, w.state(), `"name": "Traffic Anomaly with Pong"`)

	for _, args := range [][]string{{}, {"--detailed-exitcode"}} {
		r = w.esm("plan", args...)
		assert.Equal(t, exitOK, r.code, "plan %v after apply: stderr: %s", args, r.stderr)
		assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
	}
	r = w.esm("apply")
	assert.Equal(t, exitOK, r.code)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout), "a second apply has nothing to do")

	// The annotation goes: its monitor goes.
	w.write(annotatedIDL([]string{"Ping", "Pong"}, all("Ping")))
	r = w.esm("plan", "--detailed-exitcode")
	assert.Equal(t, exitChanges, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^  # monitor \d+ "Traffic Anomaly with Pong" will be deleted: no annotation asks for it any more$`, r.stdout)
	assert.Contains(t, r.stdout, `  - monitor "Traffic Anomaly with Pong"`)
	assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.\n")

	r = w.esm("apply")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^deleted monitor \d+ "Traffic Anomaly with Pong"$`, r.stdout)
	assert.NotContains(t, w.state(), "Pong")
}

// A change of an annotation's parameter plans an update of the fields
// it touches only.
func TestPlanShowsUpdatedFields(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, w.esm("apply").code)
	w.write(strings.Replace(annotatedIDL([]string{"Ping"}, all("Ping")), `"deviations": 3`, `"deviations": 5`, 1))

	r := w.esm("plan")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^  # monitor \d+ "Traffic Anomaly with Ping" will be updated in place$`, r.stdout)
	assert.Contains(t, r.stdout, "'agile', 3, ")
	assert.Contains(t, r.stdout, "-> \"avg(")
	assert.Contains(t, r.stdout, "'agile', 5, ")
	assert.NotContains(t, r.stdout, "~ name")
	assert.Contains(t, r.stdout, "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.\n")
}

func TestPlanJSON(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	require.Equal(t, exitOK, w.esm("apply").code)
	w.write(annotatedIDL([]string{"Ping", "Pong", "Zap"}, all("Ping", "Zap")))

	r := w.esm("plan", "--output", "json", "--detailed-exitcode")
	require.Equal(t, exitChanges, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr, "JSON mode says nothing more")

	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "stdout is only JSON: %s", r.stdout)
	for _, key := range []string{"env", "changes", "summary"} {
		assert.Contains(t, out, key)
	}
	assert.JSONEq(t, `"prod"`, string(out["env"]))
	assert.JSONEq(t, `{"create": 1, "update": 0, "delete": 1, "unchanged": 1}`, string(out["summary"]))

	var changes []map[string]any
	require.NoError(t, json.Unmarshal(out["changes"], &changes))
	require.Len(t, changes, 3, "unchanged monitors are listed too")
	byAction := map[string]map[string]any{}
	for _, c := range changes {
		for _, key := range []string{"action", "name", "id", "record", "file", "diff"} {
			assert.Contains(t, c, key, "change %v", c["name"])
		}
		byAction[c["action"].(string)] = c
	}
	create, del, same := byAction["create"], byAction["delete"], byAction["unchanged"]
	require.NotNil(t, create)
	require.NotNil(t, del)
	require.NotNil(t, same)
	assert.Equal(t, "Traffic Anomaly with Zap", create["name"])
	assert.Nil(t, create["id"], "id is null for a create")
	assert.Equal(t, "com.example.test.Zap", create["record"])
	assert.Equal(t, w.file(), create["file"])
	assert.Equal(t, 15.0, create["line"], "the line of the annotation")
	query := create["diff"].(map[string]any)["query"].(map[string]any)
	assert.Nil(t, query["before"])
	assert.Contains(t, query["after"], "event_type:zap", "the filter is in the form Datadog stores the tag")

	assert.Equal(t, "Traffic Anomaly with Pong", del["name"])
	assert.IsType(t, 0.0, del["id"])
	assert.Equal(t, map[string]any{}, same["diff"])

	r = w.esm("plan", "-o", "json")
	assert.Equal(t, exitOK, r.code, "without --detailed-exitcode changes are success")
}

// A schema error stops everything before the store is touched, and is
// reported as file:line:col: message.
func TestPlanAndApplyRejectSchemaErrors(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.Equal(t, exitOK, w.esm("apply").code)
	before := w.state()

	w.write(strings.Replace(annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")), `"deviations": 3`, `"deviationz": 3`, 1))
	for _, args := range [][]string{{"plan"}, {"apply", "--yes"}} {
		t.Run(args[0], func(t *testing.T) {
			r := w.esm(args[0], args[1:]...)
			assert.Equal(t, exitFailure, r.code)
			assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(w.file())+`:\d+:\d+: .*deviationz`), r.stderr)
			assert.NotContains(t, r.stdout, "Plan:")
			assert.NotContains(t, r.stderr, "using the local state store", "the store is not even opened")
			assert.Equal(t, before, w.state(), "nothing applied")
		})
	}
}

func TestPlanErrors(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	badConfig := filepath.Join(t.TempDir(), "esm.yaml")
	require.NoError(t, os.WriteFile(badConfig, []byte("environments:\n  prod:\n    metrik: x\n"), 0o644))
	manyProblems := filepath.Join(t.TempDir(), "esm.yaml")
	require.NoError(t, os.WriteFile(manyProblems, []byte("environments:\n  prod:\n    metric: \"1bad\"\n    max_deletes: -1\n"), 0o644))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stderrRE string
	}{
		{"no env", []string{"plan", w.schemas}, nil, exitFailure, `(?m)^esm: --env is required`},
		{"bad output", []string{"plan", "--env", "prod", "--output", "yaml", w.schemas}, nil, exitFailure, `--output must be text, json or markdown, not "yaml"`},
		{"unknown env", []string{"plan", "--env", "qa", "--state-dir", w.stateDir, w.schemas}, nil, exitFailure,
			`(?m)^esm: unknown environment "qa": configured environments are prod, staging$`},
		{"missing path", []string{"plan", "--env", "prod", "--state-dir", w.stateDir, filepath.Join(w.schemas, "nope")}, nil, exitFailure, `nope`},
		{"bad config", []string{"plan", "--env", "prod", "--config", badConfig, w.schemas}, nil, exitFailure,
			regexp.QuoteMeta(badConfig) + `:3: unknown key "metrik"`},
		{"config with many problems", []string{"plan", "--env", "prod", "--config", manyProblems, w.schemas}, nil, exitFailure,
			`(?m)^` + regexp.QuoteMeta(manyProblems) + `:3:13: .*metric.*\n` + regexp.QuoteMeta(manyProblems) + `:4:18: .*max_deletes`},
		{"missing config", []string{"plan", "--env", "prod", "--config", badConfig + ".missing", w.schemas}, nil, exitFailure, `read config`},
		{"only the API key", []string{"plan", "--env", "prod", w.schemas}, map[string]string{envAPIKey: "k"}, exitFailure,
			`(?m)^esm: DD_API_KEY is set but DD_APP_KEY is not`},
		{"only the app key", []string{"apply", "--env", "prod", w.schemas}, map[string]string{envAppKey: "a"}, exitFailure,
			`(?m)^esm: DD_APP_KEY is set but DD_API_KEY is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := runESM(t, tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Regexp(t, tt.stderrRE, r.stderr)
			assert.Empty(t, r.stdout)
		})
	}
	assert.NoFileExists(t, w.statePath())
}

// A corrupt state file is an error naming it, and stays as it is.
func TestCorruptStateFile(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.NoError(t, os.MkdirAll(w.stateDir, 0o755))
	require.NoError(t, os.WriteFile(w.statePath(), []byte("{not json"), 0o644))
	for _, command := range []string{"plan", "apply"} {
		r := w.esm(command)
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, "esm: read state "+w.statePath()+": invalid character")
		assert.Equal(t, "{not json", w.state())
	}
}

// Without arguments esm reads ./schemas and keeps its state in
// ./.esm/state.
func TestPlanDefaults(t *testing.T) {
	useLocalStore(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{"schemas/shop.avdl": annotatedIDL([]string{"Ping"}, all("Ping"))})
	t.Chdir(dir)
	r := runESM(t, "apply", "--env", "prod")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "# from com.example.test.Ping at schemas/shop.avdl:5\n")
	assert.Equal(t, "using the local state store .esm/state/prod.json (set DD_API_KEY and DD_APP_KEY to use Datadog)\n", r.stderr)
	assert.FileExists(t, filepath.Join(dir, ".esm", "state", "prod.json"))
	assert.NoFileExists(t, filepath.Join(dir, ".esm", "state", "staging.json"))
}

// Every PATH of plan and apply, or the default schemas, must exist and
// hold a schema file, as for validate: a path without one would plan the
// deletion of every monitor of the environment. The error names the
// path, exits 1 and leaves the store as it was.
func TestPlanAndApplyRefuseSchemaPathsWithoutSchemas(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	require.Equal(t, exitOK, w.esm("apply").code)
	before := w.state()
	require.Contains(t, before, "Traffic Anomaly with Ping")

	root := filepath.Dir(w.schemas)
	writeFiles(t, root, map[string]string{
		"empty/README.md":            "no schemas here",
		"empty/.hidden/skipped.avdl": annotatedIDL([]string{"Ping"}, all("Ping")),
		"notes.txt":                  "",
	})
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bare"), 0o755))
	in := func(name string) string { return filepath.Join(root, name) }
	tests := []struct {
		name    string
		paths   []string
		message string // the line of standard error
	}{
		{"empty directory", []string{in("bare")}, in("bare") + ": no .avdl, .avsc or .avpr file in this directory"},
		{"directory with other files only", []string{in("empty")}, in("empty") + ": no .avdl, .avsc or .avpr file in this directory"},
		{"missing path", []string{in("nope")}, in("nope") + ": no such file or directory"},
		{"not a schema file", []string{in("notes.txt")}, in("notes.txt") + ": not an Avro schema file (want .avdl, .avsc or .avpr)"},
		{"a good path and an empty one", []string{w.schemas, in("bare")}, in("bare") + ": no .avdl, .avsc or .avpr file in this directory"},
	}
	for _, tt := range tests {
		for _, command := range [][]string{{"plan"}, {"plan", "--detailed-exitcode"}, {"apply", "--yes"}} {
			t.Run(strings.Join(command, " ")+": "+tt.name, func(t *testing.T) {
				// Each case starts from the first apply's state.
				require.NoError(t, os.WriteFile(w.statePath(), []byte(before), 0o644))
				args := append(append(slices.Clone(command), "--env", "prod", "--state-dir", w.stateDir), tt.paths...)
				r := runESM(t, args...)
				assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
				assert.Equal(t, "esm: "+tt.message+"\n", r.stderr, "one line naming the path; the store is not even opened")
				assert.Empty(t, r.stdout)
				assert.Equal(t, before, w.state(), "every monitor is still there")
			})
		}
	}
}

// Without PATH, plan and apply read ./schemas, which must exist and hold a
// schema file too.
func TestPlanAndApplyRefuseMissingDefaultSchemas(t *testing.T) {
	useLocalStore(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{"schemas/shop.avdl": annotatedIDL([]string{"Ping"}, all("Ping"))})
	t.Chdir(dir)
	require.Equal(t, exitOK, runESM(t, "apply", "--env", "prod").code)
	statePath := filepath.Join(dir, ".esm", "state", "prod.json")
	before, err := os.ReadFile(statePath)
	require.NoError(t, err)

	for _, setup := range []struct {
		name    string
		prepare func(t *testing.T)
		message string
	}{
		{"empty", func(t *testing.T) { require.NoError(t, os.Remove(filepath.Join(dir, "schemas", "shop.avdl"))) },
			"esm: schemas: no .avdl, .avsc or .avpr file in this directory\n"},
		{"missing", func(t *testing.T) { require.NoError(t, os.RemoveAll(filepath.Join(dir, "schemas"))) },
			"esm: schemas: no such file or directory\n"},
	} {
		t.Run(setup.name, func(t *testing.T) {
			setup.prepare(t)
			for _, command := range [][]string{{"plan", "--env", "prod"}, {"apply", "--env", "prod", "--yes"}} {
				r := runESM(t, command...)
				assert.Equal(t, exitFailure, r.code, "%s: stderr: %s", command, r.stderr)
				assert.Equal(t, setup.message, r.stderr, command)
				after, err := os.ReadFile(statePath)
				require.NoError(t, err)
				assert.Equal(t, string(before), string(after), "%s: every monitor is still there", command)
			}
		})
	}
}

// A schema directory reached through a symbolic link is read like the
// directory itself: its monitors are created and kept, not taken for
// "no schemas".
func TestPlanAndApplyFollowSymlinkedSchemaDirectory(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	link := filepath.Join(t.TempDir(), "schemas-link")
	require.NoError(t, os.Symlink(w.schemas, link))

	r := runESM(t, "apply", "--env", "prod", "--state-dir", w.stateDir, link)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 1 created, 0 updated, 0 deleted, 0 failed.\n")
	assert.Contains(t, r.stdout, "# from com.example.test.Ping at "+filepath.Join(link, "shop.avdl")+":5\n", "the file as the user named it")
	assert.Contains(t, w.state(), `"name": "Traffic Anomaly with Ping"`)

	r = runESM(t, "plan", "--env", "prod", "--state-dir", w.stateDir, "--detailed-exitcode", link)
	assert.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout))
}

// A local state file that is a symbolic link to a shared file is written
// through: after apply the link is still a link, the target holds the
// monitors and a plan finds nothing to do. A link to a device is refused,
// and stays.
func TestApplyThroughSymlinkedStateFile(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong")))
	shared := filepath.Join(t.TempDir(), "shared", "prod.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(shared), 0o755))
	require.NoError(t, os.MkdirAll(w.stateDir, 0o755))
	if err := os.Symlink(shared, w.statePath()); err != nil {
		t.Skipf("symbolic links are not available: %v", err)
	}

	for _, step := range []string{"first apply", "apply of a change"} {
		if step == "apply of a change" {
			w.write(annotatedIDL([]string{"Ping", "Pong"}, all("Ping")))
		}
		r := w.esm("apply")
		require.Equal(t, exitOK, r.code, "%s: stderr: %s", step, r.stderr)
		info, err := os.Lstat(w.statePath())
		require.NoError(t, err)
		require.NotZero(t, info.Mode()&os.ModeSymlink, "%s: the state file is still a link", step)
		target, err := os.Readlink(w.statePath())
		require.NoError(t, err)
		assert.Equal(t, shared, target)
		data, err := os.ReadFile(shared)
		require.NoError(t, err)
		assert.Contains(t, string(data), `"name": "Traffic Anomaly with Ping"`, step)
		assert.Equal(t, step == "first apply", strings.Contains(string(data), "Pong"), "%s: the target holds what was applied", step)

		r = w.esm("plan", "--detailed-exitcode")
		assert.Equal(t, exitOK, r.code, "%s: stderr: %s", step, r.stderr)
		assert.Equal(t, "No changes. Monitors match the schemas.\n", afterScope(t, r.stdout), step)
	}
}

// A state file that links to a device is refused at once, by plan and
// apply, and left as it is.
func TestStateFileLinkedToDeviceIsRefused(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil || os.DevNull != "/dev/null" {
		t.Skip("no /dev/null here")
	}
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.NoError(t, os.MkdirAll(w.stateDir, 0o755))
	if err := os.Symlink(os.DevNull, w.statePath()); err != nil {
		t.Skipf("symbolic links are not available: %v", err)
	}
	for _, command := range [][]string{{"plan"}, {"apply", "--yes"}} {
		t.Run(command[0], func(t *testing.T) {
			r := w.esm(command[0], command[1:]...)
			assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, "esm: state file "+w.statePath()+" is a symbolic link to /dev/null, a character device, not a regular file\n")
			assert.Empty(t, r.stdout)
			target, err := os.Readlink(w.statePath())
			require.NoError(t, err, "still a link")
			assert.Equal(t, os.DevNull, target)
		})
	}
}

// afterScope returns a text plan without its first line, which says the
// scope.
func afterScope(t *testing.T, out string) string {
	t.Helper()
	line, rest, _ := strings.Cut(out, "\n")
	assert.True(t, strings.HasPrefix(line, "Scope: "), "the first line says the scope: %q", line)
	return rest
}
