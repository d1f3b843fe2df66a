package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// result is what one in-process run of esm produced.
type result struct {
	code           int
	stdout, stderr string
}

// runESM runs the esm command line args in-process with the real loader.
func runESM(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// runWithLoader runs args in-process with load in place of idl.LoadFile.
func runWithLoader(t *testing.T, load loadFunc, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, load: load}
	code := a.run(args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// writeFiles writes files, by slash-separated path relative to dir, and
// returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return dir
}
