//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lock that keeps two esm processes from losing each other's writes is
// taken on the directory of the real state file, so a process writing
// through a link and one writing the target directly exclude each other.
func TestLockIsOnTheDirectoryOfTheLinkTarget(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared", "prod.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(shared), 0o755))
	path := filepath.Join(root, ".esm", "state", "prod.json")
	symlink(t, shared, path)
	assert.Equal(t, filepath.Dir(shared), lockDirOf(path))

	// Another process holds the lock of the target's directory: a write
	// through the link waits for it, until its context gives up (the
	// deadline is only how long this test waits).
	unlock, err := lockDir(context.Background(), filepath.Dir(shared))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = open(t, path).Create(ctx, anomaly("a", "esm-prod"))
	unlock()
	require.Error(t, err, "the write did not wait for the lock")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoFileExists(t, shared)

	_, err = open(t, path).Create(context.Background(), anomaly("a", "esm-prod"))
	require.NoError(t, err, "once the lock is free")
}
