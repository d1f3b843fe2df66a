package ghtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Payload returns a webhook payload of the repository's own, from
// testdata/github/<name> at the root of the module: payloads the project
// wrote in the shape GitHub sends (see testdata/github/README.md), so that
// a fresh clone's tests need nothing beside the repository.
func Payload(t testing.TB, name string) []byte {
	t.Helper()
	root := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "testdata", "github", name))
	if err != nil {
		t.Fatalf("payload %s: %v", name, err)
	}
	return b
}

// Recorded returns a webhook payload recorded from GitHub, from
// shared/fixtures/github/<name> beside the repository, and whether it is
// there. Without it the caller skips what needs it, except under CI=true,
// where the recorded payloads are required and Recorded fails the test.
func Recorded(t testing.TB, name string) ([]byte, bool) {
	t.Helper()
	dir := RecordedDir(t)
	if dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("recorded payload %s: %v", name, err)
	}
	return b, true
}

// RecordedDir returns the directory of GitHub's recorded payloads,
// shared/fixtures/github beside the repository, or "" when it is absent
// (a test failure under CI=true, where it is required).
func RecordedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(moduleRoot(t)), "shared", "fixtures", "github")
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the recorded GitHub payloads are required under CI=true and %s is missing", dir)
	}
	return ""
}

// moduleRoot returns the directory of go.mod, looked up from the test's
// working directory (its package directory) upwards.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}
