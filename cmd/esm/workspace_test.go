package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// esm run from a subdirectory of the repository finds esm.yaml, the
// schemas and .esm/state at the root (the nearest directory holding .git
// or esm.yaml), so it sees what it sees from the root: an apply from one
// is a plan without changes from the other. Explicit paths stay relative
// to the working directory.
func TestSubdirectorySeesTheRoot(t *testing.T) {
	schema := annotatedIDL([]string{"Ping", "Pong"}, all("Ping", "Pong"))
	// qa exists only in esm.yaml: planning it proves the file was read.
	const withQA = "environments:\n  qa:\n    tags: [\"team:qa\"]\n"
	tests := []struct {
		name  string
		files map[string]string
		env   string
	}{
		{"git repository with esm.yaml", map[string]string{".git/HEAD": "ref: refs/heads/main\n", "esm.yaml": withQA}, "qa"},
		{"esm.yaml without git", map[string]string{"esm.yaml": withQA}, "qa"},
		{"git repository without esm.yaml", map[string]string{".git/HEAD": "ref: refs/heads/main\n"}, "prod"},
		{"git worktree: .git is a file", map[string]string{".git": "gitdir: /elsewhere\n", "esm.yaml": withQA}, "qa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useLocalStore(t)
			files := map[string]string{"schemas/shop.avdl": schema, "sub/deeper/notes.txt": ""}
			for k, v := range tt.files {
				files[k] = v
			}
			root := writeFiles(t, t.TempDir(), files)
			sub := filepath.Join(root, "sub", "deeper")
			state := filepath.Join(root, ".esm", "state", tt.env+".json")

			t.Chdir(sub)
			r := runESM(t, "apply", "--env", tt.env, "--yes")
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.FileExists(t, state, "the state file is the root's")
			assert.NoDirExists(t, filepath.Join(sub, ".esm"))
			assert.Contains(t, r.stdout, "Apply complete: 2 created")

			for _, wd := range []string{root, sub, filepath.Join(root, "schemas")} {
				t.Chdir(wd)
				r = runESM(t, "plan", "--env", tt.env, "--detailed-exitcode")
				assert.Equal(t, exitOK, r.code, "from %s, no changes: stdout: %s stderr: %s", wd, r.stdout, r.stderr)
				r = runESM(t, "validate")
				assert.Equal(t, exitOK, r.code, "from %s: %s", wd, r.stderr)
				assert.Equal(t, "validated 1 file: 0 errors\n", r.stdout)
			}

			// --state-dir, PATH and --config are the user's, relative to the
			// working directory.
			t.Chdir(sub)
			r = runESM(t, "plan", "--env", tt.env, "--state-dir", "own", "--detailed-exitcode")
			assert.Equal(t, exitChanges, r.code, "an empty state of its own: stderr: %s", r.stderr)
			r = runESM(t, "plan", "--env", tt.env, "schemas")
			assert.Equal(t, exitFailure, r.code)
			assert.Contains(t, r.stderr, "schemas: no such file or directory")
			r = runESM(t, "plan", "--env", tt.env, "--config", "esm.yaml")
			assert.Equal(t, exitFailure, r.code)
			assert.Contains(t, r.stderr, "esm.yaml")
		})
	}
}

// With -I, plan, apply and validate find an import in the given
// directory, as esm idl does.
func TestImportDirOnPlanApplyValidate(t *testing.T) {
	useLocalStore(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"schemas/shop.avdl": `@namespace("com.example.test")
protocol Shop {
  import idl "common.avdl";
  @alert_channel("team-test")
  @traffic_anomaly_monitor({})
  record Ping { Money price; }
}
`,
		"lib/common.avdl": "@namespace(\"com.example.test\")\nprotocol Common {\n  record Money { string amount; }\n}\n",
	})
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
		want string // on standard output
	}{
		{"plan", []string{"plan", "--env", "prod"}, `+ monitor "Traffic Anomaly with Ping"`},
		{"apply", []string{"apply", "--env", "prod", "--yes"}, "Apply complete: 1 created"},
		{"validate", []string{"validate"}, "validated 1 file: 0 errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runESM(t, tt.args...)
			assert.Equal(t, exitFailure, r.code, "without -I the import is not found")
			assert.Contains(t, r.stderr, `import "common.avdl": file not found`)

			r = runESM(t, append(tt.args, "-I", "lib")...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, tt.want)
		})
	}
	_, err := os.Stat(filepath.Join(dir, ".esm", "state", "prod.json"))
	assert.NoError(t, err, "apply wrote the state")
}
