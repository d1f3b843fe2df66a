package localstore

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A device node as the state file (made only where the test may: as
// root) is refused like the link to /dev/null.
func TestDeviceStateFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prod.json")
	// 1, 3 is /dev/null on Linux.
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("cannot make a device node here: %v", err)
		}
		require.NoError(t, err)
	}
	err := within(t, func() error { _, err := Open(path); return err })
	require.Error(t, err)
	assert.Equal(t, "state file "+path+" is a character device, not a regular file", err.Error())
}
