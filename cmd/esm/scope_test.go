package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
)

// scopeRepo is a repository with two annotated schema files, applied,
// and a monitor without a file tag (made by an older tool) for a record
// that no longer exists. It runs from the repository root.
func scopeRepo(t *testing.T) string {
	t.Helper()
	useLocalStore(t)
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
	writeFiles(t, root, map[string]string{
		"schemas/cart.avdl":     annotatedIDL([]string{"Cart"}, all("Cart")),
		"schemas/checkout.avdl": annotatedIDL([]string{"Checkout", "Refund"}, all("Checkout", "Refund")),
	})
	t.Chdir(root)
	r := runESM(t, "apply", "--env", "prod", "--yes")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)

	s, err := localstore.Open(filepath.Join(root, ".esm", "state", "prod.json"))
	require.NoError(t, err)
	_, err = s.Create(t.Context(), &monitor.Monitor{Definition: monitor.Definition{
		Name: "Traffic Anomaly with Gone", Type: "query alert", Query: "q", Tags: []string{"esm-prod"}}})
	require.NoError(t, err)
	// Checkout loses its annotations: its monitors are to be deleted, but
	// only by a plan whose scope holds checkout.avdl.
	writeFiles(t, root, map[string]string{"schemas/checkout.avdl": annotatedIDL([]string{"Checkout", "Refund"}, nil)})
	return root
}

// planJSON runs esm plan --output json with args and returns the actions
// by monitor name.
func planActions(t *testing.T, args ...string) map[string]string {
	t.Helper()
	r := runESM(t, append([]string{"plan", "--env", "prod", "--output", "json"}, args...)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	var p struct {
		Changes []struct{ Action, Name string } `json:"changes"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &p))
	out := map[string]string{}
	for _, c := range p.Changes {
		out[c.Name] = c.Action
	}
	return out
}

// PATHs are the scope: a file's plan touches its monitors only; the
// schema root, or no PATH, is the whole tree, monitors without a file
// tag included.
func TestPathsAreTheScope(t *testing.T) {
	scopeRepo(t)
	whole := map[string]string{
		"Traffic Anomaly with Cart":     "unchanged",
		"Traffic Anomaly with Checkout": "delete",
		"Traffic Anomaly with Refund":   "delete",
		"Traffic Anomaly with Gone":     "delete",
	}
	assert.Equal(t, whole, planActions(t), "no PATH: the whole tree")
	assert.Equal(t, whole, planActions(t, "schemas"), "the schema root is the whole tree")
	assert.Equal(t, whole, planActions(t, "."), "a directory holding the root is the whole tree")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "unchanged"}, planActions(t, "schemas/cart.avdl"),
		"cart.avdl's plan leaves checkout.avdl's monitors and untagged ones alone")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Checkout": "delete", "Traffic Anomaly with Refund": "delete"},
		planActions(t, "schemas/checkout.avdl"))
	assert.Equal(t, map[string]string{"Traffic Anomaly with Refund": "delete"}, planActions(t, "--target", "Refund"),
		"--target narrows to a record, by simple name")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "unchanged", "Traffic Anomaly with Refund": "delete"},
		planActions(t, "--target", "com.example.test.Refund", "--target", "Cart"), "or full name, repeated")
	assert.Empty(t, planActions(t, "--target", "Refund", "schemas/cart.avdl"), "both narrow")

	r := runESM(t, "plan", "--env", "prod", "schemas/cart.avdl")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "Scope: schemas/cart.avdl; monitors of other files are left alone.\nNo changes. Monitors match the schemas.\n", r.stdout)
	r = runESM(t, "plan", "--env", "prod", "--target", "Nope")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "--target Nope names no record with a monitor annotation")
	assert.Equal(t, "Scope: the whole schema tree; every monitor tagged esm-prod is planned; only the records Nope.\nNo changes. Monitors match the schemas.\n", r.stdout)

	// apply follows the same scope.
	r = runESM(t, "apply", "--env", "prod", "--yes", "schemas/checkout.avdl")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Apply complete: 0 created, 0 updated, 2 deleted, 0 failed.")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Cart": "unchanged", "Traffic Anomaly with Gone": "delete"}, planActions(t))
}
