package gitlocal

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/forge"
)

// run runs git in dir for the test.
func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// repo returns a work tree with one commit, tagged base, then changes:
// a.avdl modified, b.avdl removed, c.avdl renamed to d.avdl, e.avdl
// added and staged, f.avdl untracked, ignored.avdl ignored.
func repo(t *testing.T) (string, *Repo) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	run(t, dir, "init", "-q", "-b", "main")
	write(t, dir, "schemas/a.avdl", "a1")
	write(t, dir, "schemas/b.avdl", "b1")
	write(t, dir, "schemas/c.avdl", "c1 with enough content to be found as the same file")
	write(t, dir, ".gitignore", "ignored.avdl\n")
	run(t, dir, "add", ".")
	run(t, dir, "commit", "-q", "-m", "base")
	run(t, dir, "tag", "base")
	write(t, dir, "schemas/a.avdl", "a2")
	require.NoError(t, os.Remove(filepath.Join(dir, "schemas/b.avdl")))
	run(t, dir, "mv", "schemas/c.avdl", "schemas/d.avdl")
	write(t, dir, "schemas/e.avdl", "e2")
	run(t, dir, "add", "schemas/e.avdl")
	write(t, dir, "schemas/f.avdl", "f2")
	write(t, dir, "ignored.avdl", "x")
	r, err := Open(context.Background(), filepath.Join(dir, "schemas"))
	require.NoError(t, err)
	return dir, r
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	_, r := repo(t)
	files, err := r.Changes(ctx, "base")
	require.NoError(t, err)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	assert.Equal(t, []forge.ChangedFile{
		{Path: "schemas/a.avdl", Status: forge.FileModified},
		{Path: "schemas/b.avdl", Status: forge.FileRemoved},
		{Path: "schemas/d.avdl", PreviousPath: "schemas/c.avdl", Status: forge.FileRenamed},
		{Path: "schemas/e.avdl", Status: forge.FileAdded},
		{Path: "schemas/f.avdl", Status: forge.FileAdded},
	}, files)

	_, err = r.Changes(ctx, "nope")
	assert.EqualError(t, err, "nope is not a commit of this repository")

	head, err := r.ReadWorkTree("schemas/a.avdl")
	require.NoError(t, err)
	assert.Equal(t, "a2", string(head))
	base := r.ReaderAt(ctx, "base")
	old, err := base("schemas/a.avdl")
	require.NoError(t, err)
	assert.Equal(t, "a1", string(old))
	_, err = base("schemas/e.avdl")
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
	_, err = r.ReadWorkTree("schemas/b.avdl")
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
	for _, read := range []func(string) ([]byte, error){r.ReadWorkTree, base} {
		_, err = read("../outside.avdl")
		assert.True(t, errors.Is(err, fs.ErrNotExist), "a path that leaves the repository is not found: %v", err)
	}
	sha, err := r.Head(ctx)
	require.NoError(t, err)
	assert.Len(t, sha, 40)
}

func TestWebURL(t *testing.T) {
	for remote, want := range map[string]string{
		"git@github.com:esm-dev/esm.git":            "https://github.com/esm-dev/esm",
		"https://github.com/esm-dev/esm.git":        "https://github.com/esm-dev/esm",
		"https://x-token:secret@github.com/o/r.git": "https://github.com/o/r",
		"ssh://git@github.example.com/o/r.git":      "https://github.example.com/o/r",
		"/srv/git/r.git":                            "",
	} {
		assert.Equal(t, want, webURL(remote), remote)
	}
	_, r := repo(t)
	env := map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}
	assert.Equal(t, "https://github.com/o/r", r.WebURL(context.Background(), func(k string) string { return env[k] }))
	assert.Equal(t, "", r.WebURL(context.Background(), func(string) string { return "" }), "no origin")
}
