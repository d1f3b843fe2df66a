// Package testenv is what esm's tests need of the machine they run on. A
// real tool or server (promtool, Prometheus, Alertmanager, PostgreSQL,
// MariaDB, MinIO) is used when present; without it the test is skipped,
// except under CI=true, where .ci/run provides it and its absence fails
// the test. Only tests import this package.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test for want of what the message names: a skip, or a
// failure under CI=true.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s, which CI=true requires", msg)
		return
	}
	t.Skip(msg)
}

// Tool returns the path of the first of names on PATH, or ends the test
// as Missing does; hint says how to install it.
func Tool(t testing.TB, hint string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, "%s is not on PATH (%s)", strings.Join(names, " or "), hint)
	return ""
}
