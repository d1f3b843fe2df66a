//go:build unix

package localstore

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// within runs fn and returns its error, failing the test if fn has not
// returned after a generous safety timeout: a state file that blocks
// esm would otherwise hang the test run.
func within(t *testing.T, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("blocked on the state file")
		return nil
	}
}

// A named pipe, a device or a socket where the state file should be, or
// as the target of its link, is refused at once, never opened for reading
// (which would wait forever for a writer to a named pipe) nor replaced.
func TestSpecialStateFileIsRefusedAtOnce(t *testing.T) {
	tests := []struct {
		name string
		// make creates the special file at path and returns what the
		// state file is then, as the message says it.
		make func(t *testing.T, path string) string
		want string
	}{
		{"named pipe", func(t *testing.T, path string) string {
			require.NoError(t, syscall.Mkfifo(path, 0o644))
			return path
		}, "is a named pipe, not a regular file"},
		{"link to a named pipe", func(t *testing.T, path string) string {
			fifo := filepath.Join(t.TempDir(), "fifo")
			require.NoError(t, syscall.Mkfifo(fifo, 0o644))
			symlink(t, fifo, path)
			return path
		}, "is a symbolic link to %FIFO%, a named pipe, not a regular file"},
		{"link to /dev/null", func(t *testing.T, path string) string {
			symlink(t, "/dev/null", path)
			return path
		}, "is a symbolic link to /dev/null, a character device, not a regular file"},
		{"socket", func(t *testing.T, path string) string {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Skipf("unix sockets are not available here: %v", err)
			}
			t.Cleanup(func() { l.Close() })
			return path
		}, "is a socket, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Short: a unix socket's path is limited to about 100 bytes.
			dir, err := os.MkdirTemp("", "esm")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			path := filepath.Join(dir, "prod.json")
			tt.make(t, path)
			want := tt.want
			if target, err := os.Readlink(path); err == nil {
				want = strings.Replace(want, "%FIFO%", target, 1)
			}
			want = "state file " + path + " " + want

			err = within(t, func() error { _, err := Open(path); return err })
			require.Error(t, err)
			assert.Equal(t, want, err.Error())

			// A store opened while the file was missing refuses it too,
			// when listing and when writing.
			moved := path + ".moved"
			require.NoError(t, os.Rename(path, moved))
			s := open(t, path)
			require.NoError(t, os.Rename(moved, path))
			err = within(t, func() error { _, err := s.List(context.Background(), "esm-prod"); return err })
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
			err = within(t, func() error { _, err := s.Create(context.Background(), anomaly("a", "esm-prod")); return err })
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)

			info, err := os.Lstat(path)
			require.NoError(t, err)
			assert.False(t, info.Mode().IsRegular(), "the special file is not replaced")
		})
	}
}
