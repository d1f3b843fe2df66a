package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionCommand(t *testing.T) {
	r := runESM(t, "version")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3, "stdout: %q", r.stdout)
	assert.True(t, strings.HasPrefix(lines[0], "esm "), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "commit: "), lines[1])
	assert.Equal(t, "go: "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH, lines[2])
}

func TestVersionText(t *testing.T) {
	const goVersion = "go1.26.8 linux/amd64"
	vcs := func(settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/esm-dev/esm", Version: "(devel)"}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/esm-dev/esm", Version: "v0.3.0"}}
	tests := []struct {
		name    string
		version string
		info    *debug.BuildInfo
		want    string
	}{
		{"no build info", "dev", nil,
			"esm dev\ncommit: unknown\ngo: go1.26.8 linux/amd64\n"},
		{"ldflags version, vcs info", "v1.2.3", vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"),
			"esm v1.2.3\ncommit: 0123456789ab\ngo: go1.26.8 linux/amd64\n"},
		{"modified work tree", "dev", vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"),
			"esm dev\ncommit: 0123456789ab (modified)\ngo: go1.26.8 linux/amd64\n"},
		{"short revision kept whole", "dev", vcs("vcs.revision", "abc"),
			"esm dev\ncommit: abc\ngo: go1.26.8 linux/amd64\n"},
		{"go install module@version", "dev", installed,
			"esm v0.3.0\ncommit: unknown\ngo: go1.26.8 linux/amd64\n"},
		{"ldflags win over module version", "v1.0.0", installed,
			"esm v1.0.0\ncommit: unknown\ngo: go1.26.8 linux/amd64\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, versionText(tt.version, tt.info, goVersion))
		})
	}
}
