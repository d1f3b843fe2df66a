package testenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	if len(args) > 0 {
		r.msg, _ = args[0].(string)
	}
}
func (r *recorder) Fatalf(format string, args ...any) { r.failed = true }

func TestToolFoundMissingAndCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	assert.Empty(t, Tool(r, "apt-get install x", "no-such-tool", "nor-this"))
	assert.True(t, r.skipped)
	assert.Equal(t, "no-such-tool or nor-this is not on PATH (apt-get install x)", r.msg)

	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	Tool(r, "apt-get install x", "no-such-tool")
	assert.True(t, r.failed, "under CI=true a missing tool fails the test")
	assert.False(t, r.skipped)
}
