//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A named pipe where the local state file should be is refused at once by
// plan and apply; reading it would wait forever for a writer. The timeout
// is only a safety net that keeps a hang from stalling the test run.
func TestStateFileNamedPipeIsRefused(t *testing.T) {
	w := newWorkspace(t, annotatedIDL([]string{"Ping"}, all("Ping")))
	require.NoError(t, os.MkdirAll(w.stateDir, 0o755))
	require.NoError(t, syscall.Mkfifo(w.statePath(), 0o644))
	for _, command := range [][]string{{"plan"}, {"apply", "--yes"}} {
		t.Run(command[0], func(t *testing.T) {
			done := make(chan result, 1)
			go func() { done <- w.esm(command[0], command[1:]...) }()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("esm %s blocked on the named pipe", command[0])
			}
			assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, "esm: state file "+w.statePath()+" is a named pipe, not a regular file\n")
			assert.Empty(t, r.stdout)
			info, err := os.Lstat(w.statePath())
			require.NoError(t, err)
			assert.NotZero(t, info.Mode()&os.ModeNamedPipe, "the pipe is left alone")
		})
	}
}
