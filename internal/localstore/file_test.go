package localstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// symlink makes link point to target, skipping the test where the system
// does not let this user make symbolic links.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links are not available: %v", err)
	}
}

// requireLink checks that link is still a symbolic link to target.
func requireLink(t *testing.T, link, target string) {
	t.Helper()
	info, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, info.Mode()&os.ModeSymlink, "%s is still a symbolic link, not %v", link, info.Mode())
	got, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, target, got, "the link is left as it was")
}

// A state file that is a symbolic link, for example to a file shared by
// several checkouts, is written through: the link stays a link and its
// target holds every change, whether the link is absolute or relative,
// goes through another link, or points to a file that does not exist yet.
func TestSymlinkedStateFileIsWrittenThrough(t *testing.T) {
	tests := []struct {
		name string
		// link returns the link's content for a target at shared, and
		// sets up any link in between.
		link   func(t *testing.T, root, shared string) string
		exists bool // the target exists before the first write
	}{
		{"absolute link", func(t *testing.T, root, shared string) string { return shared }, true},
		{"relative link", func(t *testing.T, root, shared string) string {
			rel, err := filepath.Rel(filepath.Join(root, ".esm", "state"), shared)
			require.NoError(t, err)
			return rel
		}, true},
		{"link to a link", func(t *testing.T, root, shared string) string {
			middle := filepath.Join(root, "middle", "prod.json")
			symlink(t, "../shared/prod.json", middle)
			return middle
		}, true},
		{"relative link from a linked directory", func(t *testing.T, root, shared string) string {
			// .esm/state is a link to elsewhere/state, so "../x" in a
			// link inside it means elsewhere/x, not .esm/x.
			require.NoError(t, os.Remove(filepath.Join(root, ".esm", "state")))
			require.NoError(t, os.MkdirAll(filepath.Join(root, "elsewhere", "state"), 0o755))
			symlink(t, filepath.Join(root, "elsewhere", "state"), filepath.Join(root, ".esm", "state"))
			symlink(t, "../shared/prod.json", filepath.Join(root, "elsewhere", "shared-link.json"))
			return "../shared-link.json"
		}, true},
		{"link to a file not yet written", func(t *testing.T, root, shared string) string { return shared }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			shared := filepath.Join(root, "shared", "prod.json")
			require.NoError(t, os.MkdirAll(filepath.Dir(shared), 0o755))
			require.NoError(t, os.MkdirAll(filepath.Join(root, ".esm", "state"), 0o755))
			if tt.exists {
				_, err := open(t, shared).Create(ctx, anomaly("first", "esm-prod"))
				require.NoError(t, err)
				require.NoError(t, os.Chmod(shared, 0o664))
			}
			path := filepath.Join(root, ".esm", "state", "prod.json")
			target := tt.link(t, root, shared)
			symlink(t, target, path)

			s := open(t, path)
			id, err := s.Create(ctx, anomaly("second", "esm-prod"))
			require.NoError(t, err)
			require.NoError(t, s.Update(ctx, id, anomaly("second", "esm-prod", "team:cart")))

			requireLink(t, path, target)
			want := []string{"second"}
			if tt.exists {
				want = []string{"first", "second"}
			}
			got, err := open(t, shared).List(ctx, "esm-prod")
			require.NoError(t, err)
			assert.Equal(t, want, names(got), "the shared target holds the changes")
			assert.Contains(t, got[len(got)-1].Tags, "team:cart")
			if tt.exists {
				info, err := os.Stat(shared)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o664), info.Mode().Perm(), "the target keeps its permissions")
			}
			entries, err := os.ReadDir(filepath.Join(root, ".esm", "state"))
			require.NoError(t, err)
			for _, e := range entries {
				assert.NotContains(t, e.Name(), ".tmp-", "no temporary file is left beside the link")
			}

			// A change made through the target is seen through the link.
			_, err = open(t, shared).Create(ctx, anomaly("third", "esm-prod"))
			require.NoError(t, err)
			got, err = s.List(ctx, "esm-prod")
			require.NoError(t, err)
			assert.Equal(t, append(want, "third"), names(got))
		})
	}
}

// A state directory that is a symbolic link keeps working: the file is
// written inside the directory the link leads to.
func TestSymlinkedStateDirectory(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	real := filepath.Join(root, "real-state")
	require.NoError(t, os.MkdirAll(real, 0o755))
	symlink(t, real, filepath.Join(root, ".esm", "state"))
	path := filepath.Join(root, ".esm", "state", "prod.json")

	_, err := open(t, path).Create(ctx, anomaly("a", "esm-prod"))
	require.NoError(t, err)
	requireLink(t, filepath.Join(root, ".esm", "state"), real)
	info, err := os.Lstat(filepath.Join(real, "prod.json"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular())
	got, err := open(t, path).List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names(got))
}

// A state file, or the target of a link, that is not a regular file is
// refused with a message saying what it is, and is left alone.
func TestNonRegularStateFileIsRefused(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "prod.json"), 0o755))
	_, err := Open(filepath.Join(dir, "prod.json"))
	require.Error(t, err)
	assert.Equal(t, "state file "+filepath.Join(dir, "prod.json")+" is a directory, not a regular file", err.Error())

	link := filepath.Join(root, "link", "prod.json")
	symlink(t, filepath.Join(dir, "prod.json"), link)
	_, err = Open(link)
	require.Error(t, err)
	assert.Equal(t, "state file "+link+" is a symbolic link to "+filepath.Join(dir, "prod.json")+", a directory, not a regular file", err.Error())
}
