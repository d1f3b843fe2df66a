package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitRepo makes root a Git repository with one commit of what it holds,
// tagged base.
func gitRepo(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "base"}, {"tag", "base"},
		{"remote", "add", "origin", "git@github.com:shop/schemas.git"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	t.Setenv("GITHUB_SERVER_URL", "")
	t.Setenv("GITHUB_REPOSITORY", "")
}

// --changed-since plans what the bot would plan for a pull request of
// the work tree's changes, and --output markdown prints its comment.
func TestPlanChangedSince(t *testing.T) {
	useLocalStore(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"schemas/cart.avdl":     annotatedIDL([]string{"Cart"}, all("Cart")),
		"schemas/checkout.avdl": annotatedIDL([]string{"Checkout"}, all("Checkout")),
	})
	gitRepo(t, root)
	t.Chdir(root)
	r := runESM(t, "apply", "--env", "prod", "--yes")
	require.Equal(t, exitOK, r.code, r.stderr)

	// The change: checkout.avdl loses its monitor, a new file adds one;
	// cart.avdl's monitor was deleted by hand and is out of the change.
	writeFiles(t, root, map[string]string{
		"schemas/checkout.avdl": annotatedIDL([]string{"Checkout"}, nil),
		"schemas/search.avdl":   strings.ReplaceAll(annotatedIDL([]string{"Search"}, all("Search")), "protocol Shop", "protocol Search"),
	})
	actions := planActions(t, "--changed-since", "base")
	assert.Equal(t, map[string]string{"Traffic Anomaly with Checkout": "delete", "Traffic Anomaly with Search": "create"}, actions)

	r = runESM(t, "plan", "--env", "prod", "--changed-since", "base")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "Scope: the records of the 2 schema files changed since base (schemas/checkout.avdl, schemas/search.avdl); other monitors are left alone.\n"), r.stdout)

	r = runESM(t, "plan", "--env", "prod", "--changed-since", "base", "--output", "markdown")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "<!-- esm:prod:plan -->\n"), "the bot's comment, marker first: %s", r.stdout)
	assert.Contains(t, r.stdout, "https://github.com/shop/schemas/blob/", "links to the schema lines at the head commit")
	assert.Contains(t, r.stdout, "Traffic Anomaly with Search")
	assert.Contains(t, r.stdout, "Traffic Anomaly with Checkout")
	assert.NotContains(t, r.stdout, "Traffic Anomaly with Cart")
	assert.Contains(t, r.stdout, "esm prod register", "the command that applies it")

	// Schema errors are the comment's too, with exit status 1.
	writeFiles(t, root, map[string]string{"schemas/search.avdl": "protocol Search { record }"})
	r = runESM(t, "plan", "--env", "prod", "--changed-since", "base", "--output", "markdown")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stdout, "schemas/search.avdl")
	assert.Contains(t, r.stdout, "<!-- esm:prod:plan -->")

	r = runESM(t, "plan", "--env", "prod", "--changed-since", "base", "schemas")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "--changed-since plans the files changed since a ref: it takes no PATH")
	r = runESM(t, "plan", "--env", "prod", "--changed-since", "no-such-ref")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "no-such-ref is not a commit of this repository")
}
