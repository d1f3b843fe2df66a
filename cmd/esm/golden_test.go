package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenDir is testdata/golden, found before any test changes directory.
var goldenDir, _ = filepath.Abs(filepath.Join("testdata", "golden"))

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update ./cmd/esm/ to create it", t.Name())
	assert.Equal(t, string(want), string(got), "%s differs; rerun with -update if the change is intended", path)
}

// exampleRepo copies the repository's schemas/ and esm.example.yaml (as
// esm.yaml) into a fresh repository and returns its root.
func exampleRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
	files := map[string]string{}
	entries, err := os.ReadDir(filepath.Join("..", "..", "schemas"))
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("..", "..", "schemas", e.Name()))
		require.NoError(t, err)
		files["schemas/"+e.Name()] = string(data)
	}
	cfg, err := os.ReadFile(filepath.Join("..", "..", "esm.example.yaml"))
	require.NoError(t, err)
	files["esm.yaml"] = string(cfg)
	writeFiles(t, root, files)
	return root
}

// The monitors the example schemas produce, exactly: the local state file
// after "esm apply", and the bodies esm sends to Datadog's create API.
// Every kind the schemas show is in them; a change to what a kind
// renders shows here first.
func TestExampleMonitorsGolden(t *testing.T) {
	for _, env := range []string{"prod", "staging"} {
		t.Run(env, func(t *testing.T) {
			root := exampleRepo(t)
			args := func(cmd string) []string {
				return []string{cmd, "--env", env, "--config", filepath.Join(root, "esm.yaml"),
					"--state-dir", filepath.Join(root, "state"), filepath.Join(root, "schemas")}
			}

			useLocalStore(t)
			r := runESM(t, append(args("apply"), "--yes")...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			state, err := os.ReadFile(filepath.Join(root, "state", env+".json"))
			require.NoError(t, err)
			golden(t, env+".state.json", stateByName(t, state))

			dd := useDatadog(t)
			r = runESM(t, append(args("apply"), "--yes")...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			var bodies []json.RawMessage
			for _, req := range dd.Requests() {
				if req.Method == http.MethodPost && req.Path == "/api/v1/monitor" {
					bodies = append(bodies, req.Body)
				}
			}
			require.NotEmpty(t, bodies)
			golden(t, env+".datadog.json", prettyByName(t, bodies))

			r = runESM(t, append(args("plan"), "--detailed-exitcode")...)
			assert.Equal(t, exitOK, r.code, "what Datadog stored plans no change: %s%s", r.stdout, r.stderr)
		})
	}
}

// stateByName returns a state file with its monitors sorted by name and
// their IDs, which concurrent creates hand out in any order, as 0; the
// rest is the file's bytes as written.
func stateByName(t *testing.T, state []byte) []byte {
	t.Helper()
	var f struct {
		Monitors []json.RawMessage `json:"monitors"`
	}
	require.NoError(t, json.Unmarshal(state, &f))
	start := bytes.Index(state, []byte(`"monitors": [`))
	require.GreaterOrEqual(t, start, 0)
	var all []json.RawMessage
	all = append(all, f.Monitors...)
	name := func(m json.RawMessage) string {
		var v struct {
			Name string `json:"name"`
		}
		require.NoError(t, json.Unmarshal(m, &v))
		return v.Name
	}
	sort.Slice(all, func(i, j int) bool { return name(all[i]) < name(all[j]) })
	id := regexp.MustCompile(`(?m)^(      "id": )[0-9]+,$`)
	var buf bytes.Buffer
	buf.Write(state[:start])
	buf.WriteString("\"monitors\": [\n")
	for i, m := range all {
		buf.WriteString("    ")
		buf.Write(id.ReplaceAll(m, []byte("${1}0,")))
		if i < len(all)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("  ]\n}\n")
	return buf.Bytes()
}

// prettyByName indents JSON objects and sorts them by their "name".
func prettyByName(t *testing.T, bodies []json.RawMessage) []byte {
	t.Helper()
	type named struct {
		name string
		body []byte
	}
	var all []named
	for _, b := range bodies {
		var m struct {
			Name string `json:"name"`
		}
		require.NoError(t, json.Unmarshal(b, &m))
		var out bytes.Buffer
		require.NoError(t, json.Indent(&out, b, "", "  "))
		all = append(all, named{m.Name, out.Bytes()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, n := range all {
		buf.Write(n.body)
		if i < len(all)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	return buf.Bytes()
}
